-- Accounts: create, update, drop, the view, and the caller's mistakes.
\set VERBOSITY default
SELECT gw_account_create('acme', 'vaspro', '{"api_key": "acme-key-0001"}',
                         mock.url('vaspro'), '{"sender_id": "ACME"}');
SELECT name, provider, options FROM gateway.accounts ORDER BY name;

-- the view never shows credentials
SELECT count(*) AS credential_columns FROM information_schema.columns
 WHERE table_schema = 'gateway' AND table_name = 'accounts'
   AND column_name NOT IN ('name', 'provider', 'base_url', 'options', 'created_at', 'paused_at');

-- caller mistakes, each with its SQLSTATE
SELECT expect_error($$SELECT gw_account_create('acme', 'vaspro', '{"api_key": "x-other-key"}')$$);
SELECT expect_error($$SELECT gw_account_create('bad name!', 'vaspro', '{"api_key": "x-other-key"}')$$);
SELECT expect_error($$SELECT gw_account_create('b1', 'nosuch', '{"api_key": "x-other-key"}')$$);
SELECT expect_error($$SELECT gw_account_create('b2', 'vaspro', '{}')$$);
SELECT expect_error($$SELECT gw_account_create('b3', 'vaspro', '{"apikey": "x-other-key"}')$$);
SELECT expect_error($$SELECT gw_account_create('b4', 'vaspro', '{"api_key": "x-other-key", "extra": "y"}')$$);
SELECT expect_error($$SELECT gw_account_create('b5', 'vaspro', '["x"]')$$);
SELECT expect_error($$SELECT gw_account_create('b6', 'vaspro', '{"api_key": "x-other-key"}', 'ftp://example.com')$$);
SELECT expect_error($$SELECT gw_account_create('b7', 'vaspro', '{"api_key": "x-other-key"}', 'https://user:pw@example.com')$$);
SELECT expect_error($$SELECT gw_account_create('b8', 'vaspro', '{"api_key": "x-other-key"}', NULL, '{"sender_id": "TWELVE_CHARS"}')$$);
SELECT expect_error($$SELECT gw_account_create('b9', 'vaspro', '{"api_key": "x-other-key"}', NULL, '{"rate_limit": 0}')$$);
SELECT expect_error($$SELECT gw_account_create(NULL, 'vaspro', '{"api_key": "x-other-key"}')$$);
SELECT expect_error($$SELECT gw_account_update('nosuch', NULL, 'https://example.com')$$);
SELECT expect_error($$SELECT gw_account_drop('nosuch')$$);
-- nothing half done: none of the failed calls left an account behind
SELECT count(*) FROM gateway.accounts;

-- update: options and base_url change, NULL arguments keep what is there
SELECT gw_account_create('temp', 'vaspro', '{"api_key": "temp-key-0001"}');
SELECT base_url IS NULL AS default_url FROM gateway.accounts WHERE name = 'temp';
-- a new address needs the credentials again: they never go where they were not given for
SELECT expect_error($$SELECT gw_account_update('temp', NULL, 'https://127.0.0.1/sandbox')$$);
SELECT gw_account_update('temp', '{"api_key": "temp-key-0001"}', 'https://127.0.0.1/sandbox', '{"sender_id": "TEMP"}');
SELECT base_url, options FROM gateway.accounts WHERE name = 'temp';
SELECT gw_account_update('temp', '{"api_key": "temp-key-0002"}');
SELECT base_url, options FROM gateway.accounts WHERE name = 'temp';
SELECT gw_account_drop('temp');
SELECT count(*) FROM gateway.accounts WHERE name = 'temp';
SELECT count(*) FROM gateway.account_secret WHERE account = 'temp';

-- A cached account follows updates made in another session's transaction:
-- the new base URL is used at once.
SELECT gw_account_create('moving', 'vaspro', '{"api_key": "moving-key-01"}', 'http://127.0.0.1:1');
SELECT (gw_send_sms('moving', '0712345678', 'hi'))->>'status';
SELECT gw_account_update('moving', '{"api_key": "moving-key-01"}', mock.url('vaspro'));
SELECT (gw_send_sms('moving', '0712345678', 'hi'))->>'status';
SELECT gw_account_drop('moving');
SELECT expect_error($$SELECT gw_send_sms('moving', '0712345678', 'hi')$$);

-- Privileges.  A role without grants can neither send nor manage accounts.
CREATE ROLE gw_app;
CREATE ROLE gw_sender;
CREATE ROLE gw_admin;
SELECT gw_grant_sender('gw_sender');
SELECT gw_grant_admin('gw_admin');

SET ROLE gw_app;
SELECT gw_send_sms('acme', '0712345678', 'hello');
SELECT gw_account_create('x', 'vaspro', '{"api_key": "x-app-key"}');
SELECT * FROM gateway.accounts;
SELECT * FROM gateway.account_secret;
RESET ROLE;

-- a sender can send and list accounts, but not manage them or read secrets
SET ROLE gw_sender;
SELECT (gw_send_sms('acme', '0712345678', 'hello'))->>'ok' AS sent;
SELECT name FROM gateway.accounts ORDER BY name;
SELECT gw_account_create('x', 'vaspro', '{"api_key": "x-sender-key"}');
SELECT gw_account_update('acme', NULL, 'https://evil.example.com');
SELECT * FROM gateway.account_secret;
SELECT * FROM gateway.account;
RESET ROLE;

-- an admin manages accounts, yet cannot read credentials either
SELECT mock.url('vaspro') AS vaspro_url \gset
SET ROLE gw_admin;
SELECT gw_account_create('adm', 'vaspro', '{"api_key": "adm-key-0001"}', :'vaspro_url');
SELECT gw_account_update('adm', NULL, NULL, '{"sender_id": "ADM"}');
SELECT name, options FROM gateway.accounts WHERE name = 'adm';
SELECT * FROM gateway.account_secret;
SELECT gw_account_drop('adm');
RESET ROLE;

-- revoking takes it all back
SELECT gw_revoke('gw_sender');
SET ROLE gw_sender;
SELECT gw_send_sms('acme', '0712345678', 'hello');
RESET ROLE;
SELECT gw_revoke('gw_admin');
DROP ROLE gw_app, gw_sender, gw_admin;
