-- gateway 0.1.0 -> 0.2.0
--
-- sql/gateway--0.1.0.sql is the released 0.1.0 install script and is never
-- edited again; every SQL change since goes here.  CREATE EXTENSION gateway
-- at 0.2.0 runs the 0.1.0 script and then this one, so a fresh install and an
-- upgraded one are built by the same statements.
\echo Use "ALTER EXTENSION gateway UPDATE TO '0.2.0'" to load this file. \quit

------------------------------------------------------------------------
-- branch standby: pg_dump saves gateway's data
------------------------------------------------------------------------
-- pg_dump leaves an extension's tables out unless they are marked as its
-- configuration: a dump restored the extension with no account, credential,
-- queued message, callback, opt-out or subscription.  The cached provider
-- tokens (gateway.account_token) are left out: they are fetched again.
SELECT pg_catalog.pg_extension_config_dump('gateway.account', '');
SELECT pg_catalog.pg_extension_config_dump('gateway.account_secret', '');
SELECT pg_catalog.pg_extension_config_dump('gateway.outbox', '');
SELECT pg_catalog.pg_extension_config_dump('gateway.outbox_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('gateway.inbound', '');
SELECT pg_catalog.pg_extension_config_dump('gateway.inbound_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('gateway.optouts', '');
SELECT pg_catalog.pg_extension_config_dump('gateway.subscriptions', '');
