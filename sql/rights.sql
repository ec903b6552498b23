-- Rights per account: each attack across accounts or up to the owner is
-- performed, and fails.  Accounts ra and rb; ra_app sends for ra only,
-- rb_app for rb only, ra_admin administers ra only, all_admin every account.
\set VERBOSITY default
SELECT mock.url('vaspro') AS vaspro_url \gset
SELECT gw_account_create('ra', 'vaspro', '{"api_key": "ra-key-000001"}', :'vaspro_url', '{"sender_id": "RA"}');
SELECT gw_account_create('rb', 'vaspro', '{"api_key": "rb-key-000001"}', :'vaspro_url', '{"sender_id": "RB"}');
CREATE ROLE ra_app;
CREATE ROLE rb_app;
CREATE ROLE ra_admin;
CREATE ROLE all_admin;
SELECT gw_grant_sender('ra_app', 'ra');
SELECT gw_grant_sender('rb_app', 'rb');
SELECT gw_grant_admin('ra_admin', 'ra');
SELECT gw_grant_admin('all_admin');
SELECT role, account, admin FROM gateway.account_grant
 WHERE role::text IN ('ra_app', 'rb_app', 'ra_admin', 'all_admin') ORDER BY role::text;
-- a grant names an account that exists
SELECT expect_error($$SELECT gw_grant_sender('ra_app', 'nosuch')$$);

-- rows of both accounts: a queued row of ra for tomorrow, a callback and a
-- subscription of each
SELECT gw_queue_sms('ra', '0712000001', 'ra secret text', send_at => now() + interval '1 day') AS ra_row \gset
SELECT gw_queue_sms('rb', '0712000002', 'rb text', send_at => now() + interval '1 day') AS rb_row \gset
SELECT (gw_ingest('ra', 'mo', '{"msisdn": "0712000011", "message": "ra inbound"}'))->>'kind' AS ingested;
SELECT (gw_ingest('rb', 'mo', '{"msisdn": "0712000012", "message": "rb inbound"}'))->>'kind' AS ingested;
SELECT (gw_ingest('ra', 'subscription', '{"msisdn": "0712000021", "product_id": "P1", "start_keyword": "ON"}'))->>'kind' AS ingested;
SELECT (gw_ingest('rb', 'subscription', '{"msisdn": "0712000022", "product_id": "P1", "start_keyword": "ON"}'))->>'kind' AS ingested;

-- Cross-account read: rb_app sees rb's rows only, in every table and view.
SET ROLE rb_app;
SELECT account, count(*) FROM gateway.outbox WHERE account IN ('ra', 'rb') GROUP BY 1 ORDER BY 1;
SELECT count(*) AS ra_rows_by_id FROM gateway.outbox WHERE id = :ra_row;
SELECT account, count(*) FROM gateway.inbound WHERE account IN ('ra', 'rb') GROUP BY 1 ORDER BY 1;
SELECT account, count(*) FROM gateway.subscriptions WHERE account IN ('ra', 'rb') GROUP BY 1 ORDER BY 1;
SELECT account, queued FROM gateway.stats WHERE account IN ('ra', 'rb') ORDER BY 1;
SELECT name FROM gateway.accounts WHERE name IN ('ra', 'rb') ORDER BY 1;

-- Cross-account cancel, wait, requeue by guessing the id: nothing happens.
SELECT gw_cancel(:ra_row) AS cancelled_other;
SELECT regexp_replace(expect_error(format('SELECT gw_wait(%s, %L)', :ra_row, '0 s')), 'row [0-9]+ ', 'row <ra_row> ') AS wait_other;
-- Cross-account send and queue: refused with a hint, nothing queued.
SELECT expect_error($$SELECT gw_queue_sms('ra', '0712000003', 'as rb')$$);
SELECT expect_error($$SELECT gw_send_sms('ra', '0712000003', 'as rb')$$);
SELECT expect_error($$SELECT gw_enqueue('ra', 'sms.send', '{"recipient": "0712000003", "message": "as rb"}')$$);
SELECT expect_error($$SELECT gw_balance('ra')$$);
-- its own account works
SELECT gw_cancel(:rb_row) AS cancelled_own;
RESET ROLE;
-- nor through a trigger that queues for ra: it queues as the inserting role
CREATE TABLE public.r_customers (phone text);
GRANT INSERT ON public.r_customers TO rb_app;
CREATE TRIGGER welcome AFTER INSERT ON public.r_customers FOR EACH ROW
    EXECUTE FUNCTION gw_sms_trigger('ra', 'phone', 'welcome to ra');
