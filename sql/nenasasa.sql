-- Nenasasa end to end: sms.send with its OAuth token (fetched once and
-- shared by calls and backends, refreshed before it expires, fetched anew
-- once on a 401, its failures as results), the send's answers, caller
-- mistakes, privileges, and tokens kept out of every result, table and log.
\set VERBOSITY default
SELECT mock.reset();

-- What Nenasasa received, oldest first: token calls by grant type, sends.
CREATE FUNCTION mock.nn_trace() RETURNS text
LANGUAGE sql AS $$
    SELECT coalesce(string_agg(CASE WHEN r->>'path' ~ '/token/?$'
                                    THEN 'token:' || ((r->>'body')::jsonb->>'grant_type')
                                    ELSE 'send' END,
                               ' ' ORDER BY (r->>'id')::int), '')
      FROM mock.requests() r
$$;
-- The lifetimes (seconds) of the tokens the mock hands out from now on.
CREATE FUNCTION mock.nn_ttl(token numeric, refresh numeric) RETURNS void
LANGUAGE sql AS $$
    SELECT count(*) FROM mock.curl(format('-X POST -d ''{"nenasasa_token_ttl": %s, "nenasasa_refresh_ttl": %s}'' {mock}/_mock/config',
                                          token, refresh))
$$;

SELECT gw_account_create('nn', 'nenasasa',
                         '{"client_id": "nn-client-01", "username": "nnuser", "password": "nn-pass-0001"}',
                         mock.url('nenasasa') || '/api/v1',
                         '{"sender_id": "NENA", "chid": "13"}');

-- sms.send: the result, the token call, then the send with its Bearer token
SELECT r - 'elapsed_ms' AS result FROM gw_send_sms('nn', '0712 345 678', 'Habari from Nenasasa') r;
SELECT mock.nn_trace();
SELECT m->>'method' AS method, m->>'path' AS path,
       m->'headers'->>'content-type' AS content_type,
       (m->>'body')::jsonb AS body
  FROM mock.requests() m WHERE m->>'path' LIKE '%/token';
SELECT m->>'method' AS method, m->>'path' AS path,
       m->'headers'->>'content-type' AS content_type,
       m->'headers'->>'authorization' ~ '^Bearer nsa_[A-Za-z0-9]+$' AS bearer,
       m->'json' AS body
  FROM mock.last() m;
-- the token is cached for the owner only, with its lifetime
SELECT account, access_token ~ '^nsa_' AS access, refresh_token ~ '^nsr_' AS refresh,
       expires_at - fetched_at AS lifetime, fetched_at <= now() + interval '1 second' AS fetched
  FROM gateway.account_token;
SELECT DISTINCT grantee::regrole AS holder
  FROM pg_class, aclexplode(relacl) WHERE oid = 'gateway.account_token'::regclass;

-- many sends, in one statement and in several: still that one token
SELECT count(*) AS accepted
  FROM generate_series(1, 5) g, gw_send_sms('nn', '0712345678', 'message ' || g) r
 WHERE r->>'status' = 'accepted';
SELECT (gw_call('nn', 'sms.send', '{"recipient": "0722000111", "message": "one more"}'))->>'status';
SELECT mock.nn_trace();
-- and in another backend
\c
\set VERBOSITY default
SELECT (gw_send_sms('nn', '0712345678', 'from another backend'))->>'status';
SELECT mock.nn_trace();

-- params: sender_id and chid given win over the account options
SELECT r->>'status' AS status, r->>'provider_ref' ~ '^[0-9]+$' AS has_ref
  FROM gw_call('nn', 'sms.send', '{"recipient": "+254 733 000 111", "message": "Asante", "sender_id": "PROMO", "chid": 27}') r;
SELECT m->'json' AS body FROM mock.last() m;
SELECT (gw_send_sms('nn', '0712345678', 'hi', 'SHOP'))->>'status';
SELECT m->'json'->>'alias' AS alias, m->'json'->>'chid' AS chid FROM mock.last() m;

