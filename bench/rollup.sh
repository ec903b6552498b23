#!/usr/bin/env bash
# The daily rollup beside the drain.  TODAY (2,000,000) finished rows of
# today in the outbox: each rollup pass refreshes today's figures from every
# one of them, once a minute while rows change.  Then N (1,200,000) SMS
# queued at once and drained against a throwaway nginx, long enough for a
# pass or two to run meanwhile.  Printed: the drain's rate, its rate second
# by second (from sent_at: the slowest whole second, and the seconds with
# nothing sent), and each rollup pass seen meanwhile in pg_stat_activity
# (where it ran, how long).
#
#   bash bench/rollup.sh                    # about 5 minutes
#   BENCH_NO_SETUP=1 bash bench/rollup.sh   # the build already installed (an A/B)
#
# Against nginx, fsync on, default gateway settings (BENCH_CONF adds lines
# to postgresql.conf).  Exits 1 when a drained row was not sent.  Never a
# test.
set -euo pipefail
cd "$(dirname "$0")/.."
TODAY=${TODAY:-2000000}
N=${N:-1200000}
export GW_LISTEN_PORT=${GW_LISTEN_PORT:-18787}
[ -n "${BENCH_NO_SETUP:-}" ] || bash scripts/setup.sh >/dev/null
. scripts/lib.sh
. bench/lib.sh
bench_need nginx-light

export GW_DB=postgres
export GW_EXTRA_CONF="fsync = ${FSYNC:-on}
max_wal_size = '8GB'
${BENCH_CONF:-}"
GW_MOCK_ARGS=--no-record gw_start >/dev/null
sampler=""
trap '[ -n "$sampler" ] && kill "$sampler" 2>/dev/null; bench_stop' EXIT
bench_nginx_start
bench_sql -c "CREATE EXTENSION gateway" >/dev/null
bench_account roll "http://127.0.0.1:$BENCH_NGINX_PORT/vaspro"
echo "== $(date -u '+%Y-%m-%d %H:%M UTC'): $(bench_machine); load average $(bench_load)"

echo "== $TODAY finished rows of today"
bench_sql <<SQL >/dev/null
INSERT INTO gateway.outbox (account, operation, params, status, attempts, send_at, next_attempt_at,
                            created_at, updated_at, sent_at, provider_ref, idempotency_key,
                            segments, encoding, cost)
SELECT 'roll', 'sms.bulk', jsonb_build_object('message', 'Earlier ' || i, 'recipients', '0712345678'),
       'delivered', 1, t, t, t, now(), t + interval '40 ms', md5(i::text), 'earlier-' || i, 1, 'gsm7', 0.8
  FROM generate_series(1, $TODAY) i,
       LATERAL (SELECT date_trunc('day', now()) + (now() - date_trunc('day', now())) * i / $TODAY
                       - interval '1 minute' AS t) x;
VACUUM ANALYZE gateway.outbox;
SQL
t0=$(date +%s.%N)
bench_sql -c "SELECT gw_rollup()" >/dev/null
t1=$(date +%s.%N)
echo "   gw_rollup() over them: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"

# the rollup passes, as pg_stat_activity shows them (every 0.2 s)
bench_sql -c "SELECT 1" >/dev/null
(
    while :; do
        bench_sql -c "SELECT backend_type || '|' || pid || '|' || extract(epoch FROM clock_timestamp())
                        FROM pg_stat_activity WHERE query = 'gateway: rolling up the daily figures'
                         AND state = 'active'" 2>/dev/null
        sleep 0.2
    done
) >"$GW_WORK/rollup-samples" &
sampler=$!

echo "== drain of $N queued at once"
bench_drain roll "$N" >/dev/null
kill "$sampler" 2>/dev/null || true
sent=$(bench_sql -c "SELECT count(*) FROM gateway.outbox WHERE account = 'roll' AND idempotency_key NOT LIKE 'earlier-%' AND status = 'sent'")
echo "   $BENCH_DRAIN_RATE msg/s ($sent of $N sent)"
bench_sql -F' ' <<SQL | awk '{ printf "   second by second: median %s msg/s, slowest whole second %s msg/s, seconds with nothing sent %s (of %s)\n", $1, $2, $3, $4 }'
WITH s AS (SELECT date_trunc('second', sent_at) AS sec, count(*) AS n
             FROM gateway.outbox WHERE account = 'roll' AND idempotency_key NOT LIKE 'earlier-%'
            GROUP BY 1),
     span AS (SELECT g AS sec FROM (SELECT min(sec) AS a, max(sec) AS b FROM s) m,
                                   generate_series(m.a + interval '1 s', m.b - interval '1 s', interval '1 s') g),
     f AS (SELECT span.sec, coalesce(s.n, 0) AS n FROM span LEFT JOIN s USING (sec))
SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY n), min(n), count(*) FILTER (WHERE n = 0), count(*) FROM f
SQL
# a pass: the samples of one process with no gap over a second
awk -F'|' 'function out() { printf "   a pass in the %s: about %.1f s\n", who, last - first + 0.2; n++ }
           NF == 3 { if ($2 != pid || $3 - last > 1) { if (pid) out(); pid = $2; who = $1; first = $3 } last = $3 }
           END { if (pid) out(); else print "   no rollup pass seen during the drain" }' \
    "$GW_WORK/rollup-samples"
echo "== load average at the end $(bench_load)"
[ "$sent" = "$N" ] || { echo "NOT ALL SENT"; exit 1; }
