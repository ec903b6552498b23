-- gateway 0.3.0 -> 0.4.0
--
-- Every SQL change since 0.3.0.  CREATE EXTENSION gateway at 0.4.0 runs the
-- 0.1.0 script and then each update script in turn, so a fresh install and
-- an upgraded one are built by the same statements.
\echo Use "ALTER EXTENSION gateway UPDATE TO '0.4.0'" to load this file. \quit

------------------------------------------------------------------------
-- Pause and bulk cancel
------------------------------------------------------------------------

-- An account paused with gw_account_pause sends nothing until
-- gw_account_resume: the workers skip its rows, synchronous calls refuse.
-- Kept here, so a pause outlives a restart.
ALTER TABLE gateway.account ADD COLUMN paused_at timestamptz;
COMMENT ON COLUMN gateway.account.paused_at IS
    'when gw_account_pause stopped the account''s sends; NULL: it sends';
CREATE OR REPLACE VIEW gateway.accounts AS
    SELECT name, provider, base_url, options, created_at, paused_at
      FROM gateway.account
     WHERE (SELECT gateway.held_accounts()) IS NULL
        OR name = ANY ((SELECT gateway.held_accounts())::text[]);

-- Tells the workers at commit that a pause changed (src/pause.c).
CREATE FUNCTION gateway.pause_changed() RETURNS void
    AS 'MODULE_PATHNAME', 'gw_pause_changed' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION gateway.pause_changed() FROM PUBLIC;

