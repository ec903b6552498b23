#!/usr/bin/env bash
# The outbox drain of two builds of gateway, alternating on the same machine:
# a git revision (the baseline, default the last release tag or the REV
# given) against the working tree.  Each build is installed into its own
# copy of PostgreSQL's files (the server is relocatable), and each round
# starts a fresh cluster and mock for one build, queues N SMS in one
# transaction and drains them, every result recorded.  Prints each drain,
# the worker's CPU per 1,000 messages, and the means with their ratio.
# WHAT=callbacks compares the listener instead: the N SMS, drained, then a
# delivery report for each posted by wrk (64 connections) until every row
# is delivered (bench_callbacks); callbacks/s and the listener's CPU.
# WHAT=sync compares synchronous calls: N gw_send_sms in one backend
# (after 2,000 to warm up), calls/s and that backend's CPU.
#
#   bash bench/drain_ab.sh [REV]
#   N=50000 ROUNDS=5 bash bench/drain_ab.sh a77e065
#   TARGET=nginx FSYNC=on bash bench/drain_ab.sh a77e065
#   WHAT=callbacks ROUNDS=3 bash bench/drain_ab.sh 368370e
#   WHAT=sync TARGET=nginx N=20000 bash bench/drain_ab.sh 6f40727
#
# N (50,000) messages a drain, ROUNDS (5) drains of each build, against
# the mock or (TARGET=nginx) a throwaway nginx answering every POST as
# VasPro does; fsync as FSYNC (off).  Never a test: compare the ratio of
# one run, not rates between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
REV=${1:-$(git describe --tags --abbrev=0 2>/dev/null || echo HEAD)}
N=${N:-50000}
ROUNDS=${ROUNDS:-5}
TARGET=${TARGET:-mock}
WHAT=${WHAT:-drain}
case $WHAT in drain|callbacks|sync) ;; *) echo "WHAT is drain, callbacks or sync" >&2; exit 2 ;; esac
[ "$WHAT" != callbacks ] || export GW_LISTEN_PORT=${GW_LISTEN_PORT:-18787}
bash scripts/setup.sh >/dev/null
. scripts/lib.sh
. bench/lib.sh
case $TARGET in
    mock) ;;
    nginx) bench_need nginx-light; bench_nginx_start ;;
    *) echo "TARGET is mock or nginx" >&2; exit 2 ;;
esac
src_bindir=$GW_PG_BINDIR
major=$GW_PG_MAJOR
ab=$(mktemp -d /tmp/gw-ab.XXXXXX)
chmod 755 "$ab"     # the postgres user runs the servers from here
cleanup_ab() { git worktree remove --force "$ab/rev" >/dev/null 2>&1 || true; rm -rf "$ab"; }
trap 'cleanup_ab; [ "$TARGET" = mock ] || bench_nginx_stop' EXIT

# a copy of the server's files, and a build of $2 installed into it
install_build() {   # install_build <name> <source dir>
    local root=$ab/$1
    mkdir -p "$root/usr/lib/postgresql" "$root/usr/share/postgresql" "$root/usr/include"
    cp -a "$(dirname "$src_bindir")" "$root/usr/lib/postgresql/$major"
    cp -a "/usr/share/postgresql/$major" "$root/usr/share/postgresql/$major"
    cp -a "/usr/include/postgresql" "$root/usr/include/postgresql"
    make -s -C "$2" clean >/dev/null 2>&1 || true
    make -s -C "$2" PG_CONFIG="$root/usr/lib/postgresql/$major/bin/pg_config" >/dev/null
    make -s -C "$2" PG_CONFIG="$root/usr/lib/postgresql/$major/bin/pg_config" install >/dev/null
}
echo "== building $REV and the working tree"
git worktree add --detach "$ab/rev" "$REV" >/dev/null 2>&1
install_build base "$ab/rev"
install_build tree "$PWD"
make -s -C test/mock >/dev/null

