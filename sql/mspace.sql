-- MSpace end to end: every operation, its documented answers and failures,
-- the encoding of values in URL path segments, caller mistakes, and the
-- password (which travels in the URL) kept out of every result and error.
\set VERBOSITY default
SELECT mock.reset();

-- Every result of this file is kept, to be searched for credentials at the end.
CREATE TEMP TABLE ms_results (id serial, label text, r jsonb);
CREATE FUNCTION pg_temp.ms(label text, account text, op text, params jsonb DEFAULT '{}')
RETURNS jsonb LANGUAGE sql AS $$
    INSERT INTO ms_results (label, r) VALUES (label, gw_call(account, op, params)) RETURNING r
$$;
-- Percent-decoding of what the mock received (UTF-8).
CREATE FUNCTION pg_temp.pct_decode(s text) RETURNS text LANGUAGE sql AS $$
    SELECT convert_from(coalesce(string_agg(CASE WHEN m[1] IS NOT NULL
                                                 THEN decode(substr(m[1], 2), 'hex')
                                                 ELSE convert_to(m[2], 'UTF8') END,
                                            ''::bytea ORDER BY n), ''::bytea), 'UTF8')
      FROM regexp_matches(s, '(%[0-9A-Fa-f]{2})|([^%]+)', 'g') WITH ORDINALITY AS t(m, n)
$$;

-- MSpace has no public address: base_url is required
SELECT expect_error($$SELECT gw_account_create('ms_nourl', 'mspace', '{"username": "u", "password": "p"}')$$);
SELECT gw_account_create('ms', 'mspace', '{"username": "msuser", "password": "S3cr3t/p@ss%1"}',
                         mock.url('mspace') || '/mspaceservice/wr/sms/', '{"sender_id": "MSPACE"}');

-- account.balance: "50" → {"balance": 50}; credentials percent-encoded in the path
SELECT r - 'elapsed_ms' FROM gw_balance('ms') r;
SELECT m->>'method' AS method, m->>'path' AS path, m->>'query' AS query, m->>'body' AS body
  FROM mock.last() m;
SELECT pg_temp.pct_decode(substring(m->>'path' from '/password=([^/]*)$')) = 'S3cr3t/p@ss%1' AS password_intact
  FROM mock.last() m;
SELECT r - 'elapsed_ms' FROM pg_temp.ms('balance', 'ms', 'account.balance') r;

-- sms.send: the document's segments in order, messageId as provider_ref
SELECT r - 'elapsed_ms' - 'data' - 'provider_ref' AS result,
       r->>'provider_ref' = r->'data'->'messages'->0->>'messageId' AS ref_is_message_id,
       r->'data'->'messages'->0->>'status' AS msg_status,
       jsonb_array_length(r->'data'->'messages') AS messages
  FROM gw_send_sms('ms', '0712 345 678', 'Karibu!') r;
SELECT m->>'method' AS method,
       regexp_replace(m->>'path', 'password=[^/]*', 'password=<pw>') AS path
  FROM mock.last() m;
-- the sender id argument wins over the account option
SELECT (pg_temp.ms('send', 'ms', 'sms.send', '{"recipient": "+254722000111", "message": "Habari", "sender_id": "SHOP"}'))->>'status';
SELECT substring(m->>'path' from '/senderid=([^/]*)/') AS senderid,
       substring(m->>'path' from '/recipient=([^/]*)/') AS recipient
  FROM mock.last() m;

-- a message with spaces, '/', '%', '?', '#', '+', '&', '=', Swahili and an
-- emoji arrives intact: encoded in one path segment, decoded by the mock
SELECT r->>'ok' AS ok, r->>'status' AS status
  FROM pg_temp.ms('send-utf8', 'ms', 'sms.send',
                  jsonb_build_object('recipient', '0712345678', 'message',
                  'Habari za asubuhi! Bei ni 100% / KSh 50? #ofa 1+1 & x=y, karibu sana 🎉 Ñ')) r;
SELECT m->>'query' AS query, m->>'path' ~ '[ ?#+&]' AS has_raw_reserved,
       substring(m->>'path' from '/message=([^/]*)$') AS message_segment
  FROM mock.last() m;
SELECT pg_temp.pct_decode(substring(m->>'path' from '/message=([^/]*)$'))
       = 'Habari za asubuhi! Bei ni 100% / KSh 50? #ofa 1+1 & x=y, karibu sana 🎉 Ñ' AS decoded_intact
  FROM mock.last() m;
SELECT line::jsonb->>'message' = 'Habari za asubuhi! Bei ni 100% / KSh 50? #ofa 1+1 & x=y, karibu sana 🎉 Ñ' AS mock_got_it,
       line::jsonb->>'recipient' AS recipient, line::jsonb->>'sender' AS sender
  FROM mock.curl('{mock}/_mock/messages?provider=mspace') AS line
 ORDER BY (line::jsonb->>'id')::int DESC LIMIT 1;

