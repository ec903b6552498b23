-- Routes: management, the longest prefix, errors, payments refused, rights.
-- Rows are queued for tomorrow: nothing here reaches the worker.
\set VERBOSITY default
SELECT mock.url('vaspro') AS vaspro_url, mock.url('umeskia') AS umeskia_url,
       mock.url('vtpass') AS vtpass_url \gset
SELECT gw_account_create('rt_ke', 'vaspro', '{"api_key": "rt-ke-key-01"}', :'vaspro_url', '{"sender_id": "RTKE"}');
SELECT gw_account_create('rt_saf', 'vaspro', '{"api_key": "rt-saf-key-01"}', :'vaspro_url', '{"sender_id": "RTSAF"}');
SELECT gw_account_create('rt_ng', 'umeskia', '{"api_key": "rt-ng-key", "email": "ng@example.com"}', :'umeskia_url');
SELECT gw_account_create('rt_pay', 'vtpass', '{"username": "rt", "password": "pw"}', :'vtpass_url');

-- set: digits, a country code, '+digits'; the stored prefix is returned
SELECT gw_route_set('africa', '254', 'rt_ke', 'rt_ng');
SELECT gw_route_set('africa', '2547', 'rt_saf', 'rt_ng');
SELECT gw_route_set('africa', 'NG', 'rt_ng', 'rt_ke');
SELECT gw_route_set('africa', '+256', 'rt_ng');
-- set again replaces the entry
SELECT gw_route_set('africa', '256', 'rt_ke');
SELECT route, prefix, account, fallback FROM gw_routes() ORDER BY route, prefix;

-- the longest prefix wins: 2547... takes rt_saf, 2541... rt_ke, 234... rt_ng
SELECT gw_queue_sms('africa', '0712000001', 'via safaricom', send_at => now() + interval '1 day') AS r1 \gset
SELECT gw_queue_sms('africa', '+254 110 000 001', 'via ke', send_at => now() + interval '1 day') AS r2 \gset
SELECT gw_queue_sms('africa', '+2348031234567', 'via ng', send_at => now() + interval '1 day') AS r3 \gset
SELECT gw_enqueue('africa', 'sms.send', '{"recipient": "256712000001", "message": "via enqueue"}',
                  send_at => now() + interval '1 day') AS r4 \gset
SELECT id = :r1 AS r1, account, route, fallback, operation, params->>'recipient' AS recipient,
       params->>'recipients' AS recipients
  FROM gateway.outbox WHERE id IN (:r1, :r2, :r3, :r4) ORDER BY id;

-- errors: no entry for the number, bad prefixes, names, accounts
SELECT gw_route_drop('africa', '256');
SELECT expect_error($$SELECT gw_queue_sms('africa', '+256712000001', 'nowhere')$$);
SELECT expect_error($$SELECT gw_queue_sms('africa', 'not a number', 'x')$$);
SELECT expect_error($$SELECT gw_route_set('africa', '25a', 'rt_ke')$$);
SELECT expect_error($$SELECT gw_route_set('africa', 'XX', 'rt_ke')$$);
SELECT expect_error($$SELECT gw_route_set('bad name', '254', 'rt_ke')$$);
SELECT expect_error($$SELECT gw_route_set('africa', '254', 'rt_ke', 'rt_ke')$$);
SELECT expect_error($$SELECT gw_route_set('africa', '254', 'nosuch')$$);
SELECT expect_error($$SELECT gw_route_set('africa', '254', 'rt_pay')$$);
SELECT expect_error($$SELECT gw_route_drop('nosuch')$$);
SELECT expect_error($$SELECT gw_route_drop('africa', '999')$$);
-- one namespace: a route is not named like an account, nor an account like a route
SELECT expect_error($$SELECT gw_route_set('rt_ke', '254', 'rt_saf')$$);
SELECT expect_error($$SELECT gw_account_create('africa', 'vaspro', '{"api_key": "x-key-000001"}', 'http://127.0.0.1:1/vaspro')$$);
-- an account a route uses is not dropped
SELECT expect_error($$SELECT gw_account_drop('rt_saf')$$);
-- a route carries one recipient, plain SMS params
SELECT expect_error($$SELECT gw_queue_sms('africa', '0712000001,0712000002', 'two')$$);
SELECT expect_error($$SELECT gw_enqueue('africa', 'sms.premium', '{"recipient": "0712000001", "message": "x", "link_id": "1"}')$$);
SELECT expect_error($$SELECT gw_enqueue('africa', 'sms.send', '{"recipient": "0712000001", "message": "x", "shortcode": "1"}')$$);

