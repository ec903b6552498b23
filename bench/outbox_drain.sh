#!/usr/bin/env bash
# The outbox worker against the mock provider:
#   1. drain N queued SMS (default 100,000): messages/s with every result recorded;
#   2. commit-to-request latency, p50/p99, for single-message transactions at a
#      steady 500/s (pgbench), measured at the mock;
#   3. the cost of an INSERT whose trigger queues an SMS against a plain INSERT
#      (workers off, so that only the enqueue is measured), as a ratio;
#   4. worker memory (RSS) over MEM_N messages (default 1,000,000; MEM_N=0 skips).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
MEM_N=${MEM_N:-1000000}
bash scripts/setup.sh >/dev/null
. scripts/lib.sh
. bench/lib.sh
export GW_DB=postgres
export GW_EXTRA_CONF="gateway.max_in_flight = 64
gateway.batch_size = 500
max_wal_size = '4GB'
checkpoint_timeout = '30min'"
gw_start >/dev/null
mock="http://127.0.0.1:$GW_MOCK_PORT"
sql() { bench_sql "$@"; }
wait_drained() { bench_wait_drained; }

sql -c "CREATE EXTENSION gateway" >/dev/null
bench_account bench "http://127.0.0.1:$GW_MOCK_PORT/vaspro"

echo "== 1. drain $N queued SMS"
curl -s -X POST "$mock/_mock/config" -d '{"record": false}' >/dev/null
bench_drain bench "$N" >/dev/null
rate=$BENCH_DRAIN_RATE
sql -c "SELECT 'sent:            ' || count(*) FILTER (WHERE status = 'sent') || ' of ' || count(*) FROM gateway.outbox"
awk -v a="$BENCH_DRAIN_T0" -v b="$BENCH_DRAIN_T1" 'BEGIN { printf "drain time:      %.2f s\n", b - a }'
echo "throughput:      $rate messages/s, every result recorded"

echo "== 2. commit-to-request latency, 500 single-message transactions/s for 10 s"
curl -s -X POST "$mock/_mock/reset" >/dev/null
echo "SELECT gw_queue_sms('bench', '0712345678', 'lat ' || extract(epoch FROM clock_timestamp()));" >"$GW_WORK/lat.sql"
pgbench -n -c 4 -j 2 -R 500 -T 10 -f "$GW_WORK/lat.sql" postgres >"$GW_WORK/pgbench.log" 2>&1
wait_drained
curl -s "$mock/_mock/requests?limit=10000000" | python3 -c '
import json, sys
lat = []
for line in sys.stdin:
    r = json.loads(line)
    m = json.loads(r["body"]).get("message", "")
    if m.startswith("lat "):
        lat.append((r["ts"] - float(m[4:])) * 1000)
lat.sort()
if not lat:
    sys.exit("no latency samples")
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print("samples:         %d" % len(lat))
print("latency p50:     %.2f ms" % p(0.50))
print("latency p99:     %.2f ms" % p(0.99))'

echo "== 3. INSERT with an enqueueing trigger against a plain INSERT (nothing sent)"
# The worker stays (a queue call where nothing would send is an ERROR); the
# trigger's account allows one message a minute, so it sends nothing here.
sql <<SQL
SELECT gw_account_create('bench_hold', 'vaspro', '{"api_key": "bench-key"}',
       'http://127.0.0.1:$GW_MOCK_PORT/vaspro', '{"sender_id": "BENCH", "rate_limit": 0.016}');
CREATE TABLE plain_customers (id bigserial PRIMARY KEY, name text, phone text);
CREATE TABLE trig_customers (id bigserial PRIMARY KEY, name text, phone text);
CREATE TRIGGER welcome AFTER INSERT ON trig_customers FOR EACH ROW
    EXECUTE FUNCTION gw_sms_trigger('bench_hold', 'phone', 'Karibu {{name}}!');
SQL
echo "INSERT INTO plain_customers (name, phone) VALUES ('Amina', '0712345678');" >"$GW_WORK/plain.sql"
echo "INSERT INTO trig_customers (name, phone) VALUES ('Amina', '0712345678');" >"$GW_WORK/trig.sql"
tps() { pgbench -n -c 1 -T 10 -f "$1" postgres 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p'; }
tps "$GW_WORK/plain.sql" >/dev/null   # warm-up
plain=$(tps "$GW_WORK/plain.sql")
trig=$(tps "$GW_WORK/trig.sql")
echo "plain INSERT:    $plain tps"
echo "INSERT + enqueue: $trig tps"
awk -v a="$plain" -v b="$trig" 'BEGIN { printf "cost ratio:      %.2f x a plain INSERT\n", a / b }'
sql -c "DELETE FROM gateway.outbox WHERE account = 'bench_hold'" >/dev/null

if [ "$MEM_N" -gt 0 ]; then
    echo "== 4. worker memory over $MEM_N messages"
    as_pg pg_ctl -D "$GW_WORK/data" -w stop -m fast >/dev/null
    echo "gateway.keep_finished = 0" >>"$GW_WORK/data/postgresql.conf"
    curl -s -X POST "$mock/_mock/config" -d '{"record": false}' >/dev/null
    as_pg pg_ctl -D "$GW_WORK/data" -l "$GW_WORK/server.log" -w start >/dev/null
    sleep 1
    step=100000
    done_n=0
    while [ "$done_n" -lt "$MEM_N" ]; do
        sql -c "SELECT count(gw_queue_sms('bench', '0712345678', 'Memory test ' || i)) FROM generate_series(1, $step) i" >/dev/null
        wait_drained
        done_n=$((done_n + step))
        pid=$(sql -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'gateway worker'")
        # RssAnon: the worker's own memory (RSS also counts shared buffers it touched)
        printf "after %8d messages: worker memory (RssAnon) %s kB, outbox rows %s\n" "$done_n" \
            "$(awk '/^RssAnon/ {print $2}' /proc/"$pid"/status)" "$(sql -c 'SELECT count(*) FROM gateway.outbox')"
    done
fi
