#!/usr/bin/env bash
# The demo: on a fresh machine, install what is missing, build, start a
# throwaway cluster and the mock provider, and show a real session.  Stops
# everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --demo
. scripts/lib.sh
gw_start

run_sql() { psql -X -q -v ON_ERROR_STOP=1 -P pager=off "$@"; }

echo
echo "== a session: create an account pointed at the mock, send, look at the result"
run_sql -e <<SQL
CREATE EXTENSION gateway;
SELECT gw_account_create('shop', 'vaspro', '{"api_key": "demo-api-key"}',
                         base_url => 'http://127.0.0.1:$GW_MOCK_PORT/vaspro',
                         options => '{"sender_id": "DUKA"}');
SELECT * FROM gateway.accounts;
SELECT jsonb_pretty(gw_send_sms('shop', '0712 345 678', 'Karibu! Your order #42 is ready.'));
SELECT jsonb_pretty(gw_call('shop', 'sms.bulk',
       '{"recipients": ["0712345678", "0722000111"], "message": "Sale today", "unique_id": "promo-1"}'));
-- VasPro has no balance API: a caller's mistake, an ERROR; the session goes on
\set ON_ERROR_STOP off
SELECT gw_balance('shop');
\set ON_ERROR_STOP on
SQL
echo
echo "== a provider with a balance API (Umeskia)"
run_sql -e <<SQL
SELECT gw_account_create('ums', 'umeskia', '{"api_key": "demo-ums-key", "email": "demo@example.com"}',
                         base_url => 'http://127.0.0.1:$GW_MOCK_PORT/umeskia');
SELECT jsonb_pretty(gw_balance('ums'));
SQL
echo
echo "== the outbox: queue in a transaction, the worker sends it"
run_sql -e <<SQL
BEGIN;
SELECT gw_queue_sms('shop', '0712345678', 'Your order #42 has shipped', idempotency_key => 'order-42-shipped') AS id \\gset
COMMIT;
SELECT gw_wait(:id);
SELECT id, status, attempts, idempotency_key, provider_ref, sent_at - created_at AS latency
  FROM gateway.outbox WHERE id = :id;
SQL
echo
echo "== what the mock provider received"
curl -s "http://127.0.0.1:$GW_MOCK_PORT/_mock/requests" | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print(r["method"], r["path"])
    print("   ", r["body"])'
echo
echo "== done: stopping the cluster and the mock"