-- account.subusers and account.reseller_clients: JSON arrays
SELECT r - 'elapsed_ms' FROM pg_temp.ms('subusers', 'ms', 'account.subusers') r;
SELECT regexp_replace(m->>'path', 'password=[^/]*', 'password=<pw>') AS path FROM mock.last() m;
SELECT r - 'elapsed_ms' FROM pg_temp.ms('clients', 'ms', 'account.reseller_clients') r;
SELECT regexp_replace(m->>'path', 'password=[^/]*', 'password=<pw>') AS path FROM mock.last() m;
SELECT gw_account_create('ms_nosubs', 'mspace', '{"username": "nosubs", "password": "pass-nosubs"}',
                         mock.url('mspace') || '/mspaceservice/wr/sms');
SELECT r->>'status' AS status, r->'data' AS data FROM pg_temp.ms('subusers-none', 'ms_nosubs', 'account.subusers') r;
SELECT r->>'status' AS status, r->'data' AS data FROM pg_temp.ms('clients-none', 'ms_nosubs', 'account.reseller_clients') r;

-- account.reseller_topup and account.subaccount_topup
SELECT r - 'elapsed_ms' FROM pg_temp.ms('reseller-topup', 'ms', 'account.reseller_topup', '{"client_name": "client one", "sms_count": 500}') r;
SELECT regexp_replace(m->>'path', 'password=[^/]*', 'password=<pw>') AS path FROM mock.last() m;
SELECT r - 'elapsed_ms' FROM pg_temp.ms('subaccount-topup', 'ms', 'account.subaccount_topup', '{"subaccount_name": "subuser1", "sms_count": "25"}') r;
SELECT regexp_replace(m->>'path', 'password=[^/]*', 'password=<pw>') AS path FROM mock.last() m;

-- account.login
SELECT r - 'elapsed_ms' FROM pg_temp.ms('login', 'ms', 'account.login') r;
SELECT regexp_replace(m->>'path', 'password=[^/]*', 'password=<pw>') AS path FROM mock.last() m;

-- Documented failures.  Authentication failure: rejected, for every operation
SELECT gw_account_create('ms_wrong', 'mspace', '{"username": "msuser", "password": "wrong"}',
                         mock.url('mspace') || '/mspaceservice/wr/sms');
SELECT o.op, r->>'ok' AS ok, r->>'status' AS status, r->>'retryable' AS retryable,
       r->>'error' AS error, r->'data' AS data
  FROM (VALUES (1, 'account.balance', '{}'::jsonb),
               (2, 'sms.send', '{"recipient": "0712345678", "message": "hi", "sender_id": "X"}'),
               (3, 'account.subusers', '{}'),
               (4, 'account.reseller_clients', '{}'),
               (5, 'account.reseller_topup', '{"client_name": "client1", "sms_count": 5}'),
               (6, 'account.subaccount_topup', '{"subaccount_name": "subuser1", "sms_count": 5}'),
               (7, 'account.login', '{}')) AS o(n, op, params),
       LATERAL pg_temp.ms('auth-' || o.op, 'ms_wrong', o.op, o.params) r
 ORDER BY o.n;
-- Insufficient Balance: rejected
SELECT gw_account_create('ms_low', 'mspace', '{"username": "lowbalance", "password": "pass-low"}',
                         mock.url('mspace') || '/mspaceservice/wr/sms', '{"sender_id": "LOW"}');
SELECT r - 'elapsed_ms' FROM pg_temp.ms('low-send', 'ms_low', 'sms.send', '{"recipient": "0712345678", "message": "hi"}') r;
SELECT r - 'elapsed_ms' FROM pg_temp.ms('low-topup', 'ms_low', 'account.reseller_topup', '{"client_name": "client1", "sms_count": 5}') r;
SELECT r->>'status' AS status, r->'data' AS data FROM pg_temp.ms('low-balance', 'ms_low', 'account.balance') r;
-- Invalid sender ID: rejected
SELECT r - 'elapsed_ms' FROM pg_temp.ms('bad-sender', 'ms', 'sms.send', '{"recipient": "0712345678", "message": "hi", "sender_id": "INVALID"}') r;
-- not Authorized (not a reseller): rejected
SELECT gw_account_create('ms_notres', 'mspace', '{"username": "notreseller", "password": "pass-notres"}',
                         mock.url('mspace') || '/mspaceservice/wr/sms');
