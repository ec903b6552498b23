#!/usr/bin/env bash
# Memory over a long run: TOTAL messages (1,000,000) queued, drained and
# answered with a delivery report each, CHUNK (50,000) at a time, against a
# throwaway nginx.  After each chunk it prints the outbox worker's and the
# listener's private resident memory (RssAnon, from /proc) and the outbox's size, and
# at the end how far each process's memory moved from the first chunk to
# the last: the promise is within 10 MB.
#
#   bash bench/soak.sh
#   TOTAL=200000 CHUNK=20000 bash bench/soak.sh
#
# Each chunk: CHUNK gw_queue_sms in one transaction (keys soak<k>-<i>), the
# drain, then a VasPro delivery report for each posted to the listener (wrk,
# 64 connections) until every row is delivered; the chunk's rows are then
# deleted (TRUNCATE would not show a leak of the table's growth, DELETE and
# autovacuum are what production does).  Exits 1 when a row was not
# delivered or a process's memory moved by more than 10 MB.  Never a test.
# BENCH_NO_SETUP=1 uses the build already installed (an A/B of two builds).
set -euo pipefail
cd "$(dirname "$0")/.."
TOTAL=${TOTAL:-1000000}
CHUNK=${CHUNK:-50000}
export GW_LISTEN_PORT=${GW_LISTEN_PORT:-18787}
[ -n "${BENCH_NO_SETUP:-}" ] || bash scripts/setup.sh >/dev/null
. scripts/lib.sh
. bench/lib.sh
bench_need wrk nginx-light

export GW_DB=postgres
GW_LISTEN_PORT=$(gw_free_port "$GW_LISTEN_PORT")
export GW_EXTRA_CONF="fsync = ${FSYNC:-on}
$(bench_listener_conf)
${BENCH_CONF:-}"
GW_MOCK_ARGS=--no-record gw_start >/dev/null
trap bench_stop EXIT
bench_nginx_start
bench_sql -c "CREATE EXTENSION gateway" >/dev/null
bench_callbacks_setup
bench_account soak "http://127.0.0.1:$BENCH_NGINX_PORT/vaspro"

# private memory: RssAnon (VmRSS also counts the shared buffers a process has
# touched, which grow with the tables, not with a leak)
rss() { awk '/^RssAnon/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
listener_pid() {
    bench_sql -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'gateway listener' LIMIT 1"
}

echo "== $(date -u '+%Y-%m-%d %H:%M UTC'): $(bench_machine); load average $(bench_load)"
echo "== $TOTAL messages, $CHUNK a chunk; fsync = ${FSYNC:-on}"
printf '| messages | worker RssAnon MB | listener RssAnon MB | outbox MB | chunk drain msg/s | chunk callbacks/s | load |\n'
printf '|---|---|---|---|---|---|---|\n'
chunks=$(( (TOTAL + CHUNK - 1) / CHUNK ))
done_n=0
bad=""
first_w="" first_l="" last_w="" last_l=""
for k in $(seq 1 "$chunks"); do
    n=$CHUNK
    [ $((done_n + n)) -gt "$TOTAL" ] && n=$((TOTAL - done_n))
    t0=$(bench_queue soak "$n" "soak$k-")
    bench_wait_drained soak
    t1=$(bench_sql -c "SELECT extract(epoch FROM max(sent_at)) FROM gateway.outbox WHERE account = 'soak'")
    drain=$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
    read -r upd _ cb_rate _ _ < <(bench_post_dlrs soak "$n" "soak$k-" 64 2)
    [ "$upd" -ge "$n" ] || bad="$bad chunk $k: $upd of $n delivered;"
    bench_sql -c "DELETE FROM gateway.outbox WHERE account = 'soak'" -c "DELETE FROM gateway.inbound" >/dev/null
    done_n=$((done_n + n))
    w=$(bench_worker_pid); l=$(listener_pid)
    last_w=$(rss "$w"); last_l=$(rss "$l")
    [ -n "$first_w" ] || { first_w=$last_w; first_l=$last_l; }
    size=$(bench_sql -c "SELECT round(pg_total_relation_size('gateway.outbox') / 1048576.0, 1)")
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$(bench_num "$done_n")" "$last_w" "$last_l" "$size" \
        "$(bench_num "$drain")" "$(bench_num "$cb_rate")" "$(cut -d' ' -f1 /proc/loadavg)"
done
dw=$(awk -v a="$first_w" -v b="$last_w" 'BEGIN { printf "%+.1f", b - a }')
dl=$(awk -v a="$first_l" -v b="$last_l" 'BEGIN { printf "%+.1f", b - a }')
echo
echo "worker RssAnon $first_w -> $last_w MB ($dw), listener RssAnon $first_l -> $last_l MB ($dl), from the first chunk to the last"
awk -v d="$dw" 'BEGIN { exit !(d > 10 || d < -10) }' && bad="$bad worker memory moved $dw MB;"
awk -v d="$dl" 'BEGIN { exit !(d > 10 || d < -10) }' && bad="$bad listener memory moved $dl MB;"
if [ -n "$bad" ]; then echo "NOT AS PROMISED:$bad"; exit 1; fi
echo "within 10 MB: yes"
