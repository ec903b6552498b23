-- Privileges: who may do what with every object of the extension.
--
-- The matrix below is generated from pg_depend (every member of extension
-- gateway), so a new function, table, view, sequence or type shows up here
-- as a diff until its privileges are decided.  Columns: the extension owner,
-- an admin (gw_grant_admin), a sender (gw_grant_sender), a plain application
-- role (no grant) and the listener's role (gw_grant_listener).  A cell is
-- the effective privilege: the object's ACL and USAGE on its schema.
--   function: X = EXECUTE
--   table, view: S I U D = SELECT INSERT UPDATE DELETE
--   sequence: U = USAGE, S = SELECT
--   type: U = USAGE
\set VERBOSITY default
CREATE ROLE gw_m_admin;
CREATE ROLE gw_m_sender;
CREATE ROLE gw_m_app;
CREATE ROLE gw_m_listener;
SELECT gw_grant_admin('gw_m_admin');
SELECT gw_grant_sender('gw_m_sender');
SELECT gw_grant_listener('gw_m_listener');

CREATE TEMP TABLE role_kind AS
SELECT * FROM (VALUES
    (1, 'owner',    (SELECT extowner::regrole::text FROM pg_extension WHERE extname = 'gateway')),
    (2, 'admin',    'gw_m_admin'),
    (3, 'sender',   'gw_m_sender'),
    (4, 'app',      'gw_m_app'),
    (5, 'listener', 'gw_m_listener')) AS r(ord, kind, role);

