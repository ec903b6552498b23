-- Secrets never leave gateway.account_secret: not into a result, an error,
-- another table or the server log.  Runs last, after every other test has
-- written to the log.
\set VERBOSITY default
SELECT gw_account_create('secretive', 'vaspro', '{"api_key": "GW-S3CRET-4242/key"}', mock.url('vaspro'));

-- successful and failing calls of every kind
SELECT (gw_send_sms('secretive', '0712345678', 'hi'))->>'status';
SELECT (gw_call('secretive', 'sms.bulk', '{"recipients": "0712345678", "message": "x"}'))->>'status';
SELECT mock.fault('{"status": 500}');
SELECT (gw_send_sms('secretive', '0712345678', 'hi'))->>'status';
SELECT mock.fault('{"action": "malformed"}');
SELECT (gw_send_sms('secretive', '0712345678', 'hi'))->>'status';
SELECT expect_error($$SELECT gw_send_sms('secretive', 'bad number', 'hi')$$);
SELECT expect_error($$SELECT gw_call('secretive', 'sms.send', '{}')$$);
-- an error the server logs, to be sure the log is the one searched below
SELECT gw_send_sms('secretive', 'bad number', 'hi');
-- a provider that echoes the key back, in the body and in an error
SELECT mock.fault('{"status": 200, "body": "{\"code\":\"Success\",\"echo\":\"GW-S3CRET-4242/key\"}"}');
SELECT r->'data' AS data FROM gw_send_sms('secretive', '0712345678', 'hi') r;
SELECT mock.fault('{"status": 400, "body": "{\"code\":\"Error\",\"statusDescription\":\"bad key GW-S3CRET-4242/key\"}"}');
SELECT r->>'error' AS error FROM gw_send_sms('secretive', '0712345678', 'hi') r;
-- echoed JSON-escaped, as PHP's json_encode writes "/"
SELECT mock.fault('{"status": 200, "body": "{\"code\":\"Success\",\"echo\":\"GW-S3CRET-4242\\/key\"}"}');
SELECT r->'data' AS data FROM gw_send_sms('secretive', '0712345678', 'hi') r;


-- the key did reach the provider, where it belongs
SELECT count(*) > 0 AS provider_got_key
  FROM mock.requests() m WHERE (m->>'body')::jsonb->>'apiKey' = 'GW-S3CRET-4242/key';

-- no table but gateway.account_secret holds it (temporary tables are this
-- test's own copies of what the mock provider received)
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
                AND c.oid <> 'gateway.account_secret'::regclass
    LOOP
        EXECUTE format('SELECT count(*) FROM %s x WHERE x::text LIKE %L', t.rel, '%S3CRET-4242%') INTO n;
        IF n > 0 THEN found := found || ' ' || t.rel; END IF;
    END LOOP;
    RAISE NOTICE 'tables holding the secret:%', CASE WHEN found = '' THEN ' none' ELSE found END;
END
$$;
SELECT count(*) AS secret_rows FROM gateway.account_secret WHERE credentials::text LIKE '%S3CRET-4242%';

-- Masking, whatever the secrets' lengths (src/mask.h).  A 1-character key:
-- where it stands alone it is masked, inside a word it is not; the answer's
-- structure and meaning stay whole.
SELECT gw_account_create('tiny', 'vaspro', '{"api_key": "k"}', mock.url('vaspro'));
SELECT mock.fault('{"status": 200, "body": "{\"code\":\"Success\",\"statusDescription\":\"ok\",\"data\":{\"correlator\":\"c-k-1\",\"echo\":\"k\",\"note\":\"keep k, kk; k\",\"k\":1}}"}');
SELECT r->>'status' AS status, r->>'provider_ref' AS provider_ref, r->'data' AS data
  FROM gw_send_sms('tiny', '0712345678', 'hi') r;
-- a key that is JSON's own punctuation cannot break the answer
SELECT gw_account_create('colon', 'vaspro', '{"api_key": ":"}', mock.url('vaspro'));
SELECT mock.fault('{"status": 200, "body": "{\"code\":\"Success\",\"statusDescription\":\"a : b\",\"data\":{\"correlator\":\"c1\"}}"}');
SELECT r->>'status' AS status, r->'data' AS data FROM gw_send_sms('colon', '0712345678', 'hi') r;
-- a key of digits echoed as a JSON number: masked, as a string; the answer
-- is still read as it came
SELECT gw_account_create('digits', 'vaspro', '{"api_key": "424242"}', mock.url('vaspro'));
SELECT mock.fault('{"status": 200, "body": "{\"code\":\"Success\",\"statusDescription\":\"ok\",\"data\":{\"correlator\":\"c2\",\"key\":424242}}"}');
SELECT r->>'status' AS status, r->'data' AS data FROM gw_send_sms('digits', '0712345678', 'hi') r;
-- overlapping secrets leave nothing of either, and VTpass's Basic value
-- (base64 of username:password) is masked too
SELECT gw_account_create('overlap', 'vtpass', '{"username": "abcdef12", "password": "ef12ghij"}', mock.url('vtpass'));
SELECT mock.fault(jsonb_build_object('status', 200, 'body',
    jsonb_build_object('code', '000', 'echo', 'xabcdef12ghijx', 'auth', 'Basic ' || encode('abcdef12:ef12ghij', 'base64'),
                       'content', jsonb_build_object('varations', '[]'::jsonb)))::jsonb);
SELECT r->'data'->>'echo' AS echo, r->'data'->>'auth' AS auth
  FROM gw_call('overlap', 'catalog.variations', '{"service_id": "spectranet"}') r;
SELECT gw_account_drop(a) FROM unnest(ARRAY['tiny', 'colon', 'digits', 'overlap']) a;


-- nor does the server log (the test cluster logs to a file)
SELECT pg_current_logfile() IS NOT NULL AS logging;
SELECT position('S3CRET-4242' in pg_read_file(pg_current_logfile())) = 0 AS log_clean;
-- the log does hold this run's errors, so the check above looked at the right file
SELECT position('invalid phone number "bad number"' in pg_read_file(pg_current_logfile())) > 0 AS log_has_errors;
