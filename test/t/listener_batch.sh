#!/usr/bin/env bash
# Delivery reports that arrive together are applied together (one statement
# finds their rows, one UPDATE applies them, one INSERT records them) with
# the same results as one at a time: two reports for one row in one batch
# (the second is decided on what the first left), a report whose UPDATE a
# trigger refuses (its ERROR is its own: the others of the batch are kept),
# a report for nothing we sent, a body that is not JSON, a row another
# session holds (only its report waits, and is answered 503), a listen role
# without EXECUTE on gateway.ingest_text (nothing applied).  A USSD
# handler that sleeps holds the listener while the reports arrive, so that
# they make one batch.  Run by scripts/test.sh against its cluster, after
# listener.sh.
set -uo pipefail
db=contrib_regression
. "$(dirname "$0")/../lib/check.sh"

q "$listen_role_sql
   GRANT USAGE ON SCHEMA gateway TO gw_listener;
   GRANT EXECUTE ON FUNCTION gateway.ingest_text(text, text, text) TO gw_listener;
   CREATE OR REPLACE FUNCTION public.lsb_slow(msisdn text, session_id text, input text, service_code text)
   RETURNS text LANGUAGE sql AS \$f\$ SELECT pg_sleep(0.7); SELECT 'END held' \$f\$;
   SELECT gw_account_create('lsb', 'vaspro', '{\"api_key\": \"lsb-key-0001\"}',
       'http://127.0.0.1:$GW_MOCK_PORT/vaspro', '{\"ussd_handler\": \"public.lsb_slow\"}')
    WHERE NOT EXISTS (SELECT FROM gateway.accounts WHERE name = 'lsb');
   SELECT gw_account_create('lsb2', 'vaspro', '{\"api_key\": \"lsb-key-0002\"}',
       'http://127.0.0.1:$GW_MOCK_PORT/vaspro')
    WHERE NOT EXISTS (SELECT FROM gateway.accounts WHERE name = 'lsb2');
   CREATE OR REPLACE FUNCTION public.lsb_refuse() RETURNS trigger LANGUAGE plpgsql AS \$f\$
   BEGIN
       IF NEW.idempotency_key = 'lsb-4' THEN
           RAISE EXCEPTION 'lsb-4 refused by a trigger';
       END IF;
       RETURN NEW;
   END \$f\$;
   DROP TRIGGER IF EXISTS lsb_refuse ON gateway.outbox;
   CREATE TRIGGER lsb_refuse BEFORE UPDATE ON gateway.outbox
       FOR EACH ROW WHEN (NEW.account = 'lsb' AND NEW.status = 'delivered') EXECUTE FUNCTION public.lsb_refuse();" >/dev/null ||
    { echo "set-up failed"; exit 1; }
cleanup() { q "DROP TRIGGER IF EXISTS lsb_refuse ON gateway.outbox; DROP FUNCTION IF EXISTS public.lsb_refuse()" >/dev/null; }
trap cleanup EXIT

# seven SMS sent (the mock answers each), keyed lsb-1 .. lsb-7
q "DELETE FROM gateway.outbox WHERE account IN ('lsb', 'lsb2'); DELETE FROM gateway.inbound WHERE account IN ('lsb', 'lsb2')" >/dev/null
for i in 1 2 3 4 5 6 7; do
    id=$(q "SELECT gw_queue_sms('lsb', '071200000$i', 'Habari', idempotency_key => 'lsb-$i')")
    q "SELECT gw_wait($id)" >/dev/null
done
sent() { q "SELECT gw_wait(id) FROM (SELECT $1 AS id) s" >/dev/null; echo "$1"; }
# one keyed by gateway (gw<hex>-<id>), one to be found by its correlator,
# one of another account with the key lsb-1 too
gwrow=$(sent "$(q "SELECT gw_queue_sms('lsb', '0712000010', 'Habari')")")
gwkey=$(q "SELECT idempotency_key FROM gateway.outbox WHERE id = $gwrow")
row8=$(sent "$(q "SELECT gw_queue_sms('lsb', '0712000008', 'Habari', idempotency_key => 'lsb-8')")")
ref8=$(q "SELECT provider_ref FROM gateway.outbox WHERE id = $row8")
other=$(sent "$(q "SELECT gw_queue_sms('lsb2', '0712000011', 'Habari', idempotency_key => 'lsb-1')")")
dlr2=$(q "SELECT gw_callback_url('lsb2', 'dlr')")
check "ten rows sent" 10 "$(q "SELECT count(*) FROM gateway.outbox WHERE account IN ('lsb', 'lsb2') AND status = 'sent'")"

dlr=$(q "SELECT gw_callback_url('lsb', 'dlr')")
ussd=$(q "SELECT gw_callback_url('lsb', 'ussd')")
for _ in $(seq 1 100); do
    c=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data '{}' "$dlr")
    [ "$c" = 200 ] && break
    sleep 0.1
done