-- The bodies of gw_account_pause and gw_account_resume, which check the
-- caller's right (admin of the account) in C first (gw_guarded).
CREATE FUNCTION gateway.account_pause(account text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE gateway.account a SET paused_at = coalesce(a.paused_at, now())
     WHERE a.name = account_pause.account;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account "%" does not exist', account
            USING ERRCODE = 'undefined_object',
                  HINT = 'gateway.accounts lists the accounts.';
    END IF;
    PERFORM gateway.pause_changed();
END
$$;

CREATE FUNCTION gateway.account_resume(account text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE gateway.account a SET paused_at = NULL
     WHERE a.name = account_resume.account;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account "%" does not exist', account
            USING ERRCODE = 'undefined_object',
                  HINT = 'gateway.accounts lists the accounts.';
    END IF;
    PERFORM gateway.pause_changed();
END
$$;
REVOKE ALL ON FUNCTION gateway.account_pause(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION gateway.account_resume(text) FROM PUBLIC;

CREATE FUNCTION gw_account_pause(account text)
    RETURNS void AS 'MODULE_PATHNAME', 'gw_guarded' LANGUAGE C VOLATILE;
CREATE FUNCTION gw_account_resume(account text)
    RETURNS void AS 'MODULE_PATHNAME', 'gw_guarded' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION gw_account_pause(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION gw_account_resume(text) FROM PUBLIC;

-- Cancel the queued rows matching every filter given (src/cancel.c); the
-- caller's rights are checked in C: a named account must be held, and
-- without one only the rows of the accounts the caller holds are touched.
CREATE FUNCTION gw_cancel_bulk(account text DEFAULT NULL, key_prefix text DEFAULT NULL,
                               send_from timestamptz DEFAULT NULL,
                               send_to timestamptz DEFAULT NULL)
    RETURNS bigint AS 'MODULE_PATHNAME', 'gw_cancel_bulk' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION gw_cancel_bulk(text, text, timestamptz, timestamptz) FROM PUBLIC;

-- Senders may cancel in bulk, admins pause and resume: the grant functions
-- give the new functions with the others.
CREATE OR REPLACE FUNCTION gw_grant_sender(role regrole, account text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ext_schema text := gateway.ext_schema();
BEGIN
    IF role IS NULL THEN
        RAISE EXCEPTION 'role must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF account IS NOT NULL AND NOT EXISTS (SELECT 1 FROM gateway.account a WHERE a.name = gw_grant_sender.account) THEN
        RAISE EXCEPTION 'account "%" does not exist', account
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create it with gw_account_create() first; gw_grant_sender(role) grants every account.';
    END IF;
    INSERT INTO gateway.account_grant AS g (role, account)
        VALUES (gw_grant_sender.role, gw_grant_sender.account)
        ON CONFLICT ON CONSTRAINT account_grant_once DO NOTHING;
    EXECUTE format('GRANT USAGE ON SCHEMA gateway TO %s', role);
    EXECUTE format('GRANT SELECT ON gateway.accounts TO %s', role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %1$I.gw_call(text, text, jsonb), '
                   '%1$I.gw_send_sms(text, text, text, text), '
                   '%1$I.gw_stk_push(text, text, numeric, text, text), '
                   '%1$I.gw_balance(text), '
                   '%1$I.gw_enqueue(text, text, jsonb, timestamptz, text), '
                   '%1$I.gw_queue_sms(text, text, text, text, timestamptz, text), '
                   '%1$I.gw_cancel(bigint), '
                   '%1$I.gw_cancel_bulk(text, text, timestamptz, timestamptz), '
                   '%1$I.gw_wait(bigint, interval), '
                   '%1$I.gw_sms_trigger() TO %2$s', ext_schema, role);
    EXECUTE format('GRANT SELECT ON gateway.outbox, gateway.stats, gateway.inbound, '
                   'gateway.subscriptions TO %s', role);
END
$$;

CREATE OR REPLACE FUNCTION gw_grant_admin(role regrole, account text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ext_schema text := gateway.ext_schema();
BEGIN
    PERFORM @extschema@.gw_grant_sender(role, account);
    UPDATE gateway.account_grant g SET admin = true
     WHERE g.role = gw_grant_admin.role AND g.account IS NOT DISTINCT FROM gw_grant_admin.account;
    EXECUTE format('GRANT EXECUTE ON FUNCTION '
                   '%1$I.gw_account_create(text, text, jsonb, text, jsonb), '
                   '%1$I.gw_account_update(text, jsonb, text, jsonb, boolean), '
                   '%1$I.gw_account_drop(text), '
                   '%1$I.gw_account_pause(text), '
                   '%1$I.gw_account_resume(text), '
                   '%1$I.gw_callback_token_rotate(text), '
                   '%1$I.gw_callback_url(text, text), '
                   '%1$I.gw_requeue(bigint), '
                   '%1$I.gw_ingest(text, text, jsonb) TO %2$s', ext_schema, role);
END
$$;

CREATE OR REPLACE FUNCTION gw_revoke(role regrole, account text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM gateway.account_grant g
     WHERE g.role = gw_revoke.role AND g.account IS NOT DISTINCT FROM gw_revoke.account;
    IF NOT EXISTS (SELECT 1 FROM gateway.account_grant g WHERE g.role = gw_revoke.role) THEN
        PERFORM @extschema@.gw_revoke(role);
    ELSIF NOT EXISTS (SELECT 1 FROM gateway.account_grant g WHERE g.role = gw_revoke.role AND g.admin) THEN
        EXECUTE format('REVOKE EXECUTE ON FUNCTION '
                       '%1$I.gw_account_create(text, text, jsonb, text, jsonb), '
                       '%1$I.gw_account_update(text, jsonb, text, jsonb, boolean), '
                       '%1$I.gw_account_drop(text), '
                       '%1$I.gw_account_pause(text), '
                       '%1$I.gw_account_resume(text), '
                       '%1$I.gw_callback_token_rotate(text), '
                       '%1$I.gw_callback_url(text, text), '
                       '%1$I.gw_requeue(bigint), '
                       '%1$I.gw_ingest(text, text, jsonb) FROM %2$s', gateway.ext_schema(), role);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION gw_revoke(role regrole)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ext_schema text := gateway.ext_schema();
BEGIN
    DELETE FROM gateway.account_grant g WHERE g.role = gw_revoke.role;
    EXECUTE format('REVOKE EXECUTE ON FUNCTION '
                   '%1$I.gw_account_create(text, text, jsonb, text, jsonb), '
                   '%1$I.gw_account_update(text, jsonb, text, jsonb, boolean), '
                   '%1$I.gw_account_drop(text), '
                   '%1$I.gw_account_pause(text), '
                   '%1$I.gw_account_resume(text), '
                   '%1$I.gw_callback_token_rotate(text), '
                   '%1$I.gw_callback_url(text, text), '
                   '%1$I.gw_call(text, text, jsonb), '
                   '%1$I.gw_send_sms(text, text, text, text), '
                   '%1$I.gw_stk_push(text, text, numeric, text, text), '
                   '%1$I.gw_balance(text), '
                   '%1$I.gw_enqueue(text, text, jsonb, timestamptz, text), '
                   '%1$I.gw_queue_sms(text, text, text, text, timestamptz, text), '
                   '%1$I.gw_cancel(bigint), '
                   '%1$I.gw_cancel_bulk(text, text, timestamptz, timestamptz), '
                   '%1$I.gw_requeue(bigint), '
                   '%1$I.gw_wait(bigint, interval), '
                   '%1$I.gw_sms_trigger() FROM %2$s', ext_schema, role);
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %1$I.gw_ingest(text, text, jsonb), '
                   'gateway.ingest_text(text, text, text) FROM %2$s', ext_schema, role);
    EXECUTE format('REVOKE SELECT ON gateway.accounts, gateway.outbox, gateway.stats, '
                   'gateway.inbound, gateway.subscriptions FROM %s', role);
    EXECUTE format('REVOKE USAGE ON SCHEMA gateway FROM %s', role);
END
$$;

-- The roles granted so far get the new functions as their grant would now
-- give them: senders (who may gw_cancel) gw_cancel_bulk, admins (who may
-- gw_account_update) gw_account_pause and gw_account_resume.
DO $grant$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT a.grantee::regrole AS role, p.proname
               FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
              WHERE p.pronamespace = '@extschema@'::regnamespace
                AND p.proname IN ('gw_cancel', 'gw_account_update')
                AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0 AND a.grantee <> p.proowner
    LOOP
        IF r.proname = 'gw_cancel' THEN
            EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION @extschema@.gw_cancel_bulk(text, text, timestamptz, timestamptz) TO %s', r.role);
        ELSE
            EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION @extschema@.gw_account_pause(text), @extschema@.gw_account_resume(text) TO %s', r.role);
        END IF;
    END LOOP;
END
$grant$;

-- (end of the pause section)


------------------------------------------------------------------------
-- Counters and health
------------------------------------------------------------------------

-- Cumulative counters in shared memory (src/stats.c), this database's
-- rows.  A role sees the accounts it holds; the extension's owner, a
-- superuser and members of pg_read_all_stats see every row.
CREATE FUNCTION gateway.stat_requests(
    OUT account text, OUT operation text, OUT requests bigint,
    OUT accepted bigint, OUT delivered bigint, OUT pending bigint,
    OUT failed bigint, OUT rejected bigint, OUT unknown bigint,
    OUT retries bigint, OUT rate_limit_waits bigint, OUT http_429 bigint,
    OUT transport_errors bigint, OUT latency_buckets bigint[],
    OUT latency_count bigint, OUT latency_sum double precision,
    OUT stats_reset timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'gw_stat_requests' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

CREATE FUNCTION gateway.stat_callbacks(
    OUT account text, OUT kind text, OUT received bigint, OUT applied bigint,
    OUT ignored bigint, OUT unmatched bigint, OUT refused bigint,
    OUT stats_reset timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'gw_stat_callbacks' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

CREATE FUNCTION gateway.stat_listener(OUT code int, OUT answers bigint,
    OUT stats_reset timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'gw_stat_listener' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

CREATE VIEW gateway.stat_requests AS
    SELECT * FROM gateway.stat_requests()
     WHERE (SELECT gateway.held_accounts()) IS NULL
        OR pg_has_role('pg_read_all_stats', 'USAGE')
        OR account = ANY ((SELECT gateway.held_accounts())::text[]);
CREATE VIEW gateway.stat_callbacks AS
    SELECT * FROM gateway.stat_callbacks()
     WHERE (SELECT gateway.held_accounts()) IS NULL
        OR pg_has_role('pg_read_all_stats', 'USAGE')
        OR account = ANY ((SELECT gateway.held_accounts())::text[]);
CREATE VIEW gateway.stat_listener AS
    SELECT * FROM gateway.stat_listener();

-- Zero this database's counters: one account's (its admins, the owner) or,
-- account NULL, all of them (the owner).  Returns the entries zeroed.
CREATE FUNCTION gw_stat_reset(account text DEFAULT NULL) RETURNS bigint
AS 'MODULE_PATHNAME', 'gw_stat_reset' LANGUAGE C VOLATILE PARALLEL RESTRICTED;

-- Whether this database's gateway works: workers, listener, backlog per
-- account the caller holds (docs/monitoring.md, "Health").
CREATE FUNCTION gw_health() RETURNS jsonb
AS 'MODULE_PATHNAME', 'gw_health' LANGUAGE C VOLATILE PARALLEL RESTRICTED;

-- Who may look: the functions filter by the caller's holdings, so anyone
-- with USAGE on the schema (the senders and admins) may call them.
GRANT SELECT ON gateway.stat_requests, gateway.stat_callbacks, gateway.stat_listener TO PUBLIC;
GRANT EXECUTE ON FUNCTION gateway.stat_requests(), gateway.stat_callbacks(),
    gateway.stat_listener() TO PUBLIC;
GRANT EXECUTE ON FUNCTION gw_stat_reset(text), gw_health() TO PUBLIC;


------------------------------------------------------------------------
-- Costs and the daily rollup
------------------------------------------------------------------------

-- What each row sends and what it cost (docs/costs.md).  segments and
-- encoding: an SMS row's parts (gw_sms_info's count times its recipients)
-- and alphabet, set at enqueue; cost: what the provider's answer says the
-- request cost, in the provider's unit; NULL where it does not say.
ALTER TABLE gateway.outbox
    ADD COLUMN segments int,
    ADD COLUMN encoding text,
    ADD COLUMN cost numeric;

-- Per UTC day (of a row's send_at) and account: what went out, kept after
-- the rows are purged.  final: the day will not change again; its rows may
-- be purged.
CREATE TABLE gateway.daily (
    day            date NOT NULL,
    account        text COLLATE "C" NOT NULL,
    sent           bigint NOT NULL,
    delivered      bigint NOT NULL,
    undelivered    bigint NOT NULL,
    failed         bigint NOT NULL,
    segments       bigint NOT NULL,
    cost           numeric,
    delivery_rate  numeric,
    latency_p50_ms double precision,
    latency_p99_ms double precision,
    final          boolean NOT NULL,
    rolled_up_at   timestamptz NOT NULL,
    PRIMARY KEY (day, account)
);
COMMENT ON TABLE gateway.daily IS 'daily figures per account, kept after the outbox rows are purged';
SELECT pg_catalog.pg_extension_config_dump('gateway.daily', '');
ALTER TABLE gateway.daily ENABLE ROW LEVEL SECURITY;
-- Every role may read it, and sees the days of the accounts whose outbox
-- rows it may read (gw_grant_sender grants the outbox; the listener, which
-- holds every account but reads no table, sees none).  Only the owner
-- writes.
CREATE POLICY held_accounts ON gateway.daily
    USING ((SELECT pg_catalog.has_table_privilege('gateway.outbox', 'SELECT'))
           AND ((SELECT gateway.held_accounts()) IS NULL
                OR account = ANY ((SELECT gateway.held_accounts())::text[])));
GRANT SELECT ON gateway.daily TO PUBLIC;

-- The last day whose figures are final (NULL: none yet).  Its one row is
-- also the rollup's lock: one rollup at a time.  Not dumped: a restored
-- database makes its final days again from the restored rows, and the days
-- that were final come back with gateway.daily.
CREATE TABLE gateway.rollup_state (
    final_through date,
    one           boolean PRIMARY KEY DEFAULT true CHECK (one)
);
INSERT INTO gateway.rollup_state DEFAULT VALUES;

-- Compute the days first_day .. last_day from the rows, replacing what is
-- not final.  A row counts on the UTC day of its send_at; a row finishes
-- after it is due, so the purge index on updated_at finds every finished
-- row of those days.
CREATE FUNCTION gateway.rollup_days(first_day date, last_day date, final boolean)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
DELETE FROM gateway.daily d
 WHERE d.day >= first_day AND d.day <= last_day AND NOT d.final;
INSERT INTO gateway.daily AS d
       (day, account, sent, delivered, undelivered, failed, segments, cost,
        delivery_rate, latency_p50_ms, latency_p99_ms, final, rolled_up_at)
SELECT f.day, f.account, f.sent, f.delivered, f.undelivered, f.failed, f.segments, f.cost,
       round(f.delivered::numeric / nullif(f.sent, 0), 4),
       f.p50, f.p99, final, now()
  FROM (SELECT (o.send_at AT TIME ZONE 'UTC')::date AS day, o.account,
               count(*) FILTER (WHERE o.status IN ('sent', 'delivered', 'undelivered')) AS sent,
               count(*) FILTER (WHERE o.status = 'delivered') AS delivered,
               count(*) FILTER (WHERE o.status = 'undelivered') AS undelivered,
               count(*) FILTER (WHERE o.status IN ('failed', 'dead')) AS failed,
               coalesce(sum(o.segments)
                        FILTER (WHERE o.status IN ('sent', 'delivered', 'undelivered')), 0) AS segments,
               sum(o.cost) AS cost,
               percentile_cont(0.5) WITHIN GROUP
                   (ORDER BY extract(epoch FROM o.sent_at - o.send_at) * 1000)
                   FILTER (WHERE o.sent_at IS NOT NULL) AS p50,
               percentile_cont(0.99) WITHIN GROUP
                   (ORDER BY extract(epoch FROM o.sent_at - o.send_at) * 1000)
                   FILTER (WHERE o.sent_at IS NOT NULL) AS p99
          FROM gateway.outbox o
         WHERE o.status IN ('sent', 'delivered', 'undelivered', 'failed', 'dead')
           AND o.updated_at >= first_day::timestamp AT TIME ZONE 'UTC'
           AND o.send_at >= first_day::timestamp AT TIME ZONE 'UTC'
           AND o.send_at < (CASE WHEN last_day = 'infinity' THEN 'infinity'::timestamp
                                 ELSE (last_day + 1)::timestamp END) AT TIME ZONE 'UTC'
         GROUP BY 1, 2) f
    ON CONFLICT (day, account) DO NOTHING;
$$;
REVOKE ALL ON FUNCTION gateway.rollup_days(date, date, boolean) FROM PUBLIC;

-- One pass of the rollup (the worker's, or gw_rollup()'s): make final the
-- days that ended keep_finished_s seconds ago (the purge then removes their
-- rows), refresh the open days that rows changed since `since` (NULL: every
-- open day), drop days older than keep_daily_d days.  wait: false skips the
-- pass (returns NULL) while another runs.  Returns the time it ran at.
CREATE FUNCTION gateway.rollup(keep_finished_s bigint, keep_daily_d int,
                               since timestamptz, wait boolean)
RETURNS timestamptz
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    through   date;
    last_final date;
    first_open date;
    oldest    date := CASE WHEN keep_daily_d >= 0
                           THEN (now() AT TIME ZONE 'UTC')::date - keep_daily_d
                           ELSE '-infinity'::date END;
BEGIN
    IF wait THEN
        SELECT s.final_through INTO through FROM gateway.rollup_state s FOR UPDATE;
    ELSE
        SELECT s.final_through INTO through FROM gateway.rollup_state s FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
    END IF;

    -- final: every day that ended keep_finished ago, once
    IF keep_finished_s >= 0 THEN
        last_final := ((now() - keep_finished_s * interval '1 second') AT TIME ZONE 'UTC')::date - 1;
        IF through IS NULL OR through < last_final THEN
            PERFORM gateway.rollup_days(greatest(coalesce(through + 1, '-infinity'), oldest),
                                        last_final, true);
            UPDATE gateway.rollup_state SET final_through = last_final;
            through := last_final;
        END IF;
    END IF;

    -- open days: from the earliest one a row changed in since the last pass
    IF since IS NULL THEN
        first_open := '-infinity';
    ELSE
        SELECT (min(o.send_at) AT TIME ZONE 'UTC')::date INTO first_open
          FROM gateway.outbox o
         WHERE o.status IN ('sent', 'delivered', 'undelivered', 'failed', 'dead')
           AND o.updated_at >= since;
    END IF;
    IF first_open IS NOT NULL THEN
        PERFORM gateway.rollup_days(greatest(first_open, coalesce(through + 1, '-infinity'), oldest),
                                    'infinity', false);
    END IF;

    IF keep_daily_d >= 0 THEN
        DELETE FROM gateway.daily d WHERE d.day < oldest;
    END IF;
    RETURN now();
END
$$;
REVOKE ALL ON FUNCTION gateway.rollup(bigint, int, timestamptz, boolean) FROM PUBLIC;

-- Roll up now, with the current settings (the extension's owner only).
CREATE FUNCTION gw_rollup() RETURNS void
    AS 'MODULE_PATHNAME', 'gw_rollup' LANGUAGE C;
REVOKE ALL ON FUNCTION gw_rollup() FROM PUBLIC;


------------------------------------------------------------------------
-- Routes and failover
------------------------------------------------------------------------

-- A route sends an SMS to the account chosen by the recipient's number: the
-- entry with the longest prefix of its digits ('' matches every number),
-- and to the entry's fallback while the account's circuit is open
-- (src/route.c, src/circuit.c, docs/routing.md).  Routes and accounts share
-- one namespace: gw_send_sms, gw_queue_sms, gw_enqueue (SMS) take either.
CREATE TABLE gateway.route (
    name       text COLLATE "C" NOT NULL
               CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
    prefix     text COLLATE "C" NOT NULL CHECK (prefix ~ '^[0-9]{0,15}$'),
    account    text NOT NULL REFERENCES gateway.account (name),
    fallback   text REFERENCES gateway.account (name),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, prefix),
    CHECK (fallback <> account)
);
REVOKE ALL ON gateway.route FROM PUBLIC;
COMMENT ON TABLE gateway.route IS 'routes: the account (and fallback) of each number prefix; gw_route_set, gw_route_drop';
SELECT pg_catalog.pg_extension_config_dump('gateway.route', '');
-- backends cache the routes: a change drops every backend's copy at commit
CREATE TRIGGER route_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON gateway.route FOR EACH STATEMENT
    EXECUTE FUNCTION gateway.invalidate_account_cache();

-- One namespace: no route is named like an account, nor an account like a
-- route.  The lock orders two transactions that create the same name.
CREATE FUNCTION gateway.route_name_check() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('gateway name ' || NEW.name));
    IF TG_TABLE_NAME = 'route' AND EXISTS (SELECT 1 FROM gateway.account a WHERE a.name = NEW.name) THEN
        RAISE EXCEPTION 'route name "%" is the name of an account', NEW.name
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Routes and accounts share one namespace (gw_send_sms and gw_queue_sms take either): pick another name.';
    END IF;
    IF TG_TABLE_NAME = 'account' AND EXISTS (SELECT 1 FROM gateway.route r WHERE r.name = NEW.name) THEN
        RAISE EXCEPTION 'account name "%" is the name of a route', NEW.name
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Routes and accounts share one namespace (gw_send_sms and gw_queue_sms take either): pick another name.';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER route_name BEFORE INSERT OR UPDATE OF name ON gateway.route
    FOR EACH ROW EXECUTE FUNCTION gateway.route_name_check();
CREATE TRIGGER route_name BEFORE INSERT OR UPDATE OF name ON gateway.account
    FOR EACH ROW EXECUTE FUNCTION gateway.route_name_check();

-- An account a route uses is not dropped from under it.
CREATE FUNCTION gateway.route_account_check() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r text;
BEGIN
    SELECT string_agg(DISTINCT x.name, ', ') INTO r FROM gateway.route x
     WHERE x.account = OLD.name OR x.fallback = OLD.name;
    IF r IS NOT NULL THEN
        RAISE EXCEPTION 'account "%" is used by route %', OLD.name, r
            USING ERRCODE = 'dependent_objects_still_exist',
                  HINT = 'Drop or change the route''s entries first: gw_route_drop(route, prefix), gw_route_set(...).';
    END IF;
    RETURN OLD;
END
$$;
CREATE TRIGGER route_account BEFORE DELETE ON gateway.account
    FOR EACH ROW EXECUTE FUNCTION gateway.route_account_check();
-- trigger functions: nobody calls them
REVOKE ALL ON FUNCTION gateway.route_name_check() FROM PUBLIC;
REVOKE ALL ON FUNCTION gateway.route_account_check() FROM PUBLIC;

-- route: the route a row was queued through (NULL: an account was named);
-- account: the account that sends it, and has sent it once it left;
-- fallback: the route's other account for it, which the worker swaps in
-- while the account's circuit is open (never for payments).
ALTER TABLE gateway.outbox ADD COLUMN route text, ADD COLUMN fallback text;

-- Routes: set or replace an entry; drop one entry or the whole route.
CREATE FUNCTION gw_route_set(route text, prefix text, account text, fallback text DEFAULT NULL)
    RETURNS text AS 'MODULE_PATHNAME', 'gw_route_set' LANGUAGE C VOLATILE;
CREATE FUNCTION gw_route_drop(route text, prefix text DEFAULT NULL)
    RETURNS integer AS 'MODULE_PATHNAME', 'gw_route_drop' LANGUAGE C VOLATILE;
-- The routes whose accounts the caller holds.
CREATE FUNCTION gw_routes(OUT route text, OUT prefix text, OUT account text,
                          OUT fallback text, OUT created_at timestamptz)
    RETURNS SETOF record AS 'MODULE_PATHNAME', 'gw_routes' LANGUAGE C STABLE;
-- The circuit breaker of each account that has failed (of the accounts the
-- caller holds): closed, open or half-open.
CREATE FUNCTION gw_circuits(OUT account text, OUT state text, OUT failures integer,
                            OUT opened_at timestamptz, OUT half_open_at timestamptz,
                            OUT opens bigint)
    RETURNS SETOF record AS 'MODULE_PATHNAME', 'gw_circuits' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION gw_route_set(text, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION gw_route_drop(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION gw_routes() FROM PUBLIC;
REVOKE ALL ON FUNCTION gw_circuits() FROM PUBLIC;

-- (end of the routes section)


------------------------------------------------------------------------
-- The status page
------------------------------------------------------------------------

-- The window of the status page: the current minute and the 59 before it,
-- so that the per-minute series adds up to the hour's figures.  The views
-- spell the same expression out where they compare rows with it: there the
-- planner estimates it and an index scan of outbox_finished reads the hour
-- alone (a function with a SET clause is neither inlined nor estimated).
CREATE FUNCTION gateway.status_since() RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.date_trunc('minute', pg_catalog.now()) - interval '59 minutes';
GRANT EXECUTE ON FUNCTION gateway.status_since() TO PUBLIC;

-- Each account the caller holds (gateway.accounts) over the last hour:
--   queued     rows waiting to be sent now (due, or waiting to retry)
--   scheduled  rows queued for a later send_at
--   in_flight  rows being sent
--   sent       rows the provider took in the window (sent_at)
--   delivered  of those, the ones delivered
--   failed     rows that ended failed, dead or undelivered in the window
--   send_rate  sent per minute over the window
--   delivery_rate  delivered as a percentage of sent (NULL: nothing sent)
-- security_invoker: the outbox's row-level security applies, a sender sees
-- the rows of its accounts only.
CREATE VIEW gateway.status_hour WITH (security_invoker = true) AS
    SELECT a.name AS account,
           a.provider,
           gateway.status_since() AS since,
           coalesce(w.queued, 0) AS queued,
           coalesce(w.scheduled, 0) AS scheduled,
           coalesce(w.in_flight, 0) AS in_flight,
           coalesce(h.sent, 0) AS sent,
           coalesce(h.delivered, 0) AS delivered,
           coalesce(h.failed, 0) AS failed,
           round(coalesce(h.sent, 0) / 60.0, 2) AS send_rate,
           round(100.0 * h.delivered / nullif(h.sent, 0), 1) AS delivery_rate
      FROM gateway.accounts a
      LEFT JOIN (SELECT o.account,
                        count(*) FILTER (WHERE o.status = 'queued' AND o.send_at <= now()) AS queued,
                        count(*) FILTER (WHERE o.status = 'queued' AND o.send_at > now()) AS scheduled,
                        count(*) FILTER (WHERE o.status = 'sending') AS in_flight
                   FROM gateway.outbox o
                  WHERE o.status IN ('queued', 'unknown', 'sending')
                  GROUP BY o.account) w ON w.account = a.name
      LEFT JOIN (SELECT o.account,
                        count(*) FILTER (WHERE o.sent_at >= pg_catalog.date_trunc('minute', now()) - interval '59 minutes') AS sent,
                        count(*) FILTER (WHERE o.sent_at >= pg_catalog.date_trunc('minute', now()) - interval '59 minutes'
                                           AND o.status = 'delivered') AS delivered,
                        count(*) FILTER (WHERE o.status IN ('failed', 'dead', 'undelivered')) AS failed
                   FROM gateway.outbox o
                  WHERE o.status IN ('sent', 'delivered', 'undelivered', 'failed', 'dead', 'cancelled')
                    AND o.updated_at >= pg_catalog.date_trunc('minute', now()) - interval '59 minutes'
                  GROUP BY o.account) h ON h.account = a.name;

-- The same window minute by minute, every minute of it (zeros included):
-- rows sent and rows that ended failed, dead or undelivered in that minute.
CREATE VIEW gateway.status_minutes WITH (security_invoker = true) AS
    SELECT a.name AS account,
           m.minute,
           coalesce(s.sent, 0) AS sent,
           coalesce(f.failed, 0) AS failed
      FROM gateway.accounts a
     CROSS JOIN generate_series(gateway.status_since(),
                                pg_catalog.date_trunc('minute', now()),
                                interval '1 minute') AS m(minute)
      LEFT JOIN (SELECT o.account, date_trunc('minute', o.sent_at) AS minute, count(*) AS sent
                   FROM gateway.outbox o
                  WHERE o.status IN ('sent', 'delivered', 'undelivered', 'failed', 'dead', 'cancelled')
                    AND o.updated_at >= pg_catalog.date_trunc('minute', now()) - interval '59 minutes'
                    AND o.sent_at >= pg_catalog.date_trunc('minute', now()) - interval '59 minutes'
                  GROUP BY 1, 2) s ON s.account = a.name AND s.minute = m.minute
      LEFT JOIN (SELECT o.account, date_trunc('minute', o.updated_at) AS minute, count(*) AS failed
                   FROM gateway.outbox o
                  WHERE o.status IN ('failed', 'dead', 'undelivered')
                    AND o.updated_at >= pg_catalog.date_trunc('minute', now()) - interval '59 minutes'
                  GROUP BY 1, 2) f ON f.account = a.name AND f.minute = m.minute;

-- Readable by whoever may read gateway.accounts and gateway.outbox
-- (gw_grant_sender): the views run as the caller.
GRANT SELECT ON gateway.status_hour, gateway.status_minutes TO PUBLIC;

-- The status page: one self-contained HTML page over the two views
-- (src/statuspage.c).  The listener serves it; the owner runs it.
CREATE FUNCTION gateway.status_page() RETURNS text
    AS 'MODULE_PATHNAME', 'gw_status_page' LANGUAGE C STABLE;
REVOKE ALL ON FUNCTION gateway.status_page() FROM PUBLIC;

-- ---------------------------------------------------------------------
-- The work index, one entry a row
-- ---------------------------------------------------------------------
-- Rows queued in one transaction share their next_attempt_at, and B-tree
-- deduplication would keep them as one posting list.  The claim can mark
-- an entry dead only when every row in it is, so until VACUUM every claim
-- read again each row of the burst already sent: a drain went quadratic.
-- One entry a row, each marked dead as soon as its row has moved on.
ALTER INDEX gateway.outbox_work SET (deduplicate_items = off);