-- a token the provider no longer knows (the mock forgot it): 401, one new
-- token with the password, the SMS sent again
SELECT mock.reset();
SELECT r->>'ok' AS ok, r->>'status' AS status, r->>'http_status' AS http
  FROM gw_send_sms('nn', '0712345678', 'after a 401') r;
SELECT mock.nn_trace();
-- a 401 the second time too: one token fetched, no loop, the 401 reported
SELECT mock.reset();
SELECT mock.fault('{"prefix": "/nenasasa/api/v1/sms/send", "status": 401, "count": 2, "body": "{\"detail\":\"Invalid token.\"}"}');
SELECT r - 'elapsed_ms' AS result FROM gw_send_sms('nn', '0712345678', 'refused twice') r;
SELECT mock.nn_trace();
SELECT (gw_send_sms('nn', '0712345678', 'and then fine'))->>'status';

-- an expired token: renewed with the refresh grant, which carries the
-- refresh token; the provider rotates it
SELECT mock.reset();
SELECT mock.nn_ttl(2, 36000);
DELETE FROM gateway.account_token;
SELECT (gw_send_sms('nn', '0712345678', 'short-lived token'))->>'status';
SELECT (gw_send_sms('nn', '0712345678', 'still fresh'))->>'status';
SELECT expires_at - fetched_at AS lifetime FROM gateway.account_token;
SELECT refresh_token AS old_refresh FROM gateway.account_token \gset
SELECT pg_sleep(2.2);
SELECT (gw_send_sms('nn', '0712345678', 'after expiry'))->>'status';
SELECT mock.nn_trace();
SELECT m.body->>'refresh_token' = :'old_refresh' AS sent_refresh_token,
       m.body ?& array['client_id', 'username', 'password', 'grant_type'] AS documented_fields
  FROM (SELECT (r->>'body')::jsonb AS body FROM mock.requests() r
         WHERE r->>'body' LIKE '%"refresh_token"%') m;
SELECT refresh_token <> :'old_refresh' AS rotated FROM gateway.account_token;
-- a refresh token the provider refuses (expired too): the password grant
SELECT mock.reset();
SELECT mock.nn_ttl(2, 2);
DELETE FROM gateway.account_token;
SELECT (gw_send_sms('nn', '0712345678', 'both short-lived'))->>'status';
SELECT pg_sleep(2.2);
SELECT (gw_send_sms('nn', '0712345678', 'after both expired'))->>'status';
SELECT mock.nn_trace();

-- renewed 60 s before it expires, not earlier
SELECT mock.reset();
SELECT mock.nn_ttl(36000, 36000);
DELETE FROM gateway.account_token;
SELECT (gw_send_sms('nn', '0712345678', 'a long-lived token'))->>'status';
UPDATE gateway.account_token SET fetched_at = now() - interval '10 hours',
                                 expires_at = now() + interval '90 seconds';
SELECT (gw_send_sms('nn', '0712345678', '90 s left'))->>'status';
SELECT mock.nn_trace();
UPDATE gateway.account_token SET fetched_at = now() - interval '10 hours',
                                 expires_at = now() + interval '30 seconds';
SELECT (gw_send_sms('nn', '0712345678', '30 s left'))->>'status';
SELECT mock.nn_trace();
-- renewing early fails: the old token still works until it expires
SELECT mock.reset();
DELETE FROM gateway.account_token;
SELECT (gw_send_sms('nn', '0712345678', 'a token'))->>'status';
UPDATE gateway.account_token SET fetched_at = now() - interval '10 hours',
                                 expires_at = now() + interval '30 seconds';
SELECT mock.fault('{"prefix": "/nenasasa/api/v1/token", "status": 503}');
SELECT r->>'ok' AS ok, r->>'status' AS status FROM gw_send_sms('nn', '0712345678', 'old token') r;
SELECT mock.nn_trace();

