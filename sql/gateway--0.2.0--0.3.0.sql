-- gateway 0.2.0 -> 0.3.0
--
-- Every SQL change since 0.2.0.  CREATE EXTENSION gateway at 0.3.0 runs the
-- 0.1.0 script and then each update script in turn, so a fresh install and
-- an upgraded one are built by the same statements.
\echo Use "ALTER EXTENSION gateway UPDATE TO '0.3.0'" to load this file. \quit

------------------------------------------------------------------------
-- Outcomes and inbound: one place decides (issue 12)
------------------------------------------------------------------------

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
