-- Callbacks: gw_ingest and gateway.ingest_text record every body in
-- gateway.inbound first, then apply it.
SELECT gw_account_create('inb', 'vaspro', '{"api_key": "inbound-key"}', mock.url('vaspro'),
                         '{"sender_id": "GATEWAY"}');

-- A body that is not JSON is recorded raw and answered as a bad request.
SELECT gateway.ingest_text('inb', 'dlr', 'deliveryStatus=DeliveredToTerminal') - 'recorded';
SELECT account, kind, payload, raw, outbox_id, note FROM gateway.inbound ORDER BY id DESC LIMIT 1;
-- Unknown account or kind: 42704, nothing recorded.
SELECT expect_error($$SELECT gw_ingest('nobody', 'dlr', '{}')$$);
SELECT expect_error($$SELECT gw_ingest('inb', 'fax', '{}')$$);
SELECT expect_error($$SELECT gateway.ingest_text('inb', 'fax', '{}')$$);
SELECT count(*) FROM gateway.inbound;

-- The mock's payment callback for a checkout / transaction request id.
CREATE FUNCTION mock.callback(id text) RETURNS jsonb
LANGUAGE sql AS $$ SELECT string_agg(line, '')::jsonb FROM mock.curl('{mock}/_mock/callback?id=' || id) AS line $$;

------------------------------------------------------------------------
-- Delivery reports (VasPro "View Delivery Report")
------------------------------------------------------------------------
SELECT gw_queue_sms('inb', '0712000001', 'Habari') AS sms1 \gset
SELECT gw_wait(:sms1);
SELECT idempotency_key ~ ('^gw[0-9a-f]{8}-' || id) AS gateway_key, provider_ref IS NOT NULL AS has_ref
  FROM gateway.outbox WHERE id = :sms1;
SELECT idempotency_key AS key1, provider_ref AS ref1 FROM gateway.outbox WHERE id = :sms1 \gset
-- delivered
SELECT gw_ingest('inb', 'dlr', jsonb_build_object(
    'recepient', '254712000001', 'correlator', :'ref1', 'timestamp', '20191231T12:00:00',
    'productId', '', 'campaignId', '', 'uniqueId', :'key1', 'referenceId', 'MNO-1',
    'billing_type', 'AIRTIME_BILLING', 'deliveryState', '0',
    'deliveryStatus', 'DeliveredToTerminal')) - 'recorded' - 'outbox_id';
SELECT status, (result->'callback') - 'inbound_id' - 'correlator' AS callback, sent_at IS NOT NULL AS sent
  FROM gateway.outbox WHERE id = :sms1;
-- the same report again, then a late failure: the row stays delivered
SELECT gw_ingest('inb', 'dlr', jsonb_build_object(
    'recepient', '254712000001', 'correlator', :'ref1', 'timestamp', '20191231T12:00:00',
    'productId', '', 'campaignId', '', 'uniqueId', :'key1', 'referenceId', 'MNO-1',
    'billing_type', 'AIRTIME_BILLING', 'deliveryState', '0',
    'deliveryStatus', 'DeliveredToTerminal')) - 'recorded' - 'outbox_id';
SELECT gw_ingest('inb', 'dlr', jsonb_build_object(
    'recepient', '254712000001', 'correlator', :'ref1', 'timestamp', '20191231T12:05:00',
    'productId', '', 'campaignId', '', 'uniqueId', :'key1', 'referenceId', 'MNO-1',
    'billing_type', 'AIRTIME_BILLING', 'deliveryState', '1',
    'deliveryStatus', 'DeliveryImpossible')) - 'recorded' - 'outbox_id';
SELECT status FROM gateway.outbox WHERE id = :sms1;
-- a caller's key, a failure
SELECT gw_queue_sms('inb', '0712000002', 'Habari', idempotency_key => 'order-42') AS sms2 \gset
SELECT gw_wait(:sms2);
SELECT gw_ingest('inb', 'dlr', jsonb_build_object(
    'recepient', '254712000002', 'correlator', 'x', 'timestamp', '20191231T12:00:00',
    'productId', '', 'campaignId', '', 'uniqueId', 'order-42', 'referenceId', 'MNO-2',
    'billing_type', 'AIRTIME_BILLING', 'deliveryState', '1',
    'deliveryStatus', 'UserInBlacklist')) - 'recorded' - 'outbox_id';
