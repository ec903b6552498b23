#!/usr/bin/env bash
# One place decides (docs/outcomes.md).  Every body of the outcome table
# through gw_ingest, through the listener over HTTP and, for status answers,
# through the worker's status query: the outcome the table says (outcomes.py).
# Then a row lock held by an idle application: the callback for that row is
# answered 503 within gateway.callback_lock_timeout and nothing of it is
# kept, gw_ingest raises the lock timeout instead of swallowing it, delivery
# reports and a USSD session for other rows go through meanwhile (200 each),
# and the callback sent again after the lock is gone applies.  Last, loading
# the module without shared_preload_libraries is an ERROR with a hint, the
# session goes on.  Run by scripts/test.sh against its cluster.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
db=contrib_regression
mock="http://127.0.0.1:$GW_MOCK_PORT"
. "$(dirname "$0")/../lib/check.sh"
# The rows made here are removed at the end: payments left to be checked
# would keep the worker asking the mock, and take faults meant for others.
cleanup() {
    psql -X -q -d "$db" -c "DELETE FROM gateway.outbox WHERE account IN ('oc_vp', 'oc_um')" >/dev/null 2>&1
}
trap cleanup EXIT

q "$listen_role_sql
   GRANT USAGE ON SCHEMA gateway TO gw_listener;
   GRANT EXECUTE ON FUNCTION gateway.ingest_text(text, text, text) TO gw_listener;
   CREATE OR REPLACE FUNCTION public.oc_menu(msisdn text, session_id text, input text, service_code text)
   RETURNS text LANGUAGE sql AS \$f\$ SELECT 'CON Karibu' \$f\$;
   GRANT EXECUTE ON FUNCTION public.oc_menu(text, text, text, text) TO gw_listener;
   SELECT gw_account_create('oc_vp', 'vaspro', '{\"api_key\": \"oc-vp-key-0001\"}', '$mock/vaspro',
       '{\"paybill\": \"174379\", \"ussd_handler\": \"public.oc_menu\"}')
    WHERE NOT EXISTS (SELECT FROM gateway.accounts WHERE name = 'oc_vp');
   SELECT gw_account_create('oc_um', 'umeskia', '{\"api_key\": \"oc-um-key-0001\", \"email\": \"oc@example.com\"}',
       '$mock/umeskia', '{\"account_id\": \"UMPAY0001\"}')
    WHERE NOT EXISTS (SELECT FROM gateway.accounts WHERE name = 'oc_um');" >/dev/null ||
    { echo "set-up failed"; exit 1; }
base="http://127.0.0.1:$GW_LISTEN_PORT"
for _ in $(seq 1 100); do
    [ "$(code -X POST "$base/oc_vp/dlr")" != 000 ] && break
    sleep 0.1
done

# The table, every path.
python3 "$here/outcomes.py" || fails=$((fails + 1))

# A transient failure under load: an application holds the row's lock.
pay=$(q "INSERT INTO gateway.outbox (account, operation, params, status, payment, match_key,
                                     next_attempt_at, attempts)
         VALUES ('oc_vp', 'payment.stk_push', '{\"phone\": \"0712345678\", \"amount\": 10}', 'sent',
                 true, 'ws_CO_locked_$$', 'infinity', 1) RETURNING id")
body='{"Body": {"stkCallback": {"MerchantRequestID": "1", "CheckoutRequestID": "ws_CO_locked_'$$'",
  "ResultCode": 0, "ResultDesc": "ok", "CallbackMetadata": {"Item": [{"Name": "Amount", "Value": 10},
  {"Name": "MpesaReceiptNumber", "Value": "QBI3DNNHWP"}, {"Name": "PhoneNumber", "Value": 254712345678}]}}}}'
psql -X -q -d "$db" -c "BEGIN" -c "SELECT 1 FROM gateway.outbox WHERE id = $pay FOR UPDATE" -c "SELECT pg_sleep(20)" -c "COMMIT" \
    >/dev/null 2>&1 &
holder=$!
for _ in $(seq 1 100); do
    [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(20)%'")" = 1 ] && break
    sleep 0.1
done
pay_url=$(q "SELECT gw_callback_url('oc_vp', 'payment')")
dlr_url=$(q "SELECT gw_callback_url('oc_vp', 'dlr')")
ussd_url=$(q "SELECT gw_callback_url('oc_vp', 'ussd')")
recorded() { q "SELECT count(*) FROM gateway.inbound WHERE payload::text LIKE '%ws_CO_locked_$$%'"; }
q "SELECT gw_enqueue('oc_vp', 'sms.bulk', '{\"recipients\": \"0712345678\", \"message\": \"x\"}',
                     'infinity', 'oc-load-' || g) FROM generate_series(1, 40) g" >/dev/null
seq 1 40 | xargs -P 40 -I{} curl -s -o /dev/null -w '%{http_code}\n' -X POST \
    --data '{"uniqueId": "oc-load-{}", "deliveryStatus": "DeliveredToTerminal"}' "$dlr_url" \
    >"$GW_WORK/oc_load.codes" &
load=$!
check "a callback for a row an application holds locked is answered 503" 503 \
    "$(code -X POST --data "$body" "$pay_url")"
check "a USSD session meanwhile is answered" 200 \
    "$(code -X POST --data '{"msisdn": "0712345678", "sessionID": "oc1", "input": "", "accessPoint": "*1#"}' "$ussd_url")"
wait "$load"
check "40 delivery reports for other rows meanwhile: all 200" 40 "$(grep -c '^200$' "$GW_WORK/oc_load.codes")"
check "they were applied" 40 "$(q "SELECT count(*) FROM gateway.outbox WHERE account = 'oc_vp'
                                     AND idempotency_key LIKE 'oc-load-%' AND status = 'delivered'")"
