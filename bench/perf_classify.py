#!/usr/bin/env python3
"""Where the outbox worker's CPU goes, from `perf script` output.

usage: perf_classify.py GATEWAY_SO PERF_SCRIPT_OUTPUT [CPU_US_PER_MSG]

Each sample's call chain (root to leaf) is read with gateway.so's inlined
functions put back (addr2line -i: gw_claim, gw_flush and the rest are static
functions the compiler folds into gw_worker_main), then given to the first
step of the drain it falls in: the claim, the request build, libcurl, the
response parse, the result write, maintenance.  Prints each step's share of
the worker's samples, and its microseconds a message when the worker's CPU
time a message is given.
"""
import collections
import re
import subprocess
import sys

COMMIT = {"CommitTransactionCommand", "CommitTransaction", "RecordTransactionCommit",
          "XLogFlush", "issue_xlog_fsync"}


def read_samples(path):
    """[(comm, [(sym, off, dso), ...] leaf first)]"""
    samples, cur = [], None
    frame = re.compile(r"^\s+([0-9a-f]+)\s+(.*?)\s+\((.*)\)\s*$")
    with open(path, errors="replace") as f:
        for line in f:
            if not line.strip():
                if cur is not None:
                    samples.append(cur)
                cur = None
                continue
            m = frame.match(line)
            if m and cur is not None:
                sym = m.group(2)
                off = 0
                mm = re.match(r"^(.*)\+0x([0-9a-f]+)$", sym)
                if mm:
                    sym, off = mm.group(1), int(mm.group(2), 16)
                # a gateway.so replaced by `make install` while the worker ran
                cur.append((sym, off, re.sub(r" \(deleted\)$", "", m.group(3))))
            elif not line.startswith((" ", "\t")):
                cur = []
    if cur is not None:
        samples.append(cur)
    return samples


def inline_chains(so, samples):
    """{(sym, off, leaf): [outermost .. innermost function]} for gateway.so frames"""
    syms = {}
    out = subprocess.run(["nm", so], capture_output=True, text=True).stdout
    for line in out.splitlines():
        p = line.split()
        if len(p) == 3:
            syms.setdefault(p[2], int(p[0], 16))
    want = set()
    for s in samples:
        for i, (sym, off, dso) in enumerate(s):
            if dso.endswith("gateway.so") and sym in syms:
                want.add((sym, off, i == 0))
    want = sorted(want)
    addrs = ["%x" % (syms[sym] + off - (0 if leaf else 1)) for sym, off, leaf in want]
    chains = {}
    if not addrs:
        return chains
    res = subprocess.run(["addr2line", "-a", "-f", "-i", "-e", so], input="\n".join(addrs) + "\n",
                         capture_output=True, text=True).stdout.splitlines()
    blocks, cur = [], None
    for line in res:
        if re.match(r"^0x[0-9a-f]+$", line):
            cur = []
            blocks.append(cur)
        elif cur is not None:
            cur.append(line)
    for key, b in zip(want, blocks):
        names = [b[i] for i in range(0, len(b), 2)]   # innermost first
        chains[key] = list(reversed(names))
    return chains


def logical_stack(sample, chains):
    names = []
    for i, (sym, off, dso) in reversed(list(enumerate(sample))):
        c = chains.get((sym, off, i == 0))
        if c:
            names.extend(c)
        else:
            names.append(sym if sym != "[unknown]" else "[%s]" % dso.rsplit("/", 1)[-1])
    return names   # root first


def classify(names, dsos):
    s = set(names)
    curl = any("libcurl" in d for d in dsos) or any(n.startswith("curl_") for n in names)
    kernel = any("kernel" in d for d in dsos)
    if "gw_flush" in s:
        if s & COMMIT:
            return "result write: commit (WAL flush)"
        if "SPI_execute_plan" in s:
            return "result write: UPDATE of the batch"
        return "result write: arrays, begin"
    if "gw_claim" in s:
        if {"gw_item_prepare", "gw_item_prepare_step", "gw_item_authorize_step"} & s:
            return "request build (account, params, JSON body)"
        if s & COMMIT:
            return "claim: commit (WAL flush)"
        if "SPI_execute_plan" in s:
            return "claim: UPDATE ... FOR UPDATE SKIP LOCKED"
        return "claim: begin, copy rows out"
    if {"gw_collect", "gw_collect_one"} & s:
        if "gw_call_complete" in s:
            return "response parse (gw_call_complete: provider parse, result jsonb)"
        if curl or "gw_http_pool_next" in s:
            return "libcurl: transfers done, handles back"
        return "outcome, result buffered"
    if {"gw_start", "gw_http_pool_run", "gw_http_pool_start"} & s or curl:
        if kernel:
            return "libcurl: kernel (socket send/recv, poll)"
        return "libcurl: user space"
    if {"gw_purge", "gw_recover", "gw_adopt_orphans", "gw_next_due_ms", "gw_installed"} & s:
        return "maintenance (purge, lease recovery, next due)"
    if "WaitLatch" in s or "WaitEventSetWait" in s:
        return "waiting on the latch"
    if "gw_worker_main" in s:
        return "worker loop, other"
    return "outside the worker loop"


def main():
    so, path = sys.argv[1], sys.argv[2]
    us = float(sys.argv[3]) if len(sys.argv) > 3 else None
    samples = [s for s in read_samples(path) if s]
    if not samples:
        print("no samples")
        return
    chains = inline_chains(so, samples)
    cats = collections.Counter()
    leaves = collections.defaultdict(collections.Counter)
    for s in samples:
        names = logical_stack(s, chains)
        c = classify(names, [d for _, _, d in s])
        cats[c] += 1
        leaves[c][names[-1] if names else "?"] += 1
    total = sum(cats.values())
    print("| step | share of the worker's CPU samples | µs a message | hottest leaf functions |")
    print("|---|---|---|---|")
    for c, k in cats.most_common():
        top = ", ".join("%s %.0f%%" % (n, 100.0 * v / k) for n, v in leaves[c].most_common(3))
        print("| %s | %.1f%% | %s | %s |" % (c, 100.0 * k / total,
                                          "%.1f" % (us * k / total) if us else "-", top))
    print("(%d samples)" % total)


if __name__ == "__main__":
    main()