SELECT status, result->'callback'->>'delivery_status' FROM gateway.outbox WHERE id = :sms2;
-- found by correlator alone
SELECT gw_queue_sms('inb', '0712000004', 'Habari') AS sms4 \gset
SELECT gw_wait(:sms4);
SELECT provider_ref AS ref4 FROM gateway.outbox WHERE id = :sms4 \gset
SELECT (gw_ingest('inb', 'dlr', jsonb_build_object(
    'recepient', '254712000004', 'correlator', :'ref4', 'deliveryState', '0',
    'deliveryStatus', 'DeliveredToNetwork'))->>'outbox_id')::bigint = :sms4 AS found;
SELECT status FROM gateway.outbox WHERE id = :sms4;
-- a status the document does not list: recorded, row untouched
SELECT gw_queue_sms('inb', '0712000005', 'Habari') AS sms5 \gset
SELECT gw_wait(:sms5);
SELECT idempotency_key AS key5 FROM gateway.outbox WHERE id = :sms5 \gset
SELECT gw_ingest('inb', 'dlr', jsonb_build_object(
    'uniqueId', :'key5', 'correlator', 'x', 'deliveryState', '7',
    'deliveryStatus', 'MessageWaiting')) - 'recorded' - 'outbox_id';
SELECT status FROM gateway.outbox WHERE id = :sms5;
-- a report for nothing we sent: recorded with a note
SELECT gw_ingest('inb', 'dlr', '{"recepient": "254712999999", "correlator": "nothing",
    "timestamp": "20191231T12:00:00", "productId": "", "campaignId": "", "uniqueId": "gw00000000-999999",
    "referenceId": "", "billing_type": "AIRTIME_BILLING", "deliveryState": "0",
    "deliveryStatus": "DeliveredToTerminal"}') - 'recorded';
SELECT kind, outbox_id, note FROM gateway.inbound ORDER BY id DESC LIMIT 1;
-- a report without any key is a bad request, still recorded
SELECT gw_ingest('inb', 'dlr', '{"deliveryStatus": "DeliveredToTerminal"}') - 'recorded';
SELECT payload, note FROM gateway.inbound ORDER BY id DESC LIMIT 1;
-- A report that arrives while its row is still 'sending' (the provider is
-- slow to answer the send): the row becomes delivered at once; when the send's
-- answer comes, the worker records it and the row stays delivered.
SELECT mock.fault('{"prefix": "/vaspro/", "delay_ms": 1500}');
SELECT gw_queue_sms('inb', '0712000009', 'Habari') AS sms9 \gset
DO $$
BEGIN
    FOR i IN 1..200 LOOP
        EXIT WHEN (SELECT status FROM gateway.outbox WHERE id = currval('gateway.outbox_id_seq')) = 'sending';
        PERFORM pg_sleep(0.02);
    END LOOP;
END $$;
SELECT status, provider_ref IS NULL AS no_answer_yet, idempotency_key AS key9
  FROM gateway.outbox WHERE id = :sms9 \gset
SELECT :'status' AS status, :'no_answer_yet' AS no_answer_yet;
SELECT gw_ingest('inb', 'dlr', jsonb_build_object(
    'uniqueId', :'key9', 'deliveryState', '0', 'deliveryStatus', 'DeliveredToTerminal'))
    - 'recorded' - 'outbox_id';
SELECT status FROM gateway.outbox WHERE id = :sms9;
DO $$
BEGIN
    FOR i IN 1..300 LOOP
        EXIT WHEN (SELECT provider_ref IS NOT NULL FROM gateway.outbox WHERE id = currval('gateway.outbox_id_seq'));
        PERFORM pg_sleep(0.02);
    END LOOP;
END $$;
SELECT status, attempts, provider_ref IS NOT NULL AS answer_recorded,
       result->'callback'->>'delivery_status' AS callback, lease_until IS NULL AS lease_released
  FROM gateway.outbox WHERE id = :sms9;

------------------------------------------------------------------------
-- Payments: M-Pesa STK callbacks from the mock
------------------------------------------------------------------------
UPDATE gateway.account SET options = options || '{"paybill": "789789"}' WHERE name = 'inb';
SELECT gw_stk_push('inb', '0712000006', 10, 'INV-1') AS push \gset
SELECT :'push'::jsonb->>'status' AS status, :'push'::jsonb#>>'{data,data,CheckoutRequestID}' AS checkout \gset
SELECT :'status';
SELECT id AS pay1, status, payment FROM gateway.outbox
 WHERE payment AND result#>>'{data,data,CheckoutRequestID}' = :'checkout' \gset
