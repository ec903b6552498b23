-- VasPro end to end: sms.send and sms.bulk through gw_call() and
-- gw_send_sms(), every documented code, network failures, caller mistakes.
\set VERBOSITY default
SELECT mock.reset();

-- sms.send: the result shape, and what VasPro received
SELECT r - 'elapsed_ms' - 'data' - 'provider_ref' AS result,
       jsonb_typeof(r->'provider_ref') = 'string' AS has_ref,
       (r->>'elapsed_ms')::numeric >= 0 AS timed,
       r->'data'->>'code' AS code
  FROM gw_send_sms('acme', '0712 345 678', 'Karibu ACME!') AS r;
SELECT m->>'method' AS method, m->>'path' AS path,
       m->'headers'->>'content-type' AS content_type,
       (m->'json') - 'callbackURL' AS body,
       m->'json'->>'callbackURL' = gw_callback_url('acme', 'dlr') AS listener_callback
  FROM mock.last() m;

-- the sender id argument wins over the account option
SELECT (gw_send_sms('acme', '+254712345678', 'hi', 'PROMO'))->>'status';
SELECT m->'json'->>'shortCode' AS short_code, m->'json'->>'recipient' AS recipient FROM mock.last() m;

-- gw_call with every param of sms.send
SELECT r->>'ok' AS ok, r->>'status' AS status, r->>'http_status' AS http
  FROM gw_call('acme', 'sms.send', '{"recipient": "254700000001", "message": "Habari", "sender_id": "SHOP", "callback_url": "https://example.com/dlr", "enqueue": 0}') r;
SELECT m->'json' AS body FROM mock.last() m;

-- sms.bulk: recipients as array or list, uniqueId, scheduling
SELECT r->>'ok' AS ok, r->>'status' AS status, r->>'http_status' AS http,
       r->>'provider_ref' = r->'data'->'data'->>'correlator' AS ref_is_correlator
  FROM gw_call('acme', 'sms.bulk', '{"recipients": ["0712345678", "0722 000 111"], "message": "Sale today", "unique_id": "bulk-001"}') r;
SELECT m->>'path' AS path, (m->'json') - 'apiKey'::text - 'callbackURL' AS body,
       m->'json'->>'callbackURL' = gw_callback_url('acme', 'dlr') AS listener_callback
  FROM mock.last() m;
SELECT r->>'ok' AS ok, r->>'status' AS status
  FROM gw_call('acme', 'sms.bulk', '{"recipients": "0712345678,0733000111", "message": "Tomorrow", "unique_id": "bulk-002", "schedule_date": "2026-12-01", "schedule_time": "08:30"}') r;
SELECT m->'json'->'isScheduled' AS is_scheduled, m->'json'->>'scheduleDate' AS date,
       m->'json'->>'scheduleTime' AS time, m->'json'->'contacts' AS contacts FROM mock.last() m;
-- without unique_id, one is generated
SELECT (gw_call('acme', 'sms.bulk', '{"recipients": "0712345678", "message": "x"}'))->>'status';
SELECT m->'json'->>'uniqueId' ~ '^gw[0-9a-f]{20}$' AS generated FROM mock.last() m;

-- 202: the same uniqueId again is a duplicate, accepted once
SELECT r->>'ok' AS ok, r->>'status' AS status, r->>'http_status' AS http
  FROM gw_call('acme', 'sms.bulk', '{"recipients": ["0712345678", "0722000111"], "message": "Sale today", "unique_id": "bulk-001"}') r;

