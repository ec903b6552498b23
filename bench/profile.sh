#!/usr/bin/env bash
# Where a drained message's time goes: the outbox worker against a throwaway
# nginx (TARGET=nginx, the default) or the mock (TARGET=mock).
#
#   1. drain of N (20,000) SMS queued in one transaction: msg/s, the worker's
#      CPU a message, nginx's, new connections a message; WAL bytes and
#      records a message by kind (pg_waldump --stats over the drain), heap
#      tuples written a message (pg_stat_user_tables), each statement's
#      calls, time, WAL and dirtied buffers a message (pg_stat_statements);
#   2. the same while another session holds one snapshot open all along
#      (as pg_dump or a long report does);
#   3. a backlog of BIG_N (100,000): msg/s over the whole drain and in each
#      fifth of it;
#   4. perf (cpu-clock, DWARF call chains) on the worker while it drains
#      PERF_N (50,000): its CPU split into the claim, the request build,
#      libcurl, the response parse and the result write
#      (bench/perf_classify.py), and the hottest functions.  Skipped when
#      perf cannot sample here.
#
#   bash bench/profile.sh
#   TARGET=mock N=50000 BIG_N=0 bash bench/profile.sh     (BIG_N=0, PERF_N=0 skip)
#
# Gateway settings are the defaults (add any in BENCH_CONF, one a line);
# FSYNC (on) sets the cluster's fsync.  GW_KEEP=1 keeps the work directory
# (perf.data, the perf script output).  Never a test.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-20000}
BIG_N=${BIG_N:-100000}
PERF_N=${PERF_N:-50000}
TARGET=${TARGET:-nginx}
FSYNC=${FSYNC:-on}
bash scripts/setup.sh >/dev/null
. scripts/lib.sh
. bench/lib.sh

export GW_DB=postgres
export GW_EXTRA_CONF="fsync = $FSYNC
shared_preload_libraries = 'gateway, pg_stat_statements'
pg_stat_statements.track = all
pg_stat_statements.max = 1000
track_io_timing = on
track_wal_io_timing = on
wal_keep_size = '8GB'
${BENCH_CONF:-}"
GW_MOCK_ARGS=--no-record gw_start >/dev/null
trap bench_stop EXIT
W=$GW_WORK
bench_sql -c "CREATE EXTENSION gateway" -c "CREATE EXTENSION pg_stat_statements" >/dev/null
if [ "$TARGET" = mock ]; then
    base="http://127.0.0.1:$GW_MOCK_PORT"
else
    bench_nginx_start
    base="http://127.0.0.1:$BENCH_NGINX_PORT"
fi
bench_account p "$base/vaspro"
so="$("$GW_PG_BINDIR/pg_config" --pkglibdir)/gateway.so"
pm=$(head -1 "$W/data/postmaster.pid")

echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(bench_machine); load average $(bench_load)"
echo "== target: $TARGET ($base); fsync = $FSYNC; gateway settings: defaults${BENCH_CONF:+ + $(echo "$BENCH_CONF" | tr '\n' ';')}"

lsn() { bench_sql -c "SELECT pg_current_wal_lsn()"; }
tup() {
    bench_sql -c "SELECT n_tup_ins || ' ' || n_tup_upd || ' ' || n_tup_hot_upd || ' ' || n_tup_del
                  FROM pg_stat_user_tables WHERE relid = 'gateway.outbox'::regclass"
}
others() { pgrep -P "$pm" | grep -vx "$(bench_worker_pid)" | tr '\n' ' '; }
per() { awk -v a="$1" -v n="$2" -v f="${3:-%.1f}" 'BEGIN { printf f, a / n }'; }

