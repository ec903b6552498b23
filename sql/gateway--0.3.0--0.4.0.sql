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

-- The window of the status page: the current minute and the 59 before it,
-- so that the per-minute series adds up to the hour's figures.  The views
-- spell the same expression out where they compare rows with it: there the
-- planner estimates it and an index scan of outbox_finished reads the hour
-- alone (a function with a SET clause is neither inlined nor estimated).
CREATE FUNCTION gateway.status_since() RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.date_trunc('minute', pg_catalog.now()) - interval '59 minutes';
GRANT EXECUTE ON FUNCTION gateway.status_since() TO PUBLIC;

-- Each account the caller holds (gateway.accounts) over the last hour:
--   queued     rows waiting to be sent now (due, or waiting to retry)
--   scheduled  rows queued for a later send_at
--   in_flight  rows being sent
--   sent       rows the provider took in the window (sent_at)
--   delivered  of those, the ones delivered
--   failed     rows that ended failed, dead or undelivered in the window
--   send_rate  sent per minute over the window
--   delivery_rate  delivered as a percentage of sent (NULL: nothing sent)
-- security_invoker: the outbox's row-level security applies, a sender sees
-- the rows of its accounts only.
CREATE VIEW gateway.status_hour WITH (security_invoker = true) AS
    SELECT a.name AS account,
           a.provider,
           gateway.status_since() AS since,
           coalesce(w.queued, 0) AS queued,
           coalesce(w.scheduled, 0) AS scheduled,
           coalesce(w.in_flight, 0) AS in_flight,
           coalesce(h.sent, 0) AS sent,
           coalesce(h.delivered, 0) AS delivered,
           coalesce(h.failed, 0) AS failed,
           round(coalesce(h.sent, 0) / 60.0, 2) AS send_rate,
           round(100.0 * h.delivered / nullif(h.sent, 0), 1) AS delivery_rate
      FROM gateway.accounts a
      LEFT JOIN (SELECT o.account,
                        count(*) FILTER (WHERE o.status = 'queued' AND o.send_at <= now()) AS queued,
                        count(*) FILTER (WHERE o.status = 'queued' AND o.send_at > now()) AS scheduled,
                        count(*) FILTER (WHERE o.status = 'sending') AS in_flight
                   FROM gateway.outbox o
                  WHERE o.status IN ('queued', 'unknown', 'sending')
                  GROUP BY o.account) w ON w.account = a.name
      LEFT JOIN (SELECT o.account,
                        count(*) FILTER (WHERE o.sent_at >= pg_catalog.date_trunc('minute', now()) - interval '59 minutes') AS sent,
                        count(*) FILTER (WHERE o.sent_at >= pg_catalog.date_trunc('minute', now()) - interval '59 minutes'
                                           AND o.status = 'delivered') AS delivered,
                        count(*) FILTER (WHERE o.status IN ('failed', 'dead', 'undelivered')) AS failed
                   FROM gateway.outbox o
                  WHERE o.status IN ('sent', 'delivered', 'undelivered', 'failed', 'dead', 'cancelled')
                    AND o.updated_at >= pg_catalog.date_trunc('minute', now()) - interval '59 minutes'
                  GROUP BY o.account) h ON h.account = a.name;

-- The same window minute by minute, every minute of it (zeros included):
-- rows sent and rows that ended failed, dead or undelivered in that minute.
CREATE VIEW gateway.status_minutes WITH (security_invoker = true) AS
    SELECT a.name AS account,
           m.minute,
           coalesce(s.sent, 0) AS sent,
           coalesce(f.failed, 0) AS failed
      FROM gateway.accounts a
     CROSS JOIN generate_series(gateway.status_since(),
                                pg_catalog.date_trunc('minute', now()),
                                interval '1 minute') AS m(minute)
      LEFT JOIN (SELECT o.account, date_trunc('minute', o.sent_at) AS minute, count(*) AS sent
                   FROM gateway.outbox o
                  WHERE o.status IN ('sent', 'delivered', 'undelivered', 'failed', 'dead', 'cancelled')
                    AND o.updated_at >= pg_catalog.date_trunc('minute', now()) - interval '59 minutes'
                    AND o.sent_at >= pg_catalog.date_trunc('minute', now()) - interval '59 minutes'
                  GROUP BY 1, 2) s ON s.account = a.name AND s.minute = m.minute
      LEFT JOIN (SELECT o.account, date_trunc('minute', o.updated_at) AS minute, count(*) AS failed
                   FROM gateway.outbox o
                  WHERE o.status IN ('failed', 'dead', 'undelivered')
                    AND o.updated_at >= pg_catalog.date_trunc('minute', now()) - interval '59 minutes'
                  GROUP BY 1, 2) f ON f.account = a.name AND f.minute = m.minute;

-- Readable by whoever may read gateway.accounts and gateway.outbox
-- (gw_grant_sender): the views run as the caller.
GRANT SELECT ON gateway.status_hour, gateway.status_minutes TO PUBLIC;

-- The status page: one self-contained HTML page over the two views
-- (src/statuspage.c).  The listener serves it; the owner runs it.
CREATE FUNCTION gateway.status_page() RETURNS text
    AS 'MODULE_PATHNAME', 'gw_status_page' LANGUAGE C STABLE;
REVOKE ALL ON FUNCTION gateway.status_page() FROM PUBLIC;
