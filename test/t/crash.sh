#!/usr/bin/env bash
# Crash safety of the outbox: queue 20,000 SMS, kill -9 the worker mid-drain,
# later stop the whole server with -m immediate mid-drain and start it again.
# Every message must reach the provider; a duplicate may only be a request
# that was in flight, and it carries the same idempotency key.  Prints the
# lost and duplicate counts.  Run by scripts/test.sh against its cluster.
set -uo pipefail
N=${GW_CRASH_N:-20000}
mock="http://127.0.0.1:$GW_MOCK_PORT"
db=contrib_regression
q() { psql -X -q -t -A -d "$db" -c "$1" 2>/dev/null; }
sent() { q "SELECT count(*) FROM gateway.outbox WHERE account = 'crash' AND status = 'sent'"; }
wait_sent() {   # until at least $1 are sent (or 60 s pass)
    for _ in $(seq 1 600); do
        local s; s=$(sent); [ -n "$s" ] && [ "$s" -ge "$1" ] && return 0; sleep 0.1
    done
    return 1
}
wait_up() { for _ in $(seq 1 300); do pg_isready -q -d "$db" && q "SELECT 1" >/dev/null && return 0; sleep 0.2; done; return 1; }

curl -s -X POST "$mock/_mock/reset" >/dev/null
q "SELECT gw_account_create('crash', 'vaspro', '{\"api_key\": \"crash-key-01\"}',
       'http://127.0.0.1:$GW_MOCK_PORT/vaspro', '{\"sender_id\": \"CRASH\", \"rate_limit\": 100000}')" >/dev/null
psql -X -q -d "$db" -c "SELECT count(gw_queue_sms('crash', '0712345678', 'crash test ' || i,
       idempotency_key => 'crash-' || i)) FROM generate_series(1, $N) i" >/dev/null || { echo "enqueue failed"; exit 1; }

wait_sent $((N / 4)) || { echo "the worker did not start draining"; exit 1; }
pid=$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'gateway worker' LIMIT 1")
echo "kill -9 of the worker (pid $pid) at $(sent) sent"
kill -9 "$pid"
sleep 1
wait_up || { echo "the server did not come back"; exit 1; }

wait_sent $((N * 3 / 5)) || { echo "draining did not resume after the worker was killed"; exit 1; }
echo "pg_ctl stop -m immediate at $(sent) sent, then start"
runuser -u postgres -- pg_ctl -D "$GW_WORK/data" -m immediate -w stop >/dev/null
runuser -u postgres -- pg_ctl -D "$GW_WORK/data" -l "$GW_WORK/server.log" -w -t 60 start >/dev/null
wait_up || { echo "the server did not restart"; exit 1; }

for _ in $(seq 1 1200); do
    left=$(q "SELECT count(*) FROM gateway.outbox WHERE account = 'crash' AND status IN ('queued', 'sending')")
    [ "$left" = 0 ] && break
    sleep 0.1
done

q "SELECT status || ' ' || count(*) FROM gateway.outbox WHERE account = 'crash' GROUP BY status" | sed 's/^/outbox: /'
q "SELECT idempotency_key FROM gateway.outbox WHERE account = 'crash' AND status = 'sent'" | sort >"$GW_WORK/crash.keys"
curl -s "$mock/_mock/requests?prefix=/vaspro/v3/BulkSMS/bulk/create&limit=10000000" >"$GW_WORK/crash.requests"
python3 - "$N" "$GW_WORK/crash.keys" "$GW_WORK/crash.requests" <<'PY'
import json, sys, collections
n = int(sys.argv[1])
sent_rows = set(open(sys.argv[2]).read().split())
seen = collections.Counter()
for line in open(sys.argv[3]):
    r = json.loads(line)
    seen[json.loads(r["body"]).get("uniqueId")] += 1
keys = {"crash-%d" % i for i in range(1, n + 1)}
lost = len(keys - set(seen))
dups = sum(c - 1 for k, c in seen.items() if k in keys and c > 1)
stray = sum(c for k, c in seen.items() if k not in keys)
not_sent = len(keys - sent_rows)
print("crash test: %d queued, %d sent, %d requests at the provider, lost %d, duplicates %d "
      "(each with the same idempotency key), requests without a queued key %d"
      % (n, len(sent_rows & keys), sum(seen.values()), lost, dups, stray))
sys.exit(0 if lost == 0 and not_sent == 0 and stray == 0 else 1)
PY
