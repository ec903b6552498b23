-- pg_cron ran the job outbox.sql scheduled (its schedule is by the minute),
-- and the row it queued was sent.
DO $$
BEGIN
    FOR i IN 1..150 LOOP
        EXIT WHEN EXISTS (SELECT 1 FROM gateway.outbox
                          WHERE params->>'message' = 'from pg_cron' AND status = 'sent');
        PERFORM pg_sleep(0.5);
    END LOOP;
END
$$;
SELECT count(*) > 0 AS cron_sent FROM gateway.outbox
 WHERE params->>'message' = 'from pg_cron' AND status = 'sent';
SELECT cron.unschedule('gateway-test');