-- The token call fails: ok false, the SMS is not sent, the token call's
-- answer is the outcome.  A wrong password:
SELECT mock.reset();
SELECT gw_account_create('nn_badpass', 'nenasasa',
                         '{"client_id": "nn-client-01", "username": "nnuser", "password": "wrong"}',
                         mock.url('nenasasa') || '/api/v1', '{"sender_id": "NENA", "chid": "13"}');
SELECT r - 'elapsed_ms' AS result FROM gw_send_sms('nn_badpass', '0712345678', 'hi') r;
SELECT mock.nn_trace();
-- a wrong client id: 401 from /token, never taken for the send's 401
SELECT mock.reset();
SELECT gw_account_create('nn_badclient', 'nenasasa',
                         '{"client_id": "wrong", "username": "nnuser", "password": "nn-pass-0001"}',
                         mock.url('nenasasa') || '/api/v1', '{"sender_id": "NENA", "chid": "13"}');
SELECT r - 'elapsed_ms' AS result FROM gw_send_sms('nn_badclient', '0712345678', 'hi') r;
SELECT mock.nn_trace();
-- the token endpoint broken, busy, dropping, slow, unreachable: failed,
-- retryable (nothing was sent)
SELECT mock.reset();
DELETE FROM gateway.account_token;
SELECT mock.fault('{"prefix": "/nenasasa/api/v1/token", "status": 500}');
SELECT r - 'elapsed_ms' AS result FROM gw_send_sms('nn', '0712345678', 'hi') r;
SELECT mock.fault('{"prefix": "/nenasasa/api/v1/token", "status": 429, "body": "{\"detail\":\"Request was throttled.\"}"}');
SELECT r - 'elapsed_ms' - 'data' AS result FROM gw_send_sms('nn', '0712345678', 'hi') r;
SELECT mock.nn_trace();
-- (a dropped connection is resent once by libcurl: drop both)
SELECT mock.fault('{"prefix": "/nenasasa/api/v1/token", "action": "drop", "count": 2}');
SELECT r - 'elapsed_ms' AS result FROM gw_send_sms('nn', '0712345678', 'hi') r;
SELECT mock.reset();
SET gateway.request_timeout = '300ms';
SELECT mock.fault('{"prefix": "/nenasasa/api/v1/token", "action": "delay", "delay_ms": 2000}');
SELECT r - 'elapsed_ms' AS result FROM gw_send_sms('nn', '0712345678', 'hi') r;
RESET gateway.request_timeout;
SELECT mock.nn_trace();
SELECT gw_account_create('nn_closed', 'nenasasa',
                         '{"client_id": "nn-client-01", "username": "nnuser", "password": "nn-pass-0001"}',
                         'http://127.0.0.1:1/api/v1', '{"sender_id": "NENA", "chid": "13"}');
SELECT r - 'elapsed_ms' AS result FROM gw_send_sms('nn_closed', '0712345678', 'hi') r;
-- an answer without an access token: failed, and what it held is not shown
SELECT mock.reset();
SELECT mock.fault('{"prefix": "/nenasasa/api/v1/token", "status": 200, "body": "{\"token_type\":\"Bearer\",\"refresh_token\":\"nsr_not_for_you\"}"}');
SELECT r - 'elapsed_ms' AS result FROM gw_send_sms('nn', '0712345678', 'hi') r;
-- a 401 for the send, then the new token cannot be had
SELECT (gw_send_sms('nn', '0712345678', 'a token again'))->>'status';
SELECT mock.reset();
SELECT mock.fault('{"prefix": "/nenasasa/api/v1/sms/send", "status": 401, "body": "{\"detail\":\"Invalid token.\"}"}');
SELECT mock.fault('{"prefix": "/nenasasa/api/v1/token", "status": 400, "body": "{\"error\":\"invalid_grant\",\"error_description\":\"Account locked.\"}"}');
SELECT r - 'elapsed_ms' AS result FROM gw_send_sms('nn', '0712345678', 'hi') r;
SELECT mock.nn_trace();
SELECT count(*) AS messages_sent FROM mock.curl('{mock}/_mock/messages');