post() {   # post <name> <body> [url]: the answer's status and body in $GW_WORK/lsb.<name>
    curl -s -o "$GW_WORK/lsb.$1.body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        --data "$2" "${3:-$dlr}" >"$GW_WORK/lsb.$1.code"
}
report() { printf '{"uniqueId": "%s", "deliveryStatus": "%s", "description": "x", "msisdn": "254712000001"}' "$1" "$2"; }

hold() {   # a USSD session that holds the listener 0.7 s; the reports arrive meanwhile
    curl -s -o /dev/null -X POST --data "{\"msisdn\": \"254712000009\", \"sessionID\": \"$1\", \"input\": \"\"}" "$ussd" &
    held=$!
    sleep 0.15
}
codes() { for n in "$@"; do printf '%s ' "$(cat "$GW_WORK/lsb.$n.code")"; done; }
batches() {   # the transactions that recorded the reports with these keys (and the raw bodies)
    q "SELECT count(DISTINCT received_at) FROM gateway.inbound WHERE account = 'lsb' AND kind = 'dlr'
          AND (payload->>'uniqueId' = ANY ('{$1}') OR ('$2' = 'raw' AND raw IS NOT NULL))"
}

# 1. Two reports for one row, two for others, one for nothing, a body that is
# not JSON, one by gateway's own key, one by correlator, one for another
# account's row of the same key: applied together.
hold one
post a "$(report lsb-1 DeliveredToTerminal)" &
post b "$(report lsb-1 DeliveryImpossible)" &
post c "$(report lsb-2 DeliveredToTerminal)" &
post d "$(report lsb-3 DeliveredToTerminal)" &
post f "$(report lsb-none DeliveredToTerminal)" &
post g 'not json' &
post k "$(report "$gwkey" DeliveredToTerminal)" &
post l "{\"correlator\": \"$ref8\", \"deliveryStatus\": \"DeliveredToTerminal\", \"description\": \"x\"}" &
post m "$(report lsb-1 DeliveredToTerminal)" "$dlr2" &
wait
check "1: the answers: 200 for the reports, 400 for the body that is not JSON" \
    "200 200 200 200 200 400 200 200 200 " "$(codes a b c d f g k l m)"
batch1="(SELECT received_at FROM gateway.inbound WHERE account = 'lsb' AND payload->>'uniqueId' = 'lsb-2')"
check "1: the nine arrived together: recorded by one transaction" 9 \
    "$(q "SELECT count(*) FROM gateway.inbound WHERE received_at = $batch1")"
check "1: gateway's own key, the correlator, the other account's row: each its own row, delivered" \
    "$gwrow delivered|$row8 delivered|$other delivered" \
    "$(q "SELECT string_agg(i.outbox_id || ' ' || o.status, '|' ORDER BY i.outbox_id) FROM gateway.inbound i
            JOIN gateway.outbox o ON o.id = i.outbox_id AND o.account = i.account
           WHERE i.received_at = $batch1 AND i.outbox_id IN ($gwrow, $row8, $other)")"
# applied as a set: one UPDATE wrote the three rows and one INSERT the six
# records (one at a time, each in a subtransaction of its own, they would
# bear as many transaction ids); the ids were taken once, right after the
# session's (a set that failed and was done again would have taken more)
check "1: applied as one set: one transaction id on the rows, one on the records" "1 1" \
    "$(q "SELECT (SELECT count(DISTINCT xmin::text) FROM gateway.outbox
                   WHERE id IN ($gwrow, $row8, $other)
                      OR account = 'lsb' AND idempotency_key IN ('lsb-1', 'lsb-2', 'lsb-3')) || ' ' ||
                 (SELECT count(DISTINCT xmin::text) FROM gateway.inbound WHERE received_at = $batch1)")"
check "1: applied as one set: their ids follow the USSD session's, one after another" "1|9" \
    "$(q "SELECT min(i.id) - u.id || '|' || max(i.id) - min(i.id) + 1 FROM gateway.inbound i,
                 (SELECT id FROM gateway.inbound WHERE account = 'lsb' AND payload->>'sessionID' = 'one') u
           WHERE i.received_at = $batch1 GROUP BY u.id")"
check "1: each of them recorded once" 6 \
    "$(q "SELECT count(*) FROM gateway.inbound WHERE account = 'lsb' AND kind = 'dlr'
            AND (payload->>'uniqueId' IN ('lsb-1', 'lsb-2', 'lsb-3', 'lsb-none') OR raw IS NOT NULL)")"
check "1: lsb-2 and lsb-3 delivered" "delivered delivered" \
    "$(q "SELECT string_agg(status::text, ' ' ORDER BY idempotency_key) FROM gateway.outbox
            WHERE account = 'lsb' AND idempotency_key IN ('lsb-2', 'lsb-3')")"
# two reports for lsb-1: whichever came first is applied, the second finds
# the row final and leaves it
final=$(q "SELECT status FROM gateway.outbox WHERE account = 'lsb' AND idempotency_key = 'lsb-1'")
check "1: lsb-1: one of its two reports applied" 1 \
    "$(q "SELECT count(*) FROM gateway.inbound WHERE account = 'lsb' AND payload->>'uniqueId' = 'lsb-1' AND note IS NULL")"
