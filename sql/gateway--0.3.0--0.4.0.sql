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


------------------------------------------------------------------------
-- Costs and the daily rollup
------------------------------------------------------------------------


------------------------------------------------------------------------
-- Routes and failover
------------------------------------------------------------------------


------------------------------------------------------------------------
-- The status page
------------------------------------------------------------------------

