#!/usr/bin/env bash
# Burst workers (gateway.burst_workers).  In a database of its own, against
# the mock: with the setting 0 a backlog drains with the database's one
# worker; with 1 (the default) a second worker joins while the claims keep
# coming back full, every message still reaches the mock exactly once, and
# the second worker leaves once the backlog is gone (3 s idle); a backlog that waits
# for an account's rate limit gets no second worker (it would send nothing
# sooner).  Run by scripts/test.sh against its cluster, whose
# test/regress.conf sets gateway.burst_workers = 0 for the other tests.
set -uo pipefail
. "$(dirname "$0")/../lib/check.sh"
N=${GW_BURST_N:-30000}
mock="http://127.0.0.1:$GW_MOCK_PORT"
db=gw_burst
nworkers() { q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'gateway worker' AND datname = '$db'" postgres; }
sent() { q "SELECT count(*) FROM gateway.outbox WHERE status = 'sent'"; }
most=0
drain() {  # n: poll until n rows are sent (120 s at most); most: the most workers seen
    most=0
    for _ in $(seq 1 1200); do
        w=$(nworkers); [ "$w" -gt "$most" ] && most=$w
        [ "$(sent)" = "$1" ] && return 0
        sleep 0.1
    done
    return 1
}
wait_workers() {  # n: until the database has n workers (15 s at most)
    for _ in $(seq 1 150); do [ "$(nworkers)" = "$1" ] && return 0; sleep 0.1; done
    return 1
}
# how many messages of phase $1 the mock accepted, and how many distinct ones
at_mock() {
    curl -s "$mock/_mock/messages?limit=100000000" | grep -o "\"message\":\"burst $1 [0-9]*\"" >"$GW_WORK/burst.$1"
    echo "$(wc -l <"$GW_WORK/burst.$1") $(sort -u "$GW_WORK/burst.$1" | wc -l)"
}
setting() {
    q "ALTER SYSTEM SET gateway.burst_workers = $1" postgres && q "SELECT pg_reload_conf()" postgres >/dev/null
    sleep 0.5
    check "gateway.burst_workers is $1" "$1" "$(q "SHOW gateway.burst_workers")"
}
cleanup() {
    q "ALTER SYSTEM RESET gateway.burst_workers" postgres >/dev/null 2>&1
    q "SELECT pg_reload_conf()" postgres >/dev/null 2>&1
    q "DROP DATABASE IF EXISTS $db WITH (FORCE)" postgres >/dev/null 2>&1
}
trap cleanup EXIT

own_db b burst-key-0001 BURST
wait_workers 1
check "the database has its worker" 1 "$(nworkers)"
queue() {  # phase n
    q "SELECT count(gw_queue_sms('b', '0712345678', 'burst $1 ' || i)) FROM generate_series(1, $2) i" >/dev/null
}

# 1. gateway.burst_workers = 0: one worker, however long the backlog
setting 0
queue zero "$N"
drain "$N"; check "burst_workers 0: all $N sent" "$N" "$(sent)"
check "burst_workers 0: one worker throughout" 1 "$most"
check "burst_workers 0: each message reached the mock once" "$N $N" "$(at_mock zero)"

# 2. gateway.burst_workers = 1: a second worker while the backlog lasts
setting 1
queue one "$N"
drain $((2 * N)); check "burst_workers 1: all $N sent" $((2 * N)) "$(sent)"
check "burst_workers 1: a second worker joined the backlog" 2 "$most"
check "gw_health: ok, one configured, the burst worker live" "true 1 2" \
    "$(q "SELECT h->>'ok', h->'workers'->>'configured', h->'workers'->>'live' FROM gw_health() h" | tr '|' ' ')"
check "burst_workers 1: each message reached the mock once" "$N $N" "$(at_mock one)"
wait_workers 1
check "burst_workers 1: the second worker left when the backlog was gone" 1 "$(nworkers)"
check "nothing left leased" 0 "$(q "SELECT count(*) FROM gateway.outbox WHERE leased_by IS NOT NULL OR status <> 'sent'")"

# 3. a backlog held by the account's rate limit gets no second worker
q "SELECT gw_account_update('b', options => '{\"sender_id\": \"BURST\", \"rate_limit\": 100}')" >/dev/null
queue rate 300
drain $((2 * N + 300)); check "rate-limited: all 300 sent" $((2 * N + 300)) "$(sent)"
check "rate-limited: one worker throughout" 1 "$most"

echo "burst test: $fails failed"
[ "$fails" -eq 0 ]
