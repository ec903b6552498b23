#!/usr/bin/env bash
# An idle database costs nothing: its worker sleeps until a row is due or
# queued (a worker that looked for due rows in a loop once took a third of a
# core in every idle cluster).  Counts the transactions the database commits
# in 3 s with nothing to send.  Run by scripts/test.sh against its cluster.
set -uo pipefail
db=gw_idle
fails=0
q() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
cleanup() { psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1; }
trap cleanup EXIT
cleanup
psql -X -q -d postgres -c "CREATE DATABASE $db" >/dev/null || exit 1
q $db "CREATE EXTENSION gateway" >/dev/null || exit 1
# the set is up once its worker shows in pg_stat_activity
for _ in $(seq 1 100); do
    [ "$(q postgres "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db' AND backend_type LIKE 'gateway worker%'")" -gt 0 ] && break
    sleep 0.1
done
sleep 2   # its start-up work (recovery, purge) done and reported
a=$(q postgres "SELECT xact_commit FROM pg_stat_database WHERE datname = '$db'")
sleep 3
b=$(q postgres "SELECT xact_commit FROM pg_stat_database WHERE datname = '$db'")
n=$((b - a))
echo "idle database: $n transactions in 3 s"
if [ "$n" -lt 60 ]; then echo "ok: the idle worker sleeps"; else echo "FAIL: the idle worker committed $n transactions in 3 s"; fails=$((fails + 1)); fi
echo "idle test: $fails failed"
[ "$fails" -eq 0 ]
