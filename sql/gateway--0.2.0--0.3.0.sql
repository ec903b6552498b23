-- gateway 0.2.0 -> 0.3.0
--
-- Every SQL change since 0.2.0.  CREATE EXTENSION gateway at 0.3.0 runs the
-- 0.1.0 script and then each update script in turn, so a fresh install and
-- an upgraded one are built by the same statements.
\echo Use "ALTER EXTENSION gateway UPDATE TO '0.3.0'" to load this file. \quit

------------------------------------------------------------------------
-- Outcomes and inbound: one place decides (issue 12)
------------------------------------------------------------------------

-- The key a payment's callback names it by (its checkout or transaction
-- request id), in a column of its own, filled when the push's answer is
-- recorded (src/providers/*.c say which field it is).  Only payments have
-- one, so the index stays small and the SMS path pays nothing for it.
ALTER TABLE gateway.outbox ADD COLUMN match_key text;
UPDATE gateway.outbox
   SET match_key = coalesce(result #>> '{data,data,CheckoutRequestID}', provider_ref)
 WHERE payment AND coalesce(result #>> '{data,data,CheckoutRequestID}', provider_ref) IS NOT NULL;
DROP INDEX gateway.outbox_payment_ref;
CREATE INDEX outbox_match ON gateway.outbox (match_key) WHERE match_key IS NOT NULL;

-- A payment that was not paid is failed, however it was learnt.
UPDATE gateway.outbox SET status = 'failed' WHERE payment AND status = 'undelivered';

-- Delivery reports and payment results are read by their account's provider
-- and applied in C (src/inbound.c, src/outcome.c); what is left here is
-- subscriptions and incoming SMS.  {"outbox_id", "status", "note"}; a body it
-- cannot take raises 22023.
CREATE OR REPLACE FUNCTION gateway.apply_inbound(inbound_id bigint, acc text, kind text,
                                                 p jsonb, country text)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    note text;
    phone text;
    txt text;
BEGIN
    IF kind = 'subscription' THEN
        IF coalesce(p->>'msisdn', '') = '' OR coalesce(p->>'product_id', '') = '' THEN
            RAISE EXCEPTION 'a subscription profile needs msisdn and product_id'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        phone := @extschema@.gw_normalize_msisdn(p->>'msisdn', country);
        INSERT INTO gateway.subscriptions AS s
               (account, msisdn, product_id, active, service_name, keyword,
                campaign_id, unique_id, provider_date, inbound_id)
        VALUES (acc, phone, p->>'product_id', coalesce(p->>'stop_keyword', '') = '',
                p->>'service_name',
                coalesce(nullif(p->>'stop_keyword', ''), p->>'start_keyword'),
                p->>'campaign_id', p->>'unique_id', p->>'date', inbound_id)
        ON CONFLICT (account, msisdn, product_id) DO UPDATE
           SET active = excluded.active, service_name = excluded.service_name,
               keyword = excluded.keyword, campaign_id = excluded.campaign_id,
               unique_id = excluded.unique_id, provider_date = excluded.provider_date,
               inbound_id = excluded.inbound_id, updated_at = now();
        note := format('%s %s product %s',
                       phone, CASE WHEN coalesce(p->>'stop_keyword', '') = ''
                                    THEN 'subscribed to' ELSE 'unsubscribed from' END,
                       p->>'product_id');
        RETURN jsonb_build_object('outbox_id', NULL, 'status', NULL, 'note', note);

    ELSIF kind = 'mo' THEN
        phone := coalesce(p->>'msisdn', p->>'from', p->>'phone');
        txt := coalesce(p->>'message', p->>'text', p->>'sms');
        IF coalesce(phone, '') = '' OR txt IS NULL THEN
            RAISE EXCEPTION 'an incoming SMS needs msisdn and message'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        phone := @extschema@.gw_normalize_msisdn(phone, country);
        txt := upper(btrim(txt, E' \t\r\n'));
        IF txt = 'STOP' THEN
            INSERT INTO gateway.optouts (account, msisdn) VALUES (acc, phone)
                ON CONFLICT DO NOTHING;
            note := phone || ' opted out';
        ELSIF txt = 'START' THEN
            DELETE FROM gateway.optouts o WHERE o.account = acc AND o.msisdn = phone;
            note := phone || ' opted in';
        ELSE
            note := 'message from ' || phone
                    || coalesce(' (link_id ' || coalesce(p->>'link_id', p->>'linkId') || ')', '');
        END IF;
        RETURN jsonb_build_object('outbox_id', NULL, 'status', NULL, 'note', note);
    END IF;
    RAISE EXCEPTION 'callbacks of kind % are not applied here', kind
        USING ERRCODE = 'invalid_parameter_value';
END
$$;

-- (end of the outcomes section)



------------------------------------------------------------------------
-- Rights per account, outbound hosts, secrets at rest (issue 13)
------------------------------------------------------------------------

-- (end of the rights section)



------------------------------------------------------------------------
-- Many databases (issue 14)
------------------------------------------------------------------------

-- (end of the many-databases section)



------------------------------------------------------------------------
-- Operations (issue 15)
------------------------------------------------------------------------

-- (end of the operations section)