echo "machine: $(bench_machine); load $(bench_load); $(date -u '+%Y-%m-%d %H:%M UTC')"
case $WHAT in
    drain) rate=msg/s cpu='worker CPU ms/1000' ;;
    callbacks) rate=callbacks/s cpu='listener CPU ms/1000' ;;
    sync) rate=calls/s cpu='backend CPU ms/1000' ;;
esac
printf '%-6s %-5s %-8s %12s %22s %8s\n' round build version "$rate" "$cpu" load
for round in $(seq 1 "$ROUNDS"); do
    for build in base tree; do
        (
            export GW_PG_BINDIR=$ab/$build/usr/lib/postgresql/$major/bin
            export PATH="$GW_PG_BINDIR:$PATH" GW_DB=postgres
            export GW_EXTRA_CONF="gateway.max_in_flight = 64
gateway.batch_size = 500
max_wal_size = '4GB'
min_wal_size = '2GB'
checkpoint_timeout = '30min'
fsync = ${FSYNC:-off}
$([ "$WHAT" != callbacks ] || bench_listener_conf)"
            gw_start >/dev/null
            bench_sql -c "CREATE EXTENSION gateway" >/dev/null
            [ "$WHAT" != callbacks ] || bench_callbacks_setup
            case $(bench_sql -c "SELECT setting FROM pg_config WHERE name = 'SHAREDIR'") in
                "$ab/$build/"*) ;;
                *) echo "the cluster does not run the $build build" >&2; exit 1 ;;
            esac
            if [ "$TARGET" = nginx ]; then
                bench_account bench "http://127.0.0.1:$BENCH_NGINX_PORT/vaspro"
            else
                bench_account bench "http://127.0.0.1:$GW_MOCK_PORT/vaspro"
            fi
            curl -s -X POST "http://127.0.0.1:$GW_MOCK_PORT/_mock/config" -d '{"record": false}' >/dev/null
            if [ "$WHAT" = drain ]; then
                pid=$(bench_sql -c "SELECT pid FROM pg_stat_activity WHERE backend_type LIKE 'gateway%worker%' LIMIT 1")
                bench_wal_ready
                t0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
                bench_drain bench "$N" >/dev/null
                t1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
                sent=$(bench_sql -c "SELECT count(*) FROM gateway.outbox WHERE status = 'sent'")
                [ "$sent" = "$N" ] || { echo "only $sent of $N sent" >&2; exit 1; }
            elif [ "$WHAT" = sync ]; then
                # the backend reads its own CPU ticks before and after
                read -r ok BENCH_DRAIN_RATE t0 t1 < <(bench_sync_cpu bench "$N")
                [ "$ok" = "$N" ] || { echo "only $ok of $N calls ok" >&2; exit 1; }
            else
                bench_queue bench "$N" cb- >/dev/null
                bench_wait_drained bench
                bench_wal_ready
                pid=$(bench_sql -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'gateway listener' LIMIT 1")
                t0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
                read -r updated _ BENCH_DRAIN_RATE _ _ < <(bench_post_dlrs bench "$N" cb-)
                t1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
                [ "$updated" = "$N" ] || { echo "only $updated of $N delivered" >&2; exit 1; }
            fi
            printf '%-6s %-5s %-8s %12s %22s %8s\n' "$round" "$build" \
                "$(bench_sql -c "SELECT extversion FROM pg_extension WHERE extname = 'gateway'")" \
                "$BENCH_DRAIN_RATE" \
                "$(awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v n="$N" 'BEGIN { printf "%.1f", t * 1000 / hz / n * 1000 }')" \
                "$(cut -d' ' -f1 /proc/loadavg)"
        )
    done
done | tee "$ab/runs"
awk '$2 == "base" { b += $4; bc += $5; nb++ } $2 == "tree" { t += $4; tc += $5; nt++ }
     END { printf "mean: %s %.0f %s (%.1f ms CPU/1000), working tree %.0f %s (%.1f ms CPU/1000): %.3f of the baseline\n",
                  "'"$REV"'", b / nb, "'"$rate"'", bc / nb, t / nt, "'"$rate"'", tc / nt, (t / nt) / (b / nb) }' "$ab/runs"
