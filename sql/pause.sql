-- Stopping sends: gw_account_pause / gw_account_resume and gw_cancel_bulk,
-- their rights and their errors.  test/t/pause.sh pauses under a
-- 100,000-message drain, with gateway.paused, and across a restart.
\set VERBOSITY default
SELECT mock.url('vaspro') AS vaspro_url \gset
SELECT gw_account_create('pz1', 'vaspro', '{"api_key": "pz1-key-00001"}', :'vaspro_url', '{"sender_id": "PZ"}');
SELECT gw_account_create('pz2', 'vaspro', '{"api_key": "pz2-key-00001"}', :'vaspro_url', '{"sender_id": "PZ"}');
CREATE ROLE pz1_app;
CREATE ROLE pz1_admin;
CREATE ROLE pz2_app;
SELECT gw_grant_sender('pz1_app', 'pz1');
SELECT gw_grant_admin('pz1_admin', 'pz1');
SELECT gw_grant_sender('pz2_app', 'pz2');

-- Who may pause: the owner and the account's admins.  A sender may not, an
-- admin of one account may not pause another.
SET ROLE pz1_app;
SELECT expect_error($$SELECT gw_account_pause('pz1')$$);
RESET ROLE;
SET ROLE pz1_admin;
SELECT expect_error($$SELECT gw_account_pause('pz2')$$);
SELECT expect_error($$SELECT gw_account_resume('pz2')$$);
SELECT gw_account_pause('pz1');
SELECT gw_account_pause('pz1');   -- again: stays paused since the first
SELECT name, paused_at IS NOT NULL AS paused FROM gateway.accounts ORDER BY 1;
RESET ROLE;
-- an unknown account: the error every account function gives
SELECT expect_error($$SELECT gw_account_pause('nosuch')$$);
SELECT expect_error($$SELECT gw_account_resume('nosuch')$$);
SELECT name, paused_at IS NOT NULL AS paused FROM gateway.accounts WHERE name IN ('pz1', 'pz2') ORDER BY 1;

-- A paused account: synchronous calls refuse, rows queue and wait.
SELECT expect_error($$SELECT gw_send_sms('pz1', '0712000001', 'while paused')$$);
SELECT expect_error($$SELECT gw_call('pz1', 'sms.send', '{"recipient": "0712000001", "message": "while paused"}')$$);
SELECT gw_queue_sms('pz1', '0712000001', 'pz1 queued while paused') AS pz1_row \gset
SELECT pg_sleep(1.5);
SELECT status, attempts FROM gateway.outbox WHERE id = :pz1_row;
SELECT count(*) AS requests_while_paused FROM mock.requests() r
 WHERE r->>'body' LIKE '%pz1 queued while paused%';
-- the other account sends
SELECT gw_queue_sms('pz2', '0712000002', 'pz2 not paused') AS pz2_row \gset
SELECT gw_wait(:pz2_row, '10 s') AS pz2_status;
-- resumed: the row goes
SET ROLE pz1_admin;
SELECT gw_account_resume('pz1');
RESET ROLE;
SELECT gw_wait(:pz1_row, '10 s') AS pz1_status;
SELECT (gw_send_sms('pz1', '0712000001', 'after resume'))->>'ok' AS sync_ok;

-- Bulk cancel.  Both accounts paused, so that the rows stay queued.
SELECT gw_account_pause('pz1');
SELECT gw_account_pause('pz2');
-- pz1: 30 rows of campaign "camp%_1-" (10 due tomorrow, 20 in two days),
-- 20 of "campXY1-" (which "camp%_1-" matches as a LIKE pattern), 10 without
-- a key; pz2: 15 rows of "camp%_1-"
SELECT count(gw_queue_sms('pz1', '0712000001', 'c ' || i, idempotency_key => 'camp%_1-' || i,
                          send_at => now() + CASE WHEN i <= 10 THEN interval '1 day' ELSE interval '2 days' END))
  FROM generate_series(1, 30) i;
