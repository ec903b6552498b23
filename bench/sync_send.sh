#!/usr/bin/env bash
# Synchronous gw_send_sms in one backend against the mock, next to the same
# number of requests sent one after another with keep-alive by a bare libcurl
# client.  Prints calls/s for both and the ratio.  N=20000 by default.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-20000}
bash scripts/setup.sh >/dev/null
. scripts/lib.sh
. bench/lib.sh
# the mock records every request unless told not to; keep it lean for both runs
GW_MOCK_ARGS=--no-record gw_start >/dev/null

bench_sql -c "CREATE EXTENSION gateway" >/dev/null
bench_account bench "http://127.0.0.1:$GW_MOCK_PORT/vaspro"

client=$(bench_kaclient "http://127.0.0.1:$GW_MOCK_PORT$BENCH_SMS_PATH" "$N")
bench_kaclient_clean
out=$(bench_sync bench "$N")
ok=${out%% *}
ext=${out##* }
echo "requests:                 $N"
echo "bare keep-alive client:   $client req/s"
echo "gw_send_sms, one backend: $ext calls/s ($ok of $N ok)"
awk -v a="$ext" -v b="$client" 'BEGIN { printf "ratio gw_send_sms/client: %.2f\n", a / b }'
