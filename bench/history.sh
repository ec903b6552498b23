#!/usr/bin/env bash
# What months of history cost: the outbox drain with HIST (10,000,000)
# finished rows in gateway.outbox and as many callbacks in gateway.inbound,
# against the same drain with both tables empty, in one run; then the
# retention: a day of rows purged by the worker, how long it took and the
# longest purge statement, and whether the space is used again.
#
#   bash bench/history.sh                       # 10 million; about 35 minutes
#   HIST=1000000 bash bench/history.sh          # smaller
#
# 1. empty: ROUNDS (2) drains of N (50,000) queued in one transaction;
# 2. HIST rows (status sent) and HIST callbacks spread over DAYS (30) days
#    before today, VACUUM ANALYZE (what autovacuum does with a table that
#    has stopped changing); the same drains: the rate and its ratio to 1;
# 3. the retention: gateway.keep_finished set so that the oldest day's rows
#    are past it; the worker makes the day final (its rollup) and purges
#    its rows in batches; the seconds until they are gone and the longest
#    purge statement (pg_stat_statements);
# 4. VACUUM, then a day's rows added again: the outbox's size before and
#    after (flat when the purged space is used again);
# 5. steady retention, CYCLES (10) days in turn: gateway.keep_finished and
#    gateway.keep_inbound a day shorter, so the next oldest day's rows and
#    callbacks are past them; the worker purges them; then a day's messages
#    (as many as the history holds a day) queued and drained through nginx,
#    and a day's callbacks recorded.  No VACUUM but autovacuum's, with its
#    default settings.  The tables' sizes after each day: flat when the
#    space a day frees is used by the next.
# Against a throwaway nginx, fsync on, default gateway settings but
# gateway.keep_finished, -1 until step 3 (BENCH_CONF adds lines to
# postgresql.conf).  Exits 1 when a drained row was not sent, a purge left
# rows of its day, or the outbox grew over the days by more than the dead
# rows autovacuum lets gather (its scale factor, 20%) and two days' rows:
# the space a purged day frees was not used again.  Never a test.
set -euo pipefail
cd "$(dirname "$0")/.."
HIST=${HIST:-10000000}
DAYS=${DAYS:-30}
N=${N:-50000}
CYCLES=${CYCLES:-10}
ROUNDS=${ROUNDS:-2}
export GW_LISTEN_PORT=${GW_LISTEN_PORT:-18787}
bash scripts/setup.sh >/dev/null
. scripts/lib.sh
. bench/lib.sh
bench_need nginx-light

export GW_DB=postgres
export GW_EXTRA_CONF="fsync = ${FSYNC:-on}
shared_preload_libraries = 'gateway, pg_stat_statements'
pg_stat_statements.track = all
max_wal_size = '8GB'
gateway.keep_finished = -1
# step 5 reloads the configuration every simulated day, and each reload puts
# off autovacuum's next look at a database by autovacuum_naptime / (the
# databases): with the default minute and a day every 20 s it would never
# look.  Its thresholds stay the defaults.
autovacuum_naptime = '10s'
${BENCH_CONF:-}"
GW_MOCK_ARGS=--no-record gw_start >/dev/null
trap bench_stop EXIT
bench_nginx_start
bench_sql -c "CREATE EXTENSION gateway" -c "CREATE EXTENSION pg_stat_statements" >/dev/null
bench_account hist "http://127.0.0.1:$BENCH_NGINX_PORT/vaspro"

size_mb() { bench_sql -c "SELECT round(pg_total_relation_size('$1') / 1048576.0)"; }
drains() {  # DRAIN_MEAN: the mean rate of ROUNDS drains of N
    local sum=0 r sent
    for r in $(seq 1 "$ROUNDS"); do
        bench_sql -c "DELETE FROM gateway.outbox WHERE account = 'hist' AND created_at > now() - interval '1 hour'" >/dev/null
        bench_drain hist "$N" >/dev/null
        sent=$(bench_sql -c "SELECT count(*) FROM gateway.outbox WHERE account = 'hist' AND created_at > now() - interval '1 hour' AND status = 'sent'")
        [ "$sent" = "$N" ] || bad="$bad a drain left $((N - sent)) rows not sent;"
        echo "   drain $r: $BENCH_DRAIN_RATE msg/s"
        sum=$((sum + BENCH_DRAIN_RATE))
    done
    DRAIN_MEAN=$((sum / ROUNDS))
}
bad=""
echo "== $(date -u '+%Y-%m-%d %H:%M UTC'): $(bench_machine); load average $(bench_load)"

echo "== 1. empty tables: $ROUNDS drains of $N"
drains; empty=$DRAIN_MEAN

echo "== 2. $HIST finished rows and $HIST callbacks over $DAYS days"
t0=$(date +%s)
bench_sql >/dev/null <<SQL
SET synchronous_commit = off;
INSERT INTO gateway.outbox (id, account, operation, params, status, attempts, send_at,
                            next_attempt_at, created_at, updated_at, sent_at, provider_ref,
                            idempotency_key, result, segments, encoding, cost)