-- Every member of the extension: pg_depend deptype 'e'.
CREATE TEMP TABLE ext_object AS
SELECT d.classid, d.objid,
       CASE d.classid
         WHEN 'pg_proc'::regclass THEN 'function'
         WHEN 'pg_type'::regclass THEN 'type'
         WHEN 'pg_namespace'::regclass THEN 'schema'
         WHEN 'pg_class'::regclass THEN
             CASE (SELECT relkind FROM pg_class WHERE oid = d.objid)
               WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'S' THEN 'sequence'
               ELSE 'relation ' || (SELECT relkind::text FROM pg_class WHERE oid = d.objid) END
         ELSE d.classid::regclass::text END AS kind,
       CASE d.classid
         WHEN 'pg_proc'::regclass THEN d.objid::regprocedure::text
         WHEN 'pg_type'::regclass THEN d.objid::regtype::text
         WHEN 'pg_namespace'::regclass THEN d.objid::regnamespace::text
         WHEN 'pg_class'::regclass THEN d.objid::regclass::text
         ELSE pg_describe_object(d.classid, d.objid, 0) END AS name
  FROM pg_depend d
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'gateway')
   AND d.deptype = 'e'
   -- PostgreSQL 17 lists dependent types too (array types, row types of
   -- tables and views), which have no privileges of their own
   AND NOT EXISTS (SELECT FROM pg_type t
                    WHERE d.classid = 'pg_type'::regclass AND t.oid = d.objid
                      AND (t.typtype = 'm'
                           OR EXISTS (SELECT FROM pg_type e WHERE e.typarray = t.oid)
                           OR EXISTS (SELECT FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c')));

-- Nothing of a kind this file does not check.
SELECT kind, count(*) FROM ext_object GROUP BY kind ORDER BY kind;

CREATE FUNCTION pg_temp.cell(role text, kind text, obj oid) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE kind
      WHEN 'schema' THEN
          CASE WHEN has_schema_privilege(role, obj, 'USAGE') THEN 'U' ELSE '' END
          || CASE WHEN has_schema_privilege(role, obj, 'CREATE') THEN 'C' ELSE '' END
      WHEN 'function' THEN
          CASE WHEN has_function_privilege(role, obj, 'EXECUTE')
                AND has_schema_privilege(role, (SELECT pronamespace FROM pg_proc WHERE oid = obj), 'USAGE')
               THEN 'X' ELSE '' END
      WHEN 'type' THEN
          CASE WHEN has_type_privilege(role, obj, 'USAGE')
                AND has_schema_privilege(role, (SELECT typnamespace FROM pg_type WHERE oid = obj), 'USAGE')
               THEN 'U' ELSE '' END
      WHEN 'sequence' THEN
          CASE WHEN NOT has_schema_privilege(role, (SELECT relnamespace FROM pg_class WHERE oid = obj), 'USAGE') THEN ''
               ELSE CASE WHEN has_sequence_privilege(role, obj, 'USAGE') THEN 'U' ELSE '' END
                 || CASE WHEN has_sequence_privilege(role, obj, 'SELECT') THEN 'S' ELSE '' END END
      ELSE
          CASE WHEN NOT has_schema_privilege(role, (SELECT relnamespace FROM pg_class WHERE oid = obj), 'USAGE') THEN ''
               ELSE CASE WHEN has_table_privilege(role, obj, 'SELECT') THEN 'S' ELSE '' END
                 || CASE WHEN has_table_privilege(role, obj, 'INSERT') THEN 'I' ELSE '' END
                 || CASE WHEN has_table_privilege(role, obj, 'UPDATE') THEN 'U' ELSE '' END
                 || CASE WHEN has_table_privilege(role, obj, 'DELETE') THEN 'D' ELSE '' END END
      END
$$;

-- The matrix.
SELECT o.kind, o.name,
       max(pg_temp.cell(r.role, o.kind, o.objid)) FILTER (WHERE r.kind = 'owner')    AS owner,
       max(pg_temp.cell(r.role, o.kind, o.objid)) FILTER (WHERE r.kind = 'admin')    AS admin,
       max(pg_temp.cell(r.role, o.kind, o.objid)) FILTER (WHERE r.kind = 'sender')   AS sender,
       max(pg_temp.cell(r.role, o.kind, o.objid)) FILTER (WHERE r.kind = 'app')      AS app,
       max(pg_temp.cell(r.role, o.kind, o.objid)) FILTER (WHERE r.kind = 'listener') AS listener
  FROM ext_object o CROSS JOIN role_kind r
 GROUP BY o.kind, o.name, o.objid
 ORDER BY o.kind, o.name;

-- The secret columns, one by one: no role but the owner may read or write
-- any of them, not even through a column grant.
SELECT c.attrelid::regclass AS "table", c.attname AS "column",
       string_agg(r.kind || ':' ||
                  CASE WHEN has_column_privilege(r.role, c.attrelid, c.attname, 'SELECT') THEN 'S' ELSE '' END ||
                  CASE WHEN has_column_privilege(r.role, c.attrelid, c.attname, 'UPDATE') THEN 'U' ELSE '' END,
                  ' ' ORDER BY r.ord) AS privileges
  FROM pg_attribute c CROSS JOIN role_kind r
 WHERE (c.attrelid, c.attname) IN (('gateway.account_secret'::regclass, 'credentials'),
                                   ('gateway.account_secret'::regclass, 'callback_token'),
                                   ('gateway.account_token'::regclass, 'access_token'),
                                   ('gateway.account_token'::regclass, 'refresh_token'))
 GROUP BY 1, 2 ORDER BY 1, 2;

-- A function or table that PUBLIC may use is a decision: these are all.
SELECT o.kind, o.name FROM ext_object o
 WHERE (o.kind = 'function' AND has_function_privilege('public', o.objid, 'EXECUTE'))
    OR (o.kind IN ('table', 'view', 'sequence')
        AND EXISTS (SELECT 1 FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
                     WHERE c.oid = o.objid AND a.grantee = 0))
 ORDER BY 1, 2;

-- Rows per account.  A role holds the accounts gw_grant_sender(role,
-- account) and gw_grant_admin(role, account) gave it (no account: every
-- account); the tables with a row per account show it only the rows of the
-- accounts it holds (row-level security), and the views over them run as
-- their caller.  Both from the catalog.
SELECT c.oid::regclass AS "table", c.relrowsecurity AS row_security,
       c.relforcerowsecurity AS forced, p.polname AS policy, p.polcmd AS command,
       pg_get_expr(p.polqual, p.polrelid) AS rows_shown
  FROM ext_object o JOIN pg_class c ON c.oid = o.objid
  LEFT JOIN pg_policy p ON p.polrelid = c.oid
 WHERE o.kind = 'table' AND c.relnamespace = 'gateway'::regnamespace
   AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname IN ('account', 'name')
                  AND NOT a.attisdropped)
 ORDER BY 1;
SELECT c.oid::regclass AS "view", coalesce(c.reloptions, '{}') AS options,
       pg_get_viewdef(c.oid) LIKE '%held_accounts()%' AS filters_accounts
  FROM ext_object o JOIN pg_class c ON c.oid = o.objid
 WHERE o.kind = 'view' ORDER BY 1;
-- what each role of the matrix holds
SELECT r.kind, g.account, g.admin
  FROM role_kind r JOIN gateway.account_grant g ON g.role::text = r.role
 ORDER BY r.ord, g.account;

-- Every SECURITY DEFINER function, and every SQL or PL/pgSQL function
-- (whose names resolve at run time), pins search_path to pg_catalog, pg_temp.
SELECT p.oid::regprocedure AS function, p.prosecdef AS security_definer,
       l.lanname AS language, p.proconfig
  FROM ext_object o JOIN pg_proc p ON p.oid = o.objid JOIN pg_language l ON l.oid = p.prolang
 WHERE (p.prosecdef OR l.lanname <> 'c')
   AND NOT coalesce(p.proconfig @> '{"search_path=pg_catalog, pg_temp"}', false)
 ORDER BY 1;
SELECT count(*) FILTER (WHERE p.prosecdef) AS security_definer_functions,
       count(*) FILTER (WHERE l.lanname <> 'c') AS sql_and_plpgsql_functions
  FROM ext_object o JOIN pg_proc p ON p.oid = o.objid JOIN pg_language l ON l.oid = p.prolang;

------------------------------------------------------------------------
-- The important cells, exercised.
------------------------------------------------------------------------
SELECT gw_account_create('pv', 'vaspro', '{"api_key": "pv-key-0001"}', mock.url('vaspro'),
                         '{"paybill": "600100"}');
SELECT mock.url('vaspro') AS vaspro_url \gset

-- the owner reads credentials
SELECT credentials FROM gateway.account_secret WHERE account = 'pv';

-- a sender sends, queues and waits; never reads credentials or moves an account
SET ROLE gw_m_sender;
SELECT (gw_send_sms('pv', '0712345678', 'matrix'))->>'status' AS sent;
SELECT gw_queue_sms('pv', '0712345678', 'matrix queued') AS qid \gset
SELECT gw_wait(:qid, '10 s');
SELECT expect_error($$SELECT credentials FROM gateway.account_secret$$);
SELECT expect_error($$SELECT * FROM gateway.account$$);
SELECT expect_error($$SELECT * FROM gateway.account_token$$);
SELECT expect_error($$SELECT gw_account_update('pv', NULL, 'https://evil.example.com')$$);
SELECT expect_error($$UPDATE gateway.account SET base_url = 'https://evil.example.com'$$);
SELECT expect_error($$SELECT gw_callback_url('pv', 'dlr')$$);
SELECT expect_error($$SELECT gw_ingest('pv', 'mo', '{"msisdn": "0712345678", "message": "STOP"}')$$);
SELECT expect_error($$SELECT gw_requeue(1)$$);
SELECT expect_error($$SELECT gw_grant_admin('gw_m_sender')$$);
SELECT expect_error($$UPDATE gateway.outbox SET status = 'queued'$$);
RESET ROLE;

-- an admin manages accounts; credentials stay out of its reach
SET ROLE gw_m_admin;
SELECT gw_account_create('pv_adm', 'vaspro', '{"api_key": "pv-adm-key-01"}', :'vaspro_url');
SELECT gw_account_update('pv_adm', '{"api_key": "pv-adm-key-02"}');
SELECT gw_callback_url('pv_adm', 'dlr') LIKE '%token=%' AS callback_url;
SELECT expect_error($$SELECT credentials FROM gateway.account_secret$$);
SELECT expect_error($$SELECT * FROM gateway.account_token$$);
SELECT expect_error($$UPDATE gateway.account_secret SET credentials = '{}'$$);
SELECT expect_error($$SELECT gateway.check_account('vaspro', '{"api_key": "x-admin-key"}', '{}', NULL, 'pv')$$);
SELECT expect_error($$SELECT gw_grant_admin('gw_m_app')$$);
SELECT gw_account_drop('pv_adm');
RESET ROLE;

-- the listener's role hands callbacks in, and nothing else
SET ROLE gw_m_listener;
SELECT (gw_ingest('pv', 'mo', '{"msisdn": "0712000111", "message": "hello"}'))->>'note' AS ingested;
SELECT (gateway.ingest_text('pv', 'mo', 'msisdn=0712000111'))->>'kind' AS ingested_text;
SELECT expect_error($$SELECT gw_send_sms('pv', '0712345678', 'from the listener')$$);
SELECT expect_error($$SELECT * FROM gateway.accounts$$);
SELECT expect_error($$SELECT * FROM gateway.inbound$$);
SELECT expect_error($$SELECT gw_account_drop('pv')$$);
RESET ROLE;

-- a plain role does nothing but the pure helpers
SET ROLE gw_m_app;
SELECT gw_normalize_msisdn('0712 345 678'), gw_sms_info('hi')->>'segments' AS segments;
SELECT expect_error($$SELECT gw_send_sms('pv', '0712345678', 'from the app')$$);
SELECT expect_error($$SELECT gw_queue_sms('pv', '0712345678', 'from the app')$$);
SELECT expect_error($$SELECT * FROM gateway.outbox$$);
SELECT expect_error($$SELECT gw_ingest('pv', 'mo', '{"msisdn": "0712345678", "message": "STOP"}')$$);
SELECT expect_error($$SELECT gw_account_create('pv2', 'vaspro', '{"api_key": "x-app-key"}')$$);
RESET ROLE;

------------------------------------------------------------------------
-- search_path: a role that may create objects in public plants look-alike
-- functions and operators there; a victim with public first in its
-- search_path uses the extension.  Each planted object records its call
-- (and who ran it) and then answers correctly, so a call would show.
------------------------------------------------------------------------
CREATE ROLE gw_m_mallory;
GRANT CREATE ON SCHEMA public TO gw_m_mallory;
SET ROLE gw_m_mallory;
CREATE TABLE public.planted_calls (fn text, run_as text);
GRANT INSERT ON public.planted_calls TO PUBLIC;
CREATE FUNCTION public.planted(fn text) RETURNS void LANGUAGE sql
    AS $$ INSERT INTO public.planted_calls VALUES (fn, current_user) $$;
CREATE FUNCTION public.lower(t text) RETURNS text LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.planted('lower'); RETURN pg_catalog.lower(t); END $$;
CREATE FUNCTION public.upper(t text) RETURNS text LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.planted('upper'); RETURN pg_catalog.upper(t); END $$;
CREATE FUNCTION public.btrim(t text, c text) RETURNS text LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.planted('btrim'); RETURN pg_catalog.btrim(t, c); END $$;
CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.planted('now'); RETURN pg_catalog.now(); END $$;
CREATE FUNCTION public.jsonb_build_object(a text, b text) RETURNS jsonb LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.planted('jsonb_build_object'); RETURN pg_catalog.jsonb_build_object(a, b); END $$;
CREATE FUNCTION public.format(f text, a text) RETURNS text LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.planted('format'); RETURN pg_catalog.format(f, a); END $$;
CREATE FUNCTION public.pg_notify(c text, p text) RETURNS void LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.planted('pg_notify'); PERFORM pg_catalog.pg_notify(c, p); END $$;
CREATE FUNCTION public.text_eq(a text, b text) RETURNS boolean LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.planted('= text'); RETURN pg_catalog.texteq(a, b); END $$;
CREATE OPERATOR public.= (leftarg = text, rightarg = text, function = public.text_eq);
CREATE FUNCTION public.int8_eq(a bigint, b bigint) RETURNS boolean LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.planted('= bigint'); RETURN pg_catalog.int8eq(a, b); END $$;
CREATE OPERATOR public.= (leftarg = bigint, rightarg = bigint, function = public.int8_eq);
CREATE FUNCTION public.text_cat(a text, b text) RETURNS text LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.planted('||'); RETURN pg_catalog.textcat(a, b); END $$;
CREATE OPERATOR public.|| (leftarg = text, rightarg = text, function = public.text_cat);
CREATE FUNCTION public.jsonb_field(j jsonb, k text) RETURNS text LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.planted('->>'); RETURN pg_catalog.jsonb_object_field_text(j, k); END $$;
CREATE OPERATOR public.->> (leftarg = jsonb, rightarg = text, function = public.jsonb_field);
-- gw_* look-alikes beside the real ones (the extension lives in public here)
CREATE FUNCTION public.gw_grant_sender(role text) RETURNS void LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.planted('gw_grant_sender(text)'); END $$;
CREATE FUNCTION public.gw_normalize_msisdn(phone varchar, country varchar) RETURNS text LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.planted('gw_normalize_msisdn(varchar)'); RETURN phone; END $$;
RESET ROLE;

-- The victims: a sender, an admin and the owner, each with public first.
-- What they do and get is kept in a table and shown afterwards with the
-- usual search_path.
CREATE TABLE planted_victim (phone text);
GRANT INSERT ON planted_victim TO gw_m_sender;
CREATE TRIGGER welcome AFTER INSERT ON planted_victim FOR EACH ROW
    EXECUTE FUNCTION gw_sms_trigger('pv', 'phone', 'welcome');
CREATE TABLE seen (step text, result jsonb);
GRANT INSERT ON seen TO PUBLIC;
SELECT max(id) AS outbox_before FROM gateway.outbox \gset
SET search_path = public, pg_catalog;
SET ROLE gw_m_sender;
INSERT INTO seen SELECT 'send', gw_send_sms('pv', '0712345678', 'planted') - 'elapsed_ms' - 'provider_ref' - 'data';
INSERT INTO seen SELECT 'stk_push', gw_stk_push('pv', '0712000006', 10, 'INV-PL') - 'elapsed_ms' - 'provider_ref' - 'data';
SELECT gw_queue_sms('pv', '0712345678', 'planted queued', NULL, NULL, 'pl-key-1') AS plid \gset
INSERT INTO seen SELECT 'queue again, same key', to_jsonb(gw_queue_sms('pv', '0712345678', 'planted queued', NULL, NULL, 'pl-key-1') - :plid);
INSERT INTO seen SELECT 'wait', to_jsonb(gw_wait(:plid, '10 s'));
INSERT INTO seen SELECT 'cancel', to_jsonb(gw_cancel(:plid));
INSERT INTO seen SELECT 'enqueue', to_jsonb(gw_enqueue('pv', 'sms.send', '{"recipient": "0712345678", "message": "enqueued"}') IS NOT NULL);
INSERT INTO planted_victim VALUES ('0712000222');
RESET ROLE;
SET ROLE gw_m_admin;
INSERT INTO seen SELECT 'ingest mo', gw_ingest('pv', 'mo', '{"msisdn": "0712000333", "message": " Stop "}') - 'recorded';
INSERT INTO seen SELECT 'ingest dlr', gw_ingest('pv', 'dlr', '{"uniqueId": "pl-key-1", "deliveryStatus": "DeliveredToTerminal"}') - 'recorded' - 'outbox_id';
INSERT INTO seen SELECT 'ingest subscription', gw_ingest('pv', 'subscription', '{"msisdn": "0712000444", "product_id": "P1", "start_keyword": "ON"}') - 'recorded';
INSERT INTO seen SELECT 'create', to_jsonb(gw_account_create('pv_pl', 'VasPro', '{"api_key": "pv-pl-key-01"}', 'https://127.0.0.1/pl'));
INSERT INTO seen SELECT 'update', to_jsonb(gw_account_update('pv_pl', '{"api_key": "pv-pl-key-02"}', 'https://127.0.0.1/pl2', '{"sender_id": "PL"}', true)::text);
INSERT INTO seen SELECT 'callback_url', to_jsonb(gw_callback_url('pv_pl', 'dlr') IS NOT NULL);
INSERT INTO seen SELECT 'requeue', to_jsonb(gw_requeue(:outbox_before + 1));
RESET ROLE;
INSERT INTO seen SELECT 'grant_admin', to_jsonb(gw_grant_admin('gw_m_app')::text);
INSERT INTO seen SELECT 'granted', to_jsonb(has_function_privilege('gw_m_app', 'gw_account_create(text,text,jsonb,text,jsonb)', 'EXECUTE')
                                          AND has_function_privilege('gw_m_app', 'gw_send_sms(text,text,text,text)', 'EXECUTE'));
INSERT INTO seen SELECT 'grant_listener', to_jsonb(gw_grant_listener('gw_m_app')::text);
INSERT INTO seen SELECT 'revoke', to_jsonb(gw_revoke('gw_m_app')::text);
INSERT INTO seen SELECT 'normalize', to_jsonb(gw_normalize_msisdn('0712 345 678'));
RESET search_path;

SELECT step, result FROM seen ORDER BY step;
-- the planted objects never ran, for anyone
SELECT fn, run_as, count(*) FROM public.planted_calls GROUP BY 1, 2 ORDER BY 1, 2;
-- the stored rows are what they would have been
SELECT id - :outbox_before AS n, gw_wait(id, '10 s') FROM gateway.outbox WHERE id > :outbox_before ORDER BY id;
SELECT name, provider, base_url, options FROM gateway.accounts WHERE name = 'pv_pl';
SELECT msisdn FROM gateway.optouts WHERE account = 'pv';
SELECT msisdn, product_id, active FROM gateway.subscriptions WHERE account = 'pv';
SELECT id - :outbox_before AS n, operation, coalesce(params->>'recipient', params->>'recipients') AS recipient,
       params->>'message' AS message, idempotency_key = 'pl-key-1' AS given_key, status, payment
  FROM gateway.outbox WHERE id > :outbox_before ORDER BY id;
-- gw_grant_admin granted what it grants, gw_revoke took it back
SELECT has_function_privilege('gw_m_app', 'gw_send_sms(text,text,text,text)', 'EXECUTE') AS app_can_send;
SELECT gw_account_drop('pv_pl');

DROP TABLE planted_victim, seen;
DROP OWNED BY gw_m_mallory;
REVOKE CREATE ON SCHEMA public FROM gw_m_mallory;
DROP ROLE gw_m_mallory;

------------------------------------------------------------------------
SELECT gw_account_drop('pv');
SELECT gw_revoke('gw_m_admin'), gw_revoke('gw_m_sender'), gw_revoke('gw_m_listener');
DROP ROLE gw_m_admin, gw_m_sender, gw_m_app, gw_m_listener;
