#!/usr/bin/env bash
# Two callback listeners for one database (gateway.listeners = 2): both run
# and gw_health says so; the front hands connections to each in turn; one
# client's connections are counted across both (gateway.listen_max_per_client
# holds for the database, not for each listener), and what a listener that
# stops counted is forgotten; the same payment result posted many times at
# once, over both listeners, is applied once and every copy is recorded; a
# listener that stops is started again while the other serves; back to one
# listener on reload.  Run by scripts/test.sh against its cluster, after
# listener.sh (which makes the listen role).
set -uo pipefail
port=${GW_LISTEN_PORT:-18787}
db=contrib_regression
. "$(dirname "$0")/../lib/check.sh"
reload() { q "SELECT pg_reload_conf()" >/dev/null; }
listeners() { q "SELECT string_agg(pid::text, ' ' ORDER BY pid) FROM pg_stat_activity
                  WHERE backend_type = 'gateway listener' AND datname = current_database()"; }
live() { q "SELECT (gw_health()->'listener'->>'processes') || ' ' || (gw_health()->'listener'->>'live')"; }
wait_live() {   # wait_live <processes live>: until gw_health and pg_stat_activity say so (10 s at most)
    for _ in $(seq 1 100); do
        [ "$(live)" = "$1" ] && [ "$(listeners | wc -w)" = "${1#* }" ] && break
        sleep 0.1
    done
}
# held <source address> <n>: n connections from that address that send an
# unfinished request (its first line and one header) and keep it so; prints
# how many are still open after 1.5 s, then keeps them until stdin closes,
# a header line every 2 s (so that gateway.listen_timeout, 10 s idle, does
# not close them; gateway.listen_request_timeout is 30 s)
held_py='
import socket, sys, time, select
src, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
socks = []
for i in range(n):
    s = socket.socket()
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    s.sendall(b"POST /contrib_regression/lm/dlr?token=x HTTP/1.1\r\nHost: x\r\n")
    socks.append(s)
    time.sleep(0.05)
time.sleep(1.5)
def open_(s):
    r, _, _ = select.select([s], [], [], 0)
    if not r:
        return True
    try:
        return s.recv(4096) != b""
    except OSError:
        return False
print(sum(open_(s) for s in socks), flush=True)
while not select.select([sys.stdin], [], [], 2)[0]:
    for s in socks:
        try:
            s.sendall(b"X-Held: 1\r\n")
        except OSError:
            pass
'
# how many TCP connections from address $1 each listener holds (by pid order)
per_listener() {
    python3 - "$1" "$port" $(listeners) <<'PY'
import os, socket, struct, sys
src, port, pids = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
want = socket.inet_aton(src)
inodes = set()
for line in open("/proc/net/tcp").readlines()[1:]:
    f = line.split()
    (laddr, lport), (raddr, _) = (x.split(":") for x in f[1:3])
    if int(lport, 16) == port and struct.pack("<I", int(raddr, 16)) == want and f[3] == "01":
        inodes.add(f[9])
out = []
for pid in pids:
    n = 0
    for fd in os.listdir("/proc/%s/fd" % pid):
        try:
            t = os.readlink("/proc/%s/fd/%s" % (pid, fd))
        except OSError:
            continue
        if t.startswith("socket:[") and t[8:-1] in inodes:
            n += 1
    out.append(str(n))
print(" ".join(out))
PY
}

q "$listen_role_sql
   GRANT USAGE ON SCHEMA gateway TO gw_listener;
   GRANT EXECUTE ON FUNCTION gateway.ingest_text(text, text, text) TO gw_listener;
   SELECT gw_account_create('lm', 'vaspro', '{\"api_key\": \"lm-key-00001\"}',
       'http://127.0.0.1:$GW_MOCK_PORT/vaspro', '{\"paybill\": \"789789\"}')
    WHERE NOT EXISTS (SELECT FROM gateway.accounts WHERE name = 'lm');" >/dev/null &&
    q "ALTER SYSTEM SET gateway.listeners = 2" >/dev/null &&
    q "ALTER SYSTEM SET gateway.listen_max_per_client = 4" >/dev/null ||
    { echo "set-up failed"; exit 1; }
cleanup() {
    q "ALTER SYSTEM RESET gateway.listeners" >/dev/null
    q "ALTER SYSTEM RESET gateway.listen_max_per_client" >/dev/null
    reload
}
trap cleanup EXIT
reload
wait_live "2 2"
check "gw_health: two listener processes wanted, two live" "2 2" "$(live)"
check "two gateway listener backends for the database" 2 "$(listeners | wc -w)"
check "gw_health is ok" true "$(q "SELECT gw_health()->>'ok'")"

# --- the front hands connections to each listener in turn
exec 3> >(python3 -c "$held_py" 127.0.0.3 "$port" 4 >"$GW_WORK/lm.held3")
for _ in $(seq 1 50); do [ -s "$GW_WORK/lm.held3" ] && break; sleep 0.1; done
check "4 connections from one client (the limit) stay open" 4 "$(cat "$GW_WORK/lm.held3")"
check "each listener holds 2 of them" "2 2" "$(per_listener 127.0.0.3)"

# --- the limit counts a client's connections to both listeners: 4 in all
exec 4> >(python3 -c "$held_py" 127.0.0.2 "$port" 10 >"$GW_WORK/lm.held2")
for _ in $(seq 1 50); do [ -s "$GW_WORK/lm.held2" ] && break; sleep 0.1; done
check "of 10 connections from another client, 4 stay open (not 4 in each listener)" 4 \
    "$(cat "$GW_WORK/lm.held2")"
check "the two listeners hold 4 from it between them" 4 \
    "$(per_listener 127.0.0.2 | awk '{ print $1 + $2 }')"
exec 4>&-

# --- a listener that stops: the launcher starts it again, reports are
# answered throughout, and what it counted is forgotten with its connections
dlr=$(q "SELECT gw_callback_url('lm', 'dlr')")
second=$(listeners | awk '{ print $2 }')
q "SELECT pg_terminate_backend($second)" >/dev/null
# (gone from pg_stat_activity: it no longer takes connections)
for _ in $(seq 1 50); do
    [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE pid = $second")" = 0 ] && break
    sleep 0.1
done
codes=""
for i in 1 2 3 4 5 6; do codes="$codes$(code -X POST --data '{"uniqueId": "lm-none"}' "$dlr") "; done
check "while one listener stops and is started again, every report is answered" "200 200 200 200 200 200 " "$codes"
wait_live "2 2"
check "it is started again" "2 2" "$(live)"
check "the client's connections to the listener that stopped are gone" 2 \
    "$(per_listener 127.0.0.3 | awk '{ print $1 + $2 }')"
exec 4> >(python3 -c "$held_py" 127.0.0.3 "$port" 4 >"$GW_WORK/lm.held3b")
for _ in $(seq 1 50); do [ -s "$GW_WORK/lm.held3b" ] && break; sleep 0.1; done
check "the client may open 2 more: its 2 that closed no longer count" 2 "$(cat "$GW_WORK/lm.held3b")"
exec 4>&- 3>&-

# --- one payment result, 16 copies at once over both listeners (each from
# an address of its own, so that the limit of 4 is not in the way): applied once
pay=$(q "SELECT gw_stk_push('lm', '0712000006', 10, 'INV-LM')")
checkout=$(q "SELECT '$pay'::jsonb#>>'{data,data,CheckoutRequestID}'")
row=$(q "SELECT id FROM gateway.outbox WHERE account = 'lm' AND payment
           AND result#>>'{data,data,CheckoutRequestID}' = '$checkout'")
curl -s "http://127.0.0.1:$GW_MOCK_PORT/_mock/callback?id=$checkout" >"$GW_WORK/lm.payment"
purl=$(q "SELECT gw_callback_url('lm', 'payment')")
for i in $(seq 1 16); do
    curl -s -o /dev/null -w '%{http_code}\n' --interface "127.0.1.$i" -X POST \
        -H 'Content-Type: application/json' \
        --data-binary @"$GW_WORK/lm.payment" "$purl" >"$GW_WORK/lm.pay.$i" &
done
wait
ok=$(cat "$GW_WORK"/lm.pay.* | grep -c '^200$')
other=$(cat "$GW_WORK"/lm.pay.* | grep -vc '^200$')
check "every copy answered: 200, or 503 to be sent again" 16 \
    "$((ok + $(cat "$GW_WORK"/lm.pay.* | grep -c '^503$')))"
check "the payment is delivered (paid)" delivered "$(q "SELECT status FROM gateway.outbox WHERE id = $row")"
check "one copy applied; every copy answered 200 recorded, the others left it" "1|$((ok - 1))" \
    "$(q "SELECT count(*) FILTER (WHERE note IS NULL) || '|' || count(*) FILTER (WHERE note IS NOT NULL)
            FROM gateway.inbound WHERE account = 'lm' AND kind = 'payment' AND outbox_id = $row")"
check "the row's result names the copy applied" 1 \
    "$(q "SELECT count(*) FROM gateway.outbox o JOIN gateway.inbound i
             ON i.id = (o.result->'callback'->>'inbound_id')::bigint AND i.note IS NULL
          WHERE o.id = $row")"
echo "(answers: $ok 200, $other other)"

# --- back to one listener on reload: the second leaves by itself, after
# answering what it was handed
q "ALTER SYSTEM RESET gateway.listeners" >/dev/null
reload
wait_live "1 1"
check "gateway.listeners reset: one listener" "1 1|1" "$(live)|$(listeners | wc -w)"
check "it answers" 200 "$(code -X POST --data '{"uniqueId": "lm-none"}' "$dlr")"

echo "listeners test: $fails failed"
[ "$fails" -eq 0 ]
