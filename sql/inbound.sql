-- Callbacks: gw_ingest and gateway.ingest_text record every body in
-- gateway.inbound first, then apply it.
SELECT gw_account_create('inb', 'vaspro', '{"api_key": "inbound-key"}', mock.url('vaspro'),
                         '{"sender_id": "GATEWAY"}');

-- A body that is not JSON is recorded raw and answered as a bad request.
SELECT gateway.ingest_text('inb', 'dlr', 'deliveryStatus=DeliveredToTerminal') - 'recorded';
SELECT account, kind, payload, raw, outbox_id, note FROM gateway.inbound ORDER BY id DESC LIMIT 1;
-- Unknown account or kind: 42704, nothing recorded.
SELECT expect_error($$SELECT gw_ingest('nobody', 'dlr', '{}')$$);
SELECT expect_error($$SELECT gw_ingest('inb', 'fax', '{}')$$);
SELECT expect_error($$SELECT gateway.ingest_text('inb', 'fax', '{}')$$);
SELECT count(*) FROM gateway.inbound;