SELECT :'status' AS was, :pay1 > :sms5 AS recorded_in_outbox;
SELECT mock.callback(:'checkout')#>'{Body,stkCallback}' ? 'CallbackMetadata' AS paid_shape;
SELECT gw_ingest('inb', 'payment', mock.callback(:'checkout')) - 'recorded' - 'outbox_id';
SELECT status, (result->'callback') - 'inbound_id' - 'receipt' - 'transaction_date' AS callback,
       result->'callback'->>'receipt' ~ '^[A-Z0-9]{10}$' AS receipt
  FROM gateway.outbox WHERE id = :pay1;
-- a queued payment, cancelled by the customer
SELECT gw_enqueue('inb', 'payment.stk_push', '{"phone": "0700001032", "amount": 5}') AS pay2 \gset
SELECT gw_wait(:pay2);
SELECT result#>>'{data,data,CheckoutRequestID}' AS checkout2 FROM gateway.outbox WHERE id = :pay2 \gset
SELECT (mock.callback(:'checkout2')#>'{Body,stkCallback}') - 'CheckoutRequestID' - 'MerchantRequestID' AS cancelled;
SELECT gw_ingest('inb', 'payment', mock.callback(:'checkout2')) - 'recorded' - 'outbox_id';
SELECT status, (result->'callback') - 'inbound_id' AS callback FROM gateway.outbox WHERE id = :pay2;
-- a callback again after the final state: unchanged
SELECT gw_ingest('inb', 'payment', mock.callback(:'checkout')) - 'recorded' - 'outbox_id';
-- not a payment result
SELECT gw_ingest('inb', 'payment', '{"hello": 1}') - 'recorded';

-- Umeskia (UMS Pay): its callback dump and its transaction status body, for a
-- synchronous and a queued push, correlated by Umeskia's transaction id.
SELECT gw_account_create('inb_ums', 'umeskia', '{"api_key": "inb-ums-key-01", "email": "ops@example.com"}',
                         mock.url('umeskia'), '{"account_id": "UMPAY123456789"}');
SELECT r->>'status' AS status, r->>'provider_ref' AS ums_ref
  FROM gw_stk_push('inb_ums', '0712000016', 10, 'INV-U1') r \gset
SELECT :'status';
SELECT id AS upay1 FROM gateway.outbox WHERE account = 'inb_ums' AND provider_ref = :'ums_ref' \gset
SELECT (mock.callback(:'ums_ref')) ?& '{ResponseCode,TransactionID,TransactionReceipt}' AS dump_shape;
SELECT gw_ingest('inb_ums', 'payment', mock.callback(:'ums_ref')) - 'recorded' - 'outbox_id';
SELECT status, (result->'callback') - 'inbound_id' - 'receipt' - 'transaction_date' AS callback,
       result->'callback'->>'receipt' ~ '^[A-Z0-9]{10}$' AS receipt
  FROM gateway.outbox WHERE id = :upay1;
-- queued, and cancelled by the customer (ResponseCode 1032)
SELECT gw_enqueue('inb_ums', 'payment.stk_push', '{"phone": "0700001032", "amount": 5}') AS upay2 \gset
SELECT gw_wait(:upay2);
SELECT provider_ref AS ums_ref2 FROM gateway.outbox WHERE id = :upay2 \gset
SELECT gw_ingest('inb_ums', 'payment', mock.callback(:'ums_ref2')) - 'recorded' - 'outbox_id';
SELECT status, (result->'callback') - 'inbound_id' - 'reference' AS callback,
       result->'callback'->>'reference' = idempotency_key AS reference_is_our_key FROM gateway.outbox WHERE id = :upay2;
-- the transaction status body, as the document shows it: Pending leaves the
-- row alone; Completed makes it paid; a late Failed changes nothing
SELECT r->>'provider_ref' AS ums_ref3 FROM gw_stk_push('inb_ums', '0712000017', 10, 'INV-U3') r \gset
SELECT id AS upay3 FROM gateway.outbox WHERE account = 'inb_ums' AND provider_ref = :'ums_ref3' \gset
SELECT gw_ingest('inb_ums', 'payment', jsonb_build_object(
    'ResultCode', '200', 'ResultDesc', 'Success. Request accepted for processing',
    'TransactionID', :'ums_ref3', 'TransactionStatus', 'Pending', 'TransactionCode', '',
    'TransactionReceipt', '', 'TransactionAmount', '10', 'Msisdn', '254712000017',
    'TransactionDate', '', 'TransactionReference', 'INV-U3')) - 'recorded' - 'outbox_id';
SELECT status FROM gateway.outbox WHERE id = :upay3;
SELECT gw_ingest('inb_ums', 'payment', jsonb_build_object(
    'ResultCode', '200', 'ResultDesc', 'Success. Request accepted for processing',
    'TransactionID', :'ums_ref3', 'TransactionStatus', 'Completed', 'TransactionCode', '0',
    'TransactionReceipt', 'SAQ34ZOVL3', 'TransactionAmount', '10', 'Msisdn', '254712000017',
    'TransactionDate', '20240126103722', 'TransactionReference', 'INV-U3')) - 'recorded' - 'outbox_id';
SELECT status, (result->'callback') - 'inbound_id' AS callback FROM gateway.outbox WHERE id = :upay3;
SELECT gw_ingest('inb_ums', 'payment', jsonb_build_object(
    'ResultCode', '200', 'TransactionID', :'ums_ref3', 'TransactionStatus', 'Failed',
    'TransactionCode', '1037', 'Msisdn', '254712000017')) - 'recorded' - 'outbox_id';
SELECT status FROM gateway.outbox WHERE id = :upay3;
-- a failed transaction status for a push of its own
SELECT r->>'provider_ref' AS ums_ref4 FROM gw_stk_push('inb_ums', '0712000018', 10) r \gset
SELECT gw_ingest('inb_ums', 'payment', jsonb_build_object(
    'ResultCode', '200', 'TransactionID', :'ums_ref4', 'TransactionStatus', 'Failed',
    'TransactionCode', '1037', 'ResultDesc', 'DS timeout user cannot be reached',
    'Msisdn', '254712000018')) - 'recorded' - 'outbox_id';
SELECT status, (result->'callback') - 'inbound_id' AS callback FROM gateway.outbox
 WHERE account = 'inb_ums' AND provider_ref = :'ums_ref4';

------------------------------------------------------------------------
-- Incoming SMS: STOP and START
------------------------------------------------------------------------
SELECT mock.reset();
SELECT gw_ingest('inb', 'mo', '{"msisdn": "254712000003", "message": "  stop ", "link_id": "LNK-1"}') - 'recorded';
SELECT account, msisdn FROM gateway.optouts;
SELECT gw_send_sms('inb', '0712000003', 'Offer!') - 'elapsed_ms';
SELECT gw_queue_sms('inb', '0712000003', 'Offer!') AS sms6 \gset
SELECT gw_wait(:sms6);
SELECT status, result->>'status' AS result_status, result->>'error' AS error FROM gateway.outbox WHERE id = :sms6;
SELECT count(*) AS requests_at_provider FROM mock.requests();
-- others still get theirs
SELECT gw_send_sms('inb', '0712000001', 'Offer!')->>'status';
SELECT gw_ingest('inb', 'mo', '{"msisdn": "0712000003", "message": "Start"}') - 'recorded';
SELECT count(*) FROM gateway.optouts;
SELECT gw_send_sms('inb', '0712000003', 'Offer!')->>'status';

------------------------------------------------------------------------
-- Subscriptions (VasPro "Receive Subscription Data")
------------------------------------------------------------------------
SELECT gw_ingest('inb', 'subscription', '{"token": "vp-token-1", "service_name": "Ufundi Subscription",
    "start_keyword": "START123456", "msisdn": 254712000007, "product_id": 123456,
    "campaign_id": "c-1", "unique_id": "u-1", "date": "20191231T12:00:00"}') - 'recorded';
SELECT msisdn, product_id, active, service_name, keyword FROM gateway.subscriptions;
SELECT gw_ingest('inb', 'subscription', '{"token": "vp-token-1", "service_name": "Ufundi Subscription",
    "start_keyword": "START123456", "stop_keyword": "STOP123456", "msisdn": 254712000007,
    "product_id": 123456, "campaign_id": "c-1", "unique_id": "u-2", "date": "20200101T12:00:00"}') - 'recorded';
SELECT msisdn, product_id, active, service_name, keyword FROM gateway.subscriptions;

------------------------------------------------------------------------
-- USSD (VasPro "Receive USSD Requests"): a two-level menu.  Handlers run
-- as gateway.listen_role (gw_listener in the test configuration), whoever
-- calls gw_ingest.
------------------------------------------------------------------------
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gw_listener') THEN
        CREATE ROLE gw_listener NOLOGIN;
    END IF;
END $$;
CREATE FUNCTION public.ussd_menu(msisdn text, session_id text, input text, service_code text)
RETURNS text LANGUAGE sql AS $$
    SELECT CASE input
        WHEN '' THEN E'CON Karibu\n1. Balance\n2. Exit'
        WHEN '1' THEN 'END Your balance is KES 100'
        ELSE 'END Kwaheri' END
$$;
CREATE FUNCTION public.ussd_broken(msisdn text, session_id text, input text, service_code text)
RETURNS text LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'menu table is missing'; END $$;
SELECT gw_account_update('inb', options => '{"sender_id": "GATEWAY", "ussd_handler": "public.ussd_menu"}');
SELECT gw_ingest('inb', 'ussd', '{"tokenKey": "vp-token-1", "msisdn": "0712345678", "sessionID": "S1",
    "expiryPeriod": "20190101", "input": "", "accessPoint": "*664*1114#"}')->>'reply';
SELECT gw_ingest('inb', 'ussd', '{"tokenKey": "vp-token-1", "msisdn": "0712345678", "sessionID": "S1",
    "expiryPeriod": "20190101", "input": "1", "accessPoint": "*664*1114#"}') - 'recorded';
SELECT gw_account_update('inb', options => '{"sender_id": "GATEWAY", "ussd_handler": "public.ussd_broken"}');
SELECT gw_ingest('inb', 'ussd', '{"tokenKey": "vp-token-1", "msisdn": "0712345678", "sessionID": "S2",
    "expiryPeriod": "20190101", "input": "", "accessPoint": "*664*1114#"}') - 'recorded';
SELECT note FROM gateway.inbound ORDER BY id DESC LIMIT 1;
SELECT gw_account_update('inb', options => '{"sender_id": "GATEWAY", "ussd_handler": "public.nothing"}');
SELECT gw_ingest('inb', 'ussd', '{"msisdn": "0712345678", "sessionID": "S3", "input": "",
    "accessPoint": "*664*1114#"}') - 'recorded';

------------------------------------------------------------------------
-- A handler cannot climb.  The owner sets a handler that makes a role a
-- superuser; a superuser ingests a USSD session with it: the handler runs as
-- gw_listener in a security-restricted operation, and nobody climbs.
------------------------------------------------------------------------
CREATE ROLE ussd_climber NOLOGIN;
CREATE FUNCTION public.ussd_climb(msisdn text, session_id text, input text, service_code text)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE 'ALTER ROLE ussd_climber SUPERUSER';
    EXECUTE format('ALTER ROLE %I SUPERUSER', current_user);
    RETURN 'END climbed';
END $$;
ALTER FUNCTION public.ussd_climb(text, text, text, text) OWNER TO ussd_climber;
-- the same as SECURITY DEFINER: it runs as its owner, who may not either
CREATE FUNCTION public.ussd_climb_definer(msisdn text, session_id text, input text, service_code text)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    EXECUTE 'ALTER ROLE ussd_climber SUPERUSER';
    RETURN 'END climbed';
END $$;
ALTER FUNCTION public.ussd_climb_definer(text, text, text, text) OWNER TO ussd_climber;
SELECT rolsuper AS caller_is_superuser FROM pg_roles WHERE rolname = current_user;
SELECT gw_account_update('inb', options => '{"sender_id": "GATEWAY", "ussd_handler": "public.ussd_climb"}');
SELECT gw_ingest('inb', 'ussd', '{"msisdn": "0712345678", "sessionID": "S4", "input": ""}')->>'reply';
SELECT note LIKE 'the ussd_handler failed: %' AS handler_failed FROM gateway.inbound ORDER BY id DESC LIMIT 1;
SELECT gw_account_update('inb', options => '{"sender_id": "GATEWAY", "ussd_handler": "public.ussd_climb_definer"}');
SELECT gw_ingest('inb', 'ussd', '{"msisdn": "0712345678", "sessionID": "S5", "input": ""}')->>'reply';
SELECT note LIKE 'the ussd_handler failed: %' AS handler_failed FROM gateway.inbound ORDER BY id DESC LIMIT 1;
SELECT rolname, rolsuper FROM pg_roles WHERE rolname IN ('ussd_climber', 'gw_listener') ORDER BY 1;

-- What a handler sets, even for the session, ends with it; it sees its own
-- pinned search_path and runs as gw_listener.
CREATE FUNCTION public.ussd_setter(msisdn text, session_id text, input text, service_code text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    seen text := format('CON leak=%s path=%s user=%s',
                        coalesce(nullif(current_setting('gwtest.leak', true), ''), 'none'),
                        current_setting('search_path'), current_user);
BEGIN
    PERFORM set_config('gwtest.leak', 'set by a handler', false);
    PERFORM set_config('search_path', 'public', false);
    PERFORM set_config('work_mem', '77MB', false);
    RETURN seen;
END $$;
SELECT gw_account_update('inb', options => '{"sender_id": "GATEWAY", "ussd_handler": "public.ussd_setter"}');
SET search_path = public, pg_catalog;
SELECT gw_ingest('inb', 'ussd', '{"msisdn": "0712345678", "sessionID": "S6", "input": ""}')->>'reply';
SELECT gw_ingest('inb', 'ussd', '{"msisdn": "0712345678", "sessionID": "S6", "input": "1"}')->>'reply';
SELECT coalesce(nullif(current_setting('gwtest.leak', true), ''), 'none') AS leak,
       current_setting('search_path') AS search_path, current_setting('work_mem') AS work_mem;
RESET search_path;

-- A handler past the caller's deadline is cancelled, not apologised for.
CREATE FUNCTION public.ussd_slow(msisdn text, session_id text, input text, service_code text)
RETURNS text LANGUAGE sql AS $$ SELECT pg_sleep(5); SELECT 'END late'::text $$;
SELECT gw_account_update('inb', options => '{"sender_id": "GATEWAY", "ussd_handler": "public.ussd_slow"}');
SELECT count(*) AS inbound_before FROM gateway.inbound \gset
SET statement_timeout = '200ms';
SELECT gw_ingest('inb', 'ussd', '{"msisdn": "0712345678", "sessionID": "S7", "input": ""}')->>'reply';
RESET statement_timeout;
SELECT count(*) = :inbound_before AS nothing_recorded FROM gateway.inbound;

-- No fit role, no handler: gw_listener may create roles
ALTER ROLE gw_listener CREATEROLE;
SELECT gw_account_update('inb', options => '{"sender_id": "GATEWAY", "ussd_handler": "public.ussd_menu"}');
SELECT gw_ingest('inb', 'ussd', '{"msisdn": "0712345678", "sessionID": "S8", "input": ""}')->>'reply';
SELECT note FROM gateway.inbound ORDER BY id DESC LIMIT 1;
ALTER ROLE gw_listener NOCREATEROLE;
SELECT gw_ingest('inb', 'ussd', '{"msisdn": "0712345678", "sessionID": "S8", "input": ""}')->>'reply';
DROP FUNCTION public.ussd_climb(text, text, text, text), public.ussd_climb_definer(text, text, text, text),
    public.ussd_setter(text, text, text, text), public.ussd_slow(text, text, text, text);
DROP ROLE ussd_climber;

------------------------------------------------------------------------
-- NOTIFY gateway_inbound at commit, payload the inbound id: a second
-- session listens and ingests
------------------------------------------------------------------------
CREATE TEMP TABLE notes (line text);
DO $$
BEGIN
    EXECUTE format('COPY notes FROM PROGRAM %L',
        format('psql -X -q -t -A -h %s -p %s -d %s -U postgres -c "LISTEN gateway_inbound" -c %s',
               split_part(current_setting('unix_socket_directories'), ',', 1),
               current_setting('port'), current_database(),
               $q$'SELECT gw_ingest($a$inb$a$, $a$mo$a$, $a${"msisdn": "254712000008", "message": "hi"}$a$)->>$a$recorded$a$'$q$));
END
$$;
SELECT regexp_replace(line, '[0-9]+', 'N', 'g') AS line FROM notes;
SELECT count(DISTINCT line) = 1 AS same_id
  FROM (SELECT substring(line FROM '[0-9]+') AS line FROM notes WHERE line ~ 'payload') a,
       (SELECT line AS l2 FROM notes WHERE line ~ '^[0-9]+$') b WHERE a.line = b.l2;

SELECT kind, count(*) FROM gateway.inbound GROUP BY kind ORDER BY kind;

-- Privileges: the listener's role may ingest and nothing else
CREATE ROLE inbound_listener;
SELECT gw_grant_listener('inbound_listener');
SET ROLE inbound_listener;
SELECT gateway.ingest_text('inb', 'mo', '{"msisdn": "254712000009", "message": "hello"}') - 'recorded';
SELECT expect_error($$SELECT gw_send_sms('inb', '0712000009', 'x')$$);
SELECT expect_error($$SELECT * FROM gateway.inbound$$);
RESET ROLE;
SELECT gw_revoke('inbound_listener');
DROP ROLE inbound_listener;