check "1: lsb-1: the other found the row $final and left it" "the row is already $final: unchanged" \
    "$(q "SELECT note FROM gateway.inbound WHERE account = 'lsb' AND payload->>'uniqueId' = 'lsb-1' AND note IS NOT NULL")"
check "1: lsb-1: its result names the report applied, and has its status" "true|true" \
    "$(q "SELECT ((o.result->'callback'->>'inbound_id')::bigint = i.id)::text || '|' ||
                 ((i.payload->>'deliveryStatus' = 'DeliveredToTerminal') = (o.status = 'delivered'))::text
            FROM gateway.outbox o, gateway.inbound i
           WHERE o.account = 'lsb' AND o.idempotency_key = 'lsb-1'
             AND i.account = 'lsb' AND i.payload->>'uniqueId' = 'lsb-1' AND i.note IS NULL")"
check "1: lsb-none: recorded, matched nothing" "no outbox row has this uniqueId or correlator|" \
    "$(q "SELECT note || '|' || coalesce(outbox_id::text, '') FROM gateway.inbound
           WHERE account = 'lsb' AND payload->>'uniqueId' = 'lsb-none'")"
check "1: the body that is not JSON: recorded raw" "not json" \
    "$(q "SELECT raw FROM gateway.inbound WHERE account = 'lsb' AND raw IS NOT NULL")"

# 2. A report whose UPDATE a trigger refuses beside one that is applied: the
# ERROR is the refused one's alone.
hold two
post e "$(report lsb-4 DeliveredToTerminal)" &
post h "$(report lsb-5 DeliveredToTerminal)" &
wait
check "2: the answers: 400 for the refused report, 200 for the other" "400 200 " "$(codes e h)"
check "2: the two arrived together: recorded by one transaction" 1 "$(batches lsb-4,lsb-5 -)"
check "2: lsb-4: the trigger's ERROR is its answer" "bad request: lsb-4 refused by a trigger" \
    "$(head -1 "$GW_WORK/lsb.e.body")"
check "2: lsb-4: recorded with the ERROR, the row left sent" "lsb-4 refused by a trigger|sent" \
    "$(q "SELECT i.note || '|' || o.status FROM gateway.inbound i, gateway.outbox o
           WHERE i.account = 'lsb' AND i.payload->>'uniqueId' = 'lsb-4'
             AND o.account = 'lsb' AND o.idempotency_key = 'lsb-4'")"
check "2: lsb-5 delivered" delivered \
    "$(q "SELECT status FROM gateway.outbox WHERE account = 'lsb' AND idempotency_key = 'lsb-5'")"

# 3. Another session holds lsb-6's row: its report waits for it
# (gateway.callback_lock_timeout) and is answered 503, to be sent again;
# lsb-7's, in the same batch, is applied.
psql -X -q -d "$db" -c "BEGIN; SELECT FROM gateway.outbox WHERE account = 'lsb' AND idempotency_key = 'lsb-6' FOR UPDATE;
                         SELECT pg_sleep(2); COMMIT" >/dev/null &
locker=$!
sleep 0.3
hold three
post i "$(report lsb-6 DeliveredToTerminal)" &
pi=$!
post j "$(report lsb-7 DeliveredToTerminal)" &
pj=$!
wait "$held" "$pi" "$pj"
check "3: 503 for the report of the row held, 200 for the other" "503 200 " "$(codes i j)"
check "3: lsb-6 left sent, nothing of its report kept; lsb-7 delivered" "sent 0 delivered" \
    "$(q "SELECT (SELECT status FROM gateway.outbox WHERE account = 'lsb' AND idempotency_key = 'lsb-6') || ' ' ||
                 (SELECT count(*) FROM gateway.inbound WHERE account = 'lsb' AND payload->>'uniqueId' = 'lsb-6') || ' ' ||
                 (SELECT status FROM gateway.outbox WHERE account = 'lsb' AND idempotency_key = 'lsb-7')")"
wait "$locker"

# 4. The listen role without EXECUTE on gateway.ingest_text: neither the set
# nor one at a time applies anything for it.
q "REVOKE EXECUTE ON FUNCTION gateway.ingest_text(text, text, text) FROM gw_listener" >/dev/null
hold four
post n "$(report lsb-6 DeliveredToTerminal)" &
pn=$!
post o "$(report lsb-8 DeliveredToTerminal)" &
po=$!
wait "$held" "$pn" "$po"
q "GRANT EXECUTE ON FUNCTION gateway.ingest_text(text, text, text) TO gw_listener" >/dev/null
check "4: without EXECUTE: 500 for both, nothing recorded, lsb-6 still sent" "500 500 |0|sent" \
    "$(codes n o)|$(q "SELECT count(*) FROM gateway.inbound WHERE account = 'lsb' AND payload->>'uniqueId' = 'lsb-6'")|$(q "SELECT status FROM gateway.outbox WHERE account = 'lsb' AND idempotency_key = 'lsb-6'")"

echo "listener batch test: $fails failed"
[ "$fails" -eq 0 ]
