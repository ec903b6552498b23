-- pg_cron ran the job outbox.sql scheduled (its schedule is by the minute):
-- the row it queued is there.
DO $$
BEGIN
    FOR i IN 1..150 LOOP
        EXIT WHEN EXISTS (SELECT 1 FROM gateway.outbox
                          WHERE params->>'message' = 'from pg_cron' AND status = 'queued');
        PERFORM pg_sleep(0.5);
    END LOOP;
END
$$;
SELECT count(*) > 0 AS cron_queued FROM gateway.outbox
 WHERE params->>'message' = 'from pg_cron' AND status = 'queued';
SELECT cron.unschedule('gateway-test');
SELECT bool_and(gw_cancel(id)) AS cancelled FROM gateway.outbox WHERE account = 'cron';
