#!/usr/bin/env bash
# The callback listener under load (wrk, many connections):
#   1. N queued-and-sent SMS (default 50,000), then a VasPro delivery report for
#      each posted to the listener: callbacks/s until every outbox row is
#      delivered (each report recorded in gateway.inbound and applied);
#   2. USSD round trip, p50/p99, alone and beside a delivery-report load.
# Aims: >= 5,000 callbacks/s; USSD p99 < 50 ms.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-50000}
CONNS=${CONNS:-64}
THREADS=${THREADS:-4}
export GW_LISTEN_PORT=${GW_LISTEN_PORT:-18787}
bash scripts/setup.sh >/dev/null
. scripts/lib.sh
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)"; exit 1; }
export GW_DB=postgres
export GW_EXTRA_CONF="gateway.max_in_flight = 64
gateway.batch_size = 500
max_wal_size = '4GB'
checkpoint_timeout = '30min'
gateway.listen_address = '127.0.0.1:$GW_LISTEN_PORT'
gateway.listen_role = 'gw_listener'"
gw_start >/dev/null
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$@"; }

sql <<SQL
CREATE EXTENSION gateway;
CREATE ROLE gw_listener NOLOGIN;
GRANT USAGE ON SCHEMA gateway TO gw_listener;
GRANT EXECUTE ON FUNCTION gateway.ingest_text(text, text, text) TO gw_listener;
CREATE FUNCTION public.bench_menu(msisdn text, session_id text, input text, service_code text)
RETURNS text LANGUAGE sql AS \$\$ SELECT 'CON Welcome ' || msisdn || E'\n1. Balance\n2. Buy airtime' \$\$;
SELECT gw_account_create('bench', 'vaspro', '{"api_key": "bench-key"}',
       'http://127.0.0.1:$GW_MOCK_PORT/vaspro',
       '{"sender_id": "BENCH", "rate_limit": 1000000, "ussd_handler": "public.bench_menu"}');
SQL
dlr=$(sql -c "SELECT gw_callback_url('bench', 'dlr')")
ussd=$(sql -c "SELECT gw_callback_url('bench', 'ussd')")
path_of() { printf '/%s' "${1#http://*/}"; }
for _ in $(seq 1 100); do
    curl -s -o /dev/null -X POST --data '{}' "$dlr" && break
    sleep 0.1
done

echo "== 1. $N delivery reports, $CONNS connections"
curl -s -X POST "http://127.0.0.1:$GW_MOCK_PORT/_mock/config" -d '{"record": false}' >/dev/null
sql -c "SELECT count(gw_queue_sms('bench', '0712345678', 'Callback test ' || i, idempotency_key => 'cb-' || i))
        FROM generate_series(1, $N) i" >/dev/null
while [ "$(sql -c "SELECT count(*) FROM gateway.outbox WHERE status IN ('queued', 'sending')")" != 0 ]; do
    sleep 0.2
done
echo "sent:             $(sql -c "SELECT count(*) FROM gateway.outbox WHERE status = 'sent'") of $N"
before=$(sql -c "SELECT count(*) FROM gateway.inbound")
t0=$(date +%s.%N)
wrk -t"$THREADS" -c"$CONNS" -d10m -s bench/callbacks_dlr.lua "http://127.0.0.1:$GW_LISTEN_PORT" \
    -- "$N" "$THREADS" "$(path_of "$dlr")" cb- >"$GW_WORK/wrk-dlr.log" 2>&1 &
wrk_pid=$!
deadline=$(( $(date +%s) + 120 ))
updated=0
while [ "$(date +%s)" -lt "$deadline" ]; do
    updated=$(sql -c "SELECT count(*) FROM gateway.outbox WHERE status IN ('delivered', 'undelivered')")
    [ "$updated" -ge "$N" ] && break
    sleep 0.05
done
t1=$(date +%s.%N)
kill -INT "$wrk_pid" 2>/dev/null || true
wait "$wrk_pid" 2>/dev/null || true
received=$(( $(sql -c "SELECT count(*) FROM gateway.inbound") - before ))
echo "outbox updated:   $updated of $N"
echo "callbacks posted: $received (recorded in gateway.inbound; beyond N: late duplicates)"
awk -v n="$updated" -v a="$t0" -v b="$t1" 'BEGIN { printf "throughput:       %.0f callbacks/s, until every outbox row was updated (%.2f s)\n", n / (b - a), b - a }'
sed -n 's/^Requests\/sec: *\(.*\)/wrk:              \1 requests\/s/p; s/^\(non-2xx.*\)/wrk:              \1/p' "$GW_WORK/wrk-dlr.log"

echo "== 2. USSD round trip"
ussd_pct() {   # p50 and p99 from wrk --latency
    awk '/Latency Distribution/ { d = 1 } d && $1 == "50%" { p50 = $2 } d && $1 == "99%" { p99 = $2 }
         END { printf "p50 %s, p99 %s\n", p50, p99 }' "$1"
}
wrk -t1 -c1 -d5s --latency -s bench/callbacks_ussd.lua "http://127.0.0.1:$GW_LISTEN_PORT" \
    -- "$(path_of "$ussd")" >"$GW_WORK/wrk-ussd.log" 2>&1
echo "alone:            $(ussd_pct "$GW_WORK/wrk-ussd.log") ($(sed -n 's/^Requests\/sec: *//p' "$GW_WORK/wrk-ussd.log") sessions/s)"
wrk -t"$THREADS" -c"$CONNS" -d7s -s bench/callbacks_dlr.lua "http://127.0.0.1:$GW_LISTEN_PORT" \
    -- "$N" "$THREADS" "$(path_of "$dlr")" cb- >"$GW_WORK/wrk-dlr2.log" 2>&1 &
wrk_pid=$!
sleep 1
wrk -t1 -c1 -d5s --latency -s bench/callbacks_ussd.lua "http://127.0.0.1:$GW_LISTEN_PORT" \
    -- "$(path_of "$ussd")" >"$GW_WORK/wrk-ussd2.log" 2>&1
wait "$wrk_pid" 2>/dev/null || true
echo "beside DLR load:  $(ussd_pct "$GW_WORK/wrk-ussd2.log") (DLR load $(sed -n 's/^Requests\/sec: *//p' "$GW_WORK/wrk-dlr2.log") requests/s)"
sql -c "SELECT 'USSD answers:     ' || count(*) || ' recorded' FROM gateway.inbound WHERE kind = 'ussd'"
