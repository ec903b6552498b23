-- gateway 0.2.0 -> 0.3.0
--
-- Every SQL change since 0.2.0.  CREATE EXTENSION gateway at 0.3.0 runs the
-- 0.1.0 script and then each update script in turn, so a fresh install and
-- an upgraded one are built by the same statements.
\echo Use "ALTER EXTENSION gateway UPDATE TO '0.3.0'" to load this file. \quit

------------------------------------------------------------------------
-- Outcomes and inbound: one place decides (issue 12)
------------------------------------------------------------------------

-- The key a payment's callback names it by (its checkout or transaction
-- request id), in a column of its own, filled when the push's answer is
-- recorded (src/providers/*.c say which field it is).  Only payments have
-- one, so the index stays small and the SMS path pays nothing for it.
ALTER TABLE gateway.outbox ADD COLUMN match_key text;
UPDATE gateway.outbox
   SET match_key = coalesce(result #>> '{data,data,CheckoutRequestID}', provider_ref)
 WHERE payment AND coalesce(result #>> '{data,data,CheckoutRequestID}', provider_ref) IS NOT NULL;
DROP INDEX gateway.outbox_payment_ref;
CREATE INDEX outbox_match ON gateway.outbox (match_key) WHERE match_key IS NOT NULL;

-- A payment that was not paid is failed, however it was learnt.
UPDATE gateway.outbox SET status = 'failed' WHERE payment AND status = 'undelivered';

-- Delivery reports and payment results are read by their account's provider
-- and applied in C (src/inbound.c, src/outcome.c); what is left here is
-- subscriptions and incoming SMS.  {"outbox_id", "status", "note"}; a body it
-- cannot take raises 22023.
CREATE OR REPLACE FUNCTION gateway.apply_inbound(inbound_id bigint, acc text, kind text,
                                                 p jsonb, country text)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    note text;
    phone text;
    txt text;
BEGIN
    IF kind = 'subscription' THEN
        IF coalesce(p->>'msisdn', '') = '' OR coalesce(p->>'product_id', '') = '' THEN
            RAISE EXCEPTION 'a subscription profile needs msisdn and product_id'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        phone := @extschema@.gw_normalize_msisdn(p->>'msisdn', country);
        INSERT INTO gateway.subscriptions AS s
               (account, msisdn, product_id, active, service_name, keyword,
                campaign_id, unique_id, provider_date, inbound_id)
        VALUES (acc, phone, p->>'product_id', coalesce(p->>'stop_keyword', '') = '',
                p->>'service_name',
                coalesce(nullif(p->>'stop_keyword', ''), p->>'start_keyword'),
                p->>'campaign_id', p->>'unique_id', p->>'date', inbound_id)
        ON CONFLICT (account, msisdn, product_id) DO UPDATE
           SET active = excluded.active, service_name = excluded.service_name,
               keyword = excluded.keyword, campaign_id = excluded.campaign_id,
               unique_id = excluded.unique_id, provider_date = excluded.provider_date,
               inbound_id = excluded.inbound_id, updated_at = now();
        note := format('%s %s product %s',
                       phone, CASE WHEN coalesce(p->>'stop_keyword', '') = ''
                                    THEN 'subscribed to' ELSE 'unsubscribed from' END,
                       p->>'product_id');
        RETURN jsonb_build_object('outbox_id', NULL, 'status', NULL, 'note', note);

    ELSIF kind = 'mo' THEN
        phone := coalesce(p->>'msisdn', p->>'from', p->>'phone');
        txt := coalesce(p->>'message', p->>'text', p->>'sms');
        IF coalesce(phone, '') = '' OR txt IS NULL THEN
            RAISE EXCEPTION 'an incoming SMS needs msisdn and message'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        phone := @extschema@.gw_normalize_msisdn(phone, country);
        txt := upper(btrim(txt, E' \t\r\n'));
        IF txt = 'STOP' THEN
            INSERT INTO gateway.optouts (account, msisdn) VALUES (acc, phone)
                ON CONFLICT DO NOTHING;
            note := phone || ' opted out';
        ELSIF txt = 'START' THEN
            DELETE FROM gateway.optouts o WHERE o.account = acc AND o.msisdn = phone;
            note := phone || ' opted in';
        ELSE
            note := 'message from ' || phone
                    || coalesce(' (link_id ' || coalesce(p->>'link_id', p->>'linkId') || ')', '');
        END IF;
        RETURN jsonb_build_object('outbox_id', NULL, 'status', NULL, 'note', note);
    END IF;
    RAISE EXCEPTION 'callbacks of kind % are not applied here', kind
        USING ERRCODE = 'invalid_parameter_value';
END
$$;

-- (end of the outcomes section)



------------------------------------------------------------------------
-- Rights per account, outbound hosts, secrets at rest (issue 13)
------------------------------------------------------------------------

-- The tables this section alters, the outbox first (see docs/operations.md,
-- Upgrading): the worker and the listener meet the update table by table.
LOCK TABLE gateway.outbox, gateway.inbound, gateway.subscriptions,
           gateway.account, gateway.account_secret IN ACCESS EXCLUSIVE MODE;

-- Who holds which account (src/rights.c decides from it).  account NULL:
-- every account, the one-argument gw_grant_sender/gw_grant_admin.  admin:
-- may also change, drop and take callbacks for the account.
CREATE TABLE gateway.account_grant (
    role     regrole NOT NULL,
    account  text REFERENCES gateway.account (name) ON DELETE CASCADE ON UPDATE CASCADE,
    admin    boolean NOT NULL DEFAULT false,
    CONSTRAINT account_grant_once UNIQUE NULLS NOT DISTINCT (role, account)
);
REVOKE ALL ON gateway.account_grant FROM PUBLIC;
COMMENT ON TABLE gateway.account_grant IS 'the accounts each role holds (gw_grant_sender, gw_grant_admin); NULL: every account';
CREATE TRIGGER account_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON gateway.account_grant FOR EACH STATEMENT
    EXECUTE FUNCTION gateway.invalidate_account_cache();
SELECT pg_catalog.pg_extension_config_dump('gateway.account_grant', '');

-- The roles granted before rights were per account keep every account
-- (admins: gw_account_create; senders: gw_queue_sms; the listener's role:
-- gateway.ingest_text, callbacks of every account).
INSERT INTO gateway.account_grant (role, account, admin)
SELECT a.grantee::regrole, NULL, bool_or(p.proname IN ('gw_account_create', 'ingest_text'))
  FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
 WHERE ((p.pronamespace = '@extschema@'::regnamespace AND p.proname IN ('gw_queue_sms', 'gw_account_create'))
        OR (p.pronamespace = 'gateway'::regnamespace AND p.proname = 'ingest_text'))
   AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0 AND a.grantee <> p.proowner
 GROUP BY a.grantee;
-- and read their accounts' callbacks and subscriptions, as senders now do
DO $grant$
DECLARE
    r regrole;
BEGIN
    FOR r IN SELECT DISTINCT a.grantee::regrole
               FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
              WHERE p.pronamespace = '@extschema@'::regnamespace AND p.proname = 'gw_queue_sms'
                AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0 AND a.grantee <> p.proowner
    LOOP
        EXECUTE pg_catalog.format('GRANT SELECT ON gateway.inbound, gateway.subscriptions TO %s', r);
    END LOOP;
END
$grant$;

-- The accounts the current role holds, NULL: every account.  For the
-- row-level security policies (a role sees its own holdings only).
CREATE FUNCTION gateway.held_accounts() RETURNS text[]
    AS 'MODULE_PATHNAME', 'gw_held_accounts' LANGUAGE C STABLE PARALLEL RESTRICTED;
GRANT EXECUTE ON FUNCTION gateway.held_accounts() TO PUBLIC;

-- A role sees the rows of the accounts it holds.  The owner (and the
-- worker and listener, which act as the owner or a superuser) sees all.
ALTER TABLE gateway.outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE gateway.inbound ENABLE ROW LEVEL SECURITY;
ALTER TABLE gateway.subscriptions ENABLE ROW LEVEL SECURITY;
CREATE POLICY held_accounts ON gateway.outbox
    USING ((SELECT gateway.held_accounts()) IS NULL
           OR account = ANY ((SELECT gateway.held_accounts())::text[]));
CREATE POLICY held_accounts ON gateway.inbound
    USING ((SELECT gateway.held_accounts()) IS NULL
           OR account = ANY ((SELECT gateway.held_accounts())::text[]));
CREATE POLICY held_accounts ON gateway.subscriptions
    USING ((SELECT gateway.held_accounts()) IS NULL
           OR account = ANY ((SELECT gateway.held_accounts())::text[]));

-- The views show what the caller may see: stats over its own rows, the
-- accounts it holds.
ALTER VIEW gateway.stats SET (security_invoker = true);
CREATE OR REPLACE VIEW gateway.accounts AS
    SELECT name, provider, base_url, options, created_at
      FROM gateway.account
     WHERE (SELECT gateway.held_accounts()) IS NULL
        OR name = ANY ((SELECT gateway.held_accounts())::text[]);

-- The worker purges callbacks older than gateway.keep_inbound by age.
CREATE INDEX inbound_received_at ON gateway.inbound (received_at);

-- check_account knows the account: credential files are tied to it.
DROP FUNCTION gateway.check_account(text, jsonb, jsonb, text);
CREATE FUNCTION gateway.check_account(provider text, credentials jsonb,
                                      options jsonb, base_url text, account text)
    RETURNS void AS 'MODULE_PATHNAME', 'gw_check_account' LANGUAGE C;
REVOKE ALL ON FUNCTION gateway.check_account(text, jsonb, jsonb, text, text) FROM PUBLIC;

-- Callback tokens are kept sealed with a key outside the database
-- (src/callback.c): the URLs given out so far keep working.
CREATE FUNCTION gateway.seal_token(account text, token text) RETURNS text
    AS 'MODULE_PATHNAME', 'gw_seal_token' LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION gateway.seal_token(text, text) FROM PUBLIC;
ALTER TABLE gateway.account_secret ALTER COLUMN callback_token DROP DEFAULT;
UPDATE gateway.account_secret s SET callback_token = gateway.seal_token(s.account, s.callback_token);
COMMENT ON COLUMN gateway.account_secret.callback_token IS
    'sealed with the key in the data directory''s gateway_callback.key; useless without it';

-- The functions that act on one account (or one outbox row) check the
-- caller's right on it in C (gw_guarded, src/rights.c) and then run their
-- body: gateway.X for gw_X, SECURITY DEFINER, executable by no one else.
CREATE FUNCTION gateway.account_create(name text, provider text, credentials jsonb,
                                       base_url text, options jsonb)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- the statement holds credentials: never log it, even when it fails
SET log_min_error_statement = panic
AS $$
BEGIN
    IF name IS NULL OR provider IS NULL OR credentials IS NULL THEN
        RAISE EXCEPTION 'name, provider and credentials must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Call gw_account_create(name, provider, credentials).';
    END IF;
    IF name !~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' THEN
        RAISE EXCEPTION 'invalid account name "%"', name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use 1 to 63 letters, digits, "_", "." or "-", starting with a letter or digit.';
    END IF;
    PERFORM gateway.check_account(provider, credentials, coalesce(options, '{}'), base_url, name);
    IF EXISTS (SELECT 1 FROM gateway.account a WHERE a.name = account_create.name) THEN
        RAISE EXCEPTION 'account "%" already exists', name
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Use gw_account_update() to change it, or gw_account_drop() first.';
    END IF;
    INSERT INTO gateway.account (name, provider, base_url, options)
        VALUES (name, lower(provider), base_url, coalesce(options, '{}'));
    INSERT INTO gateway.account_secret (account, credentials, callback_token)
        VALUES (name, credentials, gateway.seal_token(name, gateway.random_token()));
    RETURN name;
END
$$;

CREATE FUNCTION gateway.account_update(name text, credentials jsonb, base_url text,
                                       options jsonb, rotate_callback_token boolean)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- the statement holds credentials: never log it, even when it fails
SET log_min_error_statement = panic
AS $$
DECLARE
    acc gateway.account;
BEGIN
    SELECT * INTO acc FROM gateway.account a WHERE a.name = account_update.name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account "%" does not exist', name
            USING ERRCODE = 'undefined_object',
                  HINT = 'gateway.accounts lists the accounts.';
    END IF;
    -- Credentials go only where they were given for: a new address needs
    -- them again, whatever their source (inline or a file), or whoever may
    -- change base_url could have them sent to himself.
    IF base_url IS DISTINCT FROM acc.base_url AND base_url IS NOT NULL AND credentials IS NULL THEN
        RAISE EXCEPTION 'a new base_url needs the credentials again'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Call gw_account_update(name, credentials => ..., base_url => ...): credentials are never sent to an address they were not given for.';
    END IF;
    PERFORM gateway.check_account(acc.provider, credentials,
                                  coalesce(options, acc.options),
                                  coalesce(base_url, acc.base_url), name);
    UPDATE gateway.account a
       SET base_url = coalesce(account_update.base_url, a.base_url),
           options = coalesce(account_update.options, a.options),
           updated_at = now()
     WHERE a.name = account_update.name;
    IF credentials IS NOT NULL THEN
        UPDATE gateway.account_secret s SET credentials = account_update.credentials
         WHERE s.account = account_update.name;
    END IF;
    -- a new callback token: the URLs given out so far stop working at commit
    IF rotate_callback_token THEN
        UPDATE gateway.account_secret s
           SET callback_token = gateway.seal_token(s.account, gateway.random_token())
         WHERE s.account = account_update.name;
    END IF;
END
$$;

CREATE FUNCTION gateway.account_drop(name text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM gateway.account a WHERE a.name = account_drop.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account "%" does not exist', name
            USING ERRCODE = 'undefined_object',
                  HINT = 'gateway.accounts lists the accounts.';
    END IF;
END
$$;

CREATE FUNCTION gateway.callback_token_rotate(account text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE gateway.account_secret s
       SET callback_token = gateway.seal_token(s.account, gateway.random_token())
     WHERE s.account = callback_token_rotate.account;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account "%" does not exist', account
            USING ERRCODE = 'undefined_object',
                  HINT = 'gateway.accounts lists the accounts.';
    END IF;
END
$$;

CREATE FUNCTION gateway.cancel(id bigint)
RETURNS boolean
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH c AS (
        UPDATE gateway.outbox o SET status = 'cancelled', updated_at = now()
         WHERE o.id = cancel.id AND o.status = 'queued'
        RETURNING 1)
    SELECT count(*) > 0 FROM c
$$;

CREATE FUNCTION gateway.requeue(id bigint)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE gateway.outbox o
       SET status = 'queued', attempts = 0, next_attempt_at = now(),
           last_error = NULL, updated_at = now()
     WHERE o.id = requeue.id AND o.status IN ('failed', 'dead', 'cancelled', 'unknown');
    IF FOUND THEN
        PERFORM gateway.wake();
        RETURN true;
    END IF;
    RETURN false;
END
$$;

REVOKE ALL ON FUNCTION gateway.account_create(text, text, jsonb, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION gateway.account_update(text, jsonb, text, jsonb, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION gateway.account_drop(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION gateway.callback_token_rotate(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION gateway.cancel(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION gateway.requeue(bigint) FROM PUBLIC;

CREATE OR REPLACE FUNCTION gw_account_create(name text, provider text, credentials jsonb,
                                             base_url text DEFAULT NULL,
                                             options jsonb DEFAULT '{}')
    RETURNS text AS 'MODULE_PATHNAME', 'gw_guarded' LANGUAGE C VOLATILE;
CREATE OR REPLACE FUNCTION gw_account_update(name text, credentials jsonb DEFAULT NULL,
                                             base_url text DEFAULT NULL,
                                             options jsonb DEFAULT NULL,
                                             rotate_callback_token boolean DEFAULT false)
    RETURNS void AS 'MODULE_PATHNAME', 'gw_guarded' LANGUAGE C VOLATILE;
CREATE OR REPLACE FUNCTION gw_account_drop(name text)
    RETURNS void AS 'MODULE_PATHNAME', 'gw_guarded' LANGUAGE C VOLATILE;
CREATE OR REPLACE FUNCTION gw_callback_token_rotate(account text)
    RETURNS void AS 'MODULE_PATHNAME', 'gw_guarded' LANGUAGE C VOLATILE;
CREATE OR REPLACE FUNCTION gw_cancel(id bigint)
    RETURNS boolean AS 'MODULE_PATHNAME', 'gw_guarded' LANGUAGE C VOLATILE;
CREATE OR REPLACE FUNCTION gw_requeue(id bigint)
    RETURNS boolean AS 'MODULE_PATHNAME', 'gw_guarded' LANGUAGE C VOLATILE;
-- checks the caller's right itself (src/callback.c)
CREATE OR REPLACE FUNCTION gw_callback_url(account text, kind text)
    RETURNS text AS 'MODULE_PATHNAME', 'gw_callback_url' LANGUAGE C STABLE;

-- Runs as the caller: row-level security hides the rows of accounts it
-- does not hold, which then "do not exist".
CREATE OR REPLACE FUNCTION gw_wait(id bigint, timeout interval DEFAULT '30 seconds')
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + timeout;
    st text;
    pause float8 := 0.001;
BEGIN
    LOOP
        -- an unknown payment still due for reconciliation is not final yet
        SELECT CASE WHEN o.status = 'unknown' AND o.next_attempt_at < 'infinity'
                    THEN 'reconciling' ELSE o.status::text END
          INTO st FROM gateway.outbox o WHERE o.id = gw_wait.id;
        IF st IS NULL THEN
            RAISE EXCEPTION 'outbox row % does not exist', id
                USING ERRCODE = 'undefined_object',
                      HINT = 'gw_enqueue() and gw_queue_sms() return the id to wait for; a row of an account you do not hold is not shown.';
        END IF;
        EXIT WHEN st NOT IN ('queued', 'sending', 'reconciling') OR clock_timestamp() >= deadline;
        PERFORM pg_sleep(least(pause, greatest(extract(epoch FROM deadline - clock_timestamp()), 0)));
        pause := least(pause * 2, 0.1);
    END LOOP;
    RETURN CASE WHEN st = 'reconciling' THEN 'unknown' ELSE st END;
END
$$;

-- Rights per account.  account NULL: every account (the one-argument forms).
CREATE FUNCTION gw_grant_sender(role regrole, account text)
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
                   '%1$I.gw_wait(bigint, interval), '
                   '%1$I.gw_sms_trigger() TO %2$s', ext_schema, role);
    EXECUTE format('GRANT SELECT ON gateway.outbox, gateway.stats, gateway.inbound, '
                   'gateway.subscriptions TO %s', role);
END
$$;

CREATE FUNCTION gw_grant_admin(role regrole, account text)
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
                   '%1$I.gw_callback_token_rotate(text), '
                   '%1$I.gw_callback_url(text, text), '
                   '%1$I.gw_requeue(bigint), '
                   '%1$I.gw_ingest(text, text, jsonb) TO %2$s', ext_schema, role);
END
$$;

CREATE OR REPLACE FUNCTION gw_grant_sender(role regrole)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$ BEGIN PERFORM @extschema@.gw_grant_sender(role, NULL); END $$;

CREATE OR REPLACE FUNCTION gw_grant_admin(role regrole)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$ BEGIN PERFORM @extschema@.gw_grant_admin(role, NULL); END $$;

-- Take one account from a role (account NULL: the grant of every account).
-- A role left holding no account loses the functions and tables too.
CREATE FUNCTION gw_revoke(role regrole, account text)
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
                       '%1$I.gw_callback_token_rotate(text), '
                       '%1$I.gw_callback_url(text, text), '
                       '%1$I.gw_requeue(bigint), '
                       '%1$I.gw_ingest(text, text, jsonb) FROM %2$s', gateway.ext_schema(), role);
    END IF;
END
$$;

-- Every account and every right.
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
                   '%1$I.gw_callback_token_rotate(text), '
                   '%1$I.gw_callback_url(text, text), '
                   '%1$I.gw_call(text, text, jsonb), '
                   '%1$I.gw_send_sms(text, text, text, text), '
                   '%1$I.gw_stk_push(text, text, numeric, text, text), '
                   '%1$I.gw_balance(text), '
                   '%1$I.gw_enqueue(text, text, jsonb, timestamptz, text), '
                   '%1$I.gw_queue_sms(text, text, text, text, timestamptz, text), '
                   '%1$I.gw_cancel(bigint), '
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

-- The listener's role takes callbacks for every account (it may execute
-- gw_ingest and gateway.ingest_text, nothing else).
CREATE OR REPLACE FUNCTION gw_grant_listener(role regrole)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ext_schema text := gateway.ext_schema();
BEGIN
    INSERT INTO gateway.account_grant AS g (role, account, admin)
        VALUES (gw_grant_listener.role, NULL, true)
        ON CONFLICT ON CONSTRAINT account_grant_once DO UPDATE SET admin = true;
    EXECUTE format('GRANT USAGE ON SCHEMA gateway TO %s', role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %1$I.gw_ingest(text, text, jsonb), '
                   'gateway.ingest_text(text, text, text) TO %2$s', ext_schema, role);
END
$$;

REVOKE ALL ON FUNCTION gw_grant_sender(regrole, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION gw_grant_admin(regrole, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION gw_revoke(regrole, text) FROM PUBLIC;

-- (end of the rights section)



------------------------------------------------------------------------
-- Many databases (issue 14)
------------------------------------------------------------------------

-- (end of the many-databases section)



------------------------------------------------------------------------
-- Operations (issue 15)
------------------------------------------------------------------------

-- (end of the operations section)
