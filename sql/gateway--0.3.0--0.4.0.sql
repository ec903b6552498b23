-- gateway 0.3.0 -> 0.4.0
--
-- Every SQL change since 0.3.0.  CREATE EXTENSION gateway at 0.4.0 runs the
-- 0.1.0 script and then each update script in turn, so a fresh install and
-- an upgraded one are built by the same statements.
\echo Use "ALTER EXTENSION gateway UPDATE TO '0.4.0'" to load this file. \quit

------------------------------------------------------------------------
-- Pause and bulk cancel
------------------------------------------------------------------------


------------------------------------------------------------------------
-- Counters and health
------------------------------------------------------------------------


------------------------------------------------------------------------
-- Costs and the daily rollup
------------------------------------------------------------------------


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

