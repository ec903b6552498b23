-- Read-only transactions (and hot standbys, test/t/standby.sh): queueing and
-- payments, which write rows, fail with SQLSTATE 25006 before anything
-- reaches the provider; a synchronous SMS, which records nothing, is sent.
\set VERBOSITY default
SELECT gw_account_create('ro', 'vaspro', '{"api_key": "ro-key-0001"}', mock.url('vaspro'),
                         '{"sender_id": "RO", "paybill": "789789"}');
SELECT mock.reset();
BEGIN READ ONLY;
SELECT expect_error($$SELECT gw_queue_sms('ro', '0712345678', 'read only')$$);
SELECT expect_error($$SELECT gw_enqueue('ro', 'sms.send', '{"recipient": "0712345678", "message": "x"}')$$);
SELECT expect_error($$SELECT gw_stk_push('ro', '0712345678', 10)$$);
SELECT expect_error($$SELECT gw_call('ro', 'payment.stk_push', '{"phone": "0712345678", "amount": 10}')$$);
SELECT (gw_send_sms('ro', '0712345678', 'read only but sent'))->>'ok' AS sms_ok;
COMMIT;
-- only the SMS reached the provider
SELECT count(*) AS requests_at_the_provider FROM mock.requests();
-- the same in a read-write transaction
SELECT (gw_stk_push('ro', '0712345678', 10))->>'ok' AS payment_ok;
SELECT count(*) AS payments_recorded FROM gateway.outbox WHERE account = 'ro' AND payment;
SELECT gw_account_drop('ro');
