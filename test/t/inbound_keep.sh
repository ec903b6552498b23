#!/usr/bin/env bash
# Retention of gateway.inbound: with gateway.keep_inbound set, the worker
# deletes callbacks older than that, in batches (25,000 old rows here, more
# than two batches), and keeps the younger ones.  Run by scripts/test.sh
# against its cluster (the worker serves contrib_regression).
set -uo pipefail
db=contrib_regression
. "$(dirname "$0")/../lib/check.sh"
setting() {   # setting <name> <value>: ALTER SYSTEM (RESET when empty) and reload
    if [ -n "$2" ]; then q "ALTER SYSTEM SET $1 = '$2'" >/dev/null; else q "ALTER SYSTEM RESET $1" >/dev/null; fi
    q "SELECT pg_reload_conf()" >/dev/null
}
cleanup() {
    setting gateway.keep_inbound ""
    q "DELETE FROM gateway.inbound WHERE account = 'keep-test'" >/dev/null
}
trap cleanup EXIT

check "the default keeps callbacks 90 days" 7776000 \
    "$(q "SELECT setting FROM pg_settings WHERE name = 'gateway.keep_inbound'")"
q "INSERT INTO gateway.inbound (account, kind, received_at, payload)
   SELECT 'keep-test', 'mo', now() - interval '40 days', '{\"msisdn\": \"254712000001\"}'
     FROM generate_series(1, 25000);
   INSERT INTO gateway.inbound (account, kind, received_at, payload)
   VALUES ('keep-test', 'mo', now() - interval '20 days', '{\"msisdn\": \"254712000002\"}'),
          ('keep-test', 'mo', now(), '{\"msisdn\": \"254712000003\"}')" >/dev/null
check "under the default, nothing of 40 days is old" 25002 \
    "$(q "SELECT count(*) FROM gateway.inbound WHERE account = 'keep-test'")"

setting gateway.keep_inbound "30d"
# the worker's maintenance pass comes every few seconds; a minute at most
for _ in $(seq 1 600); do
    [ "$(q "SELECT count(*) FROM gateway.inbound WHERE account = 'keep-test' AND received_at < now() - interval '30 days'")" = 0 ] && break
    sleep 0.1
done
check "callbacks older than gateway.keep_inbound are purged" 0 \
    "$(q "SELECT count(*) FROM gateway.inbound WHERE account = 'keep-test' AND received_at < now() - interval '30 days'")"
check "younger ones are kept" 2 "$(q "SELECT count(*) FROM gateway.inbound WHERE account = 'keep-test'")"

echo "inbound retention test: $fails failed"
[ "$fails" -eq 0 ]