-- 402: low balance
SELECT gw_account_create('broke', 'vaspro', '{"api_key": "lowbalance"}', mock.url('vaspro'));
SELECT r - 'elapsed_ms' - 'data' FROM gw_send_sms('broke', '0712345678', 'hi') r;
-- 420: sender id not configured
SELECT r - 'elapsed_ms' - 'data' FROM gw_send_sms('acme', '0712345678', 'hi', 'NOTCONFIG') r;
-- 404: wrong base URL path
SELECT gw_account_create('lost', 'vaspro', '{"api_key": "lost-key-001"}', mock.url('vaspro') || '/v0');
SELECT r - 'elapsed_ms' - 'data' FROM gw_send_sms('lost', '0712345678', 'hi') r;
-- 400 and 422 as VasPro sends them
SELECT mock.fault('{"status": 400, "body": "{\"code\":\"Error\",\"statusDescription\":\"Bad Request\"}"}');
SELECT r - 'elapsed_ms' FROM gw_send_sms('acme', '0712345678', 'hi') r;
SELECT mock.fault('{"status": 422, "body": "{\"code\":\"Error\",\"statusDescription\":\"Validation Error: message is required\"}"}');
SELECT r - 'elapsed_ms' FROM gw_send_sms('acme', '0712345678', 'hi') r;
-- 500 and 503: failed, worth retrying
SELECT mock.fault('{"status": 500}');
SELECT r - 'elapsed_ms' FROM gw_send_sms('acme', '0712345678', 'hi') r;
SELECT mock.fault('{"status": 503, "body": "busy", "content_type": "text/plain"}');
SELECT r - 'elapsed_ms' FROM gw_send_sms('acme', '0712345678', 'hi') r;
-- a malformed JSON answer: outcome unknown
SELECT mock.fault('{"action": "malformed"}');
SELECT r - 'elapsed_ms' FROM gw_send_sms('acme', '0712345678', 'hi') r;
-- A connection dropped after the request was sent.  On a reused keep-alive
-- connection libcurl resends a message once on a fresh connection (the
-- request may have died with a stale connection); dropped twice, the outcome
-- is unknown, and not retryable: sms.send carries no idempotency key.
SELECT mock.reset();
SELECT mock.fault('{"action": "drop", "count": 2}');
SELECT r - 'elapsed_ms' FROM gw_send_sms('acme', '0712345678', 'hi') r;
SELECT count(*) AS attempts FROM mock.requests();
-- A payment is never resent by anyone: it goes on a fresh connection, and a
-- drop leaves its outcome unknown and not retryable, to be reconciled.
SELECT mock.reset();
SELECT gw_account_update('acme', NULL, NULL, '{"sender_id": "ACME", "paybill": "789789"}');
SELECT (gw_stk_push('acme', '0712345678', 10))->>'status';
SELECT mock.reset();
SELECT mock.fault('{"action": "drop"}');
SELECT r - 'elapsed_ms' FROM gw_stk_push('acme', '0712345678', 10) r;
SELECT count(*) AS attempts FROM mock.requests();

-- a timeout: the backend survives, ok false, unknown, not retryable (no key)
SET gateway.request_timeout = '300ms';
SELECT mock.fault('{"action": "delay", "delay_ms": 2000}');
SELECT r - 'elapsed_ms' AS result, (r->>'elapsed_ms')::numeric BETWEEN 250 AND 1500 AS on_time
  FROM gw_send_sms('acme', '0712345678', 'hi') r;
RESET gateway.request_timeout;
-- an answer above gateway.max_response_size is cut off: outcome unknown
SET gateway.max_response_size = '1kB';
SELECT mock.fault(jsonb_build_object('status', 200, 'body',
       '{"code":"Success","padding":"' || repeat('x', 4000) || '"}'));
SELECT r - 'elapsed_ms' FROM gw_send_sms('acme', '0712345678', 'hi') r;
RESET gateway.max_response_size;
-- a refused connection
SELECT gw_account_create('closed', 'vaspro', '{"api_key": "closed-key-01"}', 'http://127.0.0.1:1');
SELECT r - 'elapsed_ms' FROM gw_send_sms('closed', '0712345678', 'hi') r;
-- statement_timeout interrupts a slow provider, and the next call works
SELECT mock.fault('{"action": "delay", "delay_ms": 3000}');
SET statement_timeout = '300ms';
SELECT gw_send_sms('acme', '0712345678', 'hi');
RESET statement_timeout;
SELECT (gw_send_sms('acme', '0712345678', 'after the cancel'))->>'status';
SELECT m->'json'->>'message' AS message FROM mock.last() m;

-- caller mistakes: ERROR with SQLSTATE, message and hint; nothing is sent
SELECT mock.reset();
SELECT expect_error($$SELECT gw_send_sms('nosuch', '0712345678', 'hi')$$);
SELECT expect_error($$SELECT gw_call('acme', 'sms.fly', '{}')$$);
SELECT expect_error($$SELECT gw_call('acme', 'sms.send', '{"message": "hi"}')$$);
SELECT expect_error($$SELECT gw_call('acme', 'sms.send', '{"recipient": "0712345678", "message": "hi", "colour": "red"}')$$);
SELECT expect_error($$SELECT gw_call('acme', 'sms.send', '["recipient"]')$$);
SELECT expect_error($$SELECT gw_send_sms('acme', '0712345678', '')$$);
SELECT expect_error($$SELECT gw_send_sms('acme', '0712345678', '   ')$$);
SELECT expect_error($$SELECT gw_send_sms('acme', '0712345678', 'hi', 'TWELVE_CHARS')$$);
SELECT expect_error($$SELECT gw_send_sms('acme', '07123', 'hi')$$);
SELECT expect_error($$SELECT gw_send_sms('acme', 'call me', 'hi')$$);
SELECT expect_error($$SELECT gw_send_sms('acme', NULL, 'hi')$$);
SELECT expect_error($$SELECT gw_call('acme', 'sms.bulk', '{"recipients": [], "message": "x"}')$$);
SELECT expect_error($$SELECT gw_call('acme', 'sms.bulk', '{"recipients": "0712345678", "message": "x", "schedule_date": "2026-12-01"}')$$);
SELECT expect_error($$SELECT gw_balance('acme')$$);
SELECT count(*) AS requests_sent FROM mock.requests();

-- operations are listed with their params
SELECT provider, operation, method, path, required, optional, payment
  FROM gw_operations() WHERE provider = 'vaspro' ORDER BY operation;
