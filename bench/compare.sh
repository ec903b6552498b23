#!/usr/bin/env bash
# The whole comparison in one go, one table: what the machine and an HTTP
# server can do, and what gateway does beside them, in the same run.
#
#   floor     wrk, 1 connection: sequential keep-alive POSTs
#   ceiling   wrk, 2 threads x 50 connections
#   bare keep-alive libcurl client (bench/kaclient.c), one connection
#   libcurl ceiling: the bare libcurl multi client (bench/kamulti.c), one
#             process and two, each with gateway.max_in_flight (64)
#             connections: the most anything that sends with libcurl gets
#             from this machine and server
#   gateway sync: N gw_send_sms in one backend
#   gateway drain: N gw_queue_sms queued in one transaction, then drained,
#             every result recorded
#   callbacks: N delivery reports posted to the listener (wrk, 64
#             connections), each recorded and applied
#
# Each against a throwaway nginx on 127.0.0.1 answering every POST with a
# VasPro-shaped body, and against the mock provider; every figure with its
# ratio to the floor or the ceiling of the same server measured in this run.
# The gateway settings are the defaults (add any in BENCH_CONF, one a line).
#
#   bash bench/compare.sh
#   N=50000 WRK_SECONDS=10 bash bench/compare.sh
#
# N (20,000): requests of the client, sync and drain rows, callbacks;
# WRK_SECONDS (5): each wrk run; SYNC_ROUNDS (3): rounds of the bare client
# and gw_send_sms, alternating (medians, and the ratio of each round);
# FSYNC (on): the cluster's fsync (the
# scripts' clusters run with fsync off; results are durable only with it on).
# Installs wrk and nginx-light with apt-get when missing.  Never a test:
# figures on a shared machine vary run to run.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-20000}
WRK_SECONDS=${WRK_SECONDS:-5}
SYNC_ROUNDS=${SYNC_ROUNDS:-3}
FSYNC=${FSYNC:-on}
export GW_LISTEN_PORT=${GW_LISTEN_PORT:-18787}
bash scripts/setup.sh >/dev/null
. scripts/lib.sh
. bench/lib.sh
bench_need wrk nginx-light

machine=$(bench_machine)
load0=$(bench_load)
started=$(date -u '+%Y-%m-%d %H:%M UTC')

export GW_DB=postgres
GW_LISTEN_PORT=$(gw_free_port "$GW_LISTEN_PORT")
# min_wal_size: WAL segments made ahead and recycled before the run
# (bench_wal_ready), as a server that has run a while has them
export GW_EXTRA_CONF="fsync = $FSYNC
min_wal_size = '1GB'
$(bench_listener_conf)
${BENCH_CONF:-}"
GW_MOCK_ARGS=--no-record gw_start >/dev/null
trap bench_stop EXIT
mock="http://127.0.0.1:$GW_MOCK_PORT"
bench_nginx_start
ngx="http://127.0.0.1:$BENCH_NGINX_PORT"

bench_sql >/dev/null <<SQL
CREATE EXTENSION gateway;
SQL
bench_callbacks_setup
bench_account ngx "$ngx/vaspro"
bench_account mock "$mock/vaspro"
bench_account cb "$ngx/vaspro"
bench_wal_ready
echo "== $started: $machine; load average $load0"

declare -A fig
bad=""
step() { printf '%-54s' "== $1" >&2; }
# the 1-minute load average when a row is measured
mark() { fig[$1.load]=$(cut -d' ' -f1 /proc/loadavg); }
said() { echo "$1" >&2; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
range() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } END { print lo "–" $1 }'; }

