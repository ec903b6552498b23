-- gw_normalize_msisdn: the documented examples
SELECT gw_normalize_msisdn('0712 345 678');
SELECT gw_normalize_msisdn('+254712345678');
SELECT gw_normalize_msisdn('254712345678');
SELECT gw_normalize_msisdn('712345678');
SELECT gw_normalize_msisdn('0112345678', 'KE');
SELECT gw_normalize_msisdn('08031234567', 'NG');
SELECT gw_normalize_msisdn('+234 803 123 4567');
SELECT gw_normalize_msisdn('00254712345678');

-- STRICT: NULL in, NULL out
SELECT gw_normalize_msisdn(NULL) IS NULL AS phone_null,
       gw_normalize_msisdn('0712345678', NULL) IS NULL AS country_null;

-- Each accepted form, per country; errors come back as SQLSTATE and detail
CREATE FUNCTION pg_temp.try_msisdn(phone text, country text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    detail text;
BEGIN
    RETURN gw_normalize_msisdn(phone, country);
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RETURN 'ERROR ' || SQLSTATE || ': ' || detail;
END
$$;

SELECT phone, country, pg_temp.try_msisdn(phone, country) AS result
FROM (VALUES
    ('(0712) 345-678', 'KE'),
    ('0712.345.678', 'ke'),
    (' +254 (0) 712 345 678 ', 'KE'),
    ('2540712345678', 'KE'),
    ('0110 123 456', 'KE'),
    ('+254712345678', 'NG'),
    ('0803 123 4567', 'ng'),
    ('8031234567', 'NG'),
    ('2348031234567', 'NG'),
    ('0701-234-5678', 'NG'),
    ('0901 234 5678', 'NG'),
    ('0772 123 456', 'UG'),
    ('256712345678', 'KE'),
    ('+256 712 345 678', 'KE'),
    ('0712 345 678', 'TZ'),
    ('0788 123 456', 'RW'),
    ('024 123 4567', 'GH'),
    ('082 123 4567', 'za'),
    ('+27 82 123 4567', 'KE'),
    ('+1 202 555 0123', 'KE'),
    ('0044 20 7946 0958', 'KE')
) AS v(phone, country);

-- Rejected numbers
SELECT phone, country, pg_temp.try_msisdn(phone, country) AS result
FROM (VALUES
    ('', 'KE'),
    ('  ', 'KE'),
    ('+', 'KE'),
    ('00', 'KE'),
    ('07l2 345 678', 'KE'),
    ('0712 345 678 ext 2', 'KE'),
    ('0712/345678', 'KE'),
    ('+254712345678+', 'KE'),
    ('254+712345678', 'KE'),
    ('12345', 'KE'),
    ('0712345', 'KE'),
    ('07123456789', 'KE'),
    ('7123456789', 'KE'),
    ('0212345678', 'KE'),
    ('512345678', 'KE'),
    ('+254 712 345 67', 'KE'),
    ('+254 812 345 678', 'KE'),
    ('+256 712 345 6789', 'KE'),
    ('08031234567', 'KE'),
    ('0803123456', 'NG'),
    ('06031234567', 'NG'),
    ('+0712345678', 'KE'),
    ('000712345678', 'KE'),
    ('+1234567', 'KE'),
    ('+1234567890123456', 'KE'),
    ('12345678901234567890', 'KE')
) AS v(phone, country);

-- The whole error: message, detail and hint
SELECT gw_normalize_msisdn('0712 345 67');
\echo :LAST_ERROR_SQLSTATE
SELECT gw_normalize_msisdn('0803 123 456', 'NG');
\echo :LAST_ERROR_SQLSTATE
SELECT gw_normalize_msisdn('0712-ABC-678');
\echo :LAST_ERROR_SQLSTATE

-- Unknown country codes
SELECT gw_normalize_msisdn('0712345678', 'XX');
\echo :LAST_ERROR_SQLSTATE
SELECT gw_normalize_msisdn('0712345678', 'Kenya');
\echo :LAST_ERROR_SQLSTATE
SELECT gw_normalize_msisdn('0712345678', '');
\echo :LAST_ERROR_SQLSTATE
-- the country is checked before the number
SELECT gw_normalize_msisdn('not a number', 'US');
\echo :LAST_ERROR_SQLSTATE

-- gw_sms_info: the whole result
SELECT gw_sms_info('Habari yako? Karibu sana, rafiki.');
SELECT gw_sms_info('Asante');
SELECT gw_sms_info('');
SELECT gw_sms_info(NULL) IS NULL AS null_message;

-- Encoding and length per character class
SELECT label, i->>'encoding' AS encoding, (i->>'length')::int AS length,
       (i->>'segments')::int AS segments
FROM (VALUES
    ('swahili', 'Habari! Malipo yako ya KES 1,500 yamepokelewa. Asante kwa kutumia huduma yetu.'),
    ('basic symbols', '@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&''()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà'),
    ('newlines', E'line one\nline two\r\n'),
    ('extension chars', '^{}\[~]|€'),
    ('form feed', E'\f'),
    ('braces', 'Hello {name}'),
    ('euro price', 'Price: €5'),
    ('e acute', 'é'),
    ('e circumflex', 'ê'),
    ('cafe', 'Café'),
    ('c cedilla lower', 'ç'),
    ('backtick', '`'),
    ('tab', E'a\tb'),
    ('cyrillic', 'Привет'),
    ('emoji', '😀'),
    ('text and emoji', 'Asante 🙏'),
    ('mixed ext and ucs2', '{ê}')
) AS v(label, msg), LATERAL gw_sms_info(msg) AS i;

-- Segment boundaries: GSM-7 160 single, 153 per part; UCS-2 70 single, 67 per part
SELECT label, char_length(msg) AS chars, i->>'encoding' AS encoding,
       (i->>'length')::int AS length, (i->>'segments')::int AS segments
FROM (VALUES
    ('gsm7 160', repeat('a', 160)),
    ('gsm7 161', repeat('a', 161)),
    ('gsm7 306', repeat('a', 306)),
    ('gsm7 307', repeat('a', 307)),
    ('gsm7 459', repeat('a', 459)),
    ('gsm7 460', repeat('a', 460)),
    ('ext 80 braces', repeat('{', 80)),
    ('ext 81 braces', repeat('{', 81)),
    ('a x158 + euro', repeat('a', 158) || '€'),
    ('a x159 + euro', repeat('a', 159) || '€'),
    ('ucs2 70', repeat('ê', 70)),
    ('ucs2 71', repeat('ê', 71)),
    ('ucs2 134', repeat('ê', 134)),
    ('ucs2 135', repeat('ê', 135)),
    ('ucs2 201', repeat('ê', 201)),
    ('ucs2 202', repeat('ê', 202)),
    ('emoji 35', repeat('😀', 35)),
    ('emoji 36', repeat('😀', 36)),
    ('one ê in 160 a', repeat('a', 159) || 'ê')
) AS v(label, msg), LATERAL gw_sms_info(msg) AS i;