SELECT count(gw_queue_sms('pz1', '0712000001', 'x ' || i, idempotency_key => 'campXY1-' || i,
                          send_at => now() + interval '3 days'))
  FROM generate_series(1, 20) i;
SELECT count(gw_queue_sms('pz1', '0712000001', 'n ' || i, send_at => now() + interval '3 days'))
  FROM generate_series(1, 10) i;
SELECT count(gw_queue_sms('pz2', '0712000002', 'c ' || i, idempotency_key => 'camp%_1-' || i,
                          send_at => now() + interval '1 day'))
  FROM generate_series(1, 15) i;

-- no filter at all, or an empty prefix: refused
SELECT expect_error($$SELECT gw_cancel_bulk()$$);
SELECT expect_error($$SELECT gw_cancel_bulk(key_prefix => '')$$);
-- rows being sent, finished, or payments waiting to be reconciled are not
-- cancelled: only queued ones
BEGIN;
UPDATE gateway.outbox SET status = 'sending' WHERE account = 'pz1' AND idempotency_key IN ('camp%_1-1', 'camp%_1-2', 'camp%_1-3');
UPDATE gateway.outbox SET status = 'sent' WHERE account = 'pz1' AND idempotency_key IN ('camp%_1-4', 'camp%_1-5');
UPDATE gateway.outbox SET status = 'unknown' WHERE account = 'pz1' AND idempotency_key = 'camp%_1-6';
SELECT gw_cancel_bulk('pz1', 'camp%_1-') AS cancelled;
SELECT left(idempotency_key, 8) AS campaign, status, count(*) FROM gateway.outbox
 WHERE account = 'pz1' AND key_given GROUP BY 1, 2 ORDER BY 1, 2;
ROLLBACK;
-- a send_at window [send_from, send_to)
SELECT gw_cancel_bulk('pz1', send_from => now() + interval '23 hours',
                      send_to => now() + interval '25 hours') AS cancelled_tomorrow;
-- a sender cancels only rows of accounts it holds: named, another account
-- is refused; unnamed, the prefix matches its own rows only
SET ROLE pz2_app;
SELECT expect_error($$SELECT gw_cancel_bulk('pz1', 'camp%_1-')$$);
SELECT gw_cancel_bulk(key_prefix => 'camp%_1-') AS cancelled_by_pz2_app;
RESET ROLE;
SELECT account, left(idempotency_key, 8) AS campaign, status, count(*) FROM gateway.outbox
 WHERE account IN ('pz1', 'pz2') AND key_given GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
-- the prefix is literal: "camp%_1-" did not take "campXY1-"
SELECT gw_cancel_bulk('pz1', 'camp%_1-') AS cancelled_rest;
SELECT gw_cancel_bulk('pz1', 'campXY1-') AS cancelled_xy;
-- the account alone: what is left of it (the rows without a key)
SELECT gw_cancel_bulk('pz1') AS cancelled_unkeyed;
SELECT gw_cancel_bulk('pz1') AS cancelled_again;
SELECT account, status, count(*) FROM gateway.outbox
 WHERE account IN ('pz1', 'pz2') AND status IN ('queued', 'cancelled') GROUP BY 1, 2 ORDER BY 1, 2;
-- an unknown account
SELECT expect_error($$SELECT gw_cancel_bulk('nosuch')$$);

SELECT gw_account_resume('pz1');
SELECT gw_account_resume('pz2');
SELECT gw_revoke('pz1_app');
SELECT gw_revoke('pz1_admin');
SELECT gw_revoke('pz2_app');
DROP ROLE pz1_app;
DROP ROLE pz1_admin;
DROP ROLE pz2_app;
DELETE FROM gateway.outbox WHERE account IN ('pz1', 'pz2');
SELECT gw_account_drop('pz1');
SELECT gw_account_drop('pz2');
