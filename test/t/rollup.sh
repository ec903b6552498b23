#!/usr/bin/env bash
# Costs and the daily rollup (docs/costs.md).  Known traffic through the mock:
# each row keeps its segments and encoding (as gw_sms_info counts them, times
# its recipients) and the cost VasPro reports (data.credits); delivery
# reports through gw_ingest.  The rows are moved two days back; gw_rollup()'s
# figures for that day equal figures computed here from the rows, and after
# the worker has purged the rows (gateway.keep_finished lowered) the day
# still holds the same figures, now final.  Retention (gateway.keep_daily),
# row-level security and gw_rollup()'s rights; a pass waiting for a lock in
# its own process while the worker sends.  Run by scripts/test.sh
# against its cluster, in a database of its own (its own final days).
set -uo pipefail
db=gw_rollup
mock="http://127.0.0.1:$GW_MOCK_PORT/vaspro"
. "$(dirname "$0")/../lib/check.sh"
setting() {   # setting <name> <value>: ALTER SYSTEM (RESET when empty) and reload
    local p="psql -X -q -v ON_ERROR_STOP=1 -d postgres -c"
    if [ -n "$2" ]; then $p "ALTER SYSTEM SET $1 = '$2'" >/dev/null; else $p "ALTER SYSTEM RESET $1" >/dev/null; fi
    $p "SELECT pg_reload_conf()" >/dev/null
    sleep 0.3
}
cleanup() {
    setting gateway.keep_finished ""
    setting gateway.keep_daily ""
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
    for r in gw_rollup_s gw_rollup_n gw_rollup_l; do psql -X -q -d postgres -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1; done
}
trap cleanup EXIT
cleanup
psql -X -q -d postgres -c "CREATE DATABASE $db" >/dev/null || exit 1
q "CREATE EXTENSION gateway" >/dev/null || exit 1
for _ in $(seq 1 100); do
    [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db' AND backend_type LIKE 'gateway worker%'")" -gt 0 ] && break
    sleep 0.1
done

q "SELECT gw_account_create('rollup1', 'vaspro', '{\"api_key\": \"r-key-0001\"}', '$mock', '{\"sender_id\": \"ROLLUP\"}');
   SELECT gw_account_create('rollup2', 'vaspro', '{\"api_key\": \"r-key-0002\"}', '$mock', '{\"sender_id\": \"ROLLUP\"}')" >/dev/null \
    || { echo "FAIL: accounts"; exit 1; }

# Known traffic: gsm7 and ucs2, one part and two, one row to three phones,
# one the provider refuses (VasPro 420 for an unconfigured sender).
long_gsm=$(printf 'a%.0s' $(seq 1 200))        # 200 septets: 2 parts of 153
long_ucs=$(printf 'ж%.0s' $(seq 1 100))         # 100 code units: 2 parts of 67
ids=$(q "SELECT gw_queue_sms('rollup1', '0712000001', 'hello') || ' ' ||
                gw_queue_sms('rollup1', '0712000002', '$long_gsm') || ' ' ||
                gw_queue_sms('rollup1', '0712000003', 'Habari 😀 rafiki') || ' ' ||
                gw_queue_sms('rollup1', '0712000004', '$long_ucs') || ' ' ||
                gw_enqueue('rollup1', 'sms.bulk', jsonb_build_object(
                    'recipients', jsonb_build_array('0712000005', '0712000006', '0712000007'),
                    'message', '$long_gsm')) || ' ' ||
                gw_queue_sms('rollup1', '0712000008', 'refused', 'NOTCONFIG') || ' ' ||
                gw_queue_sms('rollup2', '0712000009', 'other account')")
read -r r1 r2 r3 r4 r5 r6 r7 <<<"$ids"
for id in $ids; do q "SELECT gw_wait($id, '20 s')" >/dev/null; done

check "segments, encoding and cost of each row" \
    "1 gsm7 1 sent|2 gsm7 2 sent|1 ucs2 1 sent|2 ucs2 2 sent|6 gsm7 6 sent|1 gsm7 - failed|1 gsm7 1 sent" \
    "$(q "SELECT string_agg(segments || ' ' || encoding || ' ' || coalesce(cost::text, '-') || ' ' || status, '|' ORDER BY id)
            FROM gateway.outbox WHERE id IN ($r1, $r2, $r3, $r4, $r5, $r6, $r7)")"
check "segments equal gw_sms_info's for one recipient" t \
    "$(q "SELECT bool_and(segments = (gw_sms_info(params->>'message')->>'segments')::int
                    AND encoding = gw_sms_info(params->>'message')->>'encoding')
            FROM gateway.outbox WHERE id IN ($r1, $r2, $r3, $r4, $r6)")"
x=$(q "SELECT gw_enqueue('rollup1', 'contacts.groups', '{}', now() + interval '1 day')")
check "a row that is no SMS has no segments, encoding or cost" "||" \
    "$(q "SELECT coalesce(segments::text, '') || '|' || coalesce(encoding, '') || '|' || coalesce(cost::text, '')
            FROM gateway.outbox WHERE id = $x")"
q "DELETE FROM gateway.outbox WHERE account = 'rollup1' AND operation = 'contacts.groups'" >/dev/null

# The other providers that report a cost: a VTpass purchase (a synchronous
# payment, recorded as a row) and a Nenasasa SMS.
q "SELECT gw_account_create('rollup_vt', 'vtpass', '{\"username\": \"merchant@example.com\", \"password\": \"vt-pass-0001\"}',
                            'http://127.0.0.1:$GW_MOCK_PORT/vtpass');
   SELECT gw_account_create('rollup_nn', 'nenasasa',
                            '{\"client_id\": \"nn-client-01\", \"username\": \"nnuser\", \"password\": \"nn-pass-0001\"}',
                            'http://127.0.0.1:$GW_MOCK_PORT/nenasasa/api/v1', '{\"sender_id\": \"NENA\", \"chid\": \"13\"}')" >/dev/null
check "a VTpass purchase records what the wallet paid (total_amount)" "delivered 960 - -" \
    "$(q "SELECT gw_call('rollup_vt', 'payment.purchase', '{\"request_id\": \"202612021200rollup1\", \"service_id\": \"spectranet\",
             \"billers_code\": \"1212121212\", \"variation_code\": \"vt-1000\", \"quantity\": 1, \"amount\": 1000,
             \"phone\": \"1212121212\"}')->>'status' IS NOT NULL;
          SELECT status || ' ' || cost || ' ' || coalesce(segments::text, '-') || ' ' || coalesce(encoding, '-')
            FROM gateway.outbox WHERE account = 'rollup_vt'" | tail -n 1)"
nn=$(q "SELECT gw_queue_sms('rollup_nn', '0712000010', 'Habari from Nenasasa')")
q "SELECT gw_wait($nn, '20 s')" >/dev/null
check "a Nenasasa SMS records the float debited (debit_float)" "sent 1.00 1 gsm7" \
    "$(q "SELECT status || ' ' || cost || ' ' || segments || ' ' || encoding FROM gateway.outbox WHERE id = $nn")"

# Delivery reports: two delivered, one not.
for pair in "$r1 DeliveredToTerminal" "$r2 DeliveredToNetwork" "$r3 DeliveryImpossible"; do
    read -r id st <<<"$pair"
    q "SELECT gw_ingest('rollup1', 'dlr', jsonb_build_object(
         'uniqueId', (SELECT idempotency_key FROM gateway.outbox WHERE id = $id),
         'deliveryStatus', '$st'))" >/dev/null
