#!/usr/bin/env python3
"""The fault matrix driver, run by faults.sh (which sets up the ports).

Reads the table under the heading "Fault matrix" of docs/reliability.md,
gives every row three VasPro accounts of its own (a synchronous gw_call of
sms.send, a queued SMS, a queued STK push) whose requests get the row's fault, runs them all, and compares each row's
outcome with the table: gw_call's result, the outbox rows, the requests the
provider received, and the error both the call and the queued SMS report.
It also checks what the notes promise: every attempt of a queued SMS carries
the row's idempotency key, a redirect is never followed, no retry comes
before a 429's Retry-After, and nothing of an oversized answer is kept.
"""
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

ROOT = os.environ["GW_ROOT"]
DB = os.environ["GW_FAULTS_DB"]
MOCK = "http://127.0.0.1:%s" % os.environ["GW_MOCK_PORT"]
TIMEOUTS = "-c gateway.connect_timeout=500 -c gateway.request_timeout=1500"
# network modes: where their accounts point instead of the mock
NETWORK = {
    "refused": "http://127.0.0.1:%s" % os.environ["GW_REFUSED_PORT"],
    "connect-timeout": None,    # the mock's hanging port, asked below
    "tls-unverified": "https://127.0.0.1:%s" % os.environ["GW_TLS_PORT"],
}
KINDS = ("call", "sms", "stk", "pay")


