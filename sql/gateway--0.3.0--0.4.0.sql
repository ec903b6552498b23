-- gateway 0.3.0 -> 0.4.0
--
-- Every SQL change since 0.3.0.  CREATE EXTENSION gateway at 0.4.0 runs the
-- 0.1.0 script and then each update script in turn, so a fresh install and
-- an upgraded one are built by the same statements.
\echo Use "ALTER EXTENSION gateway UPDATE TO '0.4.0'" to load this file. \quit

------------------------------------------------------------------------
-- Pause and bulk cancel
------------------------------------------------------------------------


------------------------------------------------------------------------
-- Counters and health
------------------------------------------------------------------------

-- Cumulative counters in shared memory (src/stats.c), this database's
-- rows.  A role sees the accounts it holds; the extension's owner, a
-- superuser and members of pg_read_all_stats see every row.
CREATE FUNCTION gateway.stat_requests(
    OUT account text, OUT operation text, OUT requests bigint,
    OUT accepted bigint, OUT delivered bigint, OUT pending bigint,
    OUT failed bigint, OUT rejected bigint, OUT unknown bigint,
    OUT retries bigint, OUT rate_limit_waits bigint, OUT http_429 bigint,
    OUT transport_errors bigint, OUT latency_buckets bigint[],
    OUT latency_count bigint, OUT latency_sum double precision,
    OUT stats_reset timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'gw_stat_requests' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

CREATE FUNCTION gateway.stat_callbacks(
    OUT account text, OUT kind text, OUT received bigint, OUT applied bigint,
    OUT ignored bigint, OUT unmatched bigint, OUT refused bigint,
    OUT stats_reset timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'gw_stat_callbacks' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

CREATE FUNCTION gateway.stat_listener(OUT code int, OUT answers bigint,
    OUT stats_reset timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'gw_stat_listener' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

CREATE VIEW gateway.stat_requests AS
    SELECT * FROM gateway.stat_requests()
     WHERE (SELECT gateway.held_accounts()) IS NULL
        OR pg_has_role('pg_read_all_stats', 'USAGE')
        OR account = ANY ((SELECT gateway.held_accounts())::text[]);
CREATE VIEW gateway.stat_callbacks AS
    SELECT * FROM gateway.stat_callbacks()
     WHERE (SELECT gateway.held_accounts()) IS NULL
        OR pg_has_role('pg_read_all_stats', 'USAGE')
        OR account = ANY ((SELECT gateway.held_accounts())::text[]);
CREATE VIEW gateway.stat_listener AS
    SELECT * FROM gateway.stat_listener();

-- Zero this database's counters: one account's (its admins, the owner) or,
-- account NULL, all of them (the owner).  Returns the entries zeroed.
CREATE FUNCTION gw_stat_reset(account text DEFAULT NULL) RETURNS bigint
AS 'MODULE_PATHNAME', 'gw_stat_reset' LANGUAGE C VOLATILE PARALLEL RESTRICTED;

-- Whether this database's gateway works: workers, listener, backlog per
-- account the caller holds (docs/monitoring.md, "Health").
CREATE FUNCTION gw_health() RETURNS jsonb
AS 'MODULE_PATHNAME', 'gw_health' LANGUAGE C VOLATILE PARALLEL RESTRICTED;

-- Who may look: the functions filter by the caller's holdings, so anyone
-- with USAGE on the schema (the senders and admins) may call them.
GRANT SELECT ON gateway.stat_requests, gateway.stat_callbacks, gateway.stat_listener TO PUBLIC;
GRANT EXECUTE ON FUNCTION gateway.stat_requests(), gateway.stat_callbacks(),
    gateway.stat_listener() TO PUBLIC;
GRANT EXECUTE ON FUNCTION gw_stat_reset(text), gw_health() TO PUBLIC;


------------------------------------------------------------------------
-- Costs and the daily rollup
------------------------------------------------------------------------


------------------------------------------------------------------------
-- Routes and failover
------------------------------------------------------------------------


------------------------------------------------------------------------
-- The status page
------------------------------------------------------------------------

