#!/usr/bin/env bash
# gw_queue_sms as an application role (gw_grant_sender on one account), the
# workers off so that only the enqueue is measured: transactions per second
# of one SELECT gw_queue_sms(...) each, over DURATION seconds (default 20)
# and CLIENTS connections (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-20}
CLIENTS=${CLIENTS:-2}
bash scripts/setup.sh >/dev/null
. scripts/lib.sh
export GW_EXTRA_CONF="gateway.workers = 0"
gw_start >/dev/null
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$@"; }
sql <<SQL
CREATE EXTENSION gateway;
SELECT gw_account_create('bench', 'vaspro', '{"api_key": "bench-key"}',
       'http://127.0.0.1:$GW_MOCK_PORT/vaspro', '{"sender_id": "BENCH"}');
CREATE ROLE bench_app LOGIN;
SELECT gw_grant_sender('bench_app');
SQL
# per-account grant where the extension has it (0.3.0), all accounts before
sql -c "SELECT gw_grant_sender('bench_app', 'bench')" >/dev/null 2>&1 || true
echo "SELECT gw_queue_sms('bench', '0712345678', 'Queue rate test');" >"$GW_WORK/q.sql"
pgbench -n -U bench_app -f "$GW_WORK/q.sql" -c "$CLIENTS" -j "$CLIENTS" -T "$DURATION" postgres |
    grep -E '^(tps|latency average)'
