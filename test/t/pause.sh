#!/usr/bin/env bash
# Stopping sends under load, against the mock provider:
#   a. 100,000 SMS queued in one transaction; gw_account_pause mid-drain:
#      within a second nothing more reaches the provider (its count one
#      second after the pause equals its count three seconds after), no row
#      is left 'sending', none failed, the rows given back spent no attempt,
#      synchronous calls refuse; gw_account_resume: every message reaches
#      the provider exactly once (no idempotency key twice) and ends 'sent';
#   b. the same stop with gateway.paused = on and pg_reload_conf(), which
#      leaves synchronous calls alone; off again, the rest goes;
#   c. a paused account stays paused across a server restart;
# Bulk cancel's counts and rights: sql/pause.sql.  Run by scripts/test.sh
# against its cluster.
set -uo pipefail
db=gw_pause
mock="http://127.0.0.1:$GW_MOCK_PORT"
. "$(dirname "$0")/../lib/check.sh"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
sys_paused() {   # on|off: gateway.paused for the whole cluster
    if [ "$1" = on ]; then
        psql -X -q -d postgres -c "ALTER SYSTEM SET gateway.paused = on" -c "SELECT pg_reload_conf()" >/dev/null
    else
        psql -X -q -d postgres -c "ALTER SYSTEM RESET gateway.paused" -c "SELECT pg_reload_conf()" >/dev/null
    fi
}
cleanup() {
    sys_paused off 2>/dev/null
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
}
trap cleanup EXIT
seen() { curl -s "$mock/_mock/stats" | sed -n 's/.*"requests":\([0-9]*\).*/\1/p'; }
# wait_until <seconds> <shell condition>
wait_until() {
    local end=$((SECONDS + $1))
    while [ $SECONDS -lt $end ]; do eval "$2" && return 0; sleep 0.01; done
    return 1
}
pending() { q "SELECT count(*) FROM gateway.outbox WHERE account = '$1' AND status IN ('queued', 'sending')"; }
statuses() { q "SELECT string_agg(status || ' ' || n, ', ' ORDER BY status) FROM
                 (SELECT status::text, count(*) n FROM gateway.outbox WHERE account = '$1' GROUP BY 1) s"; }
# distinct idempotency keys with prefix $1 the provider received, and copies of them
keys_received() {
    curl -s "$mock/_mock/requests?prefix=/vaspro/v3/BulkSMS/bulk/create&limit=100000000" | python3 -c '
import json, sys
p = sys.argv[1]
keys = [json.loads(json.loads(l)["body"]).get("uniqueId", "") for l in sys.stdin if l.strip()]
mine = [k for k in keys if k.startswith(p)]
print(len(set(mine)), len(mine))' "$1"
}
account() {
    q "SELECT gw_account_create('$1', 'vaspro', '{\"api_key\": \"$1-key-0001\"}', '$mock/vaspro',
                                '{\"sender_id\": \"PAUSE\", \"rate_limit\": 1000000}')" >/dev/null
}
worker_up() { [ "$(psql -X -q -t -A -d postgres -c "SELECT count(*) FROM pg_stat_activity
                    WHERE datname = '$db' AND backend_type LIKE 'gateway worker%'")" -gt 0 ]; }

cleanup
sys_paused off
psql -X -q -d postgres -c "CREATE DATABASE $db" >/dev/null || exit 1
q "CREATE EXTENSION gateway" >/dev/null || exit 1
wait_until 20 worker_up || { echo "FAIL: no worker for $db"; exit 1; }
account pa; account pb; account pc

# a. an account's pause mid-drain
N=100000
curl -s -X POST "$mock/_mock/reset" >/dev/null
q "SELECT count(gw_queue_sms('pa', '0712345678', 'pause test ' || i, idempotency_key => 'pa-' || i))
     FROM generate_series(1, $N) i" >/dev/null
wait_until 60 '[ "$(seen)" -ge 20000 ]' || echo "the drain did not reach 20,000 in 60 s"
q "SELECT gw_account_pause('pa')" >/dev/null
c0=$(seen)
sleep 1; c1=$(seen)
sleep 2; c3=$(seen)
echo "a. received at the pause's commit $c0, 1 s later $c1, 3 s later $c3"
check "a. paused mid-drain" yes "$([ "$c0" -lt "$N" ] && echo yes || echo "no ($c0)")"
check "a. nothing leaves for the paused account after 1 s" "$c1" "$c3"
check "a. no row left sending" 0 "$(q "SELECT count(*) FROM gateway.outbox WHERE account = 'pa' AND status = 'sending'")"
check "a. no row failed, dead or cancelled" 0 \
    "$(q "SELECT count(*) FROM gateway.outbox WHERE account = 'pa' AND status IN ('failed', 'dead', 'cancelled')")"
