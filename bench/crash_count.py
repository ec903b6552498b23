#!/usr/bin/env python3
"""Counts for bench/crash_matrix.sh: one scenario's outcome against what the
mock provider received.  Prints one tab-separated table row
(scenario, rows, requests, lost, duplicated, of them in flight with the same
key, sent twice, notes, verdict) and exits 1 when a requirement fails.

  sms  LABEL N PREFIX T_CRASH SNAPSHOT FINAL REQUESTS
  pay  LABEL SNAPSHOT FINAL REQUESTS
  sync-sms LABEL KEY T_CRASH REQUESTS RETRY_STATUS PHONE_COPIES
  sync-pay LABEL REQUESTS OUTBOX_STATUSES (comma-separated)
  dlr  LABEL ANSWERS FINAL
  table TSV          prints the rows as an aligned table

SNAPSHOT and FINAL are "key<TAB>status[<TAB>attempts]" lines from
gateway.outbox (SNAPSHOT: committed at the moment of the crash); REQUESTS is
the mock's /_mock/requests NDJSON; T_CRASH the crash time (epoch seconds).
For dlr, ANSWERS is bench/crash_post.py's "key<TAB>HTTP status" lines and
FINAL "key<TAB>status<TAB>reports recorded" lines after the restart.
"""
import collections
import json
import sys


def rows(path):
    out = {}
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        if f[0]:
            out[f[0]] = f[1:]
    return out


def requests(path):
    for line in open(path):
        if line.strip():
            r = json.loads(line)
            try:
                body = json.loads(r["body"])
            except ValueError:
                body = {}
            yield r["ts"], body


def row(label, n, reqs, lost, dups, dups_ok, twice, notes, ok):
    print("\t".join(str(x) for x in (label, n, reqs, lost, dups, dups_ok, twice, notes,
                                     "ok" if ok else "FAILED")))
    sys.exit(0 if ok else 1)


def sms(label, n, prefix, t_crash, snapshot, final, reqs):
    """Queued SMS: every row reached the provider and ended 'sent'; a row
    sent twice was in flight at the crash (leased, its result not committed,
    its first copy before the crash, one copy after) and every copy carried
    its key."""
    n, t_crash = int(n), float(t_crash)
    at_crash, end = rows(snapshot), rows(final)
    copies = collections.defaultdict(list)     # row key -> [(ts, key carried)]
    stray = 0
    total = 0
    for ts, body in requests(reqs):
        total += 1
        msg = body.get("message", "")
        if not msg.startswith(prefix + " "):
            stray += 1
            continue
        copies["%s-%s" % (prefix, msg[len(prefix) + 1:])].append((ts, body.get("uniqueId")))
    keys = ["%s-%d" % (prefix, i) for i in range(1, n + 1)]
    lost = [k for k in keys if not copies.get(k) or end.get(k, ["?"])[0] != "sent"]
    dups = dups_ok = 0
    for k in keys:
        c = copies.get(k, [])
        if len(c) < 2:
            continue
        dups += len(c) - 1
        in_flight = (at_crash.get(k, ["?"])[0] == "sending" and len(c) == 2 and
                     sum(1 for ts, _ in c if ts < t_crash) == 1)
        if in_flight and all(carried == k for _, carried in c):
            dups_ok += len(c) - 1
    leased = sum(1 for s in at_crash.values() if s[0] == "sending")
    sent = sum(1 for s in at_crash.values() if s[0] == "sent")
    notes = "at the crash: %d sent, %d leased" % (sent, leased)
    if stray:
        notes += "; %d requests of no queued row" % stray
    states = collections.Counter(v[0] for v in end.values())
    if set(states) != {"sent"}:
        notes += "; final " + ", ".join("%s %d" % kv for kv in sorted(states.items()))
    row(label, n, total, len(lost), dups, dups_ok, "-", notes,
        not lost and dups == dups_ok and stray == 0)


