-- gateway 0.1.0: SMS and mobile payments from PostgreSQL
\echo Use "CREATE EXTENSION gateway" to load this file. \quit

-- Tables, views and internal functions live in schema gateway; the gw_*
-- functions live in the schema the extension is installed into.
CREATE SCHEMA gateway;
REVOKE ALL ON SCHEMA gateway FROM PUBLIC;

------------------------------------------------------------------------
-- Accounts
------------------------------------------------------------------------

CREATE TABLE gateway.account (
    name        text PRIMARY KEY
                CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
    provider    text NOT NULL,
    base_url    text CHECK (base_url ~ '^https?://[^[:space:]]+$'),
    options     jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(options) = 'object'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE gateway.account IS 'provider accounts; credentials are kept apart in gateway.account_secret';

-- 32 random bytes from pg_strong_random, as 64 hex digits.
CREATE FUNCTION gateway.random_token() RETURNS text
    AS 'MODULE_PATHNAME', 'gw_random_token' LANGUAGE C VOLATILE STRICT;

-- Readable by the extension owner only: no grant is ever made on this table.
-- callback_token is the secret in the URLs the listener answers
-- (gw_callback_url), made with the account, changed by
-- gw_callback_token_rotate().
CREATE TABLE gateway.account_secret (
    account     text PRIMARY KEY REFERENCES gateway.account (name) ON DELETE CASCADE,
    credentials jsonb NOT NULL CHECK (jsonb_typeof(credentials) = 'object'),
    callback_token text NOT NULL DEFAULT gateway.random_token()
);
REVOKE ALL ON gateway.account_secret FROM PUBLIC;
COMMENT ON TABLE gateway.account_secret IS 'account credentials; readable by the extension owner only';

-- OAuth tokens a provider hands out for the credentials (Nenasasa), shared
-- by every call and backend until they expire.  As secret as the
-- credentials: readable by the extension owner only.
CREATE TABLE gateway.account_token (
    account       text PRIMARY KEY REFERENCES gateway.account (name) ON DELETE CASCADE,
    access_token  text NOT NULL,
    refresh_token text,
    fetched_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL
);
REVOKE ALL ON gateway.account_token FROM PUBLIC;
COMMENT ON TABLE gateway.account_token IS 'cached OAuth tokens; readable by the extension owner only';

CREATE VIEW gateway.accounts AS
    SELECT name, provider, base_url, options, created_at
    FROM gateway.account;
COMMENT ON VIEW gateway.accounts IS 'accounts without their credentials';

-- Backends cache accounts; any change to these tables tells every backend
-- to drop its cache at commit.
CREATE FUNCTION gateway.invalidate_account_cache() RETURNS trigger
    AS 'MODULE_PATHNAME', 'gw_invalidate_account_cache' LANGUAGE C;
CREATE TRIGGER account_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON gateway.account FOR EACH STATEMENT
    EXECUTE FUNCTION gateway.invalidate_account_cache();
CREATE TRIGGER account_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON gateway.account_secret FOR EACH STATEMENT
    EXECUTE FUNCTION gateway.invalidate_account_cache();

-- A token belongs to the credentials and the address it was fetched with:
-- forget it when either changes.  The argument names the account column.
CREATE FUNCTION gateway.forget_account_token() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM gateway.account_token t
     WHERE t.account OPERATOR(pg_catalog.=) (pg_catalog.to_jsonb(OLD) OPERATOR(pg_catalog.->>) TG_ARGV[0]);
    RETURN NULL;
END
$$;
CREATE TRIGGER account_token AFTER UPDATE OF base_url ON gateway.account
    FOR EACH ROW WHEN (OLD.base_url IS DISTINCT FROM NEW.base_url)
    EXECUTE FUNCTION gateway.forget_account_token('name');
CREATE TRIGGER account_token AFTER UPDATE OF credentials ON gateway.account_secret
    FOR EACH ROW WHEN (OLD.credentials IS DISTINCT FROM NEW.credentials)
    EXECUTE FUNCTION gateway.forget_account_token('account');

-- Check an account's provider, credentials (NULL: unchanged), options and
-- base URL against the provider table; raises the caller's mistakes.
CREATE FUNCTION gateway.check_account(provider text, credentials jsonb,
                                      options jsonb, base_url text)
    RETURNS void AS 'MODULE_PATHNAME', 'gw_check_account' LANGUAGE C;

CREATE FUNCTION gw_account_create(name text, provider text, credentials jsonb,
                                  base_url text DEFAULT NULL,
                                  options jsonb DEFAULT '{}')
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
    PERFORM gateway.check_account(provider, credentials, coalesce(options, '{}'), base_url);
    IF EXISTS (SELECT 1 FROM gateway.account a WHERE a.name = gw_account_create.name) THEN
        RAISE EXCEPTION 'account "%" already exists', name
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Use gw_account_update() to change it, or gw_account_drop() first.';
    END IF;
    INSERT INTO gateway.account (name, provider, base_url, options)
        VALUES (name, lower(provider), base_url, coalesce(options, '{}'));
    INSERT INTO gateway.account_secret (account, credentials)
        VALUES (name, credentials);
    RETURN name;
END
$$;

CREATE FUNCTION gw_account_update(name text, credentials jsonb DEFAULT NULL,
                                  base_url text DEFAULT NULL,
                                  options jsonb DEFAULT NULL,
                                  rotate_callback_token boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- the statement holds credentials: never log it, even when it fails
SET log_min_error_statement = panic
AS $$
DECLARE
    acc gateway.account;
BEGIN
    SELECT * INTO acc FROM gateway.account a WHERE a.name = gw_account_update.name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account "%" does not exist', name
            USING ERRCODE = 'undefined_object',
                  HINT = 'gateway.accounts lists the accounts.';
    END IF;
    PERFORM gateway.check_account(acc.provider, credentials,
                                  coalesce(options, acc.options),
                                  coalesce(base_url, acc.base_url));
    -- Credentials go only where they were given for: a new address needs them
    -- again, or whoever may change base_url could have them sent to himself.
    IF base_url IS DISTINCT FROM acc.base_url AND base_url IS NOT NULL AND credentials IS NULL THEN
        RAISE EXCEPTION 'a new base_url needs the credentials again'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Call gw_account_update(name, credentials => ..., base_url => ...): credentials are never sent to an address they were not given for.';
    END IF;
    UPDATE gateway.account a
       SET base_url = coalesce(gw_account_update.base_url, a.base_url),
           options = coalesce(gw_account_update.options, a.options),
           updated_at = now()
     WHERE a.name = gw_account_update.name;
    IF credentials IS NOT NULL THEN
        UPDATE gateway.account_secret s SET credentials = gw_account_update.credentials
         WHERE s.account = gw_account_update.name;
    END IF;
    -- a new callback token: the URLs given out so far stop working at commit
    IF rotate_callback_token THEN
        UPDATE gateway.account_secret s SET callback_token = gateway.random_token()
         WHERE s.account = gw_account_update.name;
    END IF;
END
$$;

-- A new callback token for the account: the URLs given out so far stop
-- working at commit.  gw_callback_url() gives the new ones.
CREATE FUNCTION gw_callback_token_rotate(account text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE gateway.account_secret s SET callback_token = gateway.random_token()
     WHERE s.account = gw_callback_token_rotate.account;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account "%" does not exist', account
            USING ERRCODE = 'undefined_object',
                  HINT = 'gateway.accounts lists the accounts.';
    END IF;
END
$$;

-- The URL to give a provider for callbacks of one kind to this account.
-- It carries the callback token: owner and admins only.
CREATE FUNCTION gw_callback_url(account text, kind text)
    RETURNS text AS 'MODULE_PATHNAME', 'gw_callback_url'
    LANGUAGE C STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION gw_account_drop(name text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM gateway.account a WHERE a.name = gw_account_drop.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account "%" does not exist', name
            USING ERRCODE = 'undefined_object',
                  HINT = 'gateway.accounts lists the accounts.';
    END IF;
END
$$;

------------------------------------------------------------------------
-- Calling a provider now
------------------------------------------------------------------------

CREATE FUNCTION gw_call(account text, operation text, params jsonb DEFAULT '{}')
    RETURNS jsonb AS 'MODULE_PATHNAME', 'gw_call' LANGUAGE C VOLATILE;

CREATE FUNCTION gw_send_sms(account text, recipient text, message text,
                            sender_id text DEFAULT NULL)
    RETURNS jsonb AS 'MODULE_PATHNAME', 'gw_send_sms' LANGUAGE C VOLATILE;

CREATE FUNCTION gw_stk_push(account text, phone text, amount numeric,
                            reference text DEFAULT NULL, description text DEFAULT NULL)
    RETURNS jsonb AS 'MODULE_PATHNAME', 'gw_stk_push' LANGUAGE C VOLATILE;

CREATE FUNCTION gw_balance(account text)
    RETURNS jsonb AS 'MODULE_PATHNAME', 'gw_balance' LANGUAGE C VOLATILE;

CREATE FUNCTION gw_operations(
        OUT provider text, OUT operation text, OUT description text,
        OUT method text, OUT path text,
        OUT required text[], OUT optional text[], OUT payment boolean)
    RETURNS SETOF record AS 'MODULE_PATHNAME', 'gw_operations' LANGUAGE C STABLE;

------------------------------------------------------------------------
-- Helpers
------------------------------------------------------------------------

CREATE FUNCTION gw_normalize_msisdn(phone text, country text DEFAULT 'KE')
    RETURNS text AS 'MODULE_PATHNAME', 'gw_normalize_msisdn'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION gw_sms_info(message text)
    RETURNS jsonb AS 'MODULE_PATHNAME', 'gw_sms_info'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

------------------------------------------------------------------------
-- Privileges
--
-- The extension owner can do everything and is the only role that can read
-- gateway.account_secret.  gw_grant_sender(role) lets a role call providers;
-- gw_grant_admin(role) also lets it create, change and drop accounts
-- (it still cannot read credentials).  PUBLIC gets the pure helpers only.
------------------------------------------------------------------------

REVOKE ALL ON FUNCTION gw_account_create(text, text, jsonb, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION gw_account_update(text, jsonb, text, jsonb, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION gw_account_drop(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION gw_callback_token_rotate(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION gw_callback_url(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION gateway.random_token() FROM PUBLIC;
REVOKE ALL ON FUNCTION gw_call(text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION gw_send_sms(text, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION gw_stk_push(text, text, numeric, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION gw_balance(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION gateway.check_account(text, jsonb, jsonb, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION gateway.invalidate_account_cache() FROM PUBLIC;
REVOKE ALL ON FUNCTION gateway.forget_account_token() FROM PUBLIC;

-- The schema the extension's gw_* functions live in.
CREATE FUNCTION gateway.ext_schema() RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT n.nspname FROM pg_extension e
      JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'gateway'
$$;

CREATE FUNCTION gw_grant_sender(role regrole)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ext_schema text := gateway.ext_schema();
BEGIN
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
    EXECUTE format('GRANT SELECT ON gateway.outbox, gateway.stats TO %s', role);
END
$$;

CREATE FUNCTION gw_grant_admin(role regrole)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ext_schema text := gateway.ext_schema();
BEGIN
    EXECUTE format('SELECT %I.gw_grant_sender(%L)', ext_schema, role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION '
                   '%1$I.gw_account_create(text, text, jsonb, text, jsonb), '
                   '%1$I.gw_account_update(text, jsonb, text, jsonb, boolean), '
                   '%1$I.gw_account_drop(text), '
                   '%1$I.gw_callback_token_rotate(text), '
                   '%1$I.gw_callback_url(text, text), '
                   '%1$I.gw_requeue(bigint) TO %2$s', ext_schema, role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %1$I.gw_ingest(text, text, jsonb) TO %2$s',
                   ext_schema, role);
END
$$;

CREATE FUNCTION gw_revoke(role regrole)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ext_schema text := gateway.ext_schema();
BEGIN
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
    EXECUTE format('REVOKE SELECT ON gateway.accounts, gateway.outbox, gateway.stats FROM %s', role);
    EXECUTE format('REVOKE USAGE ON SCHEMA gateway FROM %s', role);
END
$$;

REVOKE ALL ON FUNCTION gw_grant_sender(regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION gw_grant_admin(regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION gw_revoke(regrole) FROM PUBLIC;

------------------------------------------------------------------------
-- The outbox
------------------------------------------------------------------------

-- Every row has an idempotency key.  A caller's own key (key_given) is
-- unique per account; without one, the key is gateway's: 'gw', a prefix
-- drawn at install time (so that a reinstall never repeats a key at a
-- provider), '-' and the row's id.  Those are unique by construction, so
-- the unique index covers callers' keys only and the hot path stays light.
-- queued → sending → sent → delivered | undelivered; or failed, dead,
-- cancelled; unknown: a payment whose outcome must be reconciled first.
CREATE TYPE gateway.outbox_status AS ENUM
    ('queued', 'sending', 'sent', 'delivered', 'undelivered',
     'failed', 'dead', 'cancelled', 'unknown');
CREATE SEQUENCE gateway.outbox_id_seq;
DO $outbox$
BEGIN
    EXECUTE format($sql$
CREATE TABLE gateway.outbox (
    id              bigint PRIMARY KEY DEFAULT nextval('gateway.outbox_id_seq'),
    account         text COLLATE "C" NOT NULL,
    operation       text NOT NULL,
    params          jsonb NOT NULL,
    status          gateway.outbox_status NOT NULL DEFAULT 'queued',
    attempts        int NOT NULL DEFAULT 0,
    send_at         timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    provider_ref    text,
    idempotency_key text COLLATE "C" NOT NULL
                    DEFAULT 'gw%s-' || currval('gateway.outbox_id_seq'),
    key_given       boolean NOT NULL DEFAULT false,
    result          jsonb,
    last_error      text,
    payment         boolean NOT NULL DEFAULT false,
    lease_until     timestamptz,
    leased_by       bigint,
    sent_at         timestamptz
)$sql$, substr(md5(random()::text || clock_timestamp()::text), 1, 8));
END
$outbox$;
ALTER SEQUENCE gateway.outbox_id_seq OWNED BY gateway.outbox.id;
CREATE UNIQUE INDEX outbox_caller_key ON gateway.outbox (account, idempotency_key)
    WHERE key_given;
COMMENT ON TABLE gateway.outbox IS 'messages and payments to send; drained by the gateway worker';
-- The work: rows due to be sent or reconciled, and rows being sent, whose
-- next_attempt_at is the end of their lease (to take them back if it runs
-- out).  Every status change rewrites a row's index entries, so the table
-- keeps as few indexes as it can.
CREATE INDEX outbox_work ON gateway.outbox (next_attempt_at)
    WHERE status IN ('queued', 'unknown', 'sending');
-- finished rows to purge
CREATE INDEX outbox_finished ON gateway.outbox (updated_at)
    WHERE status IN ('sent', 'delivered', 'undelivered', 'failed', 'dead', 'cancelled');

CREATE FUNCTION gw_enqueue(account text, operation text, params jsonb,
                           send_at timestamptz DEFAULT NULL,
                           idempotency_key text DEFAULT NULL)
    RETURNS bigint AS 'MODULE_PATHNAME', 'gw_enqueue' LANGUAGE C VOLATILE;

CREATE FUNCTION gw_queue_sms(account text, recipient text, message text,
                             sender_id text DEFAULT NULL,
                             send_at timestamptz DEFAULT NULL,
                             idempotency_key text DEFAULT NULL)
    RETURNS bigint AS 'MODULE_PATHNAME', 'gw_queue_sms' LANGUAGE C VOLATILE;

CREATE FUNCTION gw_cancel(id bigint)
RETURNS boolean
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH c AS (
        UPDATE gateway.outbox o SET status = 'cancelled', updated_at = now()
         WHERE o.id = gw_cancel.id AND o.status = 'queued'
        RETURNING 1)
    SELECT count(*) > 0 FROM c
$$;

-- Send a finished row again: a failed, dead or cancelled one, or an unknown
-- payment an operator has checked by hand.  Keeps the idempotency key.
CREATE FUNCTION gw_requeue(id bigint)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE gateway.outbox o
       SET status = 'queued', attempts = 0, next_attempt_at = now(),
           last_error = NULL, updated_at = now()
     WHERE o.id = gw_requeue.id AND o.status IN ('failed', 'dead', 'cancelled', 'unknown');
    IF FOUND THEN
        PERFORM gateway.wake();
        RETURN true;
    END IF;
    RETURN false;
END
$$;

-- Wait until a row is final (or the timeout passes); its status either way.
CREATE FUNCTION gw_wait(id bigint, timeout interval DEFAULT '30 seconds')
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
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
                      HINT = 'gw_enqueue() and gw_queue_sms() return the id to wait for.';
        END IF;
        EXIT WHEN st NOT IN ('queued', 'sending', 'reconciling') OR clock_timestamp() >= deadline;
        PERFORM pg_sleep(least(pause, greatest(extract(epoch FROM deadline - clock_timestamp()), 0)));
        pause := least(pause * 2, 0.1);
    END LOOP;
    RETURN CASE WHEN st = 'reconciling' THEN 'unknown' ELSE st END;
END
$$;

-- Wake the workers now (at commit of the calling transaction).
CREATE FUNCTION gateway.wake() RETURNS void
    AS 'MODULE_PATHNAME', 'gw_wake' LANGUAGE C VOLATILE;

-- Trigger: queue an SMS for each new row, e.g.
--   CREATE TRIGGER welcome AFTER INSERT ON customers FOR EACH ROW
--     EXECUTE FUNCTION gw_sms_trigger('main', 'phone', 'Karibu {{name}}!');
CREATE FUNCTION gw_sms_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'gw_sms_trigger' LANGUAGE C;

CREATE VIEW gateway.stats AS
    SELECT account,
           count(*) FILTER (WHERE status = 'queued')      AS queued,
           count(*) FILTER (WHERE status = 'sending')     AS in_flight,
           count(*) FILTER (WHERE status = 'sent')        AS sent,
           count(*) FILTER (WHERE status = 'delivered')   AS delivered,
           count(*) FILTER (WHERE status = 'undelivered') AS undelivered,
           count(*) FILTER (WHERE status = 'failed')      AS failed,
           count(*) FILTER (WHERE status = 'dead')        AS dead,
           count(*) FILTER (WHERE status = 'unknown')     AS unknown,
           count(*) FILTER (WHERE status = 'cancelled')   AS cancelled,
           avg(sent_at - created_at) FILTER (WHERE sent_at IS NOT NULL) AS avg_latency,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY sent_at - created_at)
               FILTER (WHERE sent_at IS NOT NULL)        AS p99_latency
      FROM gateway.outbox
     GROUP BY account;

REVOKE ALL ON FUNCTION gw_enqueue(text, text, jsonb, timestamptz, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION gw_queue_sms(text, text, text, text, timestamptz, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION gw_cancel(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION gw_requeue(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION gw_wait(bigint, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION gateway.wake() FROM PUBLIC;
REVOKE ALL ON FUNCTION gw_sms_trigger() FROM PUBLIC;

-- Wake the workers at commit so that they find the new outbox at once.
SELECT gateway.wake();

------------------------------------------------------------------------
-- Inbound: delivery reports, payment results, subscriptions, incoming SMS
-- and USSD (src/inbound.c)
------------------------------------------------------------------------

-- Every callback a provider sent, recorded before anything is done with it:
-- payload when the body is JSON, raw when it is not.  outbox_id is the row
-- it updated, note what came of it.  No foreign key: a callback outlives
-- the account and the outbox row it speaks of.
CREATE TABLE gateway.inbound (
    id          bigserial PRIMARY KEY,
    account     text NOT NULL,
    kind        text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    payload     jsonb,
    raw         text,
    outbox_id   bigint,
    note        text,
    CHECK ((payload IS NULL) <> (raw IS NULL))
);
CREATE INDEX inbound_received ON gateway.inbound (account, received_at);
COMMENT ON TABLE gateway.inbound IS 'every callback received (gw_ingest, the listener), before it was applied';

CREATE FUNCTION gw_ingest(account text, kind text, payload jsonb)
    RETURNS jsonb AS 'MODULE_PATHNAME', 'gw_ingest' LANGUAGE C VOLATILE;

-- The listener's entry: the body as received, JSON or not.
CREATE FUNCTION gateway.ingest_text(account text, kind text, body text)
    RETURNS jsonb AS 'MODULE_PATHNAME', 'gw_ingest_text' LANGUAGE C VOLATILE;

REVOKE ALL ON FUNCTION gw_ingest(text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION gateway.ingest_text(text, text, text) FROM PUBLIC;

-- Numbers that sent STOP to an account: no SMS of that account reaches
-- them (checked where every request is built, from a per-backend cache
-- that this trigger invalidates).
CREATE TABLE gateway.optouts (
    account     text NOT NULL,
    msisdn      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account, msisdn)
);
COMMENT ON TABLE gateway.optouts IS 'numbers that sent STOP; sends to them end rejected';
CREATE TRIGGER optout_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON gateway.optouts FOR EACH STATEMENT
    EXECUTE FUNCTION gateway.invalidate_account_cache();

-- The current subscription state per account, phone and premium product.
CREATE TABLE gateway.subscriptions (
    account       text NOT NULL,
    msisdn        text NOT NULL,
    product_id    text NOT NULL,
    active        boolean NOT NULL,
    service_name  text,
    keyword       text,
    campaign_id   text,
    unique_id     text,
    provider_date text,
    inbound_id    bigint,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account, msisdn, product_id)
);
COMMENT ON TABLE gateway.subscriptions IS 'premium subscriptions as the provider last reported them';

-- A payment's callback finds it by the checkout / transaction request id
-- the push was answered with.  Payments only: the SMS rows stay out of it.
CREATE INDEX outbox_payment_ref ON gateway.outbox
    ((coalesce(result #>> '{data,data,CheckoutRequestID}', provider_ref))) WHERE payment;

-- Apply one recorded callback (not USSD: src/inbound.c runs the handler);
-- {"outbox_id", "status", "note"}.  A body it cannot take raises 22023.
CREATE FUNCTION gateway.apply_inbound(inbound_id bigint, acc text, kind text,
                                      p jsonb, country text)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    final constant gateway.outbox_status[] := '{delivered,undelivered}';
    row_id bigint;
    cur gateway.outbox_status;
    new_status gateway.outbox_status;
    cb jsonb;
    note text;
    key text;
    corr text;
    st text;
    stk jsonb;
    items jsonb;
    ids text[];
    code_text text;
    code int;
    descr text;
    phone text;
    txt text;
BEGIN
    IF kind = 'dlr' THEN
        key := nullif(p->>'uniqueId', '');
        corr := nullif(p->>'correlator', '');
        st := coalesce(nullif(p->>'deliveryStatus', ''), p->>'deliveryState');
        IF key IS NULL AND corr IS NULL THEN
            RAISE EXCEPTION 'a delivery report needs uniqueId or correlator'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF st IN ('DeliveredToNetwork', 'DeliveredToTerminal') THEN
            new_status := 'delivered';
        ELSIF st IN ('UserNotSubscribed', 'InsufficientFunds', 'MessageStatusIsOverdue',
                     'NotSFCUser', 'UserNotExist', 'Invalid_Linkid', 'UserInBlacklist',
                     'DeliveryImpossible', 'DeliveryUncertain', 'UnknownSubscriber',
                     'DeliveryFailure', 'UserAbnormalState', 'TeleserviceNotProvisioned',
                     'DeliveryNotificationNotSupported', 'QueueAuthorisationError',
                     'InternalServerError', 'UnknownServerError') THEN
            new_status := 'undelivered';
        END IF;
        -- gateway's own key carries the row id; a caller's is in the unique index
        IF key ~ '^gw[0-9a-f]{8}-[0-9]{1,18}$' THEN
            SELECT o.id, o.status INTO row_id, cur FROM gateway.outbox o
             WHERE o.id = substring(key FROM '-([0-9]+)$')::bigint
               AND o.account = acc AND o.idempotency_key = key AND NOT o.key_given
               FOR UPDATE;
        END IF;
        IF row_id IS NULL AND key IS NOT NULL THEN
            SELECT o.id, o.status INTO row_id, cur FROM gateway.outbox o
             WHERE o.account = acc AND o.idempotency_key = key AND o.key_given
               FOR UPDATE;
        END IF;
        IF row_id IS NULL AND corr IS NOT NULL THEN
            SELECT o.id, o.status INTO row_id, cur FROM gateway.outbox o
             WHERE o.provider_ref = corr AND o.account = acc AND NOT o.payment
             ORDER BY o.id DESC LIMIT 1
               FOR UPDATE;
        END IF;
        cb := jsonb_strip_nulls(jsonb_build_object(
            'kind', 'dlr', 'inbound_id', inbound_id, 'delivery_status', p->>'deliveryStatus',
            'delivery_state', p->>'deliveryState', 'correlator', corr,
            'reference_id', p->>'referenceId', 'timestamp', p->>'timestamp'));
        IF row_id IS NULL THEN
            note := 'no outbox row has this uniqueId or correlator';
        ELSIF new_status IS NULL THEN
            note := format('delivery status %s recorded; the row is left %s', coalesce(st, 'missing'), cur);
        END IF;

    ELSIF kind = 'payment' THEN
        IF jsonb_typeof(p->'Body') = 'object' THEN
            -- M-Pesa's STK callback, as VasPro and Umeskia forward it
            stk := p->'Body'->'stkCallback';
            IF jsonb_typeof(stk) IS DISTINCT FROM 'object' THEN
                RAISE EXCEPTION 'Body.stkCallback is missing'
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            ids := ARRAY[stk->>'CheckoutRequestID'];
            code_text := stk->>'ResultCode';
            descr := stk->>'ResultDesc';
            SELECT jsonb_object_agg(i->>'Name', i->'Value') INTO items
              FROM jsonb_array_elements(CASE WHEN jsonb_typeof(stk#>'{CallbackMetadata,Item}') = 'array'
                                             THEN stk#>'{CallbackMetadata,Item}' ELSE '[]' END) i;
            cb := jsonb_build_object('amount', items->'Amount',
                                     'receipt', items->>'MpesaReceiptNumber',
                                     'phone', items->>'PhoneNumber',
                                     'transaction_date', items->>'TransactionDate');
        ELSIF p ? 'TransactionStatus' THEN
            -- Umeskia's transaction status body
            ids := ARRAY[p->>'TransactionID'];
            code_text := CASE p->>'TransactionStatus'
                         WHEN 'Completed' THEN '0'
                         WHEN 'Failed' THEN coalesce(nullif(p->>'TransactionCode', ''), '1')
                         END;
            descr := p->>'ResultDesc';
            cb := jsonb_build_object('amount', p->'TransactionAmount',
                                     'receipt', nullif(p->>'TransactionReceipt', ''),
                                     'phone', p->>'Msisdn',
                                     'transaction_date', nullif(p->>'TransactionDate', ''));
        ELSIF p ? 'ResponseCode' THEN
            -- Umeskia's callback dump
            ids := ARRAY[p->>'TransactionID', p->>'CheckoutRequestID'];
            code_text := p->>'ResponseCode';
            descr := p->>'ResponseDescription';
            cb := jsonb_build_object('amount', p->'TransactionAmount',
                                     'receipt', p->>'TransactionReceipt',
                                     'phone', p->>'Msisdn',
                                     'transaction_date', p->>'TransactionDate');
        ELSE
            RAISE EXCEPTION 'not a payment result'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Expected an M-Pesa STK callback (Body.stkCallback) or an Umeskia transaction status.';
        END IF;
        ids := array_remove(ids, NULL);
        IF cardinality(ids) = 0 THEN
            RAISE EXCEPTION 'the payment result names no checkout or transaction request id'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF code_text IS NOT NULL AND code_text !~ '^\s*-?[0-9]{1,9}\s*$' THEN
            RAISE EXCEPTION 'result code "%" is not a number', code_text
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        code := code_text::int;
        IF code = 0 THEN
            new_status := 'delivered';
        ELSIF code IS NOT NULL THEN
            new_status := 'undelivered';
        END IF;
        SELECT o.id, o.status INTO row_id, cur FROM gateway.outbox o
         WHERE o.payment AND o.account = acc
           AND coalesce(o.result #>> '{data,data,CheckoutRequestID}', o.provider_ref) = ANY (ids)
         ORDER BY o.id DESC LIMIT 1
           FOR UPDATE;
        cb := jsonb_strip_nulls(jsonb_build_object(
                  'kind', 'payment', 'inbound_id', inbound_id, 'paid', code = 0,
                  'result_code', code, 'result_desc', descr) || cb);
        IF row_id IS NULL THEN
            note := 'no payment has this checkout or transaction request id';
        ELSIF new_status IS NULL THEN
            note := format('payment still pending; the row is left %s', cur);
        END IF;

    ELSIF kind = 'subscription' THEN
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

    IF row_id IS NOT NULL AND new_status IS NOT NULL THEN
        IF cur = ANY (final) THEN
            note := format('the row is already %s: unchanged', cur);
            new_status := NULL;
        ELSE
            -- A row still being sent keeps its lease: the worker's flush
            -- then records the send's answer but keeps this status.
            UPDATE gateway.outbox o
               SET status = new_status,
                   result = coalesce(o.result, '{}') || jsonb_build_object('callback', cb),
                   sent_at = CASE WHEN new_status = 'delivered'
                                  THEN coalesce(o.sent_at, now()) ELSE o.sent_at END,
                   updated_at = now()
             WHERE o.id = row_id;
        END IF;
    END IF;
    IF row_id IS NULL THEN
        new_status := NULL;
    END IF;
    RETURN jsonb_build_object('outbox_id', row_id, 'status', new_status, 'note', note);
END
$$;
REVOKE ALL ON FUNCTION gateway.apply_inbound(bigint, text, text, jsonb, text) FROM PUBLIC;

-- The listener's role (gateway.listen_role) may hand callbacks in and do
-- nothing else; gw_grant_admin also lets a role call gw_ingest.
CREATE FUNCTION gw_grant_listener(role regrole)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ext_schema text := gateway.ext_schema();
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA gateway TO %s', role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %1$I.gw_ingest(text, text, jsonb), '
                   'gateway.ingest_text(text, text, text) TO %2$s', ext_schema, role);
END
$$;
REVOKE ALL ON FUNCTION gw_grant_listener(regrole) FROM PUBLIC;