-- the send's own answers: a refusal in the body (low float), HTTP errors,
-- an answer that cannot be read
SELECT mock.reset();
SELECT gw_account_create('nn_broke', 'nenasasa',
                         '{"client_id": "nn-client-01", "username": "lowbalance", "password": "nn-pass-0001"}',
                         mock.url('nenasasa') || '/api/v1', '{"sender_id": "NENA", "chid": "13"}');
SELECT r - 'elapsed_ms' - 'data' AS result FROM gw_send_sms('nn_broke', '0712345678', 'hi') r;
SELECT mock.fault('{"prefix": "/nenasasa/api/v1/sms/send", "status": 200, "body": "{\"action_id\":1700,\"response_status\":\"00\",\"overall_status\":\"05\",\"last_response\":\"Notification not sent\"}"}');
SELECT r - 'elapsed_ms' - 'data' AS result FROM gw_send_sms('nn', '0712345678', 'hi') r;
SELECT mock.fault('{"prefix": "/nenasasa/api/v1/sms/send", "status": 400, "body": "{\"response\":{},\"action_id\":null,\"response_status\":\"400\",\"overall_status\":\"400\",\"last_response\":\"msisdn is required\"}"}');
SELECT r - 'elapsed_ms' AS result FROM gw_send_sms('nn', '0712345678', 'hi') r;
SELECT mock.fault('{"prefix": "/nenasasa/api/v1/sms/send", "status": 500}');
SELECT r - 'elapsed_ms' AS result FROM gw_send_sms('nn', '0712345678', 'hi') r;
SELECT mock.fault('{"prefix": "/nenasasa/api/v1/sms/send", "action": "malformed"}');
SELECT r - 'elapsed_ms' AS result FROM gw_send_sms('nn', '0712345678', 'hi') r;
SELECT mock.fault('{"prefix": "/nenasasa/api/v1/sms/send", "status": 200, "body": "{\"detail\":\"ok\"}"}');
SELECT r - 'elapsed_ms' - 'data' AS result FROM gw_send_sms('nn', '0712345678', 'hi') r;

-- the account option sms_path: where the SMS goes, relative to base_url
SELECT mock.reset();
SELECT gw_account_update('nn', options => '{"sender_id": "NENA", "chid": "13", "sms_path": "/notification/sms/"}');
SELECT (gw_send_sms('nn', '0712345678', 'elsewhere'))->>'status';
SELECT m->>'path' AS path FROM mock.last() m;
SELECT gw_account_update('nn', options => '{"sender_id": "NENA", "chid": "13", "sms_path": "https://elsewhere.example/send"}');
SELECT expect_error($$SELECT gw_send_sms('nn', '0712345678', 'hi')$$);
SELECT gw_account_update('nn', options => '{"sender_id": "NENA", "chid": "13", "sms_path": "/"}');
SELECT expect_error($$SELECT gw_send_sms('nn', '0712345678', 'hi')$$);
SELECT gw_account_update('nn', options => '{"sender_id": "NENA", "chid": "13"}');

-- a token belongs to the credentials and the address: changing either
-- forgets it; other changes keep it; dropping the account drops it
SELECT count(*) AS tokens FROM gateway.account_token WHERE account = 'nn';
SELECT gw_account_update('nn', '{"client_id": "nn-client-01", "username": "nnuser", "password": "nn-pass-0001"}');
SELECT count(*) AS kept_same_credentials FROM gateway.account_token WHERE account = 'nn';
SELECT gw_account_update('nn', '{"client_id": "nn-client-01", "username": "nnuser", "password": "nn-pass-0002"}');
SELECT count(*) AS after_new_credentials FROM gateway.account_token WHERE account = 'nn';
SELECT (gw_send_sms('nn', '0712345678', 'new credentials'))->>'status';
SELECT (m->>'body')::jsonb->>'password' AS password_sent
  FROM mock.requests() m WHERE m->>'path' LIKE '%/token' ORDER BY (m->>'id')::int DESC LIMIT 1;
