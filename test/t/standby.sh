#!/usr/bin/env bash
# A hot standby, then its promotion.  A standby made with pg_basebackup from
# the test cluster runs no gateway worker and no listener: rows queued on the
# primary reach it and are not sent, its listener port takes no connection,
# gw_enqueue / gw_queue_sms and payments fail with SQLSTATE 25006 before
# anything is sent, a synchronous SMS (which records nothing) works.  Once
# promoted, its worker drains the rows (the time from pg_ctl promote to the
# last one sent is printed) and its listener answers.
#
# The rows live in a database of their own, gw_standby, which the test
# cluster does not serve (gateway.database_workers gives it no worker, so the
# rows are written into the outbox directly, as gw_queue_sms would write
# them); the standby serves it alone (gateway.workers = 0,
# gateway.database_workers = 'gw_standby:1').
# Run by scripts/test.sh against its cluster.
set -uo pipefail
work=$GW_WORK
. "$(dirname "$0")/../../scripts/lib.sh"    # as_pg, gw_free_port
GW_WORK=$work
N=200
db=gw_standby
mock="http://127.0.0.1:$GW_MOCK_PORT"
sdir="$GW_WORK/standby"
sport=$(gw_free_port $((PGPORT + 1)))
slport=$(gw_free_port $((GW_LISTEN_PORT + 1)))
. "$(dirname "$0")/../lib/check.sh"
p() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }
s() { psql -X -q -t -A -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -p "$sport" -d "$db" -c "$1" 2>&1; }
since=$(curl -s "$mock/_mock/stats" | sed -n 's/.*"requests":\([0-9]*\).*/\1/p')
# requests the mock received for this test's account, its API key in the body
stb_requests() { curl -s "$mock/_mock/requests?since=$since&limit=10000000" | grep -c 'stb-key-0001'; }

pconf="$GW_WORK/data/postgresql.conf"
cleanup() {
    sed -i '/^gateway.database_workers/d' "$pconf"
    psql -X -q -d postgres -c "SELECT pg_reload_conf()" >/dev/null 2>&1
    if [ -f "$sdir/postmaster.pid" ]; then
        as_pg pg_ctl -D "$sdir" -m immediate -w stop >/dev/null 2>&1
    fi
    rm -rf "$sdir"
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
}
trap cleanup EXIT
echo "gateway.database_workers = '$db:0'" >>"$pconf"
psql -X -q -d postgres -c "SELECT pg_reload_conf()" >/dev/null

psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" \
    -c "CREATE DATABASE $db" >/dev/null ||
    { echo "set-up failed"; exit 1; }
