#!/usr/bin/env bash
# Callbacks with one listener process against two (gateway.listeners), in
# turn: bench/callbacks.sh with each count, ROUNDS (3) times, then the
# median of each and their ratio.  The build installed is used as it is.
#   bash bench/listeners_ab.sh
#   COUNTS="1 2 3" N=50000 FSYNC=off bash bench/listeners_ab.sh
# N (150,000) delivery reports a run; FSYNC (on): each report on disk before
# its 200, as a production server keeps them.  Each run is a fresh cluster
# (bench/callbacks.sh); about 2 minutes a run.  Never a test.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
COUNTS=${COUNTS:-1 2}
ROUNDS=${ROUNDS:-3}
export N=${N:-150000}
FSYNC=${FSYNC:-on}
out=$(mktemp -d /tmp/gw-listeners-ab.XXXXXX)
trap 'rm -rf "$out"' EXIT
[ -n "${BENCH_NO_SETUP:-}" ] || bash scripts/setup.sh >/dev/null

echo "== $(bench_machine); N = $N; fsync = $FSYNC; counts: $COUNTS; $ROUNDS rounds"
for r in $(seq 1 "$ROUNDS"); do
    for c in $COUNTS; do
        BENCH_NO_SETUP=1 BENCH_CONF="fsync = $FSYNC
gateway.listeners = $c" bash bench/callbacks.sh >"$out/run.$c.$r" 2>&1 ||
            { echo "round $r, $c listeners: failed"; tail -5 "$out/run.$c.$r"; exit 1; }
        rate=$(sed -n 's/^throughput: *\([0-9]*\) .*/\1/p' "$out/run.$c.$r")
        p99=$(sed -n 's/^beside DLR load:.*p99 \([^,]*\),.*/\1/p' "$out/run.$c.$r")
        echo "$rate" >>"$out/rates.$c"
        echo "round $r, gateway.listeners = $c: $rate callbacks/s (USSD p99 beside the load $p99)"
    done
done
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
first=${COUNTS%% *}
base=$(median "$out/rates.$first")
echo
echo "| gateway.listeners | callbacks/s, median of $ROUNDS | to $first |"
echo "|---|---|---|"
for c in $COUNTS; do
    m=$(median "$out/rates.$c")
    echo "| $c | $m | $(awk -v a="$m" -v b="$base" 'BEGIN { printf "%.2f", a / b }') |"
done
echo "load average at the end: $(bench_load)"