SELECT nextval('gateway.outbox_id_seq'), 'hist', 'sms.bulk',
       jsonb_build_object('message', 'History ' || i, 'recipients', '0712345678'),
       'sent', 1, t, t, t, t, t, md5(i::text), 'hist-' || i,
       jsonb_build_object('ok', true, 'status', 'accepted', 'provider', 'vaspro',
                          'operation', 'sms.bulk', 'retryable', false, 'http_status', 200,
                          'provider_ref', md5(i::text), 'elapsed_ms', 5.4, 'error', null,
                          'data', jsonb_build_object('code', 'Success',
                              'statusDescription', 'Request is Successfully Processed',
                              'data', jsonb_build_object('credits', 1, 'recipients', 1,
                                                         'correlator', md5(i::text)))),
       1, 'gsm7', 0.8
  FROM generate_series(1, $HIST) i,
       LATERAL (SELECT date_trunc('day', now()) - interval '1 day' * $DAYS
                       + interval '1 day' * $DAYS * (i - 1) / $HIST AS t) d;
INSERT INTO gateway.inbound (account, kind, received_at, payload, outbox_id, note)
SELECT 'hist', 'dlr', t,
       jsonb_build_object('uniqueId', 'hist-' || i, 'correlator', md5(i::text),
                          'deliveryStatus', 'DeliveredToTerminal', 'msisdn', '254712345678'),
       i, NULL
  FROM generate_series(1, $HIST) i,
       LATERAL (SELECT date_trunc('day', now()) - interval '1 day' * $DAYS
                       + interval '1 day' * $DAYS * (i - 1) / $HIST AS t) d;
SQL
bench_sql -c "VACUUM ANALYZE gateway.outbox" -c "VACUUM ANALYZE gateway.inbound" -c "CHECKPOINT" >/dev/null
filled=$(( $(date +%s) - t0 ))
echo "   filled and vacuumed in $filled s: outbox $(size_mb gateway.outbox) MB, inbound $(size_mb gateway.inbound) MB"
echo "== 2. $ROUNDS drains of $N beside the history"
drains; full=$DRAIN_MEAN

# The retention of simulated day c (0: step 3): gateway.keep_finished such
# that the day that ended DAYS - 1 - c days ago is the last final one (now -
# keep_finished falls half an hour before the next day's end), from the time
# now; its rows' edge, and a wait until the worker has purged what SQL
# counts (the seconds in PURGED_S; what is left in LEFT).
keep_for() { echo $(( (DAYS - 2 - $1) * 86400 + $(date -u +%s) % 86400 + 1800 )); }
edge_of() { echo "date_trunc('day', now()) - interval '1 day' * $((DAYS - 1 - $1))"; }
wait_purged() {
    local t0
    t0=$(date +%s.%N)
    for _ in $(seq 1 1200); do
        LEFT=$(bench_sql -c "$1")
        [ "$LEFT" = 0 ] && break
        sleep 0.5
    done
    PURGED_S=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
}
# (the history's rows were sent when they were queued: the purge's index on
# updated_at finds them)
outbox_left() { echo "SELECT count(*) FROM gateway.outbox WHERE status = 'sent' AND updated_at < $(edge_of "$1")"; }