check "nothing of the 503 callback was kept" 0 "$(recorded)"
check "gw_ingest raises the lock timeout (the caller may try again)" 55P03 \
    "$(psql -X -q -t -A -d "$db" -c "SET lock_timeout = '100ms'" -v VERBOSITY=verbose \
        -c "SELECT gw_ingest('oc_vp', 'payment', '$body')" 2>&1 | sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\):.*/\1/p' | head -1)"
check "and keeps nothing of it" 0 "$(recorded)"
check "the row is still sent" sent "$(q "SELECT status FROM gateway.outbox WHERE id = $pay")"
kill "$holder" 2>/dev/null
psql -X -q -d "$db" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                         WHERE query LIKE 'SELECT pg_sleep(20)%'" >/dev/null
wait "$holder" 2>/dev/null
check "sent again once the lock is gone: 200" 200 "$(code -X POST --data "$body" "$pay_url")"
check "and the payment is paid" delivered "$(q "SELECT status FROM gateway.outbox WHERE id = $pay")"

# A callback that says paid but does not add up: the row needs checking, the
# worker asks Umeskia's status query, and the answer settles it; the callback
# that raised the doubt stays with the row.
chk="occhk-$$"
curl -s -X POST -d '{"prefix": "/umeskia/api/v1/transactionstatus", "match": "'$chk'", "count": 1000, "status": 200,
  "body": {"ResultCode": "200", "TransactionID": "'$chk'", "TransactionStatus": "Completed", "TransactionCode": "0",
           "TransactionReceipt": "SAQ34ZOVL3", "TransactionAmount": "10", "Msisdn": "254712345678"}}' \
    "$mock/_mock/fault" >/dev/null
crow=$(q "INSERT INTO gateway.outbox (account, operation, params, status, payment, match_key, next_attempt_at, attempts)
          VALUES ('oc_um', 'payment.stk_push', '{\"phone\": \"0712345678\", \"amount\": 10}', 'sent', true,
                  '$chk', 'infinity', 1) RETURNING id")
check "a callback paying 9 of 10: needs checking" "unknown" \
    "$(q "SELECT gw_ingest('oc_um', 'payment', '{\"ResponseCode\": 0, \"TransactionID\": \"$chk\",
           \"TransactionAmount\": 9, \"TransactionReceipt\": \"QBI3DNNHWP\", \"Msisdn\": \"254712345678\"}')->>'status'")"
for _ in $(seq 1 200); do
    [ "$(q "SELECT status FROM gateway.outbox WHERE id = $crow")" = delivered ] && break
    sleep 0.1
done
check "the worker asked Umeskia, which says 10 paid: delivered" delivered \
    "$(q "SELECT status FROM gateway.outbox WHERE id = $crow")"
check "the doubtful callback stays with the row" "the result says 9 paid, the payment asked for 10" \
    "$(q "SELECT result->'callback'->>'check' FROM gateway.outbox WHERE id = $crow")"

# One decision for a queued request whose outcome is unknown: contacts.add
# answered with something unreadable says retryable, and its row is queued
# again (it used to be left unknown for ever while its result said retryable).
uid=$((700000 + $$ % 100000))
curl -s -X POST -d '{"prefix": "/vaspro/v3/contact/api/add", "match": "\"unique_id\":'$uid'", "action": "malformed"}' \
    "$mock/_mock/fault" >/dev/null
cid=$(q "SELECT gw_enqueue('oc_vp', 'contacts.add', '{\"phone\": \"0712345678\", \"group_id\": 1, \"unique_id\": $uid}')")
check "contacts.add after an unreadable answer: sent on the next attempt" "sent 2" \
    "$(echo $(q "SELECT gw_wait($cid, '20 s')") $(q "SELECT attempts FROM gateway.outbox WHERE id = $cid"))"

# Without shared_preload_libraries: an ERROR with a hint, the session goes on.
np="$GW_WORK/nopreload"
rm -rf "$np"; mkdir -p "$np"
[ "$(id -u)" = 0 ] && chown postgres: "$np"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if as_pg "$GW_PG_BINDIR/initdb" -D "$np/data" -U postgres -A trust --no-sync >"$np/initdb.log" 2>&1 &&
    as_pg "$GW_PG_BINDIR/pg_ctl" -D "$np/data" -l "$np/server.log" -w -t 60 \
        -o "-c listen_addresses='' -c unix_socket_directories='$np' -p $GW_PGPORT" start >/dev/null; then
    out=$(psql -X -h "$np" -p "$GW_PGPORT" -d postgres -v VERBOSITY=verbose \
              -c "CREATE EXTENSION gateway" -c "SELECT 'still here'" 2>&1)
    check "CREATE EXTENSION without preload: an ERROR" \
        "ERROR:  55000: gateway can only be loaded via shared_preload_libraries" \
        "$(echo "$out" | grep '^ERROR:' | head -1)"
    check "with a hint" "HINT:  Add gateway to shared_preload_libraries in postgresql.conf and restart the server." \
        "$(echo "$out" | grep '^HINT:' | head -1)"
    check "the session goes on" yes "$(echo "$out" | grep -q 'still here' && echo yes || echo no)"
    check "nothing was created" 0 "$(psql -X -t -A -h "$np" -p "$GW_PGPORT" -d postgres \
        -c "SELECT count(*) FROM pg_extension WHERE extname = 'gateway'")"
    as_pg "$GW_PG_BINDIR/pg_ctl" -D "$np/data" -m fast -w stop >/dev/null
else
    check "a cluster without preload starts" yes no
    cat "$np/initdb.log" "$np/server.log" 2>/dev/null | tail -20
fi
rm -rf "$np"

[ "$fails" -eq 0 ]