SET ROLE rb_app;
SELECT expect_error($$INSERT INTO public.r_customers VALUES ('0712000009')$$);
RESET ROLE;
DROP TABLE public.r_customers;
SELECT id = :ra_row AS ra_row, status FROM gateway.outbox WHERE id IN (:ra_row, :rb_row) ORDER BY id;
SELECT count(*) AS queued_as_rb FROM gateway.outbox WHERE params->>'message' = 'as rb';

-- ra's sender waits for and cancels its own row
SET ROLE ra_app;
SELECT gw_wait(:ra_row, '0 s') AS waited;
SELECT gw_cancel(:ra_row) AS cancelled_own;
SELECT expect_error($$SELECT gw_requeue(1)$$);
RESET ROLE;

-- An admin of ra: manages ra, nothing of rb, creates no account.
SET ROLE ra_admin;
SELECT gw_requeue(:rb_row) AS requeued_other;
SELECT gw_requeue(:ra_row) AS requeued_own;
SELECT expect_error($$SELECT gw_account_update('rb', options => '{"sender_id": "MINE"}')$$);
SELECT expect_error($$SELECT gw_account_drop('rb')$$);
SELECT expect_error($$SELECT gw_callback_url('rb', 'dlr')$$);
SELECT expect_error($$SELECT gw_callback_token_rotate('rb')$$);
SELECT expect_error($$SELECT gw_ingest('rb', 'dlr', '{"uniqueId": "x", "deliveryStatus": "DeliveredToTerminal"}')$$);
SELECT expect_error($$SELECT gw_account_create('rc', 'vaspro', '{"api_key": "rc-key-000001"}')$$);
SELECT gw_account_update('ra', options => '{"sender_id": "RA2"}');
SELECT gw_callback_url('ra', 'dlr') LIKE '%token=%' AS callback_url;
RESET ROLE;
SELECT status FROM gateway.outbox WHERE id = :rb_row;
SELECT name, options FROM gateway.accounts WHERE name IN ('ra', 'rb') ORDER BY 1;

-- USSD handler: only the owner sets it (admins would run code as whoever
-- calls gw_ingest).
CREATE FUNCTION public.r_menu(msisdn text, session_id text, input text, service_code text)
RETURNS text LANGUAGE sql AS $$ SELECT 'END hi' $$;
SET ROLE ra_admin;
SELECT expect_error($$SELECT gw_account_update('ra', options => '{"ussd_handler": "public.r_menu"}')$$);
RESET ROLE;
SET ROLE all_admin;
SELECT expect_error($$SELECT gw_account_update('ra', options => '{"ussd_handler": "public.r_menu"}')$$);
SELECT expect_error($$SELECT gw_account_create('rc', 'vaspro', '{"api_key": "rc-key-000001"}', NULL, '{"ussd_handler": "public.r_menu"}')$$);
RESET ROLE;
SELECT options->>'ussd_handler' AS handler FROM gateway.accounts WHERE name = 'ra';
-- the owner sets it; an admin may then change other options and keep it,
-- but not point it elsewhere
SELECT gw_account_update('ra', options => '{"sender_id": "RA2", "ussd_handler": "public.r_menu"}');
SET ROLE ra_admin;
SELECT gw_account_update('ra', options => '{"sender_id": "RA3", "ussd_handler": "public.r_menu"}');
SELECT expect_error($$SELECT gw_account_update('ra', options => '{"sender_id": "RA3", "ussd_handler": "public.lower"}')$$);
RESET ROLE;
SELECT options FROM gateway.accounts WHERE name = 'ra';