check "a. the rows given back spent no attempt" 0 \
    "$(q "SELECT count(*) FROM gateway.outbox WHERE account = 'pa' AND status = 'queued' AND attempts > 0")"
check "a. every request received is a row recorded sent" "$c3" \
    "$(q "SELECT count(*) FROM gateway.outbox WHERE account = 'pa' AND status = 'sent'")"
check "a. a synchronous call refuses (55000)" 1 \
    "$(psql -X -q -d "$db" -c "SELECT gw_send_sms('pa', '0712345678', 'sync while paused')" 2>&1 | grep -c 'account "pa" is paused')"
q "SELECT gw_account_resume('pa')" >/dev/null
wait_until 90 '[ "$(pending pa)" = 0 ]' || echo "a. rows still pending 90 s after the resume"
check "a. after the resume every row sent" "sent $N" "$(statuses pa)"
check "a. each message reached the provider exactly once (distinct keys, copies)" "$N $N" "$(keys_received pa-)"

# b. gateway.paused mid-drain
N=30000
curl -s -X POST "$mock/_mock/reset" >/dev/null
q "SELECT count(gw_queue_sms('pb', '0712345678', 'paused test ' || i, idempotency_key => 'pb-' || i))
     FROM generate_series(1, $N) i" >/dev/null
wait_until 60 '[ "$(seen)" -ge 10000 ]' || echo "the drain did not reach 10,000 in 60 s"
sys_paused on
c0=$(seen)
sleep 1; c1=$(seen)
sleep 2; c3=$(seen)
echo "b. received at the reload $c0, 1 s later $c1, 3 s later $c3"
check "b. paused mid-drain" yes "$([ "$c0" -lt "$N" ] && echo yes || echo "no ($c0)")"
check "b. nothing leaves any worker after 1 s" "$c1" "$c3"
check "b. no row left sending" 0 "$(q "SELECT count(*) FROM gateway.outbox WHERE account = 'pb' AND status = 'sending'")"
check "b. no row failed, dead or cancelled" 0 \
    "$(q "SELECT count(*) FROM gateway.outbox WHERE account = 'pb' AND status IN ('failed', 'dead', 'cancelled')")"
check "b. the rows given back spent no attempt" 0 \
    "$(q "SELECT count(*) FROM gateway.outbox WHERE account = 'pb' AND status = 'queued' AND attempts > 0")"
check "b. a synchronous call still goes" true "$(q "SELECT gw_send_sms('pb', '0712345678', 'sync while gateway.paused')->>'ok'")"
sys_paused off
wait_until 60 '[ "$(pending pb)" = 0 ]' || echo "b. rows still pending 60 s after gateway.paused = off"
check "b. after gateway.paused = off every row sent" "sent $N" "$(statuses pb)"
check "b. each message reached the provider exactly once" "$N $N" "$(keys_received pb-)"

# c. a pause outlives a restart
N=2000
q "SELECT gw_account_pause('pc')" >/dev/null
q "SELECT count(gw_queue_sms('pc', '0712345678', 'restart test ' || i, idempotency_key => 'pc-' || i))
     FROM generate_series(1, $N) i" >/dev/null
curl -s -X POST "$mock/_mock/reset" >/dev/null
as_pg pg_ctl -D "$GW_WORK/data" -m fast -w -t 60 stop >/dev/null
as_pg pg_ctl -D "$GW_WORK/data" -l "$GW_WORK/server.log" -w -t 60 start >/dev/null
wait_until 30 worker_up || echo "c. no worker for $db after the restart"
sleep 3
check "c. after the restart the account is still paused" t "$(q "SELECT paused_at IS NOT NULL FROM gateway.accounts WHERE name = 'pc'")"
check "c. after the restart nothing was sent for it" 0 "$(seen)"
check "c. its rows wait" "queued $N" "$(statuses pc)"
q "SELECT gw_account_resume('pc')" >/dev/null
wait_until 60 '[ "$(pending pc)" = 0 ]' || echo "c. rows still pending 60 s after the resume"
check "c. resumed, every row sent" "sent $N" "$(statuses pc)"

echo "pause test: $fails failed"
[ "$fails" -eq 0 ]