-- never a payment, whichever function
SELECT expect_error($$SELECT gw_enqueue('africa', 'payment.stk_push', '{"phone": "0712000001", "amount": 10}')$$);
SELECT expect_error($$SELECT gw_stk_push('africa', '0712000001', 10)$$);
SELECT expect_error($$SELECT gw_call('africa', 'sms.send', '{"recipient": "0712000001", "message": "x"}')$$);
SELECT expect_error($$SELECT gw_balance('africa')$$);

-- Rights.  rt_a_app sends for rt_ke only; rt_all_app for rt_ke, rt_saf and rt_ng.
CREATE ROLE rt_a_app;
CREATE ROLE rt_all_app;
CREATE ROLE rt_admin_ke;
SELECT gw_grant_sender('rt_a_app', 'rt_ke');
SELECT gw_grant_sender('rt_all_app', 'rt_ke');
SELECT gw_grant_sender('rt_all_app', 'rt_saf');
SELECT gw_grant_sender('rt_all_app', 'rt_ng');
SELECT gw_grant_admin('rt_admin_ke', 'rt_ke');
GRANT EXECUTE ON FUNCTION gw_route_set(text, text, text, text), gw_route_drop(text, text),
    gw_routes(), gw_circuits() TO rt_a_app, rt_all_app, rt_admin_ke;
-- 'kenya' sends 254 to rt_ke and falls back to rt_ng
SELECT gw_route_set('kenya', '254', 'rt_ke', 'rt_ng');
SET ROLE rt_a_app;
-- the attack: a sender of rt_ke only uses a route whose fallback is rt_ng
SELECT expect_error($$SELECT gw_queue_sms('kenya', '0712000001', 'borrowed fallback')$$);
SELECT expect_error($$SELECT gw_send_sms('kenya', '0712000001', 'borrowed fallback')$$);
SELECT expect_error($$SELECT gw_enqueue('kenya', 'sms.send', '{"recipient": "0712000001", "message": "x"}')$$);
-- nor another entry's account of the same route
SELECT expect_error($$SELECT gw_queue_sms('africa', '+254110000001', 'rt_ke is mine, rt_ng is not')$$);
-- a sender sees no route that names an account it does not hold, and changes none
SELECT count(*) AS routes_seen FROM gw_routes();
SELECT expect_error($$SELECT gw_route_set('mine', '254', 'rt_ke')$$);
RESET ROLE;
SET ROLE rt_all_app;
SELECT gw_queue_sms('kenya', '0712000001', 'all held', send_at => now() + interval '1 day') > 0 AS queued;
SELECT count(*) AS routes_seen FROM gw_routes();
RESET ROLE;
-- an admin of rt_ke alone may route rt_ke, not through rt_ng, and not change kenya
SET ROLE rt_admin_ke;
SELECT gw_route_set('ke_only', '', 'rt_ke');
SELECT expect_error($$SELECT gw_route_set('ke_only', '234', 'rt_ke', 'rt_ng')$$);
SELECT expect_error($$SELECT gw_route_drop('kenya')$$);
SELECT expect_error($$SELECT gw_route_set('kenya', '2541', 'rt_ke')$$);
SELECT gw_route_drop('ke_only');
RESET ROLE;

-- clean up
DELETE FROM gateway.outbox WHERE route IS NOT NULL;
SELECT gw_route_drop('kenya'), gw_route_drop('africa');
SELECT count(*) AS routes_left FROM gateway.route;
SELECT gw_revoke('rt_a_app'), gw_revoke('rt_all_app'), gw_revoke('rt_admin_ke');
REVOKE ALL ON FUNCTION gw_route_set(text, text, text, text), gw_route_drop(text, text),
    gw_routes(), gw_circuits() FROM rt_a_app, rt_all_app, rt_admin_ke;
DROP ROLE rt_a_app, rt_all_app, rt_admin_ke;
SELECT gw_account_drop('rt_ke'), gw_account_drop('rt_saf'), gw_account_drop('rt_ng'), gw_account_drop('rt_pay');
