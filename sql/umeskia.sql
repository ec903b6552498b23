-- Umeskia end to end: every operation through gw_call() and the shortcuts,
-- what the mock received, the answers' codes, network failures, caller
-- mistakes.
\set VERBOSITY default
SELECT mock.reset();
SELECT gw_account_create('ums', 'umeskia', '{"api_key": "ums-key-0001", "email": "ops@example.com"}',
                         mock.url('umeskia'), '{"account_id": "UMPAY123456789"}');

-- sms.send: the result shape, and what Umeskia received (credentials in the
-- JSON body, Sender_Id with the document's capitals, the portal's default)
SELECT r - 'elapsed_ms' - 'data' - 'provider_ref' AS result,
       r->>'provider_ref' = r->'data'->>'request_id' AS ref_is_request_id,
       r->'data'->>'massage' AS massage
  FROM gw_send_sms('ums', '0712 345 678', 'Karibu UMS!') AS r;
SELECT m->>'method' AS method, m->>'path' AS path,
       m->'headers'->>'content-type' AS content_type,
       m->'headers'->>'authorization' AS authorization,
       m->'json' AS body
  FROM mock.last() m;
-- the sender id: argument, else the account option
SELECT (gw_send_sms('ums', '+254712345678', 'hi', 'SHOP'))->>'status';
SELECT m->'json'->>'Sender_Id' AS sender_id, m->'json'->>'phone' AS phone FROM mock.last() m;
SELECT gw_account_update('ums', NULL, NULL, '{"account_id": "UMPAY123456789", "sender_id": "UMSDUKA"}');
SELECT (gw_call('ums', 'sms.send', '{"recipient": "0722000111", "message": "Habari"}'))->>'status';
SELECT m->'json'->>'Sender_Id' AS sender_id FROM mock.last() m;
-- refusals: low balance (402), a sender id Umeskia does not know (400)
SELECT gw_account_create('ums_broke', 'umeskia', '{"api_key": "lowbalance", "email": "ops@example.com"}',
                         mock.url('umeskia'));
SELECT r - 'elapsed_ms' FROM gw_send_sms('ums_broke', '0712345678', 'hi') r;
SELECT r - 'elapsed_ms' FROM gw_send_sms('ums', '0712345678', 'hi', 'INVALID') r;
-- a wrong key or email (401)
SELECT gw_account_create('ums_wrong', 'umeskia', '{"api_key": "wrong", "email": "ops@example.com"}',
                         mock.url('umeskia'));
SELECT r - 'elapsed_ms' FROM gw_send_sms('ums_wrong', '0712345678', 'hi') r;
-- a refusal inside a 200 answer, and answers that cannot be read
SELECT mock.fault('{"prefix": "/umeskia/api/v1/sms", "status": 200, "body": {"success": "400", "massage": "Invalid phone number."}}');
SELECT r - 'elapsed_ms' FROM gw_send_sms('ums', '0712345678', 'hi') r;
SELECT mock.fault('{"prefix": "/umeskia/api/v1/sms", "status": 200, "body": {"massage": "Message sent sucessfully."}}');
SELECT r - 'elapsed_ms' FROM gw_send_sms('ums', '0712345678', 'hi') r;
SELECT mock.fault('{"prefix": "/umeskia/api/v1/sms", "action": "malformed"}');
SELECT r - 'elapsed_ms' FROM gw_send_sms('ums', '0712345678', 'hi') r;
-- 500 and 503: failed, worth retrying for a message
SELECT mock.fault('{"prefix": "/umeskia/api/v1/sms", "status": 500}');
SELECT r - 'elapsed_ms' FROM gw_send_sms('ums', '0712345678', 'hi') r;
SELECT mock.fault('{"prefix": "/umeskia/api/v1/sms", "status": 503, "body": "busy", "content_type": "text/plain"}');
SELECT r - 'elapsed_ms' FROM gw_send_sms('ums', '0712345678', 'hi') r;

-- sms.status (smsdelivery) by the request_id the send returned
SELECT r->>'provider_ref' AS sms_ref FROM gw_send_sms('ums', '0712345678', 'Delivered soon') r \gset
SELECT r - 'elapsed_ms' - 'data' - 'provider_ref' AS result,
       r->>'provider_ref' = :'sms_ref' AS same_ref,
       (r->'data') - '{request_id,submitted_time,send_time}'::text[] AS data
  FROM gw_call('ums', 'sms.status', jsonb_build_object('request_id', :'sms_ref')) r;
SELECT m->>'path' AS path, (m->'json') - 'request_id'::text AS body,
       m->'json'->>'request_id' = :'sms_ref' AS asked_by_ref
  FROM mock.last() m;
