-- VasPro operations beyond sms.send/bulk/premium and STK push: nested SMS,
-- subscriptions (token auth), contacts, rewards.  Each operation's success,
-- what the mock received, the documented refusals and the caller mistakes.
\set VERBOSITY default
SELECT mock.reset();
SELECT gw_account_create('vp', 'vaspro', '{"api_key": "vp-ops-key-01"}', mock.url('vaspro'),
                         '{"sender_id": "VPOPS"}');

-- What the mock received last: method, path, body.
CREATE FUNCTION vp_last(OUT method text, OUT path text, OUT body jsonb)
LANGUAGE sql AS $$ SELECT m->>'method', m->>'path', m->'json' FROM mock.last() m $$;

------------------------------------------------------------------------
-- sms.nested: messageData entries spelt as the document spells them
------------------------------------------------------------------------
SELECT r - 'elapsed_ms' - 'data' - 'provider_ref' AS result,
       r->>'provider_ref' = r->'data'->'data'->>'correlator' AS ref_is_correlator,
       jsonb_array_length(r->'data'->'data'->'messages') AS messages
  FROM gw_call('vp', 'sms.nested', '{"unique_id": "nest-1", "callback_url": "https://example.com/dlr",
       "messages": [{"recipient": "0712 345 678", "message": "Hi Amina", "unique_id": "amina-1"},
                    {"recipient": "+254722000111", "message": "Hi Baraka"}]}') r;
