#!/usr/bin/env bash
# DROP EXTENSION never hangs while gateway is busy: with 20,000 messages
# draining, callbacks streaming into the listener and a backend inside a slow
# synchronous gw_call (the mock delays its answer), DROP EXTENSION gateway
# CASCADE completes (the time is printed; it waits for the slow call's
# transaction, like any DROP).  Then the database's workers stop without an
# ERROR in the server log and send again once the extension is created again.
# Runs last (zz_): it drops the extension of the shared test database, and
# leaves it created again with the listener's grants.  Run by scripts/test.sh
# against its cluster.
set -uo pipefail
N=${GW_DROP_N:-20000}
DELAY_MS=8000
db=contrib_regression
mock="http://127.0.0.1:$GW_MOCK_PORT"
. "$(dirname "$0")/../lib/check.sh"
log() { cat "$GW_WORK"/data/log/*.log 2>/dev/null; }
account() {
    q "SELECT gw_account_create('drp', 'vaspro', '{\"api_key\": \"drp-key-0001\"}', '$mock/vaspro',
                                '{\"sender_id\": \"DRP\", \"rate_limit\": 100000}');
       $listen_role_sql
       SELECT gw_grant_listener('gw_listener');" >/dev/null
}
sent() { q "SELECT count(*) FROM gateway.outbox WHERE account = 'drp' AND status = 'sent'" 2>/dev/null; }
poster=""
caller=""
cleanup() {
    [ -n "$poster" ] && kill "$poster" 2>/dev/null
    [ -n "$caller" ] && kill "$caller" 2>/dev/null
    wait 2>/dev/null
    # whatever happened, the shared database keeps its extension
    q "CREATE EXTENSION IF NOT EXISTS gateway" >/dev/null 2>&1
}
trap cleanup EXIT

account || { echo "set-up failed"; exit 1; }
q "SELECT count(gw_queue_sms('drp', '0712345678', 'drop test ' || i, idempotency_key => 'drp-' || i))
     FROM generate_series(1, $N) i" >/dev/null || { echo "enqueue failed"; exit 1; }
for _ in $(seq 1 300); do s=$(sent); [ "${s:-0}" -ge 1000 ] && break; sleep 0.1; done

# callbacks into the listener, one after another, until the end
url=$(q "SELECT gw_callback_url('drp', 'dlr')")
(while :; do
    curl -s -o /dev/null -w '%{http_code}\n' -X POST \
        --data '{"uniqueId": "drp-1", "deliveryStatus": "DeliveredToTerminal"}' "$url"
    sleep 0.02
done >"$GW_WORK/drop.codes") &
poster=$!

# a synchronous call the provider answers slowly
curl -s -X POST -d "{\"prefix\": \"/vaspro/v3/BulkSMS/api/create\", \"delay_ms\": $DELAY_MS}" \
    "$mock/_mock/fault" >/dev/null
q "SELECT gw_call('drp', 'sms.send', '{\"recipient\": \"0712345678\", \"message\": \"slow\"}')->>'ok'" \
    >"$GW_WORK/drop.call" 2>&1 &
caller=$!
for _ in $(seq 1 100); do
    curl -s "$mock/_mock/requests?prefix=/vaspro/v3/BulkSMS/api/create" | grep -q 'slow' && break
    sleep 0.05
done

s=$(sent)
logsize=$(log | wc -c)
t0=$(date +%s.%N)
timeout 30 psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "DROP EXTENSION gateway CASCADE" 2>"$GW_WORK/drop.err"
rc=$?
t1=$(date +%s.%N)
check "DROP EXTENSION gateway CASCADE completed" 0 "$rc"
[ "$rc" = 0 ] || cat "$GW_WORK/drop.err"
awk -v t0="$t0" -v t1="$t1" -v s="$s" -v n="$N" 'BEGIN {
    printf "DROP EXTENSION took %.2f s, at %d of %d messages sent, beside a call the provider answers in '"$DELAY_MS"' ms\n", t1 - t0, s, n }'
wait "$caller"
caller=""
check "the slow call completed" true "$(cat "$GW_WORK/drop.call")"

# The database's workers stop (the launcher starts them again only after a
# CREATE EXTENSION), and the log gets no ERROR.
nworkers() { q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'gateway worker' AND datname = '$db'"; }
for _ in $(seq 1 150); do [ "$(nworkers)" = 0 ] && break; sleep 0.1; done
sleep 1.5
kill "$poster" 2>/dev/null; wait "$poster" 2>/dev/null; poster=""
check "the database's workers stopped" 0 "$(nworkers)"
log | tail -c +$((logsize + 1)) >"$GW_WORK/drop.log"
check "no ERROR in the server log since the DROP" 0 "$(grep -cE '(ERROR|FATAL|PANIC):' "$GW_WORK/drop.log")"
grep -E '(ERROR|FATAL|PANIC):' "$GW_WORK/drop.log" | sort | uniq -c | sort -rn | head -n 5
check "the worker stopped at most once" yes \
    "$([ "$(grep -c 'gateway worker.*exited' "$GW_WORK/drop.log")" -le 1 ] && echo yes || echo no)"
echo "listener answers during the test: $(sort "$GW_WORK/drop.codes" | uniq -c | awk '{printf "%s x%s  ", $2, $1}')"
check "the listener answered nothing but 200 and 503" 0 "$(grep -cvE '^(200|503)$' "$GW_WORK/drop.codes")"

# Created again, it sends again.
q "CREATE EXTENSION gateway" >/dev/null && account || { echo "CREATE EXTENSION again failed"; exit 1; }
q "SELECT count(gw_queue_sms('drp', '0712345678', 'again ' || i)) FROM generate_series(1, 100) i" >/dev/null
for _ in $(seq 1 300); do [ "$(sent)" = 100 ] && break; sleep 0.1; done
check "the worker sends again once the extension is back" 100 "$(sent)"

echo "drop test: $fails failed"
[ "$fails" -eq 0 ]