echo "== 3. retention: the oldest day purged by the worker"
day_rows=$(bench_sql -c "SELECT count(*) FROM gateway.outbox WHERE send_at < date_trunc('day', now()) - interval '1 day' * ($DAYS - 1)")
bench_sql -c "SELECT pg_stat_statements_reset()" >/dev/null
before=$(size_mb gateway.outbox)
bench_sql -c "ALTER SYSTEM SET gateway.keep_finished = '$(keep_for 0)s'" -c "SELECT pg_reload_conf()" >/dev/null
wait_purged "$(outbox_left 0)"
[ "$LEFT" = 0 ] || bad="$bad $LEFT rows of the oldest day were not purged;"
purge_s=$PURGED_S
longest=$(bench_sql -c "SELECT round(max(max_exec_time)::numeric, 1) || ' ms (' || sum(calls) || ' statements)'
                          FROM pg_stat_statements WHERE query LIKE 'DELETE FROM gateway.outbox%'")
echo "   $day_rows rows purged in $purge_s s (from the reload, the day's rollup included); longest purge statement $longest"

echo "== 4. VACUUM, then a day's rows again"
bench_sql -c "VACUUM gateway.outbox" >/dev/null
vacuumed=$(size_mb gateway.outbox)
bench_sql >/dev/null <<SQL
SET synchronous_commit = off;
INSERT INTO gateway.outbox (account, operation, params, status, attempts, send_at, next_attempt_at,
                            created_at, updated_at, sent_at, provider_ref, idempotency_key, result)
SELECT 'hist', 'sms.bulk', jsonb_build_object('message', 'Again ' || i, 'recipients', '0712345678'),
       'sent', 1, now(), now(), now(), now(), now(), md5(i::text), 'again-' || i,
       (SELECT result FROM gateway.outbox WHERE account = 'hist' AND status = 'sent' LIMIT 1)
  FROM generate_series(1, $day_rows) i;
SQL
again=$(size_mb gateway.outbox)

echo "== 5. steady retention: $CYCLES days, each the oldest day purged, a day's messages drained and callbacks recorded"
[ "$CYCLES" -le $((DAYS - 4)) ] || { echo "CYCLES must be at most DAYS - 4" >&2; exit 2; }
av() { bench_sql -c "SELECT autovacuum_count FROM pg_stat_user_tables WHERE relid = 'gateway.$1'::regclass"; }
dead() { bench_sql -c "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relid = 'gateway.$1'::regclass"; }
cyc_rows=""
cyc_start=$again; cyc_start_in=$(size_mb gateway.inbound)
av_out=$(av outbox); av_in=$(av inbound)
for c in $(seq 1 "$CYCLES"); do
    # the next oldest day goes: its rows sent and its callbacks received
    today_s=$(( $(date -u +%s) % 86400 ))
    bench_sql -c "ALTER SYSTEM SET gateway.keep_finished = '$(keep_for "$c")s'" \
              -c "ALTER SYSTEM SET gateway.keep_inbound = '$(( (DAYS - 1 - c) * 86400 + today_s ))s'" \
              -c "SELECT pg_reload_conf()" >/dev/null
    wait_purged "SELECT ($(outbox_left "$c"))
                      + (SELECT count(*) FROM gateway.inbound WHERE received_at < $(edge_of "$c"))"
    [ "$LEFT" = 0 ] || bad="$bad day $c: $LEFT rows or callbacks not purged;"
    queued_at=$(date +%s.%N)
    bench_drain hist "$day_rows" >/dev/null
    sent=$(bench_sql -c "SELECT count(*) FROM gateway.outbox
                          WHERE status = 'sent' AND updated_at >= to_timestamp($queued_at)")
    [ "$sent" = "$day_rows" ] || bad="$bad day $c: $((day_rows - sent)) rows not sent;"
    bench_sql >/dev/null <<SQL
SET synchronous_commit = off;
INSERT INTO gateway.inbound (account, kind, payload, note)
SELECT 'hist', 'dlr', jsonb_build_object('uniqueId', 'day$c-' || i, 'deliveryStatus', 'DeliveredToTerminal',
                                         'msisdn', '254712345678'), NULL
  FROM generate_series(1, $day_rows) i;
SQL
    o=$(size_mb gateway.outbox); i=$(size_mb gateway.inbound)
    oh=$(bench_sql -c "SELECT round(pg_relation_size('gateway.outbox') / 1048576.0)")
    cyc_rows="$cyc_rows| $c | $PURGED_S s | $(bench_num "$BENCH_DRAIN_RATE") msg/s | $(bench_num "$o") MB ($(bench_num "$oh") MB heap) | $(bench_num "$i") MB | $(bench_num "$(dead outbox)") | $(( $(av outbox) - av_out )), $(( $(av inbound) - av_in )) |
"
    echo "   day $c: purged in $PURGED_S s, drained at $BENCH_DRAIN_RATE msg/s; outbox $o MB, inbound $i MB"
done
cyc_end=$o; cyc_end_in=$i
# flat: the outbox no bigger at the end than at the start plus what
# autovacuum lets gather before it runs and two days' rows
sf=$(bench_sql -c "SELECT current_setting('autovacuum_vacuum_scale_factor')")
grown=$(awk -v a="$cyc_start" -v b="$cyc_end" -v d="$DAYS" -v f="$sf" 'BEGIN { print (b > a * (1 + f + 2 / d)) ? 1 : 0 }')
[ "$grown" = 0 ] || bad="$bad the outbox grew from $cyc_start MB to $cyc_end MB over $CYCLES days;"
load1=$(bench_load)

pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", 100 * a / b }'; }
cat <<TABLE

$(bench_machine); load average at the end $load1; fsync = ${FSYNC:-on}; N = $N, $ROUNDS drains each

| | figure |
|---|---|
| drain, empty outbox and inbound | $(bench_num "$empty") msg/s |
| drain beside $(bench_num "$HIST") finished rows and $(bench_num "$HIST") callbacks | $(bench_num "$full") msg/s ($(pct "$full" "$empty") of empty) |
| filling and VACUUM ANALYZE | $filled s |
| the oldest day purged by the worker | $(bench_num "$day_rows") rows in $purge_s s; longest purge statement $longest |
| outbox size: before the purge, after VACUUM, after a day's rows again | $before MB, $vacuumed MB, $again MB |
| $CYCLES days of steady retention, autovacuum alone: outbox, inbound | $cyc_start → $cyc_end MB, $cyc_start_in → $cyc_end_in MB |

Steady retention, day by day (autovacuums: of the outbox and of inbound since the first day):

| day | oldest day purged in | a day's messages drained | outbox | inbound | outbox's dead rows | autovacuums |
|---|---|---|---|---|---|---|
$cyc_rows
TABLE
if [ -n "$bad" ]; then echo; echo "NOT ALL DONE:$bad"; exit 1; fi