-- Revoking one account: ra_admin keeps nothing, and loses the functions.
SELECT gw_revoke('ra_admin', 'ra');
SELECT count(*) AS grants_left FROM gateway.account_grant WHERE role = 'ra_admin'::regrole;
SELECT has_function_privilege('ra_admin', 'gw_send_sms(text,text,text,text)', 'EXECUTE') AS can_send;
-- a role holding two accounts keeps the other
SELECT gw_grant_sender('rb_app', 'ra');
SELECT gw_revoke('rb_app', 'ra');
SET ROLE rb_app;
SELECT expect_error($$SELECT gw_queue_sms('ra', '0712000003', 'as rb')$$);
SELECT gw_queue_sms('rb', '0712000004', 'still rb') > 0 AS queued_own;
RESET ROLE;

------------------------------------------------------------------------
-- Outbound hosts
------------------------------------------------------------------------
-- only a superuser sets them, and a port is a mistake
SET ROLE all_admin;
SELECT expect_error($$SET gateway.allowed_hosts = 'evil.example.com'$$);
SELECT expect_error($$SET gateway.allow_http = on$$);
RESET ROLE;
SELECT expect_error($$SET gateway.allowed_hosts = 'api.vaspro.co.ke:443'$$);
SELECT expect_error($$SET gateway.allowed_hosts = 'https://api.vaspro.co.ke'$$);
SELECT boot_val FROM pg_settings WHERE name = 'gateway.allowed_hosts';
SELECT boot_val FROM pg_settings WHERE name = 'gateway.allow_http';

-- a host not on the list: refused when stored, nothing stored
SELECT expect_error($$SELECT gw_account_create('evil', 'vaspro', '{"api_key": "evil-key-0001"}', 'https://evil.example.com')$$);
SELECT expect_error($$SELECT gw_account_create('evil', 'vaspro', '{"api_key": "evil-key-0001"}', 'https://127.0.0.2/vaspro')$$);
SELECT expect_error($$SELECT gw_account_update('rb', '{"api_key": "rb-key-000001"}', 'https://169.254.169.254/latest')$$);
SELECT count(*) AS evil_accounts FROM gateway.accounts WHERE name = 'evil' OR base_url LIKE '%169.254%';

-- plain http refused while gateway.allow_http is off
SET gateway.allow_http = off;
SELECT expect_error(format('SELECT gw_account_create(%L, %L, %L, %L)', 'plain', 'vaspro', '{"api_key": "plain-key-001"}', :'vaspro_url'));
-- ... and at request time: an account stored while it was on sends nothing
-- (rb's requests only: the worker may still be draining rows of other
-- accounts, queued by this test or an earlier one)
SELECT mock.reset();
SELECT expect_error($$SELECT gw_send_sms('rb', '0712000005', 'over plain http')$$);
SELECT count(*) AS requests_at_mock FROM mock.requests() r WHERE r->>'body' LIKE '%rb-key-000001%';
RESET gateway.allow_http;

-- a host taken off the list later: the request fails, nothing reaches it
SET gateway.allowed_hosts = 'api.vaspro.co.ke';
SELECT expect_error($$SELECT gw_send_sms('rb', '0712000005', 'to a host off the list')$$);
SELECT expect_error($$SELECT gw_call('rb', 'sms.send', '{"recipient": "0712000005", "message": "off the list"}')$$);
RESET gateway.allowed_hosts;
SELECT count(*) AS requests_at_mock FROM mock.requests() r WHERE r->>'body' LIKE '%rb-key-000001%';
-- back on the list, the same call goes through
SELECT (gw_send_sms('rb', '0712000005', 'allowed again'))->>'status' AS status;
SELECT count(*) AS requests_at_mock FROM mock.requests() r WHERE r->>'body' LIKE '%rb-key-000001%';

-- a new base_url needs the credentials again, even with the same host
SELECT expect_error(format('SELECT gw_account_update(%L, NULL, %L)', 'rb', :'vaspro_url' || '/v2'));

------------------------------------------------------------------------
SELECT gw_account_drop('ra'), gw_account_drop('rb');
SELECT count(*) AS grants_of_dropped_accounts FROM gateway.account_grant WHERE account IN ('ra', 'rb');
SELECT gw_revoke('ra_app'), gw_revoke('rb_app'), gw_revoke('ra_admin'), gw_revoke('all_admin');
DROP ROLE ra_app, rb_app, ra_admin, all_admin;
DROP FUNCTION public.r_menu(text, text, text, text);
