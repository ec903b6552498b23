#!/usr/bin/env python3
"""Every body of docs/outcomes.md's table, through every path its row names
(gw_ingest, the listener over HTTP, the worker's status query), must give
the outcome the table says.  Run by test/t/outcomes.sh."""
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MOCK = "http://127.0.0.1:%s" % os.environ["GW_MOCK_PORT"]
RUN = "%d" % (time.time() * 1000 % 10**9)
ACCOUNTS = {"vaspro": "oc_vp", "umeskia": "oc_um"}


def q(sql):
    r = subprocess.run(["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1",
                        "-d", "contrib_regression", "-c", sql],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip())
    return r.stdout.strip()


def lit(s):
    return "'" + s.replace("'", "''") + "'"


def table():
    text = open(os.path.join(ROOT, "docs", "outcomes.md"), encoding="utf-8").read()
    block = text.split("<!-- outcomes table: read by test/t/outcomes.sh -->")[1]
    block = block.split("<!-- end of outcomes table -->")[0]
    rows = []
    for line in block.splitlines():
        m = re.match(r"^\| (\w+) \| ([^|]+?) \| ([^|]+?) \| `(.*)` \| ([^|]+?) \| (.*) \|$", line)
        if m:
            rows.append(m.groups())
    return rows


def make_row(provider, kind, key, status):
    acc = ACCOUNTS[provider]
    if kind == "dlr":
        return q("INSERT INTO gateway.outbox (account, operation, params, status, payment,"
                 " idempotency_key, key_given, next_attempt_at, attempts)"
                 " VALUES (%s, 'sms.bulk', '{\"recipients\": \"254712345678\", \"message\": \"hi\"}',"
                 " 'sent', false, %s, true, 'infinity', 1) RETURNING id" % (lit(acc), lit(key)))
    return q("INSERT INTO gateway.outbox (account, operation, params, status, payment, match_key,"
             " idempotency_key, key_given, next_attempt_at, attempts)"
             " VALUES (%s, 'payment.stk_push', '{\"phone\": \"0712345678\", \"amount\": 10}',"
             " %s, true, %s, %s, true, %s, 1) RETURNING id"
             % (lit(acc), lit(status), lit(key), lit(key),
                "now()" if status == "unknown" else "'infinity'"))


def outcome_of(row, before, seen=None):
    status, payment, err = (seen or q("SELECT status, payment, coalesce(last_error, '')"
                                      " FROM gateway.outbox WHERE id = %s" % row)).split("|")
    if status == "delivered":
        return "paid" if payment == "t" else "delivered"
    if status == "failed":
        return "not paid"
    if status == "undelivered":
        return "undelivered"
    if status == "unknown" and err.startswith("needs checking"):
        return "needs checking"
    if status == before:
        return "no change"
    return "status %s (%s)" % (status, err)


def from_answer(row, before, answer):
    """The outcome a callback's answer reports; the row must agree (a row to be
    checked may be asked about by the worker at once: only its status is
    compared then)."""
    if answer.get("error"):
        return "400"
    status, payment = q("SELECT status, payment FROM gateway.outbox WHERE id = %s" % row).split("|")
    said = answer.get("status")
    if said is None:
        return "no change" if status == before else "status %s, the answer said none" % status
    if said != status and not (said == "unknown" and status == "sending"):
        return "the answer said %s, the row is %s" % (said, status)
    if said == "unknown":
        # the worker may be asking the provider about it already
        return "needs checking" if (answer.get("note") or "").startswith("needs checking: ") \
            else "unknown: %s" % answer.get("note")
    return outcome_of(row, before)


def via_ingest(provider, row_kind, kind, body, key, before):
    row = make_row(provider, row_kind, key, before)
    answer = json.loads(q("SELECT gw_ingest(%s, %s, %s::jsonb)"
                          % (lit(ACCOUNTS[provider]), lit(kind), lit(body))))
    return from_answer(row, before, answer)


def via_http(provider, row_kind, kind, body, key, before):
    row = make_row(provider, row_kind, key, before)
    url = q("SELECT gw_callback_url(%s, %s)" % (lit(ACCOUNTS[provider]), lit(kind)))
    req = urllib.request.Request(url, data=body.encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        resp = urllib.request.urlopen(req, timeout=10)
        code, text = resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        code, text = e.code, ""
    if code != 200:
        return str(code)
    return from_answer(row, before, json.loads(text))


def via_status(provider, row_kind, kind, body, key, before):
    fault = {"prefix": "/umeskia/api/v1/transactionstatus", "match": key, "count": 1000, "status": 200,
             "body": json.loads(body)}
    urllib.request.urlopen(urllib.request.Request(
        MOCK + "/_mock/fault", data=json.dumps(fault).encode(), method="POST"), timeout=10)
    row = make_row(provider, row_kind, key, "unknown")
    for _ in range(300):
        # one snapshot: the worker may ask again at once (a pending payment)
        seen = q("SELECT status, payment, coalesce(last_error, '') FROM gateway.outbox"
                 " WHERE id = %s AND result->>'operation' = 'payment.status'"
                 "   AND status <> 'sending'" % row)
        if seen:
            return outcome_of(row, "unknown", seen)
        time.sleep(0.1)
    return "the worker never asked"


def main():
    paths = {"ingest": via_ingest, "http": via_http, "status": via_status}
    rows = table()
    fails = 0
    seen = set()
    if len(rows) < 60:
        print("FAIL: the table has %d rows" % len(rows))
        return 1
    for i, (provider, kind, names, body, want, case) in enumerate(rows):
        kind = kind.strip()
        # "dlr (payment row)": a delivery report aimed at a payment's key
        row_kind = "dlr" if kind == "dlr" else "payment"
        cb_kind = "dlr" if kind.startswith("dlr") else "payment"
        for name in [n.strip() for n in names.split(",")]:
            key = "oc%s-%d-%s" % (RUN, i, name)
            b = body.replace("KEY", key)
            got = paths[name](provider, row_kind, cb_kind, b, key, "sent")
            what = "%s %s via %s: %s" % (provider, kind, name, case)
            if got == want.strip():
                print("ok: %s: %s" % (what, got))
            else:
                print("FAIL: %s: expected [%s], got [%s]" % (what, want.strip(), got))
                fails += 1
            seen.add(name)
    for name in paths:
        if name not in seen:
            print("FAIL: no row of the table goes through %s" % name)
            fails += 1
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