# The WAL between two LSNs by record kind, per message.
walstats() {  # from to n
    pg_waldump --stats=record -p "$W/data/pg_wal" -s "$1" -e "$2" 2>/dev/null | awk -v n="$3" '
        $1 ~ /\// && $2 ~ /^[0-9]+$/ && $2 > 0 {
            gsub(/[()]/, "")
            # Type N (%) Record size (%) FPI size (%) Combined size (%)
            rows[$1] = sprintf("| %s | %.3f | %.0f | %.0f |", $1, $2 / n, $6 / n, $8 / n)
            order[++k] = $1; cnt[$1] = $2
        }
        $1 == "Total" { gsub(/\[[^]]*\]/, ""); tot = sprintf("| total | %.2f | %.0f | %.0f |", $2 / n, $4 / n, $5 / n) }
        END {
            print "| WAL record | records a message | FPI bytes a message | bytes a message |"
            print "|---|---|---|---|"
            for (i = 1; i <= k; i++) if (cnt[order[i]] / n >= 0.001) print rows[order[i]]
            print tot
        }'
}

# The worker's statements, per message.
stmts() {  # n
    bench_sql -F ' | ' <<SQL
SELECT '| step | calls | rows a call | ms a call | µs a message | WAL bytes a message | buffers dirtied a message | buffers hit a message |';
SELECT '|---|---|---|---|---|---|---|---|';
SELECT '| ' || CASE WHEN query LIKE 'WITH c AS%' THEN 'claim (UPDATE ... FOR UPDATE SKIP LOCKED)'
                    WHEN query LIKE 'UPDATE gateway.outbox o%' THEN 'result write (UPDATE of the batch)'
                    WHEN query LIKE '%DELETE%' THEN 'purge'
                    ELSE left(regexp_replace(query, '\s+', ' ', 'g'), 50) END,
       calls, round(rows::numeric / calls, 1), round((total_exec_time / calls)::numeric, 3),
       round((total_exec_time * 1000 / $1)::numeric, 1), round(wal_bytes / $1, 0),
       round(shared_blks_dirtied::numeric / $1, 3), round(shared_blks_hit::numeric / $1, 2) || ' |'
  FROM pg_stat_statements
 WHERE query ~* 'gateway\.outbox' AND total_exec_time * 1000 / $1 >= 0.05
 ORDER BY total_exec_time DESC LIMIT 8;
SQL
}

hold_pid=""
hold_snapshot() {
    PGAPPNAME=bench_snapshot psql -X -q -c "BEGIN ISOLATION LEVEL REPEATABLE READ" \
        -c "SELECT count(*) FROM pg_class" -c "SELECT pg_sleep(100000)" >/dev/null 2>&1 &
    hold_pid=$!
    for _ in $(seq 1 50); do
        [ "$(bench_sql -c "SELECT count(*) FROM pg_stat_activity
                            WHERE application_name = 'bench_snapshot' AND backend_xmin IS NOT NULL
                              AND wait_event = 'PgSleep'")" = 1 ] && return 0
        sleep 0.1
    done
    echo "the snapshot holder did not start"; return 1
}
release_snapshot() {
    bench_sql -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'bench_snapshot'" >/dev/null
    wait "$hold_pid" 2>/dev/null || true
    hold_pid=""
}

