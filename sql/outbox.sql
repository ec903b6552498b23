-- The outbox and its worker: transactional enqueue, idempotency, scheduling,
-- retries by error class, rate limits, the SMS trigger, pg_cron.
\set VERBOSITY default
SELECT mock.reset();
SELECT gw_account_create('q', 'vaspro', '{"api_key": "q-key-0001"}', mock.url('vaspro'),
                         '{"sender_id": "QUEUE"}');

-- the worker runs and says what it does (it connects within seconds of the
-- database's creation)
DO $$
BEGIN
    FOR i IN 1..100 LOOP
        EXIT WHEN EXISTS (SELECT 1 FROM pg_stat_activity
                          WHERE backend_type = 'gateway worker' AND datname = current_database());
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;
SELECT count(*) AS workers FROM pg_stat_activity
 WHERE backend_type = 'gateway worker' AND datname = current_database();

-- Statuses advance in the background: wait for one with gw_wait().
-- A row queued in a transaction that rolls back is never sent.
BEGIN;
SELECT gw_queue_sms('q', '0712345678', 'rolled back') > 0 AS queued;
ROLLBACK;
SELECT gw_queue_sms('q', '0712345678', 'committed') AS id \gset
SELECT gw_wait(:id, '10 s');
SELECT count(*) FILTER (WHERE r->>'body' LIKE '%rolled back%') AS rolled_back_sent,
       count(*) FILTER (WHERE r->>'body' LIKE '%committed%') AS committed_sent
  FROM mock.requests() r;
SELECT count(*) FROM gateway.outbox WHERE params->>'message' = 'rolled back';
-- what a sent row holds
SELECT status, attempts, provider_ref IS NOT NULL AS has_ref, sent_at >= created_at AS timed,
       result->>'status' AS result_status, last_error, operation
  FROM gateway.outbox WHERE id = :id;

-- One idempotency key, queued twice, is one row and one send; the key goes to
-- the provider (VasPro uniqueId).
SELECT gw_queue_sms('q', '0712345678', 'once', idempotency_key => 'order-42') AS a \gset
SELECT gw_queue_sms('q', '0712345678', 'once', idempotency_key => 'order-42') = :a AS same_row;
SELECT gw_wait(:a, '10 s');
SELECT count(*) AS sends, min((r->>'body')::jsonb->>'uniqueId') AS unique_id
  FROM mock.requests() r WHERE r->>'body' LIKE '%order-42%';

-- send_at is honoured to within a second
SELECT gw_queue_sms('q', '0712345678', 'later', send_at => clock_timestamp() + interval '2 seconds') AS id \gset
SELECT pg_sleep(1);
SELECT status FROM gateway.outbox WHERE id = :id;
SELECT gw_wait(:id, '10 s');
SELECT (r->>'ts')::float8 - extract(epoch FROM o.send_at) BETWEEN 0 AND 1 AS on_time
  FROM mock.requests() r, gateway.outbox o
 WHERE o.id = :id AND r->>'body' LIKE '%"later"%';

-- 500 twice, then 200: sent on the third attempt, always with the same key
SELECT mock.reset();
SELECT mock.fault('{"status": 500, "count": 2}');
SELECT gw_queue_sms('q', '0712345678', 'third time lucky', idempotency_key => 'retry-1') AS id \gset
SELECT gw_wait(:id, '10 s');
SELECT status, attempts, last_error FROM gateway.outbox WHERE id = :id;
SELECT count(*) AS requests, count(DISTINCT (r->>'body')::jsonb->>'uniqueId') AS keys
  FROM mock.requests() r;

-- 422: permanent, one attempt
SELECT mock.fault('{"status": 422, "body": "{\"code\":\"Error\",\"statusDescription\":\"Validation Error: message is required\"}"}');
SELECT gw_queue_sms('q', '0712345678', 'invalid') AS id \gset
SELECT gw_wait(:id, '10 s');
SELECT status, attempts, last_error FROM gateway.outbox WHERE id = :id;

-- 503 every time: dead after gateway.max_attempts (5), with the last error
SELECT mock.fault('{"status": 503, "count": 5}');
SELECT gw_queue_sms('q', '0712345678', 'doomed') AS id \gset
SELECT gw_wait(:id, '20 s');
SELECT status, attempts, last_error FROM gateway.outbox WHERE id = :id;

-- a refused connection is retried like any network failure
SELECT gw_account_create('q_closed', 'vaspro', '{"api_key": "q-key-0002"}', 'http://127.0.0.1:1');
SELECT gw_queue_sms('q_closed', '0712345678', 'nobody home') AS id \gset
SELECT gw_wait(:id, '20 s');
SELECT status, attempts, last_error FROM gateway.outbox WHERE id = :id;

-- cancel a scheduled row; requeue it
SELECT gw_queue_sms('q', '0712345678', 'maybe', send_at => now() + interval '1 hour') AS id \gset
SELECT gw_cancel(:id), gw_cancel(:id);
SELECT status FROM gateway.outbox WHERE id = :id;
SELECT gw_requeue(:id);
UPDATE gateway.outbox SET next_attempt_at = now() WHERE id = :id;
SELECT gw_wait(:id, '10 s');
SELECT gw_requeue(:id) AS requeue_sent_row;

-- rate_limit 20: never more than 20 requests in any second at the provider
SELECT mock.reset();
SELECT gw_account_create('slow', 'vaspro', '{"api_key": "slow-key-01"}', mock.url('vaspro'),
                         '{"sender_id": "SLOW", "rate_limit": 20}');
SELECT count(gw_queue_sms('slow', '0712345678', 'paced ' || i)) FROM generate_series(1, 60) i;
SELECT gw_wait(max(id), '30 s') FROM gateway.outbox WHERE account = 'slow';
SELECT count(*) FILTER (WHERE status = 'sent') AS sent FROM gateway.outbox WHERE account = 'slow';
WITH t AS (SELECT (r->>'ts')::float8 AS ts FROM mock.requests() r)
SELECT count(*) AS requests,
       max((SELECT count(*) FROM t t2 WHERE t2.ts >= t1.ts AND t2.ts < t1.ts + 1)) <= 20 AS never_over_20,
       max(ts) - min(ts) >= 2.5 AS took_three_seconds
  FROM t t1;

-- The SMS trigger renders {{column}} placeholders from the new row.
CREATE TABLE customers (id serial PRIMARY KEY, name text, phone text);
CREATE TRIGGER welcome AFTER INSERT ON customers FOR EACH ROW
    EXECUTE FUNCTION gw_sms_trigger('q', 'phone', 'Karibu {{name}}, your number is {{ id }}!');
INSERT INTO customers (name, phone) VALUES ('Amina', '0712 000 001'), ('Baraka', '0722000002');
SELECT params->>'message' AS message, params->>'recipients' AS recipients
  FROM gateway.outbox WHERE params->>'message' LIKE 'Karibu%' ORDER BY id;
-- a rolled-back insert queues nothing
BEGIN;
INSERT INTO customers (name, phone) VALUES ('Ghost', '0733000003');
ROLLBACK;
SELECT count(*) FROM gateway.outbox WHERE params->>'message' LIKE 'Karibu Ghost%';
-- a placeholder naming no column is a clear ERROR at insert time
CREATE TRIGGER typo AFTER INSERT ON customers FOR EACH ROW
    EXECUTE FUNCTION gw_sms_trigger('q', 'phone', 'Hi {{nme}}');
SELECT expect_error($$INSERT INTO customers (name, phone) VALUES ('Chui', '0744000004')$$);
DROP TRIGGER typo ON customers;
CREATE TRIGGER typo AFTER INSERT ON customers FOR EACH ROW
    EXECUTE FUNCTION gw_sms_trigger('q', 'mobile', 'Hi {{name}}');
SELECT expect_error($$INSERT INTO customers (name, phone) VALUES ('Chui', '0744000004')$$);
DROP TRIGGER typo ON customers;
SELECT count(*) FROM customers WHERE name = 'Chui';

-- caller mistakes are ERRORs at enqueue time; nothing is queued
SELECT count(*) AS before FROM gateway.outbox \gset
SELECT expect_error($$SELECT gw_enqueue('nosuch', 'sms.send', '{}')$$);
SELECT expect_error($$SELECT gw_enqueue('q', 'sms.fly', '{}')$$);
SELECT expect_error($$SELECT gw_enqueue('q', 'sms.send', '{"message": "x"}')$$);
SELECT expect_error($$SELECT gw_queue_sms('q', '07123', 'x')$$);
SELECT expect_error($$SELECT gw_queue_sms('q', '0712345678', '')$$);
SELECT expect_error($$SELECT gw_enqueue('q', 'sms.bulk', '{"recipients": "0712345678", "message": "x", "unique_id": "a"}', idempotency_key => 'b')$$);
SELECT expect_error($$SELECT gw_wait(-1)$$);
SELECT count(*) = :before AS nothing_queued FROM gateway.outbox;

-- pg_cron can schedule any gw_ function; zz_cron checks that this job ran.
-- (Its row is for next year, so that it sends nothing during the other tests.)
CREATE EXTENSION pg_cron;
SELECT gw_account_create('cron', 'vaspro', '{"api_key": "cron-key-01"}', mock.url('vaspro'));
SELECT cron.schedule('gateway-test', '* * * * *',
       $$SELECT gw_queue_sms('cron', '0712345678', 'from pg_cron', send_at => now() + interval '1 year', idempotency_key => 'cron-' || to_char(now(), 'YYYYMMDDHH24MI'))$$) > 0 AS scheduled;

-- the stats view
SELECT account, queued, in_flight, sent, failed, dead, cancelled, avg_latency IS NOT NULL AS has_latency
  FROM gateway.stats WHERE account IN ('q', 'q_closed', 'slow') ORDER BY account;

-- A payment whose answer does not come in time is never sent again blindly:
-- it becomes 'unknown', and the worker asks the provider (VTpass requery by
-- our request_id) before deciding: here the purchase had gone through.
SELECT count(*) FROM mock.curl($$-X POST -d '{"vtpass_timeout_ms": 3000}' {mock}/_mock/config$$);
SELECT gw_account_create('vt', 'vtpass', '{"username": "sandbox@vtpass.com", "password": "vt-pass-01"}',
                         mock.url('vtpass'));
ALTER SYSTEM SET gateway.request_timeout = '500ms';
SELECT pg_reload_conf();
SELECT pg_sleep(0.2);
SELECT mock.reset();
SELECT count(*) FROM mock.curl($$-X POST -d '{"vtpass_timeout_ms": 3000}' {mock}/_mock/config$$);
SELECT gw_enqueue('vt', 'payment.purchase',
       '{"service_id": "spectranet", "billers_code": "300000000000", "variation_code": "vt-1000", "phone": "300000000000"}') AS id \gset
SELECT gw_wait(:id, '20 s');
SELECT status, attempts, payment, result->>'status' AS last_answer,
       idempotency_key ~ '^[0-9]{12}' AS lagos_request_id
  FROM gateway.outbox WHERE id = :id;
-- one purchase, then status queries only, all with the same request_id
SELECT r->>'path' AS path, count(*) AS requests,
       count(DISTINCT (r->>'body')::jsonb->>'request_id') AS request_ids
  FROM mock.requests() r GROUP BY 1 ORDER BY 1;
SELECT bool_and((r->>'body')::jsonb->>'request_id' = o.idempotency_key) AS same_key
  FROM mock.requests() r, gateway.outbox o WHERE o.id = :id;
ALTER SYSTEM RESET gateway.request_timeout;
SELECT pg_reload_conf();

-- Finished rows are kept for gateway.keep_finished, then purged in batches,
-- once their day's daily figures are final (docs/costs.md): the rows are
-- moved two days back (a row sent before its send_at is due an hour ahead),
-- which keep_finished 1s makes final at once.
SELECT count(*) > 0 AS finished_rows FROM gateway.outbox
 WHERE status IN ('sent', 'delivered', 'failed', 'dead');
WITH moved AS (
    UPDATE gateway.outbox SET send_at = send_at - interval '2 days', created_at = created_at - interval '2 days',
                              sent_at = sent_at - interval '2 days', updated_at = updated_at - interval '2 days'
     WHERE status IN ('sent', 'delivered', 'failed', 'dead') RETURNING 1)
SELECT count(*) > 0 AS moved FROM moved;
ALTER SYSTEM SET gateway.keep_finished = '1s';
SELECT pg_reload_conf();
DO $$
BEGIN
    FOR i IN 1..150 LOOP
        EXIT WHEN NOT EXISTS (SELECT 1 FROM gateway.outbox
                              WHERE status IN ('sent', 'delivered', 'failed', 'dead'));
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;
SELECT count(*) AS finished_left FROM gateway.outbox
 WHERE status IN ('sent', 'delivered', 'failed', 'dead');
ALTER SYSTEM RESET gateway.keep_finished;
SELECT pg_reload_conf();

-- Privileges: a sender queues and reads its rows; a role without grants cannot.
CREATE ROLE gw_q_app;
CREATE ROLE gw_q_sender;
SELECT gw_grant_sender('gw_q_sender');
SET ROLE gw_q_sender;
SELECT gw_queue_sms('q', '0712345678', 'from a sender role', send_at => now() + interval '1 day') AS id \gset
SELECT status FROM gateway.outbox WHERE id = :id;
SELECT gw_cancel(:id);
SELECT expect_error($$UPDATE gateway.outbox SET status = 'queued'$$);
SELECT expect_error($$SELECT gw_requeue(1)$$);
RESET ROLE;
SET ROLE gw_q_app;
SELECT expect_error($$SELECT gw_queue_sms('q', '0712345678', 'no grant')$$);
SELECT expect_error($$SELECT gw_enqueue('q', 'sms.send', '{}')$$);
SELECT expect_error($$SELECT count(*) FROM gateway.outbox$$);
RESET ROLE;
SELECT gw_revoke('gw_q_sender');
DROP ROLE gw_q_app, gw_q_sender;

-- A role without grants cannot queue through a trigger of its own either,
-- and a BEFORE trigger (which would drop the row) is refused.
CREATE ROLE gw_q_sneak;
SET ROLE gw_q_sneak;
CREATE TEMP TABLE sneak (phone text, msg text);
SELECT expect_error($$CREATE TRIGGER s AFTER INSERT ON sneak FOR EACH ROW
                      EXECUTE FUNCTION gw_sms_trigger('q', 'phone', '{{msg}}')$$);
RESET ROLE;
CREATE TABLE sneak2 (phone text, msg text);
GRANT INSERT ON sneak2 TO gw_q_sneak;
CREATE TRIGGER s AFTER INSERT ON sneak2 FOR EACH ROW
    EXECUTE FUNCTION gw_sms_trigger('q', 'phone', '{{msg}}');
SET ROLE gw_q_sneak;
SELECT expect_error($$INSERT INTO sneak2 VALUES ('0712345678', 'free SMS')$$);
RESET ROLE;
CREATE TRIGGER b BEFORE INSERT ON sneak2 FOR EACH ROW
    EXECUTE FUNCTION gw_sms_trigger('q', 'phone', '{{msg}}');
SELECT expect_error($$INSERT INTO sneak2 VALUES ('0712345678', 'before')$$);
DROP TABLE sneak2, pg_temp.sneak;
DROP ROLE gw_q_sneak;

-- The worker runs as a superuser: nothing it runs resolves through a
-- search_path that a role able to create objects could fill.  Here such a
-- role plants an operator the worker's queries would otherwise pick.
CREATE ROLE gw_mallory;
GRANT CREATE ON SCHEMA public TO gw_mallory;
SET ROLE gw_mallory;
CREATE FUNCTION public.evil_times(bigint, interval) RETURNS interval
    LANGUAGE plpgsql AS $$ BEGIN ALTER ROLE gw_mallory SUPERUSER; RETURN $2 * $1::float8; END $$;
CREATE OPERATOR public.* (leftarg = bigint, rightarg = interval, function = public.evil_times);
RESET ROLE;
ALTER DATABASE contrib_regression SET search_path = public, pg_catalog;
SELECT gw_queue_sms('q', '0712345678', 'planted operator') AS id \gset
SELECT gw_wait(:id, '10 s');
SELECT rolsuper AS mallory_became_superuser FROM pg_roles WHERE rolname = 'gw_mallory';
ALTER DATABASE contrib_regression RESET search_path;
DROP OPERATOR public.* (bigint, interval);
DROP FUNCTION public.evil_times(bigint, interval);
REVOKE CREATE ON SCHEMA public FROM gw_mallory;
DROP ROLE gw_mallory;