-- a message still pending, and one that failed
SELECT v.phone, s->>'ok' AS ok, s->>'status' AS status, s->>'retryable' AS retryable, s->>'error' AS error
  FROM (VALUES ('0799000001'), ('0799000002')) v(phone),
       LATERAL gw_send_sms('ums', v.phone, 'hi') p,
       LATERAL gw_call('ums', 'sms.status', jsonb_build_object('request_id', p->>'provider_ref')) s;
-- an unknown request_id (404), an unknown word, no status at all
SELECT r - 'elapsed_ms' FROM gw_call('ums', 'sms.status', '{"request_id": "8400000000000000000"}') r;
SELECT mock.fault('{"prefix": "/umeskia/api/v1/smsdelivery", "status": 200, "body": {"ResultCode": "200", "request_id": "1", "status": "Teleported"}}');
SELECT r - 'elapsed_ms' FROM gw_call('ums', 'sms.status', '{"request_id": "1"}') r;
SELECT mock.fault('{"prefix": "/umeskia/api/v1/smsdelivery", "status": 200, "body": {"ResultCode": "200", "request_id": "1"}}');
SELECT r - 'elapsed_ms' FROM gw_call('ums', 'sms.status', '{"request_id": "1"}') r;

-- account.balance (smsbalance) through gw_balance()
SELECT r - 'elapsed_ms' FROM gw_balance('ums') r;
SELECT m->>'method' AS method, m->>'path' AS path, m->'json' AS body FROM mock.last() m;
SELECT r->>'status' AS status, r->'data'->'creditBalance' AS credit FROM gw_call('ums_broke', 'account.balance') r;
SELECT r - 'elapsed_ms' FROM gw_balance('ums_wrong') r;
SELECT mock.fault('{"prefix": "/umeskia/api/v1/smsbalance", "status": 200, "body": {"success": "200"}}');
SELECT r - 'elapsed_ms' FROM gw_balance('ums') r;

-- payment.stk_push (intiatestk) through gw_stk_push(): account_id from the
-- option, the amount in whole shillings as a string like the document's,
-- the reference (the idempotency key), no description field
SELECT mock.reset();
SELECT r - 'elapsed_ms' - 'data' - 'provider_ref' AS result,
       r->>'provider_ref' = r->'data'->>'tranasaction_request_id' AS ref_is_transaction_id,
       r->>'provider_ref' ~ '^UMSPID[0-9]+$' AS ref_shape
  FROM gw_stk_push('ums', '0712 345 678', 100.00, 'INV-42', 'Order 42') r;
SELECT m->>'method' AS method, m->>'path' AS path,
       m->'headers'->>'content-type' AS content_type, m->'json' AS body
  FROM mock.last() m;
-- account_id as a param wins; reference is optional
SELECT (gw_call('ums', 'payment.stk_push', '{"phone": "254712345678", "amount": "1e1", "account_id": "UMPAY999"}'))->>'status';
SELECT (m->'json') - '{api_key,email}'::text[] AS body FROM mock.last() m;
-- a refusal (400 from the mock for an amount it cannot take)
SELECT mock.fault('{"prefix": "/umeskia/api/v1/intiatestk", "status": 400, "body": {"ResultCode": "400", "errorMessage": "amount must be a positive number"}}');
SELECT r - 'elapsed_ms' FROM gw_stk_push('ums', '0712345678', 10) r;
-- an answer in the shape of the document's dumps carries a result code
SELECT mock.fault('{"prefix": "/umeskia/api/v1/intiatestk", "status": 200, "body": {"ResponseCode": 1032, "ResponseDescription": "Request cancelled by user", "TransactionID": "UMSPID1"}}');
SELECT r - 'elapsed_ms' - 'data' FROM gw_stk_push('ums', '0712345678', 10) r;
SELECT mock.fault('{"prefix": "/umeskia/api/v1/intiatestk", "status": 200, "body": {"ResponseCode": 1037, "ResponseDescription": "DS timeout user cannot be reached", "TransactionID": "UMSPID2"}}');
SELECT r - 'elapsed_ms' - 'data' FROM gw_stk_push('ums', '0712345678', 10) r;
SELECT mock.fault('{"prefix": "/umeskia/api/v1/intiatestk", "status": 200, "body": {"ResponseCode": 0, "ResponseDescription": "Success. Request accepted for processing", "TransactionID": "UMSPID3"}}');
SELECT r - 'elapsed_ms' - 'data' FROM gw_stk_push('ums', '0712345678', 10) r;
SELECT mock.fault('{"prefix": "/umeskia/api/v1/intiatestk", "status": 200, "body": {"ResponseCode": 0, "TransactionID": "UMSPID4", "TransactionReceipt": "QBI3DNNHWP"}}');
SELECT r - 'elapsed_ms' - 'data' FROM gw_stk_push('ums', '0712345678', 10) r;
-- paid only when it adds up: with the amount and phone asked for, paid
SELECT mock.fault('{"prefix": "/umeskia/api/v1/intiatestk", "status": 200, "body": {"ResponseCode": 0, "TransactionID": "UMSPID5", "TransactionReceipt": "QBI3DNNHWQ", "TransactionAmount": 10, "Msisdn": "254712345678"}}');
SELECT r - 'elapsed_ms' - 'data' FROM gw_stk_push('ums', '0712345678', 10) r;
SELECT status, match_key, last_error FROM gateway.outbox WHERE match_key IN ('UMSPID4', 'UMSPID5') ORDER BY id;
-- a payment whose outcome is not known is never retryable: 500, malformed, dropped
SELECT mock.fault('{"prefix": "/umeskia/api/v1/intiatestk", "status": 500}');
SELECT r - 'elapsed_ms' FROM gw_stk_push('ums', '0712345678', 10) r;
SELECT mock.fault('{"prefix": "/umeskia/api/v1/intiatestk", "status": 200, "body": {"massage": "Request sent sucessfully."}}');
SELECT r - 'elapsed_ms' FROM gw_stk_push('ums', '0712345678', 10) r;
SELECT mock.reset();
SELECT mock.fault('{"prefix": "/umeskia/api/v1/intiatestk", "action": "drop"}');
SELECT r - 'elapsed_ms' FROM gw_stk_push('ums', '0712345678', 10) r;
SELECT count(*) AS attempts FROM mock.requests();