# One measured drain of n; fills RATE, CPU_US (worker CPU a message).
measure() {  # label n
    local n=$2 l0 lq l1 c0 c1 o0 o1 x0 x1 a0 a1 t0 t1 tu0 tu1 s0 s1 q0 q1 w1 stm counts wpid nginx_pids=""
    bench_fresh
    sleep 1.2                       # the worker's table counters reach the stats
    wpid=$(bench_worker_pid)
    [ "$TARGET" = nginx ] && nginx_pids=$(bench_nginx_pids)
    read -r -a tu0 <<<"$(tup)"
    l0=$(lsn)
    t0=$(bench_queue p "$n")
    MEASURE_T0=$t0
    bench_sql -c "SELECT pg_stat_statements_reset()" >/dev/null
    # from the queueing transaction's commit on
    c0=$(bench_cpu "$wpid"); o0=$(others); x0=$(bench_cpu $o0)
    read -r s0 q0 _ <"/proc/$wpid/schedstat"
    [ -n "$nginx_pids" ] && { a0=$(bench_nginx_accepts); n0=$(bench_cpu $nginx_pids); }
    lq=$(lsn)
    bench_wait_drained p
    l1=$(lsn)
    c1=$(bench_cpu "$wpid"); x1=$(bench_cpu $o0)
    read -r s1 q1 _ <"/proc/$wpid/schedstat"
    w1=$(date +%s.%N)
    # the statements now, before the idle worker adds its own
    stm=$(stmts "$n")
    counts=$(bench_sql -c "SELECT 'claim statements: ' || coalesce(sum(calls) FILTER (WHERE query LIKE 'WITH c AS%'), 0) ||
                                  ', result writes: ' || coalesce(sum(calls) FILTER (WHERE query LIKE 'UPDATE gateway.outbox o%'), 0) ||
                                  ', next-due queries: ' || coalesce(sum(calls) FILTER (WHERE query LIKE 'SELECT GREATEST%'), 0)
                             FROM pg_stat_statements")
    [ -n "$nginx_pids" ] && { a1=$(bench_nginx_accepts); n1=$(bench_cpu $nginx_pids); }
    t1=$(bench_sql -c "SELECT extract(epoch FROM max(sent_at)) FROM gateway.outbox WHERE account = 'p'")
    sleep 1.5
    read -r -a tu1 <<<"$(tup)"
    RATE=$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
    CPU_US=$(awk -v a="$c0" -v b="$c1" -v n="$n" 'BEGIN { printf "%.1f", (b - a) * 1e6 / n }')
    echo
    echo "### $1: $(bench_num "$n") messages, $RATE msg/s (load average $(bench_load))"
    echo
    echo "| per message | |"
    echo "|---|---|"
    echo "| wall time | $(awk -v r="$RATE" 'BEGIN { printf "%.1f µs", 1e6 / r }') |"
    echo "| worker CPU | $CPU_US µs ($(awk -v c="$CPU_US" -v r="$RATE" 'BEGIN { printf "%.0f%%", c * r / 1e4 }') of one core while draining) |"
    echo "| worker: on a CPU / ready but waiting for a CPU (run queue) / asleep (sockets, fsync, latch) | $(awk -v s0="$s0" -v s1="$s1" -v q0="$q0" -v q1="$q1" -v a="$t0" -v b="$w1" 'BEGIN { w = (b - a) * 1e9; on = (s1 - s0) / w; rq = (q1 - q0) / w; printf "%.0f%% / %.0f%% / %.0f%% of the time", 100 * on, 100 * rq, 100 * (1 - on - rq) }') |"
    echo "| other server processes' CPU (walwriter, checkpointer, autovacuum, listener) | $(awk -v a="$x0" -v b="$x1" -v n="$n" 'BEGIN { printf "%.1f µs", (b - a) * 1e6 / n }') |"
    [ -n "$nginx_pids" ] && echo "| nginx CPU | $(awk -v a="$n0" -v b="$n1" -v n="$n" 'BEGIN { printf "%.1f µs", (b - a) * 1e6 / n }'); new connections: $((a1 - a0)) in all |"
    echo "| WAL written by the queueing transaction | $(bench_sql -c "SELECT round(pg_wal_lsn_diff('$lq', '$l0') / $n)") bytes |"
    echo "| WAL written by the drain | $(bench_sql -c "SELECT round(pg_wal_lsn_diff('$l1', '$lq') / $n)") bytes |"
    echo "| heap tuples: inserted, updated (of which HOT), deleted | $(per $((tu1[0] - tu0[0])) "$n" %.2f), $(per $((tu1[1] - tu0[1])) "$n" %.2f) ($(per $((tu1[2] - tu0[2])) "$n" %.2f)), $(per $((tu1[3] - tu0[3])) "$n" %.2f) |"
    echo
    echo "The drain's WAL (pg_waldump --stats, from the queueing transaction's commit to the last result):"
    echo
    walstats "$lq" "$l1" "$n"
    echo
    echo "The statements from the queueing transaction's commit on (pg_stat_statements; executor time only, commits not included):"
    echo
    echo "$stm"
    echo
    echo "worker transactions that wrote (claims that got rows, and result writes): $(pg_waldump --stats=record \
        -p "$W/data/pg_wal" -s "$lq" -e "$l1" 2>/dev/null | awk '$1 == "Transaction/COMMIT" { print $2 }'); $counts"
}

# The worker with nothing to do: CPU and statements over 2 s.
idle() {
    local wpid c0 c1
    wpid=$(bench_worker_pid)
    bench_sql -c "SELECT pg_stat_statements_reset()" >/dev/null
    c0=$(bench_cpu "$wpid"); sleep 2; c1=$(bench_cpu "$wpid")
    bench_sql -c "SELECT '| idle worker (outbox empty), 2 s | ' || $(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.0f", 50 * (b - a) }') || '% of a core | ' ||
                         round(coalesce(sum(calls) FILTER (WHERE query LIKE 'WITH c AS%'), 0) / 2.0) || ' claims/s, ' ||
                         round(coalesce(sum(calls) FILTER (WHERE query LIKE 'SELECT GREATEST%'), 0) / 2.0) || ' next-due queries/s |'
                    FROM pg_stat_statements"
}

