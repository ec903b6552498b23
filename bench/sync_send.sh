#!/usr/bin/env bash
# Synchronous gw_send_sms in one backend against the mock, next to the same
# number of requests sent one after another with keep-alive by a bare libcurl
# client.  Prints calls/s for both and the ratio.  N=20000 by default.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-20000}
bash scripts/setup.sh >/dev/null
. scripts/lib.sh
gcc -O2 -o "${TMPDIR:-/tmp}/gw-kaclient" bench/kaclient.c -lcurl
# the mock records every request unless told not to; keep it lean for both runs
GW_MOCK_ARGS=--no-record gw_start >/dev/null

psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION gateway;
SELECT gw_account_create('bench', 'vaspro', '{"api_key": "bench-key"}',
                         'http://127.0.0.1:$GW_MOCK_PORT/vaspro', '{"sender_id": "BENCH"}');
SQL

body='{"apiKey":"bench-key","shortCode":"BENCH","recipient":"254712345678","message":"Benchmark message","enqueue":1}'
url="http://127.0.0.1:$GW_MOCK_PORT/vaspro/v3/BulkSMS/api/create"
"${TMPDIR:-/tmp}/gw-kaclient" "$url" "$body" 2000 >/dev/null   # warm-up
client=$("${TMPDIR:-/tmp}/gw-kaclient" "$url" "$body" "$N")

out=$(psql -X -q -t -A <<SQL
SELECT count(*) FILTER (WHERE (gw_send_sms('bench', '0712345678', 'Benchmark ' || i))->>'ok' = 'true')
  FROM generate_series(1, 2000) i \\g /dev/null
SELECT clock_timestamp() AS t0 \\gset
SELECT count(*) FILTER (WHERE (gw_send_sms('bench', '0712345678', 'Benchmark ' || i))->>'ok' = 'true') AS ok
  FROM generate_series(1, $N) i \\gset
SELECT :ok || ' ' || round($N / extract(epoch FROM clock_timestamp() - :'t0'::timestamptz));
SQL
)
ok=${out%% *}
ext=${out##* }
echo "requests:                 $N"
echo "bare keep-alive client:   $client req/s"
echo "gw_send_sms, one backend: $ext calls/s ($ok of $N ok)"
awk -v a="$ext" -v b="$client" 'BEGIN { printf "ratio gw_send_sms/client: %.2f\n", a / b }'