-- payment.status (transactionstatus) by Umeskia's transaction id, sent as
-- the document spells it: every UMS Pay result code
SELECT r->>'provider_ref' AS stk_ref FROM gw_stk_push('ums', '0712345678', 10, 'INV-43') r \gset
SELECT r - 'elapsed_ms' - 'data' - 'provider_ref' AS result,
       r->>'provider_ref' = :'stk_ref' AS same_ref,
       r->'data'->>'TransactionStatus' AS tx_status, r->'data'->>'TransactionCode' AS tx_code,
       r->'data'->>'TransactionReference' AS reference
  FROM gw_call('ums', 'payment.status', jsonb_build_object('transaction_id', :'stk_ref')) r;
SELECT m->>'path' AS path, (m->'json') - 'tranasaction_request_id'::text AS body,
       m->'json'->>'tranasaction_request_id' = :'stk_ref' AS asked_by_transaction_id
  FROM mock.last() m;
SELECT v.phone, s->>'ok' AS ok, s->>'status' AS status, s->>'retryable' AS retryable,
       s->'data'->>'TransactionCode' AS code, s->>'error' AS error
  FROM (VALUES ('0700000001'), ('0700001032'), ('0700001037'), ('0700001025'), ('0700009999'),
               ('0700002001'), ('0700001019'), ('0700001001'), ('0700000099')) v(phone),
       LATERAL gw_stk_push('ums', v.phone, 10) p,
       LATERAL gw_call('ums', 'payment.status', jsonb_build_object('transaction_id', p->>'provider_ref')) s;
-- an unknown transaction (404); Cancelled; Failed without a code; a code
-- alone; an unknown code; an unknown status; neither
SELECT r - 'elapsed_ms' FROM gw_call('ums', 'payment.status', '{"transaction_id": "UMSPID000"}') r;
SELECT mock.fault('{"prefix": "/umeskia/api/v1/transactionstatus", "status": 200, "body": {"ResultCode": "200", "TransactionID": "UMSPID9", "TransactionStatus": "Cancelled", "TransactionCode": "1032"}}');
SELECT r - 'elapsed_ms' - 'data' FROM gw_call('ums', 'payment.status', '{"transaction_id": "UMSPID9"}') r;
SELECT mock.fault('{"prefix": "/umeskia/api/v1/transactionstatus", "status": 200, "body": {"ResultCode": "200", "TransactionStatus": "Failed", "TransactionCode": ""}}');
SELECT r - 'elapsed_ms' - 'data' FROM gw_call('ums', 'payment.status', '{"transaction_id": "UMSPID9"}') r;
SELECT mock.fault('{"prefix": "/umeskia/api/v1/transactionstatus", "status": 200, "body": {"ResultCode": "200", "TransactionCode": "1001"}}');
SELECT r - 'elapsed_ms' - 'data' FROM gw_call('ums', 'payment.status', '{"transaction_id": "UMSPID9"}') r;
SELECT mock.fault('{"prefix": "/umeskia/api/v1/transactionstatus", "status": 200, "body": {"ResultCode": "200", "TransactionStatus": "Failed", "TransactionCode": "4242", "ResultDesc": "Something else"}}');
SELECT r - 'elapsed_ms' - 'data' FROM gw_call('ums', 'payment.status', '{"transaction_id": "UMSPID9"}') r;
SELECT mock.fault('{"prefix": "/umeskia/api/v1/transactionstatus", "status": 200, "body": {"ResultCode": "200", "TransactionStatus": "Reversed"}}');
SELECT r - 'elapsed_ms' - 'data' FROM gw_call('ums', 'payment.status', '{"transaction_id": "UMSPID9"}') r;
SELECT mock.fault('{"prefix": "/umeskia/api/v1/transactionstatus", "status": 200, "body": {"ResultCode": "200"}}');
SELECT r - 'elapsed_ms' - 'data' FROM gw_call('ums', 'payment.status', '{"transaction_id": "UMSPID9"}') r;

