#!/usr/bin/env bash
# Two sessions queue the same idempotency key at once (found by bench/load.sh):
# the second waits for the first to commit, then gets the first's row id,
# never an ERROR.  Session A queues in an open transaction; session B queues
# the same key and blocks on A's row; A commits; B must answer A's id.  Run by
# scripts/test.sh against its cluster.
set -uo pipefail
db=contrib_regression
q() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }
work=$(mktemp -d)
trap 'exec 3>&- 2>/dev/null; rm -rf "$work"' EXIT

q "SELECT gw_account_create('race', 'vaspro', '{\"api_key\": \"race-key-0001\"}',
       'http://127.0.0.1:$GW_MOCK_PORT/vaspro', '{\"sender_id\": \"RACE\"}')" >/dev/null || exit 1

# Session A: a psql reading its statements from a FIFO, so that its
# transaction stays open until we say COMMIT.
mkfifo "$work/a.in"
psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$db" <"$work/a.in" >"$work/a.out" 2>&1 &
a_pid=$!
exec 3>"$work/a.in"
echo "BEGIN;" >&3
echo "SELECT gw_queue_sms('race', '0712345678', 'race A', idempotency_key => 'race-1');" >&3
for _ in $(seq 1 300); do [ -s "$work/a.out" ] && break; sleep 0.1; done

# Session B: the same key; it waits on A's uncommitted row.
PGAPPNAME=race_b psql -X -q -t -A -d "$db" \
    -c "SELECT gw_queue_sms('race', '0712345678', 'race B', idempotency_key => 'race-1')" >"$work/b.out" 2>&1 &
b_pid=$!
blocked=no
for _ in $(seq 1 300); do
    [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'race_b' AND wait_event_type = 'Lock'")" = 1 ] &&
        { blocked=yes; break; }
    sleep 0.1
done
echo "COMMIT;" >&3
exec 3>&-
wait "$a_pid"
wait "$b_pid"
b_rc=$?

a_id=$(head -1 "$work/a.out")
b_out=$(cat "$work/b.out")
rows=$(q "SELECT count(*) FROM gateway.outbox WHERE account = 'race' AND idempotency_key = 'race-1'")
echo "session B waited on session A: $blocked; A got [$a_id]; B got [$b_out] (exit $b_rc); rows with the key: $rows"
[ "$blocked" = yes ] && [ "$b_rc" = 0 ] && [ -n "$a_id" ] && [ "$b_out" = "$a_id" ] && [ "$rows" = 1 ]