for t in ngx mock; do
    url=$ngx; [ $t = mock ] && url=$mock
    step "$t: wrk, 1 connection, ${WRK_SECONDS} s"
    mark $t.floor; fig[$t.floor]=$(bench_wrk "$url$BENCH_SMS_PATH" 1 1 "$WRK_SECONDS"); said "${fig[$t.floor]} req/s"
    step "$t: wrk, 2 threads x 50 connections"
    mark $t.ceil; fig[$t.ceil]=$(bench_wrk "$url$BENCH_SMS_PATH" 50 2 "$WRK_SECONDS"); said "${fig[$t.ceil]} req/s"
    for p in 1 2; do
        step "$t: libcurl multi client, $p x 64 connections"
        mark $t.multi$p
        out=$(bench_kamulti "$url$BENCH_SMS_PATH" $((5 * N)) 64 "$p") || bad="$bad libcurl multi client ($t, $p) failed;"
        read -r "fig[$t.multi$p]" "fig[$t.multi$p.us]" <<<"${out:-0 0}"
        said "${fig[$t.multi$p]} req/s, ${fig[$t.multi$p.us]} µs CPU a request"
    done
    fig[$t.lc]=${fig[$t.multi1]}
    [ "${fig[$t.multi2]}" -gt "${fig[$t.lc]}" ] && fig[$t.lc]=${fig[$t.multi2]}
    # the client and gw_send_sms in turn, SYNC_ROUNDS times: a round's ratio
    # compares two runs seconds apart, not minutes
    ks=() ss=() rs=()
    fig[$t.sync_ok]=$N
    mark $t.ka; fig[$t.sync.load]=${fig[$t.ka.load]}
    for r in $(seq 1 "$SYNC_ROUNDS"); do
        step "$t: bare keep-alive libcurl client, $N (round $r)"
        ks+=("$(bench_kaclient "$url$BENCH_SMS_PATH" "$N")"); said "${ks[-1]} req/s"
        step "$t: gw_send_sms, one backend, $N (round $r)"
        out=$(bench_sync "$t" "$N")
        ss+=("${out##* }"); [ "${out%% *}" = "$N" ] || fig[$t.sync_ok]=${out%% *}
        rs+=("$(awk -v a="${out##* }" -v b="${ks[-1]}" 'BEGIN { printf "%.0f", 100 * a / b }')")
        said "${ss[-1]} calls/s (${out%% *} ok), ${rs[-1]}% of the client"
    done
    fig[$t.ka]=$(median "${ks[@]}"); fig[$t.sync]=$(median "${ss[@]}")
    fig[$t.sync_ratio]="$(median "${rs[@]}")% of client (rounds $(range "${rs[@]}")%)"
    bench_fresh
    step "$t: drain of $N queued in one transaction"
    mark $t.drain; fig[$t.drain]=$(bench_drain "$t" "$N")
    fig[$t.drain_sent]=$(bench_sql -c "SELECT count(*) FROM gateway.outbox WHERE account = '$t' AND status = 'sent'")
    fig[$t.drain_rss]=$(awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$(bench_worker_pid)/status")
    said "${fig[$t.drain]} msg/s (${fig[$t.drain_sent]} sent)"
done
bench_kaclient_clean
bench_fresh
step "callbacks: $N delivery reports, 64 connections"
mark cb; read -r cb_upd cb_recv cb_rate cb_s _ < <(bench_callbacks cb "$N" cb-)
said "$cb_rate callbacks/s ($cb_upd of $N applied, $cb_recv received, $cb_s s)"
load1=$(bench_load)

pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else printf "-" }'; }
num() { bench_num "$1"; }
cat <<TABLE

$started, $machine
load average at start $load0, at the end $load1; fsync = $FSYNC; N = $N; gateway settings: defaults${BENCH_CONF:+ + $(echo "$BENCH_CONF" | tr '\n' ';')}

| system | workload | nginx | ratio | load | mock | ratio | load |
|---|---|---|---|---|---|---|---|
| wrk, 1 connection | sequential keep-alive POSTs (the floor) | $(num "${fig[ngx.floor]}") req/s | 100% of floor | ${fig[ngx.floor.load]} | $(num "${fig[mock.floor]}") req/s | 100% of floor | ${fig[mock.floor.load]} |
| wrk, 2 threads × 50 connections | concurrent POSTs (the ceiling) | $(num "${fig[ngx.ceil]}") req/s | 100% of ceiling | ${fig[ngx.ceil.load]} | $(num "${fig[mock.ceil]}") req/s | 100% of ceiling | ${fig[mock.ceil.load]} |
| bare libcurl multi client, 1 process × 64 connections | $(num $((5 * N))) concurrent POSTs | $(num "${fig[ngx.multi1]}") req/s, ${fig[ngx.multi1.us]} µs CPU a request | $(pct "${fig[ngx.multi1]}" "${fig[ngx.ceil]}") of ceiling | ${fig[ngx.multi1.load]} | $(num "${fig[mock.multi1]}") req/s, ${fig[mock.multi1.us]} µs CPU a request | $(pct "${fig[mock.multi1]}" "${fig[mock.ceil]}") of ceiling | ${fig[mock.multi1.load]} |
| the same, 2 processes at once | $(num $((5 * N))) concurrent POSTs each | $(num "${fig[ngx.multi2]}") req/s, ${fig[ngx.multi2.us]} µs CPU a request | $(pct "${fig[ngx.multi2]}" "${fig[ngx.ceil]}") of ceiling | ${fig[ngx.multi2.load]} | $(num "${fig[mock.multi2]}") req/s, ${fig[mock.multi2.us]} µs CPU a request | $(pct "${fig[mock.multi2]}" "${fig[mock.ceil]}") of ceiling | ${fig[mock.multi2.load]} |
| bare keep-alive libcurl client | $(num "$N") sequential POSTs, one connection (median of $SYNC_ROUNDS) | $(num "${fig[ngx.ka]}") req/s | $(pct "${fig[ngx.ka]}" "${fig[ngx.floor]}") of floor | ${fig[ngx.ka.load]} | $(num "${fig[mock.ka]}") req/s | $(pct "${fig[mock.ka]}" "${fig[mock.floor]}") of floor | ${fig[mock.ka.load]} |
| gateway, one backend | $(num "$N") sequential \`gw_send_sms\`, each round after the client's (median of $SYNC_ROUNDS) | $(num "${fig[ngx.sync]}") calls/s | $(pct "${fig[ngx.sync]}" "${fig[ngx.floor]}") of floor, ${fig[ngx.sync_ratio]} | ${fig[ngx.sync.load]} | $(num "${fig[mock.sync]}") calls/s | $(pct "${fig[mock.sync]}" "${fig[mock.floor]}") of floor, ${fig[mock.sync_ratio]} | ${fig[mock.sync.load]} |
| gateway worker | drain of $(num "$N") \`gw_queue_sms\` queued in one transaction | $(num "${fig[ngx.drain]}") msg/s, RSS ${fig[ngx.drain_rss]} MB | $(pct "${fig[ngx.drain]}" "${fig[ngx.ceil]}") of ceiling, $(pct "${fig[ngx.drain]}" "${fig[ngx.lc]}") of libcurl's | ${fig[ngx.drain.load]} | $(num "${fig[mock.drain]}") msg/s, RSS ${fig[mock.drain_rss]} MB | $(pct "${fig[mock.drain]}" "${fig[mock.ceil]}") of ceiling, $(pct "${fig[mock.drain]}" "${fig[mock.lc]}") of libcurl's | ${fig[mock.drain.load]} |
| gateway listener | $(num "$N") VasPro delivery reports over HTTP (wrk, 64 connections), applied | $(num "$cb_rate") applied/s | $(pct "$cb_rate" "${fig[ngx.ceil]}") of nginx's ceiling | ${fig[cb.load]} | | | |

libcurl's ceiling: the higher of the two libcurl multi rows.
load: the 1-minute load average when the row began (2 cores: above 2, other work was waiting for a CPU).
TABLE
[ "${fig[ngx.sync_ok]}" = "$N" ] && [ "${fig[mock.sync_ok]}" = "$N" ] || bad="$bad sync calls not ok;"
[ "${fig[ngx.drain_sent]}" = "$N" ] && [ "${fig[mock.drain_sent]}" = "$N" ] || bad="$bad drained rows not sent;"
[ "$cb_upd" -ge "$N" ] || bad="$bad callbacks not all applied;"
if [ -n "$bad" ]; then echo; echo "NOT ALL DONE:$bad"; exit 1; fi
