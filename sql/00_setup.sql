-- Set-up shared by every test file: the extension, the mock provider's
-- address, and helpers that read what the mock received.  The extension is
-- installed at its first released version and updated through every update
-- script to the default one: the whole suite runs on an upgraded install
-- (test/t/upgrade.sh checks that it equals a fresh one).
\set ECHO none
\getenv mock_port GW_MOCK_PORT
SET client_min_messages = warning;
CREATE EXTENSION gateway VERSION '0.1.0';
ALTER EXTENSION gateway UPDATE;
CREATE SCHEMA mock;
CREATE TABLE mock.config AS SELECT :'mock_port'::int AS port;

-- Run curl against the mock's control API; return its answer lines.
CREATE FUNCTION mock.curl(args text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    port int := (SELECT port FROM mock.config);
BEGIN
    IF to_regclass('pg_temp.mock_lines') IS NULL THEN
        CREATE TEMP TABLE mock_lines (line text);
    END IF;
    TRUNCATE mock_lines;
    EXECUTE format('COPY mock_lines FROM PROGRAM %L WITH (FORMAT csv, QUOTE E''\x01'', DELIMITER E''\x02'')',
                   'curl -s ' || replace(args, '{mock}', 'http://127.0.0.1:' || port));
    RETURN QUERY SELECT line FROM mock_lines;
END
$$;

-- Every request the mock received, oldest first.
CREATE FUNCTION mock.requests() RETURNS SETOF jsonb
LANGUAGE sql AS $$ SELECT line::jsonb FROM mock.curl('{mock}/_mock/requests') AS line $$;

-- The last request, with its body parsed when it is JSON.
CREATE FUNCTION mock.last() RETURNS jsonb
LANGUAGE sql AS $$
    SELECT r || jsonb_build_object('json',
              CASE WHEN r->>'body' ~ '^\s*[\[{]' THEN (r->>'body')::jsonb END)
    FROM mock.requests() r ORDER BY (r->>'id')::int DESC LIMIT 1
$$;

CREATE FUNCTION mock.reset() RETURNS void
LANGUAGE sql AS $$ SELECT count(*) FROM mock.curl('-X POST {mock}/_mock/reset') $$;

-- Queue a fault: the next matching requests get it.
CREATE FUNCTION mock.fault(spec jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF position('''' in spec::text) > 0 THEN
        RAISE EXCEPTION 'fault spec must not contain a single quote';
    END IF;
    PERFORM count(*) FROM mock.curl(format('-X POST -d ''%s'' {mock}/_mock/fault', spec));
END
$$;

-- The mock's base URL for a provider.
CREATE FUNCTION mock.url(provider text) RETURNS text
LANGUAGE sql AS $$ SELECT 'http://127.0.0.1:' || port || '/' || provider FROM mock.config $$;

-- Run a statement that must fail; show its SQLSTATE, message, detail and
-- hint (without the source location, which moves with every edit).
CREATE FUNCTION expect_error(q text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    st text; msg text; det text; hnt text;
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    RETURN st || ': ' || msg
        || CASE WHEN det <> '' THEN E'\nDETAIL: ' || det ELSE '' END
        || CASE WHEN hnt <> '' THEN E'\nHINT: ' || hnt ELSE '' END;
END
$$;

SELECT mock.reset();
\set ECHO all
SELECT extname, extversion FROM pg_extension WHERE extname = 'gateway';
-- the update path it took, and every version has a path to the default one
SELECT path FROM pg_extension_update_paths('gateway')
 WHERE source = '0.1.0' AND target = (SELECT extversion FROM pg_extension WHERE extname = 'gateway');
SELECT version AS stranded FROM pg_available_extension_versions v
 WHERE name = 'gateway' AND version <> (SELECT default_version FROM pg_available_extensions WHERE name = 'gateway')
   AND NOT EXISTS (SELECT 1 FROM pg_extension_update_paths('gateway') p
                    WHERE p.source = v.version AND p.target = (SELECT default_version FROM pg_available_extensions WHERE name = 'gateway')
                      AND p.path IS NOT NULL);
