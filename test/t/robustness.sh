#!/usr/bin/env bash
# What must not wedge a session or a worker: an ERROR while an answer is
# taken (here: an answer of 1 GB - 1 byte, which no palloc holds) leaves the
# session's next calls working; rate limits too large or too small for the
# arithmetic neither stop sending nor spin the worker.  Run by
# scripts/test.sh against its cluster and mock.
set -uo pipefail
db=contrib_regression
. "$(dirname "$0")/../lib/check.sh"
mock="http://127.0.0.1:$GW_MOCK_PORT"

# --- an answer too large for palloc: the next call in the session works
big_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$big_port" <<'PY' &
import socket, sys, threading
size = (1 << 30) - 1                      # MaxAllocSize: len + 1 is one too many
chunk = b"x" * (1 << 20)
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(8)
srv.settimeout(120)
def serve(c):
    try:
        data = b""
        while b"\r\n\r\n" not in data:
            more = c.recv(65536)
            if not more:
                raise OSError("closed")
            data += more
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % size)
        left = size
        while left > 0:
            n = min(left, len(chunk))
            c.sendall(chunk[:n])
            left -= n
    except OSError:
        pass
    c.close()
try:
    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
except OSError:
    pass
PY
big_pid=$!
for _ in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$big_port") 2>/dev/null && break
    sleep 0.1
done
q "SELECT gw_account_create('rb_big', 'vaspro', '{\"api_key\": \"rb-key-0001\"}', 'http://127.0.0.1:$big_port/vaspro');
   SELECT gw_account_create('rb_ok', 'vaspro', '{\"api_key\": \"rb-key-0002\"}', '$mock/vaspro');" >/dev/null
out=$(psql -X -q -t -A -d "$db" 2>&1 <<SQL
SET gateway.max_response_size = '1GB';
SET gateway.request_timeout = '300s';
SELECT gw_send_sms('rb_big', '0712345678', 'huge answer')->>'status';
SELECT 'after: ' || (gw_send_sms('rb_ok', '0712345678', 'next call')->>'status');
SELECT 'again: ' || (gw_send_sms('rb_ok', '0712345678', 'and the next')->>'status');
SQL
)
kill "$big_pid" 2>/dev/null; wait "$big_pid" 2>/dev/null
check "the answer that cannot be held is an ERROR" 1 "$(printf '%s\n' "$out" | grep -c 'ERROR:  invalid memory alloc request size')"
check "the next call in that session works" "after: accepted" "$(printf '%s\n' "$out" | grep '^after:')"
check "and the one after" "again: accepted" "$(printf '%s\n' "$out" | grep '^again:')"

# --- rate limits at the edges of a double
q "SELECT gw_account_create('rt_huge', 'vaspro', '{\"api_key\": \"rt-key-0001\"}', '$mock/vaspro', '{\"rate_limit\": 1e300}');
   SELECT gw_account_create('rt_tiny', 'vaspro', '{\"api_key\": \"rt-key-0002\"}', '$mock/vaspro', '{\"rate_limit\": 1e-9}');
   SELECT gw_account_create('rt_under', 'vaspro', '{\"api_key\": \"rt-key-0003\"}', '$mock/vaspro', '{\"rate_limit\": 1e-400}');" >/dev/null
q "SELECT count(gw_queue_sms('rt_huge', '0712345678', 'fast ' || i)) FROM generate_series(1, 20) i;
   SELECT count(gw_queue_sms('rt_tiny', '0712345678', 'slow ' || i)) FROM generate_series(1, 3) i;
   SELECT count(gw_queue_sms('rt_under', '0712345678', 'slower ' || i)) FROM generate_series(1, 3) i;" >/dev/null
q "SELECT gw_wait(max(id), '30 s') FROM gateway.outbox WHERE account = 'rt_huge'" >/dev/null
q "SELECT gw_wait(min(id), '30 s') FROM gateway.outbox WHERE account IN ('rt_tiny', 'rt_under') GROUP BY account" >/dev/null
check "a rate_limit of 1e300 sends everything" 20 \
    "$(q "SELECT count(*) FROM gateway.outbox WHERE account = 'rt_huge' AND status = 'sent'")"
# the worker waits for the tiny limits; it must sleep, not spin
wpid=$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'gateway worker' LIMIT 1")
sw() { awk '/^voluntary_ctxt_switches/ {print $2}' "/proc/$wpid/status"; }
s0=$(sw); sleep 2; s1=$(sw)
check "a rate_limit of 1e-9 sends one, then waits" "1 2" \
    "$(q "SELECT count(*) FILTER (WHERE status = 'sent') || ' ' || count(*) FILTER (WHERE status IN ('queued', 'sending')) FROM gateway.outbox WHERE account = 'rt_tiny'")"
check "a rate_limit of 1e-400 (below a double) is not taken for no limit" "1 2" \
    "$(q "SELECT count(*) FILTER (WHERE status = 'sent') || ' ' || count(*) FILTER (WHERE status IN ('queued', 'sending')) FROM gateway.outbox WHERE account = 'rt_under'")"
check "meanwhile the worker sleeps (under 100 wake-ups in 2 s)" yes "$([ $((s1 - s0)) -lt 100 ] && echo yes || echo "no: $((s1 - s0))")"
id=$(q "SELECT gw_queue_sms('rb_ok', '0712345678', 'others')")
check "and still sends for others" sent "$(q "SELECT gw_wait($id, '30 s')")"

q "UPDATE gateway.outbox SET status = 'cancelled' WHERE account IN ('rt_tiny', 'rt_under') AND status IN ('queued', 'sending')" >/dev/null
for a in rb_big rb_ok rt_huge rt_tiny rt_under; do q "SELECT gw_account_drop('$a')" >/dev/null 2>&1; done
echo "robustness test: $fails failed"
[ "$fails" -eq 0 ]