echo
echo "## 0. the worker with nothing to do"
echo
echo "| | worker CPU | statements |"
echo "|---|---|---|"
sleep 2
idle

echo
echo "## 1. drain, nothing else running in the cluster"
measure "drain" "$N"
base_rate=$RATE
base_cpu=$CPU_US

echo
echo "## 2. drain while another session holds one snapshot open"
bench_fresh
hold_snapshot
measure "drain beside a held snapshot" "$N"
release_snapshot
echo
echo "rate with the snapshot held: $RATE msg/s, $(awk -v a="$RATE" -v b="$base_rate" 'BEGIN { printf "%.0f%%", 100 * a / b }') of the rate without it"

if [ "$BIG_N" -gt 0 ]; then
    echo
    echo "## 3. a backlog of $BIG_N"
    measure "backlog" "$BIG_N"
    echo
    echo "msg/s in each fifth of the drain (from the queueing transaction's commit):"
    echo
    bench_sql -F ' | ' <<SQL
SELECT '| fifth | messages | seconds | msg/s |';
SELECT '|---|---|---|---|';
WITH s AS (SELECT sent_at, ntile(5) OVER (ORDER BY sent_at) AS q FROM gateway.outbox WHERE account = 'p'),
     f AS (SELECT q, count(*) AS n, max(sent_at) AS t FROM s GROUP BY q),
     g AS (SELECT q, n, t, coalesce(lag(t) OVER (ORDER BY q), to_timestamp($MEASURE_T0)) AS t0 FROM f)
SELECT '| ' || q, n, round(extract(epoch FROM t - t0)::numeric, 2),
       round(n / extract(epoch FROM t - t0)) || ' |' FROM g ORDER BY q;
SQL
fi

if [ "$PERF_N" -gt 0 ]; then
    echo
    echo "## 4. perf: the worker's CPU while it drains $PERF_N"
    if ! command -v perf >/dev/null || ! perf record -e cpu-clock -o /dev/null true >/dev/null 2>&1; then
        echo "perf cannot sample here (install linux-perf; kernel.perf_event_paranoid): skipped"
    else
        bench_fresh
        wpid=$(bench_worker_pid)
        # from the queueing transaction's commit to the last result
        t0=$(bench_queue p "$PERF_N")
        perf record -q -e cpu-clock -F 997 --call-graph dwarf,16384 -p "$wpid" -o "$W/perf.data" >/dev/null 2>&1 &
        perf_pid=$!
        bench_wait_drained p
        kill -INT "$perf_pid"
        wait "$perf_pid" 2>/dev/null || true
        prate=$(bench_sql -c "SELECT round($PERF_N / (extract(epoch FROM max(sent_at)) - $t0)) FROM gateway.outbox")
        echo "(drain under perf: $prate msg/s; µs a message below are the share times the worker CPU a message of part 1, $base_cpu µs)"
        echo
        perf script -i "$W/perf.data" -F comm,tid,ip,sym,symoff,dso 2>/dev/null >"$W/perf.txt"
        python3 bench/perf_classify.py "$so" "$W/perf.txt" "$base_cpu"
        echo
        echo "The hottest functions (self):"
        echo
        echo '```'
        perf report -i "$W/perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
            awk '!/^#/ && NF && ++k <= 25' 
        echo '```'
    fi
fi
echo
echo "== load average at the end $(bench_load)"