done
check "statuses after the delivery reports" "delivered delivered undelivered sent sent failed" \
    "$(q "SELECT string_agg(status::text, ' ' ORDER BY id) FROM gateway.outbox
            WHERE id IN ($r1, $r2, $r3, $r4, $r5, $r6)")"

# Two days back: an open day (the default keep_finished, 7 days, keeps it open).
q "UPDATE gateway.outbox SET send_at = send_at - interval '2 days', created_at = created_at - interval '2 days',
          updated_at = updated_at - interval '2 days', sent_at = sent_at - interval '2 days',
          next_attempt_at = next_attempt_at - interval '2 days'
    WHERE account IN ('rollup1', 'rollup2')" >/dev/null
day=$(q "SELECT ((now() - interval '2 days') AT TIME ZONE 'UTC')::date")
q "SELECT gw_rollup()" >/dev/null

# The same figures, computed here from the rows, another way.  The latencies
# are interpolated over milliseconds as doubles, as the rollup does: an
# interval's interpolation rounds to the microsecond, and a p99 that falls on
# x.xx5 ms would then round the other way.
from_rows="
SELECT o.account, count(*) FILTER (WHERE sent_at IS NOT NULL AND status NOT IN ('failed', 'dead')),
       count(*) FILTER (WHERE status = 'delivered'), count(*) FILTER (WHERE status = 'undelivered'),
       count(*) FILTER (WHERE status IN ('failed', 'dead')),
       sum(CASE WHEN status IN ('sent', 'delivered', 'undelivered') THEN segments ELSE 0 END),
       sum(cost),
       round(avg(CASE WHEN status = 'delivered' THEN 1.0 WHEN status IN ('sent', 'undelivered') THEN 0.0 END), 4),
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM sent_at - send_at) * 1000)
               FILTER (WHERE sent_at IS NOT NULL)::numeric, 2),
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM sent_at - send_at) * 1000)
               FILTER (WHERE sent_at IS NOT NULL)::numeric, 2)
  FROM gateway.outbox o
 WHERE (send_at AT TIME ZONE 'UTC')::date = '$day' AND account IN ('rollup1', 'rollup2')
 GROUP BY o.account ORDER BY o.account"