SELECT gw_account_update('nn', '{"client_id": "nn-client-01", "username": "nnuser", "password": "nn-pass-0002"}', base_url => mock.url('nenasasa') || '/api/v1/');
SELECT count(*) AS after_new_base_url FROM gateway.account_token WHERE account = 'nn';
SELECT (gw_send_sms('nn', '0712345678', 'new address'))->>'status';
SELECT count(*) AS tokens FROM gateway.account_token WHERE account = 'nn';
SELECT gw_account_drop('nn_broke');
SELECT count(*) AS after_drop FROM gateway.account_token WHERE account = 'nn_broke';

-- a read-only transaction sends, without caching the token
DELETE FROM gateway.account_token;
BEGIN READ ONLY;
SELECT (gw_send_sms('nn', '0712345678', 'read only'))->>'status';
COMMIT;
SELECT count(*) AS tokens FROM gateway.account_token;

-- a sender role uses the token but cannot read it
CREATE ROLE regress_nn_app;
SELECT gw_grant_sender('regress_nn_app');
SET ROLE regress_nn_app;
SELECT (gw_send_sms('nn', '0712345678', 'from the app'))->>'status';
SELECT (gw_send_sms('nn', '0712345678', 'again from the app'))->>'status';
SELECT expect_error($$SELECT * FROM gateway.account_token$$);
RESET ROLE;
SELECT gw_revoke('regress_nn_app');
DROP ROLE regress_nn_app;
SELECT count(*) AS tokens FROM gateway.account_token WHERE account = 'nn';

-- caller mistakes: ERROR with SQLSTATE, message and hint; nothing is sent,
-- no token is asked for
SELECT mock.reset();
DELETE FROM gateway.account_token;
SELECT gw_account_create('nn_bare', 'nenasasa',
                         '{"client_id": "nn-client-01", "username": "nnuser", "password": "nn-pass-0001"}',
                         mock.url('nenasasa') || '/api/v1');
SELECT expect_error($$SELECT gw_send_sms('nn_bare', '0712345678', 'hi', 'NENA')$$);
SELECT expect_error($$SELECT gw_call('nn_bare', 'sms.send', '{"recipient": "0712345678", "message": "hi", "chid": "13"}')$$);
SELECT expect_error($$SELECT gw_call('nn', 'sms.send', '{"message": "hi"}')$$);
SELECT expect_error($$SELECT gw_call('nn', 'sms.send', '{"recipient": "0712345678", "message": "hi", "callback_url": "https://x.example"}')$$);
SELECT expect_error($$SELECT gw_call('nn', 'sms.send', '{"recipient": "0712345678", "message": "hi", "chid": ""}')$$);
SELECT expect_error($$SELECT gw_send_sms('nn', '0712345678', '  ')$$);
SELECT expect_error($$SELECT gw_send_sms('nn', '0712345678', 'hi', 'TWELVE_CHARS')$$);
SELECT expect_error($$SELECT gw_send_sms('nn', '07123', 'hi')$$);
SELECT expect_error($$SELECT gw_call('nn', 'sms.bulk', '{}')$$);
SELECT expect_error($$SELECT gw_balance('nn')$$);
SELECT expect_error($$SELECT gw_stk_push('nn', '0712345678', 10)$$);
SELECT expect_error($$SELECT gw_account_create('nn_x', 'nenasasa', '{"client_id": "a-client", "username": "nnuser"}')$$);
SELECT count(*) AS requests_sent FROM mock.requests();
-- one of them straight to the server log, for the log check below
SELECT gw_send_sms('nn_bare', '0712345678', 'hi', 'NENA');

-- the outbox worker, another backend, sends with the cached token; a row
-- whose token cannot be had fails without being sent
SELECT (gw_send_sms('nn', '0712345678', 'a token for everyone'))->>'status';
SELECT gw_queue_sms('nn', '0712345678', 'from the outbox') AS id \gset
SELECT gw_wait(:id, '10 s');
SELECT gw_queue_sms('nn_badpass', '0712345678', 'never sent') AS id \gset
SELECT gw_wait(:id, '10 s');
SELECT status, last_error, result->>'http_status' AS http FROM gateway.outbox WHERE id = :id;
SELECT mock.nn_trace();

