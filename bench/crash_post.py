#!/usr/bin/env python3
"""Posts VasPro delivery reports for bench/crash_matrix.sh while the server
is stopped under it: keys PREFIX-1 .. PREFIX-N, THREADS keep-alive
connections, each report's answer written as "key<TAB>HTTP status" (or
"error" when the connection failed) to OUT as it comes.  A thread stops at
its first failed connection: the server is gone.

  crash_post.py HOST PORT PATH PREFIX N THREADS OUT
"""
import http.client
import json
import sys
import threading

host, port, path, prefix, n, threads, out = sys.argv[1:8]
port, n, threads = int(port), int(n), int(threads)
lock = threading.Lock()
log = open(out, "w")


def note(key, what):
    with lock:
        log.write("%s\t%s\n" % (key, what))
        log.flush()


def post(t):
    conn = http.client.HTTPConnection(host, port, timeout=30)
    for i in range(t + 1, n + 1, threads):
        key = "%s-%d" % (prefix, i)
        body = json.dumps({"uniqueId": key, "deliveryStatus": "DeliveredToTerminal",
                           "description": "Delivered", "msisdn": "254712345678"})
        try:
            conn.request("POST", path, body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            note(key, r.status)
        except (OSError, http.client.HTTPException):
            note(key, "error")
            return


ts = [threading.Thread(target=post, args=(t,)) for t in range(threads)]
for t in ts:
    t.start()
for t in ts:
    t.join()
