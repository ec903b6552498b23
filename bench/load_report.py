#!/usr/bin/env python3
"""The figures of bench/load.sh, from the files it left in its work directory.

  load_report.py WORK DURATION PGBENCH_RC

Exits 1 when the run found something: an ERROR that is not a caller
mistake (SQLSTATE class 22, 42 or 0A), a FATAL or PANIC, a crash, an aborted
pgbench session, a row left queued or sending, a rolled-back row in the
outbox, or a process whose RssAnon grew by more than 20% and 10 MB between
the 20 s mark and the end.
"""
import collections
import json
import os
import re
import sys

work, duration, pgbench_rc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
problems = []
CALLER_CLASSES = ("22", "42", "0A")


def read(name):
    p = os.path.join(work, name)
    return open(p, errors="replace").read() if os.path.exists(p) else ""


# -- transactions per script, from pgbench
out = read("pgbench.out")
print("== transactions (pgbench, %s s)" % duration)
m = re.search(r"number of transactions actually processed: (\d+)", out)
tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out)
print("total:            %s transactions, %s tps" % (m.group(1) if m else "?", tps.group(1) if tps else "?"))
for name, n, share, stps in re.findall(
        r"SQL script \d+: \S*/([a-z_]+)\.sql\n - weight: \d+ \([^)]*\)\n - (\d+) transactions \(([0-9.]+)% of total, tps = ([0-9.]+)\)", out):
    print("  %-14s %7s  (%5s%%, %7s tps)" % (name, n, share, stps))
lat = re.search(r"latency average = ([0-9.]+ ms)", out)
print("latency average:  %s" % (lat.group(1) if lat else "?"))
failed = re.search(r"number of failed transactions: (\d+)", out)
failed = int(failed.group(1)) if failed else 0
print("failed (ERROR):   %d transactions" % failed)
if failed:
    problems.append("%d pgbench transactions failed with an ERROR" % failed)
aborted = re.findall(r"client \d+ script \d+ aborted in command \d+ query \d+: (.*)", read("pgbench.err"))
print("aborted sessions: %d" % len(aborted))
for a in collections.Counter(aborted).most_common(5):
    print("  %dx %s" % (a[1], a[0]))
if aborted:
    problems.append("%d pgbench sessions aborted" % len(aborted))
elif pgbench_rc != 0:
    problems.append("pgbench exited with %d: %s" % (pgbench_rc, read("pgbench.err").strip()[:300]))

# -- results
print("== results (kind, ok, status: count)")
for line in read("results.txt").splitlines():
    kind, ok, status, n = line.split("\t")
    print("  %-38s %-5s %-10s %7s" % (kind, "ok" if ok == "t" else "NOT ok", status, n))

side = json.loads(read("side.json") or "{}")
print("== faults and listener traffic (bench/load_side.py)")
print("faults queued:    %s faults, %s faulted requests: %s" % (
    side.get("faults_queued"), side.get("faulted_requests_queued"),
    ", ".join("%s %d" % kv for kv in sorted(side.get("fault_kinds", {}).items()))))
print("listener posts:   %s (HTTP %s), connection errors %s" % (
    side.get("listener_posts"), side.get("listener_status"), side.get("listener_errors")))
print("gateway.inbound:  %s" % ", ".join(l.replace("\t", " ") for l in read("inbound.txt").splitlines()))

# -- ERRORs and crashes, from the server log
print("== ERRORs by class (server log)")
log = read("data/log/postgresql.log")
pat = re.compile(r"\[(\d+)\] <([^|]*)\|([^|]*)\|([^>]*)> (ERROR|FATAL|PANIC):  (.*)")
classes = collections.Counter()
for line in log.splitlines():
    mm = pat.search(line)
    if not mm:
        continue
    btype, app, state, level, msg = mm.group(2, 3, 4, 5, 6)
    caller = level == "ERROR" and state[:2] in CALLER_CLASSES
    who = app or btype
    msg = re.sub(r'"[^"]*"', '"…"', msg)[:90]
    classes[("caller mistake" if caller else "NOT a caller mistake", level, state, who, msg)] += 1
if not classes:
    print("  none")
for (cls, level, state, who, msg), n in sorted(classes.items()):
    print("  %-20s %s %s %-17s %6d  %s" % (cls, level, state, who, n, msg))
    if cls != "caller mistake":
        problems.append("%d x %s %s from %s: %s" % (n, level, state, who, msg))
mistakes = sum(n for k, n in classes.items() if k[3] == "load_mistakes")
print("caller mistakes made by the mistakes session: %d ERRORs" % mistakes)

