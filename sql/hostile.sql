-- Hostile answers: what the fuzz harnesses (fuzz/, make fuzz) found, kept
-- as the provider would send it.
\set VERBOSITY default
SELECT mock.reset();
SELECT gw_account_create('hostile_vt', 'vtpass',
                         '{"username": "merchant@example.com", "password": "vt-h0stile-0001"}',
                         mock.url('vtpass'));
SELECT gw_account_create('hostile_ms', 'mspace', '{"username": "hostile", "password": "M-p\u00e4ssw\u00f6rd-9"}',
                         mock.url('mspace') || '/mspaceservice/wr/sms/', '{"sender_id": "MSPACE"}');

-- A number whose printed form is longer than the answer (1e-1500 prints
-- 1502 characters): an unreadable answer, so the payment's outcome is
-- unknown, and its data still holds the requestId to requery with.
SELECT mock.fault('{"prefix": "/vtpass/api/pay", "status": 200, "body": "{\"code\":\"016\",\"response_description\":\"TRANSACTION FAILED\",\"amount\":1e-1500}"}');
SELECT r->>'status' AS status, r->>'retryable' AS retryable, r->'data'->>'requestId' AS request_id,
       r->'data'->>'answer' AS answer
  FROM gw_call('hostile_vt', 'payment.purchase', '{"request_id": "h-1", "service_id": "spectranet", "billers_code": "1212121212", "variation_code": "vt-1000", "phone": "1212121212"}') r;
-- one that still fits is read: its printed form is read again just the same
SELECT mock.fault('{"prefix": "/vtpass/api/pay", "status": 200, "body": "{\"code\":\"016\",\"response_description\":\"TRANSACTION FAILED\",\"amount\":1e-980}"}');
SELECT r->>'status' AS status, r->'data'->>'requestId' AS request_id, length(r->'data'->>'amount') AS amount_digits
  FROM gw_call('hostile_vt', 'payment.purchase', '{"request_id": "h-2", "service_id": "spectranet", "billers_code": "1212121212", "variation_code": "vt-1000", "phone": "1212121212"}') r;

-- A password echoed JSON-escaped ("\u00e4"): masked in the result like one
-- echoed as it stands
SELECT mock.fault('{"prefix": "/mspace/mspaceservice/wr/sms/sendtext", "status": 200, "body": "[{\"messageId\": \"1\", \"status\": \"failed\", \"echo\": \"M-p\\u00e4ssw\\u00f6rd-9\"}]"}');
SELECT r->>'status' AS status, r->'data' AS data, position('p' || chr(228) || 'ssw' in r::text) AS leaked_at
  FROM gw_send_sms('hostile_ms', '0712345678', 'Karibu!') r;
SELECT mock.fault('{"prefix": "/mspace/mspaceservice/wr/sms/sendtext", "status": 200, "body": "[{\"messageId\": \"2\", \"status\": \"failed\", \"echo\": \"M-p\u00e4ssw\u00f6rd-9\"}]"}');
SELECT r->'data' AS data FROM gw_send_sms('hostile_ms', '0712345678', 'Karibu!') r;

SELECT gw_account_drop('hostile_vt');
SELECT gw_account_drop('hostile_ms');
