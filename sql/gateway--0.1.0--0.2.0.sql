-- gateway 0.1.0 -> 0.2.0
--
-- sql/gateway--0.1.0.sql is the released 0.1.0 install script and is never
-- edited again; every SQL change since goes here.  CREATE EXTENSION gateway
-- at 0.2.0 runs the 0.1.0 script and then this one, so a fresh install and an
-- upgraded one are built by the same statements.
\echo Use "ALTER EXTENSION gateway UPDATE TO '0.2.0'" to load this file. \quit

------------------------------------------------------------------------
-- Privileges (issue 7, part 4)
------------------------------------------------------------------------

-- gw_grant_admin called gw_grant_sender through a quoted literal, which an
-- overload gw_grant_sender(text) planted in the extension's schema would
-- win: it then ran as the (superuser) caller.  The call is now static and
-- typed regrole, which only the extension's own function matches.
CREATE OR REPLACE FUNCTION gw_grant_admin(role regrole)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ext_schema text := gateway.ext_schema();
BEGIN
    PERFORM @extschema@.gw_grant_sender(role);
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

------------------------------------------------------------------------
-- Secrets at rest (issue 7, part 5)
------------------------------------------------------------------------

-- Accounts are configuration: pg_dump keeps them (a restore used to come
-- back without any).  Credentials given as "<field>_file" are dumped as
-- the file's path only.
SELECT pg_catalog.pg_extension_config_dump('gateway.account', '');
SELECT pg_catalog.pg_extension_config_dump('gateway.account_secret', '');

------------------------------------------------------------------------
-- Dump and restore keep what was sent and received
------------------------------------------------------------------------

-- The outbox (with its idempotency keys, so a restored database never sends
-- a message twice under a new key), the callbacks received, the opt-outs and
-- the subscriptions are data: pg_dump keeps them, and their sequences'
-- positions.
SELECT pg_catalog.pg_extension_config_dump('gateway.outbox', '');
SELECT pg_catalog.pg_extension_config_dump('gateway.outbox_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('gateway.inbound', '');
SELECT pg_catalog.pg_extension_config_dump('gateway.inbound_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('gateway.optouts', '');
SELECT pg_catalog.pg_extension_config_dump('gateway.subscriptions', '');