def psql(sql, options=""):
    env = dict(os.environ, PGOPTIONS=options)
    r = subprocess.run(["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", DB],
                       input=sql, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit("faults: psql failed: " + r.stderr.strip())
    return [line for line in r.stdout.splitlines() if line]


def lit(s):
    return "'" + s.replace("'", "''") + "'"


def mock(path, body=None, post=False):
    data = json.dumps(body).encode() if body is not None else (b"" if post else None)
    with urllib.request.urlopen(urllib.request.Request(MOCK + path, data=data), timeout=30) as r:
        return r.read().decode()


def read_table():
    """The rows of the first table under a "Fault matrix" heading."""
    for name in ("docs/reliability.md",):
        path = os.path.join(ROOT, name)
        if not os.path.exists(path):
            continue
        text = open(path, encoding="utf-8").read()
        m = re.search(r"^(#+) Fault matrix[ \t]*$", text, re.M)
        if not m:
            continue
        section = text[m.end():]
        end = re.search(r"^#{1,%d} " % len(m.group(1)), section, re.M)
        section = section[:end.start()] if end else section
        # the first table: its lines up to the first that is not a row
        lines = []
        for ln in section.splitlines():
            if ln.strip().startswith("|"):
                lines.append(ln.strip())
            elif lines:
                break
        cells = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
        if len(cells) < 3:
            break
        header, rows = cells[0], cells[2:]

        def col(word):
            return next(i for i, h in enumerate(header) if word in h)

        idx = {k: col(w) for k, w in (("mode", "mode"), ("how", "how"), ("call", "gw_call"),
                                      ("sms", "queued SMS"), ("stk", "STK"), ("pay", "VTpass"),
                                      ("error", "error"))}
        return name, [{k: r[i] for k, i in idx.items()} for r in rows]
    print("FAIL docs/reliability.md has no \"Fault matrix\" table")
    print("faults: 0 modes, 1 failed")
    sys.exit(1)


def cell(text):
    return [p.strip().strip("`") for p in text.split("/")]


def account(mode, kind):
    return "fm_%s_%s" % (mode.replace("-", "_"), kind)


def phone(mode):
    """A VTpass phone number of the row's own, to fault its purchases by."""
    return phones_by_mode.setdefault(mode, "0809%07d" % (len(phones_by_mode) + 1))


phones_by_mode = {}


def main():
    started = time.time()
    source, table = read_table()
    print("fault matrix of %s: %d modes" % (source, len(table)))
    mock("/_mock/reset", post=True)
    NETWORK["connect-timeout"] = "http://127.0.0.1:%d" % json.loads(
        mock("/_mock/hang", post=True))["port"]

    problems = {}               # mode -> what went wrong beyond the cells
    specs = {}
    create = []
    for row in table:
        mode = row["mode"].strip("`")
        row["mode"] = mode
        m = re.search(r"`(\{.*?\})`", row["how"])
        if mode in NETWORK:
            root = NETWORK[mode]
        elif m:
            root = MOCK
            specs[mode] = json.loads(m.group(1))
        else:
            problems.setdefault(mode, []).append("no fault spec in the table")
            continue
        for kind in KINDS:
            acc = account(mode, kind)
            if kind == "pay":
                # VTpass: only the purchases of this row are faulted, never
                # the status queries that reconcile them
                create.append("SELECT gw_account_create(%s, 'vtpass', jsonb_build_object("
                              "'username', %s, 'password', 'faults-pw'), %s);\n"
                              % (lit(acc), lit(acc), lit(root + "/vtpass")))
                where = {"prefix": "/vtpass/api/pay", "match": '"%s"' % phone(mode)}
            else:
                create.append("SELECT gw_account_create(%s, 'vaspro', jsonb_build_object('api_key', %s),"
                              " %s, '{\"sender_id\": \"FAULTS\", \"paybill\": \"174379\"}');\n"
                              % (lit(acc), lit(acc), lit(root + "/vaspro")))
                where = {"match": '"%s"' % acc}
            if mode in specs:
                # every request of this account, however many attempts
                mock("/_mock/fault", dict({"count": 1000}, **specs[mode], **where))
    psql("".join(create))
    modes = [r for r in table if r["mode"] not in problems]

    time.sleep(0.5)             # let the worker take the reloaded timeouts
    psql("BEGIN;\n" + "".join(
        "SELECT gw_queue_sms(%s, '0712345678', 'fault matrix: %s', idempotency_key => %s);\n"
        "SELECT gw_enqueue(%s, 'payment.stk_push', '{\"phone\": \"0712345678\", \"amount\": 10}');\n"
        "SELECT gw_enqueue(%s, 'payment.purchase', '{\"service_id\": \"spectranet\","
        " \"billers_code\": \"1212121212\", \"variation_code\": \"vt-1000\", \"phone\": \"%s\"}');\n"
        % (lit(account(r["mode"], "sms")), r["mode"], lit("fm-" + r["mode"]),
           lit(account(r["mode"], "stk")), lit(account(r["mode"], "pay")), phone(r["mode"]))
        for r in modes) + "COMMIT;\n")

    calls = {}
    for line in psql("".join(
            "SELECT %s, r->>'ok', r->>'status', r->>'retryable', length(r::text), r->>'error'"
            " FROM gw_call(%s, 'sms.send', '{\"recipient\": \"0712345678\", \"message\": \"fault matrix\"}') r;\n"
            % (lit(r["mode"]), lit(account(r["mode"], "call"))) for r in modes), TIMEOUTS):
        mode, ok, status, retryable, size, error = line.split("|", 5)
        calls[mode] = ([ok, status, retryable], int(size), error)

    psql("SELECT count(gw_wait(id, '120 seconds')) FROM gateway.outbox WHERE account LIKE 'fm\\_%'")
    rows = {}
    for line in psql("SELECT account, status, attempts, length(result::text), idempotency_key,"
                     " coalesce(last_error, '') FROM gateway.outbox WHERE account LIKE 'fm\\_%'"):
        acc, status, attempts, size, key, error = line.split("|", 5)
        rows[acc] = (status, int(attempts), int(size or 0), key, error)

    # what the provider received, per account
    phones = {v: k for k, v in phones_by_mode.items()}
    received = {}
    moved = 0
    for line in mock("/_mock/requests?limit=1000000").splitlines():
        rec = json.loads(line)
        if rec["path"].startswith("/moved"):
            moved += 1
        try:
            body = json.loads(rec["body"])
        except ValueError:
            continue
        if rec["path"] == "/vtpass/api/pay":
            who = account(phones.get(body.get("phone"), ""), "pay")
        else:
            who = body.get("apiKey")
        received.setdefault(who, []).append((rec["ts"], body))

    failed = 0
    for r in table:
        mode = r["mode"]
        bad = list(problems.get(mode, []))
        got = {}
        if mode not in problems:
            call, call_size, call_error = calls.get(mode, (["-"] * 3, 0, ""))
            got["call"] = call
            for kind in ("sms", "stk", "pay"):
                acc = account(mode, kind)
                status, attempts, size, key, error = rows.get(acc, ("-", 0, 0, "", ""))
                reqs = received.get(acc, [])
                got[kind] = [status, str(attempts), str(len(reqs))]
                if size > 65536 or call_size > 65536:
                    bad.append("a result of %d bytes was kept" % max(size, call_size))
                if kind == "sms" and any(b.get("uniqueId") != key for _, b in reqs):
                    bad.append("an SMS attempt carried another key than %s" % key)
                after = specs.get(mode, {}).get("headers", {}).get("Retry-After")
                times = sorted(t for t, _ in reqs)
                if after and any(b - a < float(after) for a, b in zip(times, times[1:])):
                    bad.append("a %s retry came sooner than Retry-After %s s" % (kind, after))
            for kind in KINDS:
                want = cell(r[kind])
                if got[kind] != want:
                    bad.append("%s: table %s, got %s" % (kind, " / ".join(want), " / ".join(got[kind])))
            want_error = r["error"].strip("`")
            sms_error = rows.get(account(mode, "sms"), ("",) * 5)[4]
            for what, error in (("gw_call", call_error), ("queued SMS", sms_error)):
                if error != want_error:
                    bad.append("%s error: table \"%s\", got \"%s\"" % (what, want_error, error))
            if mode == "redirect" and moved:
                bad.append("the redirect was followed (%d requests)" % moved)
        line = "  ".join("%s %s" % (k, "/".join(v)) for k, v in got.items())
        if bad:
            failed += 1
            print("FAIL %-16s %s\n     %s" % (mode, line, "\n     ".join(bad)))
        else:
            print("ok   %-16s %s" % (mode, line))
    print("(the matrix took %.1f s)" % (time.time() - started))
    print("faults: %d modes, %d failed" % (len(table), failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