SELECT r - 'elapsed_ms' FROM pg_temp.ms('notauth', 'ms_notres', 'account.reseller_topup', '{"client_name": "client1", "sms_count": 5}') r;
SELECT r->>'status' AS status, r->>'error' AS error FROM pg_temp.ms('notauth-sub', 'ms_notres', 'account.subaccount_topup', '{"subaccount_name": "subuser1", "sms_count": 5}') r;
-- top-ups that failed: failed, and never retryable (a top-up moves credit)
SELECT r - 'elapsed_ms' FROM pg_temp.ms('topup-failed', 'ms', 'account.reseller_topup', '{"client_name": "unknown", "sms_count": 5}') r;
SELECT r->>'status' AS status, r->>'retryable' AS retryable, r->>'error' AS error
  FROM pg_temp.ms('topup-not-successful', 'ms', 'account.subaccount_topup', '{"subaccount_name": "notsuccessful", "sms_count": 5}') r;
SELECT r->>'status' AS status, r->>'retryable' AS retryable, r->>'error' AS error
  FROM pg_temp.ms('topup-no-deduct', 'ms', 'account.subaccount_topup', '{"subaccount_name": "nodeduct", "sms_count": 5}') r;
-- internal service error: like an HTTP 5xx, failed and retryable for a
-- message, unknown (to be checked by hand) for a top-up
SELECT gw_account_create('ms_internal', 'mspace', '{"username": "internalerror", "password": "pass-internal"}',
                         mock.url('mspace') || '/mspaceservice/wr/sms', '{"sender_id": "MSPACE"}');
SELECT r - 'elapsed_ms' FROM pg_temp.ms('internal-send', 'ms_internal', 'sms.send', '{"recipient": "0712345678", "message": "hi"}') r;
SELECT r->>'status' AS status, r->>'retryable' AS retryable, r->>'error' AS error
  FROM pg_temp.ms('internal-topup', 'ms_internal', 'account.reseller_topup', '{"client_name": "client1", "sms_count": 5}') r;
SELECT r->>'status' AS status, r->>'retryable' AS retryable, r->>'error' AS error
  FROM pg_temp.ms('internal-balance', 'ms_internal', 'account.balance') r;

-- answers MSpace does not give: outcome unknown
SELECT mock.fault('{"status": 200, "body": "about 50", "content_type": "text/plain"}');
SELECT r - 'elapsed_ms' FROM pg_temp.ms('balance-garbled', 'ms', 'account.balance') r;
SELECT mock.fault('{"status": 200, "body": "[]"}');
SELECT r - 'elapsed_ms' FROM pg_temp.ms('send-empty', 'ms', 'sms.send', '{"recipient": "0712345678", "message": "hi"}') r;
SELECT mock.fault('{"status": 200, "body": "[{\"messageId\": \"77\", \"status\": \"failed\"}]"}');
SELECT r - 'elapsed_ms' FROM pg_temp.ms('send-status-failed', 'ms', 'sms.send', '{"recipient": "0712345678", "message": "hi"}') r;
SELECT mock.fault('{"status": 200, "body": "", "content_type": "text/plain"}');
SELECT r - 'elapsed_ms' FROM pg_temp.ms('topup-empty', 'ms', 'account.reseller_topup', '{"client_name": "client1", "sms_count": 5}') r;
-- a balance as a quoted string, with a thousands separator, is still read
SELECT mock.fault('{"status": 200, "body": "\"1,250\"\n", "content_type": "text/plain"}');
SELECT r->>'status' AS status, r->'data' AS data FROM pg_temp.ms('balance-quoted', 'ms', 'account.balance') r;
-- HTTP failures: result.c's rules; the answer is kept as data, never as the error
SELECT mock.fault('{"status": 503, "body": "Service Unavailable", "content_type": "text/plain"}');
SELECT r - 'elapsed_ms' FROM pg_temp.ms('send-503', 'ms', 'sms.send', '{"recipient": "0712345678", "message": "hi"}') r;
SELECT mock.fault('{"status": 500}');
SELECT r - 'elapsed_ms' FROM pg_temp.ms('topup-500', 'ms', 'account.reseller_topup', '{"client_name": "client1", "sms_count": 5}') r;
-- a top-up whose connection drops: sent once, on a fresh connection; unknown
SELECT mock.reset();
SELECT mock.fault('{"action": "drop"}');
SELECT r - 'elapsed_ms' FROM pg_temp.ms('topup-drop', 'ms', 'account.subaccount_topup', '{"subaccount_name": "subuser1", "sms_count": 5}') r;
SELECT count(*) AS attempts FROM mock.requests();

-- The password travels in the URL: it must never come back.  An application
-- server's 404 page echoes the path as sent (percent-encoded) ...
SELECT gw_account_create('ms_lost', 'mspace', '{"username": "msuser", "password": "S3cr3t/p@ss%1"}',
                         mock.url('mspace') || '/mspaceservice/wr/sms/v2');