p "CREATE EXTENSION gateway;
   $listen_role_sql
   SELECT gw_grant_listener('gw_listener');
   SELECT gw_account_create('stb', 'vaspro', '{\"api_key\": \"stb-key-0001\"}',
       '$mock/vaspro', '{\"sender_id\": \"STB\", \"paybill\": \"789789\",
                               \"rate_limit\": 100000}');" >/dev/null ||
    { echo "set-up failed"; exit 1; }

as_pg pg_basebackup -h "$PGHOST" -p "$PGPORT" -U postgres -D "$sdir" -R -X stream -c fast --no-sync ||
    { echo "pg_basebackup failed"; exit 1; }
rm -rf "$sdir/log"    # the primary's log came along
cat >>"$sdir/postgresql.conf" <<CONF
port = $sport
hot_standby = on
shared_buffers = 16MB
gateway.database = '$db'
gateway.workers = 0
gateway.database_workers = '$db:1'
gateway.listen_address = '127.0.0.1:$slport'
CONF
as_pg pg_ctl -D "$sdir" -l "$GW_WORK/standby.log" -w -t 60 start >/dev/null ||
    { echo "the standby did not start"; cat "$GW_WORK/standby.log"; exit 1; }
check "the standby is in recovery" t "$(s "SELECT pg_is_in_recovery()")"

# Rows queued on the primary reach the standby, which sends none of them.
check "the primary does not serve gw_standby" "no gateway worker serves database \"$db\"" \
    "$(p "SELECT gw_queue_sms('stb', '0712345678', 'x')" 2>&1 | sed -n 's/^ERROR:  //p')"
p "INSERT INTO gateway.outbox (account, operation, params, idempotency_key, key_given)
   SELECT 'stb', 'sms.bulk', jsonb_build_object('recipients', '0712345678', 'message', 'standby ' || i,
                                                'unique_id', 'stb-' || i),
          'stb-' || i, true
     FROM generate_series(1, $N) i" >/dev/null || { echo "enqueue failed"; exit 1; }
for _ in $(seq 1 300); do
    [ "$(s "SELECT count(*) FROM gateway.outbox WHERE status = 'queued'")" = "$N" ] && break
    sleep 0.1
done
check "the queued rows reached the standby" "$N" "$(s "SELECT count(*) FROM gateway.outbox WHERE status = 'queued'")"
sleep 1    # time enough for a worker that should not be there to send
check "no gateway process on the standby" 0 \
    "$(s "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'gateway%'")"
check "nothing sent from the standby" 0 "$(stb_requests)"
check "the standby's listener takes no connection" 000 "$(code -X POST --data '{}' "http://127.0.0.1:$slport/stb/dlr")"

# Queueing and payments fail plainly, before anything is sent.
check "gw_queue_sms on the standby: 25006" "ERROR:  25006: cannot queue messages on a standby server" \
    "$(s "SELECT gw_queue_sms('stb', '0712345678', 'from the standby')" | head -n 1)"
check "gw_enqueue on the standby: 25006" "ERROR:  25006: cannot queue messages on a standby server" \
    "$(s "SELECT gw_enqueue('stb', 'sms.send', '{\"recipient\": \"0712345678\", \"message\": \"x\"}')" | head -n 1)"
check "the error's hint" "HINT:  Do it on the primary server." \
    "$(s "SELECT gw_enqueue('stb', 'sms.send', '{\"recipient\": \"0712345678\", \"message\": \"x\"}')" | grep '^HINT')"
check "gw_stk_push on the standby: 25006" "ERROR:  25006: cannot make a payment on a standby server" \
    "$(s "SELECT gw_stk_push('stb', '0712345678', 10)" | head -n 1)"
check "gw_call of a payment on the standby: 25006" "ERROR:  25006: cannot make a payment on a standby server" \
    "$(s "SELECT gw_call('stb', 'payment.stk_push', '{\"phone\": \"0712345678\", \"amount\": 10}')" | head -n 1)"
check "no payment reached the provider" 0 "$(stb_requests)"
check "a synchronous SMS from the standby is sent" true \
    "$(s "SELECT gw_send_sms('stb', '0712345678', 'sync from the standby')->>'ok'")"
check "and reaches the provider once" 1 "$(stb_requests)"
check "no ERROR in the standby's log" 0 \
    "$(grep -v 'STATEMENT' "$sdir"/log/*.log 2>/dev/null | grep 'ERROR' | grep -vc 'on a standby server')"

# Promotion: the worker starts and drains the rows.
t0=$(date +%s.%N)
as_pg pg_ctl -D "$sdir" -w -t 60 promote >/dev/null || { echo "promote failed"; exit 1; }
tp=$(date +%s.%N)
for _ in $(seq 1 600); do
    [ "$(s "SELECT count(*) FROM gateway.outbox WHERE status <> 'sent'")" = 0 ] && break
    sleep 0.02
done
t1=$(date +%s.%N)
check "every row sent after promotion" "$N" "$(s "SELECT count(*) FROM gateway.outbox WHERE status = 'sent'")"
check "each reached the provider once" $((N + 1)) "$(stb_requests)"
awk -v n="$N" -v t0="$t0" -v tp="$tp" -v t1="$t1" 'BEGIN {
    printf "promotion: pg_ctl promote -w took %.2f s; %d rows drained %.2f s after it began\n", tp - t0, n, t1 - t0 }'

check "gw_queue_sms works once promoted" 1 \
    "$(s "SELECT count(gw_queue_sms('stb', '0712345678', 'after promotion'))")"
url=$(s "SELECT gw_callback_url('stb', 'dlr')")
for _ in $(seq 1 100); do
    [ "$(code -X POST --data '{}' "$url")" != 000 ] && break
    sleep 0.1
done
check "the listener answers once promoted" 200 \
    "$(code -X POST --data '{"uniqueId": "stb-1", "deliveryStatus": "DeliveredToTerminal"}' "$url")"

echo "standby test: $fails failed"
[ "$fails" -eq 0 ]
