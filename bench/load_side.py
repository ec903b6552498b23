#!/usr/bin/env python3
"""Side traffic for bench/load.sh while pgbench runs.

  load_side.py MOCK_URL DLR_URL MO_URL SECONDS OUT_JSON

Two loops, for SECONDS:
  - faults: keeps up to 12 faults queued in the mock's FIFO (POST
    /_mock/fault): statuses 500/502/503/429/408, dropped connections,
    malformed 200 bodies and delays (some past gateway.request_timeout),
    for every provider or one of them;
  - callbacks: about 40 requests/s to the listener over a keep-alive
    connection: VasPro delivery reports for the bench's caller keys
    (ld-1 .. ld-20000, queued by the pgbench scripts) and incoming SMS.
Writes what it did to OUT_JSON.
"""
import http.client
import json
import random
import sys
import threading
import time
import urllib.parse

mock, dlr_url, mo_url, seconds, out = sys.argv[1:6]
deadline = time.time() + float(seconds)
stats = {"faults_queued": 0, "faulted_requests_queued": 0, "fault_kinds": {},
         "listener_posts": 0, "listener_status": {}, "listener_errors": 0}
lock = threading.Lock()
PREFIXES = [None, None, "/vaspro", "/vaspro/v3/BulkSMS", "/vaspro/v3/checkout",
            "/umeskia", "/mspace", "/nenasasa"]


def bump(d, k, n=1):
    with lock:
        d[k] = d.get(k, 0) + n


def fault_spec():
    r = random.random()
    count = random.randint(1, 3)
    if r < 0.45:
        st = random.choice([500, 502, 503, 503, 429, 429, 408])
        spec, kind = {"action": "status", "status": st}, "status %d" % st
    elif r < 0.60:
        spec, kind = {"action": "drop"}, "drop"
    elif r < 0.75:
        spec, kind = {"action": "malformed"}, "malformed"
    elif r < 0.92:
        spec, kind = {"delay_ms": random.randint(50, 800)}, "delay < timeout"
    else:
        # past gateway.request_timeout (2 s): the call times out
        spec, kind = {"delay_ms": 2600}, "delay > timeout"
        count = 1
    spec["count"] = count
    p = random.choice(PREFIXES)
    if p:
        spec["prefix"] = p
    return spec, kind, count


def faults_loop():
    u = urllib.parse.urlparse(mock)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    while time.time() < deadline:
        try:
            c.request("GET", "/_mock/faults")
            queued = c.getresponse().read()
            n = len(json.loads(queued))
            for _ in range(max(0, 12 - n)):
                spec, kind, count = fault_spec()
                c.request("POST", "/_mock/fault", body=json.dumps(spec))
                c.getresponse().read()
                bump(stats, "faults_queued")
                bump(stats, "faulted_requests_queued", count)
                bump(stats["fault_kinds"], kind, count)
        except (OSError, http.client.HTTPException, ValueError):
            c.close()
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
        time.sleep(0.05)


DLR_STATES = ["DeliveredToTerminal", "DeliveredToNetwork", "DeliveryImpossible", "MessageWaiting"]


def listener_loop():
    d = urllib.parse.urlparse(dlr_url)
    m = urllib.parse.urlparse(mo_url)
    c = http.client.HTTPConnection(d.hostname, d.port, timeout=5)
    while time.time() < deadline:
        if random.random() < 0.75:
            path = d.path + "?" + d.query
            body = {"uniqueId": "ld-%d" % random.randint(1, 20000),
                    "deliveryStatus": random.choice(DLR_STATES), "msisdn": "254712345678"}
        else:
            path = m.path + "?" + m.query
            body = {"msisdn": "0712%06d" % random.randint(0, 99),
                    "message": random.choice(["STOP", "START", "hello", " stop "]), "link_id": "L1"}
        try:
            c.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            bump(stats, "listener_posts")
            bump(stats["listener_status"], str(r.status))
        except (OSError, http.client.HTTPException):
            bump(stats, "listener_errors")
            c.close()
            c = http.client.HTTPConnection(d.hostname, d.port, timeout=5)
        time.sleep(0.025)


threads = [threading.Thread(target=faults_loop), threading.Thread(target=listener_loop)]
for t in threads:
    t.start()
for t in threads:
    t.join()
with open(out, "w") as f:
    json.dump(stats, f)