SELECT r - 'elapsed_ms' FROM pg_temp.ms('lost-404', 'ms_lost', 'account.balance') r;
SELECT m->>'path' LIKE '%/password=S3cr3t%2Fp%40ss%251%' AS mock_got_password FROM mock.last() m;
-- ... and a crash page echoes it decoded, into the error
SELECT gw_account_create('ms_crash', 'mspace', '{"username": "crash", "password": "S3cr3t/p@ss%1"}',
                         mock.url('mspace') || '/mspaceservice/wr/sms', '{"sender_id": "MSPACE"}');
SELECT r - 'elapsed_ms' FROM pg_temp.ms('crash-500', 'ms_crash', 'sms.send', '{"recipient": "0712345678", "message": "hi"}') r;
-- ... and a 200 answer that quotes it back, also in an escaping of its own
SELECT mock.fault('{"status": 200, "body": "Error 100: Authentication Failure for msuser/S3cr3t/p@ss%1 (S3cr3t%2Fp%40ss%251) at /login/username=msuser/password=S3cr3t%2fp%40ss%251", "content_type": "text/plain"}');
SELECT r - 'elapsed_ms' FROM pg_temp.ms('echo-200', 'ms', 'account.login') r;
-- a password too short for the account-wide masking is masked after "password=" too
SELECT gw_account_create('ms_short', 'mspace', '{"username": "shortpw", "password": "abc"}',
                         mock.url('mspace') || '/mspaceservice/wr/sms/v2');
SELECT r->>'status' AS status, r->>'error' AS error,
       substring(r->'data'->>'text' from 'password=[^<]*') AS echoed
  FROM pg_temp.ms('short-404', 'ms_short', 'account.login') r;
-- no result and no error of this file holds a credential, raw or encoded
SELECT count(*) AS results,
       count(*) FILTER (WHERE r::text LIKE '%S3cr3t%' OR r::text LIKE '%p@ss%'
                           OR r::text LIKE '%p\%40ss%' OR r->>'error' LIKE '%S3cr3t%'
                           OR r::text LIKE '%msuser%' OR r::text LIKE '%password=abc%') AS leaking
  FROM ms_results;
-- nor does the server log
SELECT position('S3cr3t' in pg_read_file(pg_current_logfile())) = 0 AS log_clean;

-- caller mistakes: ERROR with SQLSTATE, message and hint; nothing is sent
SELECT mock.reset();
SELECT gw_account_create('ms_nosender', 'mspace', '{"username": "msuser", "password": "S3cr3t/p@ss%1"}',
                         mock.url('mspace') || '/mspaceservice/wr/sms');
SELECT expect_error($$SELECT gw_send_sms('ms_nosender', '0712345678', 'hi')$$);
SELECT expect_error($$SELECT gw_call('ms', 'sms.send', '{"message": "hi"}')$$);
SELECT expect_error($$SELECT gw_call('ms', 'sms.send', '{"recipient": "0712345678"}')$$);
SELECT expect_error($$SELECT gw_call('ms', 'sms.send', '{"recipient": "0712345678", "message": "hi", "unique_id": "x"}')$$);
SELECT expect_error($$SELECT gw_send_sms('ms', '0712345678', '  ')$$);
SELECT expect_error($$SELECT gw_send_sms('ms', '0712345678', 'hi', 'TWELVE_CHARS')$$);
SELECT expect_error($$SELECT gw_send_sms('ms', '07123', 'hi')$$);
SELECT expect_error($$SELECT gw_call('ms', 'account.balance', '{"password": "x"}')$$);
SELECT expect_error($$SELECT gw_call('ms', 'account.reseller_topup', '{"sms_count": 5}')$$);
SELECT expect_error($$SELECT gw_call('ms', 'account.reseller_topup', '{"client_name": "c", "sms_count": "many"}')$$);
SELECT expect_error($$SELECT gw_call('ms', 'account.subaccount_topup', '{"subaccount_name": "s", "sms_count": 0}')$$);
SELECT expect_error($$SELECT gw_call('ms', 'account.subaccount_topup', '{"subaccount_name": "s", "sms_count": -5}')$$);
SELECT expect_error($$SELECT gw_call('ms', 'account.subaccount_topup', '{"subaccount_name": " ", "sms_count": 5}')$$);
SELECT expect_error($$SELECT gw_call('ms', 'account.topup', '{}')$$);
SELECT expect_error($$SELECT gw_stk_push('ms', '0712345678', 10)$$);
SELECT count(*) AS requests_sent FROM mock.requests();

-- operations are listed with their params
SELECT provider, operation, method, path, required, optional, payment
  FROM gw_operations() WHERE provider = 'mspace' ORDER BY operation;

SELECT gw_account_drop(a) FROM unnest(ARRAY['ms', 'ms_nosubs', 'ms_wrong', 'ms_low', 'ms_notres',
       'ms_internal', 'ms_lost', 'ms_crash', 'ms_short', 'ms_nosender']) a;