crash_pat = re.compile(r"terminated by signal|was terminated by|exited with exit code [1-9]|"
                       r"server process .* was terminated|PANIC|all server processes terminated")
crashes = [l for l in log.splitlines() if crash_pat.search(l)]
print("== crash check: %d lines (terminated by signal, exited with exit code, PANIC)" % len(crashes))
for l in crashes[:10]:
    print("  " + l)
if crashes:
    problems.append("%d crash lines in the server log" % len(crashes))

# -- memory
print("== memory per process kind (kB; the largest process of the kind at 2 s, 20 s, the end; max;\n   RssAnon is private memory, VmRSS adds shared buffers touched, RssShmem)")
rows = [l.split() for l in read("rss.txt").splitlines()]
byproc = collections.defaultdict(dict)
for label, pid, kind, vm, anon, shmem in rows:
    byproc[(kind, pid)][label] = (int(vm), int(anon), int(shmem))
end_label = str(duration - 2)
for kind in sorted({k for k, _ in byproc}):
    procs = {p: s for (k, p), s in byproc.items() if k == kind}
    # the workers live on after pgbench: their end is after draining
    last = "drained" if kind.startswith("gateway") else end_label
    for metric, idx in (("RssAnon", 1), ("VmRSS", 0), ("RssShmem", 2)):
        def largest(label):
            v = [s[label][idx] for s in procs.values() if label in s]
            return max(v) if v else None
        peak = max((v[idx] for s in procs.values() for v in s.values()), default=None)
        print("  %-17s %-7s n=%-3d start %s, 20 s %s, end %s, max %s" % (
            kind, metric, len(procs), largest("2"), largest("20"), largest(last), peak))
    growth = []
    for pid, s in procs.items():
        if "20" in s and last in s:
            a, b = s["20"][1], s[last][1]
            growth.append(b - a)
            if b - a > 10240 and b > a * 1.2:
                problems.append("%s %s: RssAnon %d kB at 20 s, %d kB at the end" % (kind, pid, a, b))
    if growth:
        print("  %-17s RssAnon growth 20 s -> end: max %+d kB, mean %+.0f kB" % (
            kind, max(growth), sum(growth) / len(growth)))
    labels = sorted({l for s in procs.values() for l in s}, key=lambda l: (l == "drained", int(l) if l.isdigit() else 0))
    print("  %-17s RssAnon over time (largest): %s" % (kind, ", ".join(
        "%s %d" % (l + ("" if l == "drained" else " s"), max(s[l][1] for s in procs.values() if l in s))
        for l in labels)))

# palloc'd memory: the memory context dumps asked for at 20 s, at the end
# (and after draining, for the workers)
used = collections.defaultdict(list)
kinds = {pid: kind for kind, pid in byproc}
for mm in re.finditer(r"\[(\d+)\] <[^>]*> LOG:  Grand total: \d+ bytes in \d+ blocks; \d+ free \(\d+ chunks\); (\d+) used", log):
    used[mm.group(1)].append(int(mm.group(2)))
print("== palloc'd memory (memory contexts, Grand total used, bytes): at 20 s -> at the end")
for kind in sorted(set(kinds.values())):
    series = [v for pid, v in used.items() if kinds.get(pid) == kind and len(v) >= 2]
    if series:
        growth = [v[-1] - v[0] for v in series]
        print("  %-17s n=%-3d largest at 20 s %d, largest at the end %d, growth max %+d, mean %+.0f" % (
            kind, len(series), max(v[0] for v in series), max(v[-1] for v in series),
            max(growth), sum(growth) / len(growth)))

# -- outbox
print("== outbox after draining (account, status, rows)")
for l in read("outbox.txt").splitlines():
    print("  " + l[len("outbox "):])
print("backlog when pgbench ended: %s rows queued or sending; drained in %s s" % (
    read("backlog.txt").strip(), read("drain_s.txt").strip()))
stuck = int(read("stuck.txt").strip() or 0)
rolled = int(read("rolledback.txt").strip() or 0)
print("left queued or sending: %d; rows of rolled-back transactions: %d" % (stuck, rolled))
if stuck:
    problems.append("%d rows still queued or sending after draining" % stuck)
if rolled:
    problems.append("%d rows of rolled-back transactions in the outbox" % rolled)

print("== verdict")
if problems:
    for p in problems:
        print("FAIL: " + p)
    sys.exit(1)
print("PASS: no ERROR but caller mistakes, no crash, memory flat, nothing stuck")
