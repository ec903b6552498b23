-- gateway 0.1.0 -> 0.2.0
--
-- sql/gateway--0.1.0.sql is the released 0.1.0 install script and is never
-- edited again; every SQL change since goes here.  CREATE EXTENSION gateway
-- at 0.2.0 runs the 0.1.0 script and then this one, so a fresh install and an
-- upgraded one are built by the same statements.
\echo Use "ALTER EXTENSION gateway UPDATE TO '0.2.0'" to load this file. \quit