rollup="
SELECT account, sent, delivered, undelivered, failed, segments, cost, delivery_rate,
       round(latency_p50_ms::numeric, 2), round(latency_p99_ms::numeric, 2)
  FROM gateway.daily WHERE day = '$day' AND account IN ('rollup1', 'rollup2') ORDER BY account"
before=$(q "$from_rows")
echo "figures from the rows: $(echo $before)"
check "the known figures of the day" "rollup1|5|2|1|1|12|12|0.4000" "$(q "$from_rows" | head -n 1 | cut -d'|' -f1-8)"
check "the rollup equals the figures computed from the rows" "$before" "$(q "$rollup")"
check "an open day is not final" "false false" "$(q "SELECT string_agg(final::text, ' ' ORDER BY account) FROM gateway.daily
                                          WHERE day = '$day' AND account IN ('rollup1', 'rollup2')")"
q "UPDATE gateway.outbox SET status = 'delivered', updated_at = updated_at + interval '1 s' WHERE id = $r4" >/dev/null
q "SELECT gw_rollup()" >/dev/null
check "a late change to an open day is counted" "3" \
    "$(q "SELECT delivered FROM gateway.daily WHERE day = '$day' AND account = 'rollup1'")"
before=$(q "$from_rows")

# The purge: rows go once their day is final, and the day keeps its figures.
setting gateway.keep_finished "1h"
q "SELECT gw_rollup()" >/dev/null
check "a day past keep_finished is final" "true true" "$(q "SELECT string_agg(final::text, ' ' ORDER BY account) FROM gateway.daily
                                          WHERE day = '$day' AND account IN ('rollup1', 'rollup2')")"
for _ in $(seq 1 300); do
    [ "$(q "SELECT count(*) FROM gateway.outbox WHERE account IN ('rollup1', 'rollup2')")" = 0 ] && break
    sleep 0.1
done
check "the worker purged the rows" 0 "$(q "SELECT count(*) FROM gateway.outbox WHERE account IN ('rollup1', 'rollup2')")"
check "after the purge the rollup equals the figures before it" "$before" "$(q "$rollup")"
q "SELECT gw_rollup()" >/dev/null
check "a final day is never computed again" "$before" "$(q "$rollup")"
setting gateway.keep_finished ""

# Row-level security: a sender sees the accounts it holds; gw_rollup() is the owner's.
q "CREATE ROLE gw_rollup_s NOLOGIN; CREATE ROLE gw_rollup_n NOLOGIN; CREATE ROLE gw_rollup_l NOLOGIN;
   SELECT gw_grant_sender('gw_rollup_s', 'rollup1'); GRANT USAGE ON SCHEMA gateway TO gw_rollup_n;
   SELECT gw_grant_listener('gw_rollup_l'); GRANT USAGE ON SCHEMA gateway TO gw_rollup_l" >/dev/null
check "a sender sees its own accounts' days" "rollup1" \
    "$(q "SET ROLE gw_rollup_s; SELECT string_agg(DISTINCT account, ',') FROM gateway.daily")"