-- isp.hotspot_plans (isp/hostspotplans, as the document spells it)
SELECT r - 'elapsed_ms' - 'data' AS result,
       r->'data'->'stationData'->>'stationId' AS station,
       jsonb_array_length(r->'data'->'stationData'->'stationPackages') AS plans,
       r->'data'->'stationData'->'stationPackages'->0->>'planCode' AS first_plan
  FROM gw_call('ums', 'isp.hotspot_plans', '{"station_id": "UMS26595527"}') r;
SELECT m->>'path' AS path, m->'json' AS body FROM mock.last() m;

-- isp.register_voucher (isp/registervoucher): plan_code and voucher_code
SELECT r - 'elapsed_ms' FROM gw_call('ums', 'isp.register_voucher', '{"plan_code": "U77434129", "voucher_code": "GHOT"}') r;
SELECT m->>'path' AS path, m->'json' AS body FROM mock.last() m;
-- the same voucher again (409), an unknown plan (404)
SELECT r - 'elapsed_ms' FROM gw_call('ums', 'isp.register_voucher', '{"plan_code": "U77434129", "voucher_code": "GHOT"}') r;
SELECT r - 'elapsed_ms' FROM gw_call('ums', 'isp.register_voucher', '{"plan_code": "U00000000", "voucher_code": "NEW1"}') r;

-- credentials never come back, even when the provider echoes them
SELECT mock.fault('{"prefix": "/umeskia/api/v1/sms", "status": 400, "body": {"ResultCode": "400", "errorMessage": "bad key ums-key-0001 for ops@example.com"}}');
SELECT r->>'error' AS error, r::text LIKE '%ums-key-0001%' OR r::text LIKE '%ops@example.com%' AS leaked
  FROM gw_send_sms('ums', '0712345678', 'hi') r;

-- caller mistakes: ERROR with SQLSTATE, message and hint; nothing is sent
SELECT mock.reset();
SELECT expect_error($$SELECT gw_call('ums', 'sms.bulk', '{}')$$);
SELECT expect_error($$SELECT gw_call('ums', 'sms.send', '{"message": "hi"}')$$);
SELECT expect_error($$SELECT gw_send_sms('ums', '0712345678', ' ')$$);
SELECT expect_error($$SELECT gw_send_sms('ums', '0712345678', 'hi', 'TWELVE_CHARS')$$);
SELECT expect_error($$SELECT gw_send_sms('ums', '07123', 'hi')$$);
SELECT expect_error($$SELECT gw_call('ums', 'sms.send', '{"recipient": "0712345678", "message": "hi", "callback_url": "https://example.com"}')$$);
SELECT expect_error($$SELECT gw_call('ums', 'sms.status', '{}')$$);
SELECT expect_error($$SELECT gw_call('ums', 'account.balance', '{"currency": "KES"}')$$);
SELECT expect_error($$SELECT gw_stk_push('ums', '0712345678', 10.50)$$);
SELECT expect_error($$SELECT gw_stk_push('ums', '0712345678', 0)$$);
SELECT expect_error($$SELECT gw_stk_push('ums', 'pay me', 10)$$);
SELECT expect_error($$SELECT gw_stk_push('ums_broke', '0712345678', 10)$$);
SELECT expect_error($$SELECT gw_call('ums', 'payment.stk_push', '{"phone": "0712345678", "amount": 10, "callback_url": "https://example.com"}')$$);
SELECT expect_error($$SELECT gw_call('ums', 'payment.status', '{"tranasaction_request_id": "UMSPID1"}')$$);
SELECT expect_error($$SELECT gw_call('ums', 'isp.hotspot_plans', '{}')$$);
SELECT expect_error($$SELECT gw_call('ums', 'isp.register_voucher', '{"plan_code": "U77434129"}')$$);
SELECT expect_error($$SELECT gw_call('ums', 'isp.register_voucher', '{"plan_code": "U77434129", "voucher_code": ""}')$$);
SELECT count(*) AS requests_sent FROM mock.requests();

-- operations are listed with their params
SELECT provider, operation, method, path, required, optional, payment
  FROM gw_operations() WHERE provider = 'umeskia' ORDER BY operation;

SELECT gw_account_drop('ums_broke');
SELECT gw_account_drop('ums_wrong');
