#!/usr/bin/env bash
# The callback listener under load (wrk, many connections):
#   1. N queued-and-sent SMS (default 50,000), then a VasPro delivery report for
#      each posted to the listener: callbacks/s until every outbox row is
#      delivered (each report recorded in gateway.inbound and applied);
#   2. USSD round trip, p50/p99, alone and beside a delivery-report load, a
#      new connection a session (as a provider's gateway sends them), each
#      through the listener front; exits 1 when one was not answered 200.
# Aims: >= 12,000 callbacks/s; USSD p99 < 50 ms beside the load.
# BENCH_NO_SETUP=1 uses the build already installed (an A/B of two builds);
# BENCH_CONF adds settings, one a line (BENCH_CONF="gateway.callback_lock_timeout = 200ms").
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-50000}
CONNS=${CONNS:-64}
THREADS=${THREADS:-4}
export GW_LISTEN_PORT=${GW_LISTEN_PORT:-18787}
[ -n "${BENCH_NO_SETUP:-}" ] || bash scripts/setup.sh >/dev/null
. scripts/lib.sh
. bench/lib.sh
bench_need wrk
export GW_DB=postgres
export GW_EXTRA_CONF="gateway.max_in_flight = 64
gateway.batch_size = 500
max_wal_size = '4GB'
min_wal_size = '2GB'
checkpoint_timeout = '30min'
$(bench_listener_conf)
${BENCH_CONF:-}"
gw_start >/dev/null
sql() { bench_sql "$@"; }

sql -c "CREATE EXTENSION gateway" >/dev/null
bench_callbacks_setup
bench_account bench "http://127.0.0.1:$GW_MOCK_PORT/vaspro" '"ussd_handler": "public.bench_menu"'
dlr=$(sql -c "SELECT gw_callback_url('bench', 'dlr')")
ussd=$(sql -c "SELECT gw_callback_url('bench', 'ussd')")
path_of() { bench_path_of "$1"; }

echo "== gateway settings: batch_size 500, max_in_flight 64${BENCH_CONF:+, $(echo "$BENCH_CONF" | tr '\n' ';')}; load $(bench_load)"
echo "== 1. $N delivery reports, $CONNS connections"
curl -s -X POST "http://127.0.0.1:$GW_MOCK_PORT/_mock/config" -d '{"record": false}' >/dev/null
read -r updated received rate secs steady < <(bench_callbacks bench "$N" cb- "$CONNS" "$THREADS")
echo "sent:             $(sql -c "SELECT count(*) FROM gateway.outbox WHERE status IN ('sent', 'delivered', 'undelivered')") of $N"
echo "outbox updated:   $updated of $N"
echo "callbacks posted: $received (recorded in gateway.inbound; beyond N: late duplicates)"
echo "throughput:       $rate callbacks/s, until every outbox row was updated ($secs s)"
echo "steady:           $steady callbacks/s, while the 10th to the 60th percent of the rows were updated"
sed -n 's/^Requests\/sec: *\(.*\)/wrk:              \1 requests\/s/p; s/^\(non-2xx.*\)/wrk:              \1/p' "$GW_WORK/wrk-dlr.log"

echo "== 2. USSD round trip"
ussd_pct() {   # p50 and p99 from wrk --latency, and the answers that were not 200
    awk '/Latency Distribution/ { d = 1 } d && $1 == "50%" { p50 = $2 } d && $1 == "99%" { p99 = $2 }
         /^non-2xx:/ { bad = $2 + 0 }
         END { printf "p50 %s, p99 %s, %d answers not 2xx", p50, p99, bad }' "$1"
}
USSD_BAD=""
wrk -t1 -c1 -d5s --latency -s bench/callbacks_ussd.lua "http://127.0.0.1:$GW_LISTEN_PORT" \
    -- "$(path_of "$ussd")" >"$GW_WORK/wrk-ussd.log" 2>&1
grep -q '^non-2xx: 0,' "$GW_WORK/wrk-ussd.log" || USSD_BAD=1
echo "alone:            $(ussd_pct "$GW_WORK/wrk-ussd.log") ($(sed -n 's/^Requests\/sec: *//p' "$GW_WORK/wrk-ussd.log") sessions/s)"
wrk -t"$THREADS" -c"$CONNS" -d7s -s bench/callbacks_dlr.lua "http://127.0.0.1:$GW_LISTEN_PORT" \
    -- "$N" "$THREADS" "$(path_of "$dlr")" cb- >"$GW_WORK/wrk-dlr2.log" 2>&1 &
wrk_pid=$!
sleep 1
wrk -t1 -c1 -d5s --latency -s bench/callbacks_ussd.lua "http://127.0.0.1:$GW_LISTEN_PORT" \
    -- "$(path_of "$ussd")" >"$GW_WORK/wrk-ussd2.log" 2>&1
wait "$wrk_pid" 2>/dev/null || true
grep -q '^non-2xx: 0,' "$GW_WORK/wrk-ussd2.log" || USSD_BAD=1
echo "beside DLR load:  $(ussd_pct "$GW_WORK/wrk-ussd2.log") (DLR load $(sed -n 's/^Requests\/sec: *//p' "$GW_WORK/wrk-dlr2.log") requests/s)"
sql -c "SELECT 'USSD answers:     ' || count(*) || ' recorded' FROM gateway.inbound WHERE kind = 'ussd'"
if [ -n "$USSD_BAD" ]; then echo "NOT ALL DONE: USSD sessions were not answered 200"; exit 1; fi