-- operations are listed with their params
SELECT provider, operation, method, path, required, optional, payment
  FROM gw_operations() WHERE provider = 'nenasasa' ORDER BY operation;

-- Tokens stay secret.  A provider echoing them, in a send's answer, in a
-- 401 and in a token call's failure, shows them masked.
SELECT mock.reset();
SELECT (gw_send_sms('nn', '0712345678', 'a token'))->>'status';
UPDATE gateway.account_token SET access_token = 'GW-TOKEN-7777-known', refresh_token = 'GW-REFRESH-8888-known';
SELECT mock.fault('{"prefix": "/nenasasa/api/v1/sms/send", "status": 200, "body": "{\"action_id\":1,\"overall_status\":\"01\",\"last_response\":\"token GW-TOKEN-7777-known refused\"}"}');
SELECT r - 'elapsed_ms' AS result FROM gw_send_sms('nn', '0712345678', 'hi') r;
SELECT mock.fault('{"prefix": "/nenasasa/api/v1/sms/send", "status": 401, "count": 2, "body": "{\"detail\":\"Bearer GW-TOKEN-7777-known is unknown\"}"}');
SELECT r - 'elapsed_ms' AS result FROM gw_send_sms('nn', '0712345678', 'hi') r;
UPDATE gateway.account_token SET access_token = 'GW-TOKEN-7777-known', refresh_token = 'GW-REFRESH-8888-known',
                                 fetched_at = now() - interval '10 hours', expires_at = now() - interval '1 second';
SELECT mock.fault('{"prefix": "/nenasasa/api/v1/token", "status": 400, "count": 2, "body": "{\"error\":\"invalid_grant\",\"error_description\":\"GW-REFRESH-8888-known expired\"}"}');
SELECT r - 'elapsed_ms' AS result FROM gw_send_sms('nn', '0712345678', 'hi') r;
SELECT (gw_send_sms('nn', '0712345678', 'and a real token again'))->>'status';

-- Every token this test was given (the sends' Bearer headers, the refresh
-- calls' bodies, the cache) is in no table but gateway.account_token
-- (temporary tables are this test's copies of what the mock received) and
-- not in the server log.
CREATE TEMP TABLE nn_tokens AS
    SELECT DISTINCT t FROM (
        SELECT substring(r->'headers'->>'authorization' from '^Bearer (.+)$') AS t FROM mock.requests() r
        UNION ALL SELECT (r->>'body')::jsonb->>'refresh_token' FROM mock.requests() r
         WHERE r->>'path' LIKE '%/token'
        UNION ALL SELECT access_token FROM gateway.account_token
        UNION ALL SELECT refresh_token FROM gateway.account_token) x
     WHERE t IS NOT NULL;
SELECT count(*) >= 2 AS tokens_seen FROM nn_tokens;
DO $$
DECLARE
    t record;
    n bigint;
    found text := '';
BEGIN
    FOR t IN SELECT c.oid::regclass AS rel FROM pg_class c
               JOIN pg_namespace s ON s.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'v', 'm')
                AND s.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
                AND s.nspname NOT LIKE 'pg_temp%'
                AND c.oid <> 'gateway.account_token'::regclass
    LOOP
        EXECUTE format('SELECT count(*) FROM %s x, nn_tokens k WHERE strpos(x::text, k.t) > 0', t.rel) INTO n;
        IF n > 0 THEN found := found || ' ' || t.rel; END IF;
    END LOOP;
    RAISE NOTICE 'tables holding a token:%', CASE WHEN found = '' THEN ' none' ELSE found END;
END
$$;
SELECT count(*) AS tokens_in_log FROM nn_tokens
 WHERE strpos(pg_read_file(pg_current_logfile()), t) > 0;
SELECT strpos(pg_read_file(pg_current_logfile()), 'missing required param "chid"') > 0 AS log_has_this_test;

SELECT mock.reset();