def pay(label, snapshot, final, reqs):
    """Queued payments: no request_id ever sent twice; every row final and
    true to the provider (charged <=> delivered, never reached <=> failed)."""
    at_crash, end = rows(snapshot), rows(final)
    pays = collections.Counter()
    queries = 0
    for ts, body in requests(reqs):
        if "serviceID" in body:
            pays[body.get("request_id")] += 1
        else:
            queries += 1
    twice = sum(1 for k, c in pays.items() if c > 1)
    stray = sum(1 for k in pays if k not in end)
    lost = 0
    not_reached = 0
    for k, v in end.items():
        st = v[0]
        if st == "delivered" and pays[k] >= 1:
            continue
        if st == "failed" and pays[k] == 0:
            not_reached += 1
            continue
        lost += 1          # stuck, or a state the provider contradicts
    leased = sum(1 for s in at_crash.values() if s[0] == "sending")
    notes = "at the crash: %d leased; %d status queries after" % (leased, queries)
    if not_reached:
        notes += "; %d never reached VTpass: failed, for gw_requeue" % not_reached
    states = collections.Counter(v[0] for v in end.values())
    notes += "; final " + ", ".join("%s %d" % kv for kv in sorted(states.items()))
    row(label, len(end), sum(pays.values()) + queries, lost, "-", "-", twice, notes,
        lost == 0 and twice == 0 and stray == 0)


def sync_sms(label, key, t_crash, reqs, retry_status, phone_copies):
    """A gw_call of sms.bulk whose backend was killed while the request was
    out, then called again by the application with the same unique_id."""
    t_crash = float(t_crash)
    c = [(ts, body.get("uniqueId")) for ts, body in requests(reqs)]
    before = sum(1 for ts, _ in c if ts < t_crash)
    same = all(k == key for _, k in c)
    dups = max(len(c) - 1, 0)
    ok_dups = dups if (before == 1 and same) else 0
    lost = 0 if c and retry_status == "accepted" else 1
    row(label, 1, len(c), lost, dups, ok_dups, "-",
        "the retry with the same unique_id: %s; SMS the provider took: %s"
        % (retry_status, phone_copies),
        lost == 0 and dups == ok_dups and phone_copies == "1")


def sync_pay(label, reqs, records):
    """A synchronous payment whose session ended while its request was out:
    sent once, and one outbox row for it ('unknown' until the provider's
    status query or its callback says more)."""
    n = sum(1 for _ in requests(reqs))
    records = [r for r in records.split(",") if r]
    note = "outbox row: %s" % (", ".join(records) if records else "none")
    row(label, 1, n, 0 if len(records) == 1 else 1, "-", "-", max(n - 1, 0), note,
        n == 1 and len(records) == 1)


def dlr(label, answers, final):
    """Delivery reports posted while the server stopped: every report
    answered 200 is applied (its row delivered) and recorded after the
    restart; the others may or may not be, and the provider sends them again."""
    got = rows(answers)
    end = rows(final)
    ok = [k for k, v in got.items() if v[0] == "200"]
    lost = [k for k in ok if end.get(k, ["?", "0"])[0] != "delivered" or end[k][1] == "0"]
    others = collections.Counter(v[0] for v in got.values() if v[0] != "200")
    applied = sum(1 for v in end.values() if v[0] == "delivered")
    notes = "%d answered 200; after the restart %d rows delivered" % (len(ok), applied)
    if others:
        notes += "; other answers: " + ", ".join("%s %d" % kv for kv in sorted(others.items()))
    if lost:
        notes += "; answered 200 but not kept: " + ", ".join(lost[:5])
    row(label, len(end), len(got), len(lost), "-", "-", "-", notes, not lost and len(ok) > 0)


def table(path):
    head = ["scenario", "rows", "requests", "lost", "duplicated",
            "of them in flight, same key", "payments sent twice", "notes", "result"]
    lines = [head] + [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
    width = [max(len(l[i]) for l in lines) for i in range(len(head))]
    for l in lines:
        print("  ".join(c.ljust(w) for c, w in zip(l, width)).rstrip())


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"sms": sms, "pay": pay, "sync-sms": sync_sms, "sync-pay": sync_pay, "dlr": dlr,
     "table": table}[cmd](*args)