check "a role holding no account sees no day" "0" \
    "$(q "SET ROLE gw_rollup_n; SELECT count(*) FROM gateway.daily")"
check "the listener's role (every account, no table) sees no day" "0" \
    "$(q "SET ROLE gw_rollup_l; SELECT count(*) FROM gateway.daily")"
check "the owner sees every account's days" "2" \
    "$(q "SELECT count(DISTINCT account) FROM gateway.daily WHERE account IN ('rollup1', 'rollup2')")"
check "a sender may not write the rollup" "denied" \
    "$(q "SET ROLE gw_rollup_s; UPDATE gateway.daily SET cost = 0" 2>&1 | grep -o 'permission denied' | head -n 1 | sed 's/permission //')"
check "a sender may not call gw_rollup()" "denied" \
    "$(q "SET ROLE gw_rollup_s; SELECT gw_rollup()" 2>&1 | grep -o 'permission denied' | head -n 1 | sed 's/permission //')"

# Retention: gateway.keep_daily days (400 by default), -1 keeps every day.
old=$(q "SELECT (now() AT TIME ZONE 'UTC')::date - 500")
ins="INSERT INTO gateway.daily (day, account, sent, delivered, undelivered, failed, segments, final, rolled_up_at)
     VALUES ('$old', 'rollup1', 1, 1, 0, 0, 1, true, now()) ON CONFLICT DO NOTHING"
check "the default keeps 400 days" 400 "$(q "SELECT setting FROM pg_settings WHERE name = 'gateway.keep_daily'")"
q "$ins; SELECT gw_rollup()" >/dev/null
check "a day older than keep_daily is dropped" 0 "$(q "SELECT count(*) FROM gateway.daily WHERE day = '$old'")"
setting gateway.keep_daily "-1"
q "$ins; SELECT gw_rollup()" >/dev/null
check "keep_daily -1 keeps it" 1 "$(q "SELECT count(*) FROM gateway.daily WHERE day = '$old'")"
setting gateway.keep_daily "1"
q "SELECT gw_rollup()" >/dev/null
check "keep_daily 1 drops a day two days old" 0 \
    "$(q "SELECT count(*) FROM gateway.daily WHERE account = 'rollup1' AND day <= '$day'")"

# A pass runs beside the drain, in a process of its own: while one waits
# (a session holds gateway.daily), the worker still sends.
psql -X -q -d "$db" -c "BEGIN; LOCK TABLE gateway.daily IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60)" \
    >/dev/null 2>&1 &
locker=$!
waiting="SELECT count(*) FROM pg_stat_activity WHERE datname = '$db' AND backend_type = 'gateway rollup'
                                              AND wait_event_type = 'Lock'"
for _ in $(seq 1 50); do
    [ "$(q "SELECT count(*) FROM pg_locks WHERE relation = 'gateway.daily'::regclass AND granted")" = 1 ] && break
    sleep 0.1
done
setting gateway.keep_finished "6d"     # the last final day moves: a pass at once
for _ in $(seq 1 200); do
    [ "$(q "$waiting")" = 1 ] && break
    sleep 0.1
done
check "a pass runs in the rollup process (here waiting for a lock)" 1 "$(q "$waiting")"
ids=$(q "SELECT string_agg(gw_queue_sms('rollup2', '0712000020', 'beside the rollup ' || g)::text, ',')
           FROM generate_series(1, 20) g")
for _ in $(seq 1 200); do
    [ "$(q "SELECT count(*) FROM gateway.outbox WHERE id IN ($ids) AND status = 'sent'")" = 20 ] && break
    sleep 0.1
done
check "meanwhile the worker sends" 20 "$(q "SELECT count(*) FROM gateway.outbox WHERE id IN ($ids) AND status = 'sent'")"
check "and the pass still waits" 1 "$(q "$waiting")"
q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%LOCK TABLE gateway.daily%' AND pid <> pg_backend_pid()" >/dev/null
wait "$locker" 2>/dev/null
for _ in $(seq 1 100); do
    [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db' AND backend_type = 'gateway rollup'")" = 0 ] && break
    sleep 0.1
done
check "once the lock is gone the pass ends, and its process" 0 \
    "$(q "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db' AND backend_type = 'gateway rollup'")"
setting gateway.keep_finished ""

echo "rollup test: $fails failed"
[ "$fails" -eq 0 ]