SELECT * FROM vp_last();
-- the sender id param wins; enqueue 0 goes through; no unique_id: one is
-- generated, and each entry without one gets it with its position
SELECT (gw_call('vp', 'sms.nested', '{"sender_id": "SHOP", "enqueue": 0,
       "messages": [{"recipient": "0733000111", "message": "One"}, {"recipient": "0733000222", "message": "Two"}]}'))->>'status';
SELECT body->>'shortCode' AS short_code, body->'enqueue' AS enqueue,
       body->>'uniqueId' ~ '^gw[0-9a-f]{20}$' AS generated,
       body->'messageData'->0->>'uniqueId' = body->>'uniqueId' || '-1' AS first_id,
       body->'messageData'->1->>'uniqueId' = body->>'uniqueId' || '-2' AS second_id
  FROM vp_last();
-- 420: a sender id VasPro has not configured
SELECT r - 'elapsed_ms' - 'data' FROM gw_call('vp', 'sms.nested',
       '{"sender_id": "NOTCONFIG", "messages": [{"recipient": "0712345678", "message": "x"}]}') r;

------------------------------------------------------------------------
-- subscriptions: "token" instead of "apiKey"
------------------------------------------------------------------------
SELECT r - 'elapsed_ms' - 'provider_ref' #- '{data,data,correlator}' AS result,
       r->>'provider_ref' = r->'data'->'data'->>'correlator' AS ref_is_correlator
  FROM gw_call('vp', 'subscription.initiate', '{"phone": "0712345678", "product_id": 123456}') r;
SELECT * FROM vp_last();
SELECT r->>'status' AS status, r->'data'->'data' AS products
  FROM gw_call('vp', 'subscription.products', '{"short_code": "22555", "product_id": 123457, "limit": 5, "offset": 0}') r;
SELECT * FROM vp_last();
SELECT (gw_call('vp', 'subscription.products', '{"short_code": "22555", "service_name": "Mock Daily Tips", "stop_keyword": "STOP123456", "mt_cost": "10.00", "limit": 1}'))->'data'->'data' AS products;
SELECT body - 'token' AS body FROM vp_last();
-- broadcast: origin API_MT, unique_id generated, sent now
SELECT r->>'ok' AS ok, r->>'status' AS status, r->'data'->'data'->>'campaign_id' ~ '^CMP' AS campaign
  FROM gw_call('vp', 'subscription.broadcast', '{"message": "Tip of the day", "product_id": "123456", "campaign_name": "tips"}') r;
SELECT body - 'unique_id' - 'callback_url' AS body, body->>'unique_id' ~ '^gw[0-9a-f]{20}$' AS generated,
       body->>'callback_url' = gw_callback_url('vp', 'dlr') AS listener_callback FROM vp_last();
-- broadcast scheduled, with retries and a callback
SELECT (gw_call('vp', 'subscription.broadcast', '{"message": "Tomorrow", "product_id": "123456", "campaign_name": "tips-2",
       "unique_id": "bc-1", "schedule_date": "2026-12-01", "schedule_time": "08:30", "retries": 2,
       "callback_url": "https://example.com/sub-dlr"}'))->>'status';
SELECT body - 'token' AS body FROM vp_last();
SELECT r - 'elapsed_ms' AS result
  FROM gw_call('vp', 'subscription.delete', '{"phone": "254712345678", "product_id": 123456}') r;
SELECT * FROM vp_last();
-- 402 for the token as for the apiKey
SELECT gw_account_create('vpbroke', 'vaspro', '{"api_key": "lowbalance"}', mock.url('vaspro'));
SELECT r - 'elapsed_ms' - 'data' FROM gw_call('vpbroke', 'subscription.initiate', '{"phone": "0712345678", "product_id": 1}') r;
-- "code": "Error" with HTTP 200: refused
SELECT mock.fault('{"status": 200, "body": "{\"code\":\"Error\",\"statusDescription\":\"Product not found\"}"}');
SELECT r - 'elapsed_ms' FROM gw_call('vp', 'subscription.delete', '{"phone": "0712345678", "product_id": 99}') r;

------------------------------------------------------------------------
-- contacts
------------------------------------------------------------------------
SELECT r->>'status' AS status, r->'data'->'data' AS data FROM gw_call('vp', 'contacts.groups') r;
SELECT * FROM vp_last();
SELECT r->'data'->'data' AS data FROM gw_call('vp', 'contacts.groups', '{"unique_id": 77, "limit": 1}') r;
SELECT body FROM vp_last();
SELECT r->>'status' AS status, jsonb_typeof(r->'data'->'data'->'contact_id') IN ('number', 'string') AS has_id
  FROM gw_call('vp', 'contacts.add', '{"phone": "0712 345 678", "group_id": 1, "unique_id": 501,
       "custom_field1": "Amina Wanjiru", "custom_tag": "vip"}') r;
SELECT * FROM vp_last();
SELECT r->>'status' AS status, r->'data'->'data' AS data
  FROM gw_call('vp', 'contacts.edit', '{"contact_id": 42, "phone": "0712345678", "group_id": 2, "unique_id": "501",
       "custom_field1": "Amina W.", "custom_field2": "Nairobi", "custom_field3": "a", "custom_field4": "b", "custom_field5": "c"}') r;
SELECT * FROM vp_last();

------------------------------------------------------------------------
-- rewards: airtime, electricity and bulk move money
------------------------------------------------------------------------
SELECT r - 'elapsed_ms' - 'data' - 'provider_ref' AS result,
       r->>'provider_ref' = r->'data'->'data'->>'correlator' AS ref_is_correlator
  FROM gw_call('vp', 'rewards.airtime', '{"phone": "0712345678", "amount": 50, "unique_id": "air-1"}') r;
SELECT * FROM vp_last();
-- the same unique_id again: 202 duplicate, accepted, nothing paid twice
SELECT r - 'elapsed_ms' - 'data' - 'provider_ref' AS result FROM gw_call('vp', 'rewards.airtime', '{"phone": "0712345678", "amount": 50, "unique_id": "air-1"}') r;
-- 202 is a duplicate whatever the body's code says
SELECT mock.fault('{"status": 202, "body": "{\"code\":\"Error\",\"statusDescription\":\"Duplicated Request\"}"}');
SELECT r - 'elapsed_ms' FROM gw_call('vp', 'rewards.airtime', '{"phone": "0712345678", "amount": 50, "unique_id": "air-1"}') r;
-- without unique_id one is generated; 20.00 is a whole amount
SELECT (gw_call('vp', 'rewards.airtime', '{"phone": "0712345678", "amount": "20.00"}'))->>'status';
SELECT body->>'amount' AS amount, body->>'unique_id' ~ '^gw[0-9a-f]{20}$' AS generated FROM vp_last();
-- electricity: account_type 1 by default, callback
SELECT r - 'elapsed_ms' - 'data' - 'provider_ref' AS result, r->'data'->'data'->>'token' ~ '^\d{4}(-\d{4}){4}$' AS token
  FROM gw_call('vp', 'rewards.electricity', '{"phone": "0712345678", "amount": 200, "bill_reference": "14256789012",
       "unique_id": "kplc-1", "callback_url": "https://example.com/kplc"}') r;
SELECT * FROM vp_last();
SELECT (gw_call('vp', 'rewards.electricity', '{"phone": "0712345678", "amount": 200, "bill_reference": "14256789012", "unique_id": "kplc-2", "account_type": 1}'))->>'status';
SELECT body->'account_type' AS account_type, body->>'callback' = gw_callback_url('vp', 'payment') AS listener_callback FROM vp_last();
-- postpaid is documented as unavailable: 404
SELECT r - 'elapsed_ms' - 'data' FROM gw_call('vp', 'rewards.electricity', '{"phone": "0712345678", "amount": 200, "bill_reference": "2000111", "unique_id": "kplc-3", "account_type": 2}') r;
-- bulk: utilityID, enqueue 1, payload entries phone/account/uniqueId/amount
SELECT r - 'elapsed_ms' - 'data' - 'provider_ref' AS result, r->'data'->'data'->>'count' AS count
  FROM gw_call('vp', 'rewards.bulk', '{"utility_id": 4, "unique_id": "bulk-air-1",
       "rewards": [{"phone": "0712345678", "amount": 20, "unique_id": "b-1"}, {"phone": "0722 000 111", "amount": "30"}]}') r;
SELECT * FROM vp_last();
SELECT (gw_call('vp', 'rewards.bulk', '{"utility_id": 6, "unique_id": "bulk-kplc-1",
       "rewards": [{"phone": "0712345678", "amount": 500, "account": "14256789012"}]}'))->>'status';
SELECT body - 'apiKey' AS body FROM vp_last();
SELECT r - 'elapsed_ms' - 'data' FROM gw_call('vp', 'rewards.bulk', '{"utility_id": 7, "unique_id": "bulk-kplc-2",
       "rewards": [{"phone": "0712345678", "amount": 500, "account": "2000111"}]}') r;
SELECT (gw_call('vp', 'rewards.bulk', '{"utility_id": 4, "unique_id": "bulk-air-1",
       "rewards": [{"phone": "0712345678", "amount": 20}]}'))->>'http_status' AS duplicate;
-- transactions: enqueue 1 and a unique_id always
SELECT r->>'status' AS status,
       (SELECT array_agg(t->>'type' ORDER BY t->>'type') FROM jsonb_array_elements(r->'data'->'data'->'transactions') t) AS types
  FROM gw_call('vp', 'rewards.transactions') r;
SELECT body - 'unique_id' AS body, body->>'unique_id' ~ '^gw[0-9a-f]{20}$' AS generated FROM vp_last();
SELECT (gw_call('vp', 'rewards.transactions', '{"unique_id": "view-1"}'))->'data'->'data'->>'unique_id';

-- payments' failures: 402 refused; 500, a drop and a timeout leave the
-- outcome unknown and never retryable; a payment is sent once
SELECT r - 'elapsed_ms' - 'data' FROM gw_call('vpbroke', 'rewards.airtime', '{"phone": "0712345678", "amount": 5}') r;
SELECT mock.fault('{"status": 500}');
SELECT r - 'elapsed_ms' FROM gw_call('vp', 'rewards.electricity', '{"phone": "0712345678", "amount": 200, "bill_reference": "1425", "unique_id": "kplc-9"}') r;
SELECT mock.reset();
SELECT mock.fault('{"action": "drop"}');
SELECT r - 'elapsed_ms' FROM gw_call('vp', 'rewards.bulk', '{"utility_id": 4, "rewards": [{"phone": "0712345678", "amount": 5}]}') r;
SELECT count(*) AS attempts FROM mock.requests();
SET gateway.request_timeout = '300ms';
SELECT mock.fault('{"action": "delay", "delay_ms": 2000}');
SELECT r - 'elapsed_ms' FROM gw_call('vp', 'rewards.airtime', '{"phone": "0712345678", "amount": 5}') r;
RESET gateway.request_timeout;
SELECT mock.fault('{"status": 503, "body": "busy", "content_type": "text/plain"}');
SELECT r - 'elapsed_ms' FROM gw_call('vp', 'rewards.airtime', '{"phone": "0712345678", "amount": 5}') r;
SELECT mock.fault('{"status": 422, "body": "{\"code\":\"Error\",\"statusDescription\":\"Validation Error: amount is required\"}"}');
SELECT r - 'elapsed_ms' FROM gw_call('vp', 'rewards.airtime', '{"phone": "0712345678", "amount": 5}') r;
-- STK push amounts are whole too
SELECT (gw_call('vp', 'payment.stk_push', '{"phone": "0712345678", "amount": 100.00, "paybill": "789789"}'))->>'status';
SELECT body->'amount' AS amount FROM vp_last();

------------------------------------------------------------------------
-- caller mistakes: ERROR with SQLSTATE, message and hint; nothing is sent
------------------------------------------------------------------------
SELECT mock.reset();
SELECT expect_error($$SELECT gw_call('vp', 'sms.nested', '{}')$$);
SELECT expect_error($$SELECT gw_call('vp', 'sms.nested', '{"messages": "0712345678"}')$$);
SELECT expect_error($$SELECT gw_call('vp', 'sms.nested', '{"messages": []}')$$);
SELECT expect_error($$SELECT gw_call('vp', 'sms.nested', '{"messages": ["0712345678"]}')$$);
SELECT expect_error($$SELECT gw_call('vp', 'sms.nested', '{"messages": [{"recepient": "0712345678", "message": "x"}]}')$$);
SELECT expect_error($$SELECT gw_call('vp', 'sms.nested', '{"messages": [{"recipient": "0712345678"}]}')$$);
SELECT expect_error($$SELECT gw_call('vp', 'sms.nested', '{"messages": [{"recipient": "0712345678", "message": "  "}]}')$$);
SELECT expect_error($$SELECT gw_call('vp', 'sms.nested', '{"messages": [{"recipient": "0712345678", "message": {"text": "x"}}]}')$$);
SELECT expect_error($$SELECT gw_call('vp', 'sms.nested', '{"messages": [{"recipient": "0712345678", "message": "x"}], "enqueue": 2}')$$);
SELECT expect_error($$SELECT gw_call('vp', 'sms.send', '{"recipient": "0712345678", "message": "x", "enqueue": "yes"}')$$);
SELECT expect_error($$SELECT gw_call('vp', 'sms.bulk', '{"recipients": "0712345678", "message": "x", "enqueue": -1}')$$);
-- an invalid number in an entry says which entry
SELECT gw_call('vp', 'sms.nested', '{"messages": [{"recipient": "0712345678", "message": "x"}, {"recipient": "07123", "message": "y"}]}');
SELECT expect_error($$SELECT gw_call('vp', 'subscription.initiate', '{"phone": "0712345678"}')$$);
SELECT expect_error($$SELECT gw_call('vp', 'subscription.initiate', '{"phone": "0712345678", "product_id": "tips"}')$$);
SELECT expect_error($$SELECT gw_call('vp', 'subscription.products', '{}')$$);
SELECT expect_error($$SELECT gw_call('vp', 'subscription.broadcast', '{"message": "x", "product_id": "1"}')$$);
SELECT expect_error($$SELECT gw_call('vp', 'subscription.broadcast', '{"message": "x", "product_id": "1", "campaign_name": "c", "schedule_time": "08:30"}')$$);
SELECT expect_error($$SELECT gw_call('vp', 'contacts.add', '{"phone": "0712345678", "group_id": 1}')$$);
SELECT expect_error($$SELECT gw_call('vp', 'contacts.edit', '{"phone": "0712345678", "group_id": 1, "unique_id": 5}')$$);
SELECT expect_error($$SELECT gw_call('vp', 'rewards.airtime', '{"phone": "0712345678", "amount": 5.5}')$$);
SELECT expect_error($$SELECT gw_call('vp', 'rewards.airtime', '{"phone": "0712345678", "amount": 0}')$$);
SELECT expect_error($$SELECT gw_call('vp', 'rewards.electricity', '{"phone": "0712345678", "amount": 100, "bill_reference": "1425", "account_type": 3}')$$);
SELECT expect_error($$SELECT gw_call('vp', 'rewards.electricity', '{"phone": "0712345678", "amount": 100}')$$);
SELECT expect_error($$SELECT gw_call('vp', 'rewards.bulk', '{"utility_id": 9, "rewards": [{"phone": "0712345678", "amount": 5}]}')$$);
SELECT expect_error($$SELECT gw_call('vp', 'rewards.bulk', '{"rewards": [{"phone": "0712345678", "amount": 5}]}')$$);
SELECT expect_error($$SELECT gw_call('vp', 'rewards.bulk', '{"utility_id": 6, "rewards": [{"phone": "0712345678", "amount": 5}]}')$$);
SELECT expect_error($$SELECT gw_call('vp', 'rewards.bulk', '{"utility_id": 4, "rewards": [{"phone": "0712345678", "amount": 5}, {"phone": "0712345678", "amount": 2.5}]}')$$);
SELECT expect_error($$SELECT gw_call('vp', 'rewards.bulk', '{"utility_id": 4, "rewards": [{"phone": "0712345678", "amount": 5, "msisdn": "0712345678"}]}')$$);
SELECT expect_error($$SELECT gw_call('vp', 'rewards.bulk', '{"utility_id": 4, "rewards": {"phone": "0712345678", "amount": 5}}')$$);
SELECT expect_error($$SELECT gw_call('vp', 'rewards.transactions', '{"enqueue": 1}')$$);
SELECT expect_error($$SELECT gw_call('vp', 'payment.stk_push', '{"phone": "0712345678", "amount": 99.5, "paybill": "789789"}')$$);
SELECT count(*) AS requests_sent FROM mock.requests();

-- which operations move money
SELECT operation, payment FROM gw_operations()
 WHERE provider = 'vaspro' AND operation NOT LIKE 'sms.%' ORDER BY operation;

DROP FUNCTION vp_last();
SELECT gw_account_drop('vp');
SELECT gw_account_drop('vpbroke');
