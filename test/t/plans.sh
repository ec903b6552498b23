#!/usr/bin/env bash
# The worker's and the listener's statements find their rows through the
# outbox's indexes whatever the planner's statistics say.  Statistics taken
# while a big batch was still being queued in one open transaction (an
# ANALYZE, by autovacuum or by hand, counts those rows as not there yet)
# made the planner believe the outbox held one row: the claim's UPDATE then
# read the whole outbox for each batch it claimed (a drain of 50,000 went
# at 200 messages/s instead of 15,000 until the next ANALYZE, a minute
# later), and the listener's read it for each batch of delivery reports.
# Here, in a database of its own, with such statistics kept (autovacuum off
# for the table), N messages drain and M delivery reports come in over
# HTTP; the rows each read from the outbox (pg_stat_user_tables: by index
# and by sequential scans, this script's own counts included) must stay
# within a few a message.  A count of work, not a time.
set -uo pipefail
. "$(dirname "$0")/../lib/check.sh"
N=${GW_PLANS_N:-10000}
db=gw_plans
# live rows read from the outbox so far, by index scans and sequential scans
reads() { q "SELECT idx_tup_fetch + seq_tup_read FROM pg_stat_user_tables WHERE relid = 'gateway.outbox'::regclass"; }
# read_since BEFORE N WHAT: the rows read since BEFORE, at most 20 for each
# of N WHATs (after 2.5 s, for the processes' counts to reach the statistics)
read_since() {
    local after per
    sleep 2.5
    after=$(reads)
    per=$(( (after - $1) / $2 ))
    echo "rows read from the outbox: $((after - $1)) for $2 $3s ($per a $3)"
    check "at most 20 rows read a $3" "yes" "$([ "$per" -le 20 ] && echo yes || echo "no: $per")"
    check "the statistics say the outbox holds no row still" "0" \
        "$(q "SELECT reltuples::int FROM pg_class WHERE oid = 'gateway.outbox'::regclass")"
}
cleanup() { q "DROP DATABASE IF EXISTS $db WITH (FORCE)" postgres >/dev/null 2>&1; }
trap cleanup EXIT

own_db p plans-key-0001 PLANS

# An ANALYZE while the batch's transaction is open: it counts the batch's
# rows as not there yet, and the statistics say the outbox's pages hold none.
q "ALTER TABLE gateway.outbox SET (autovacuum_enabled = off)"
sleep 1.5                               # our own counts reach the statistics
before=$(reads)
psql -X -q -d "$db" -v ON_ERROR_STOP=1 >/dev/null <<SQL &
BEGIN;
SELECT count(gw_queue_sms('p', '0712345678', 'plans ' || i)) FROM generate_series(1, $N) i;
SELECT pg_sleep(2.5);
COMMIT;
SQL
queuer=$!
for _ in $(seq 1 100); do               # until the batch is in and its transaction waits
    [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db' AND query LIKE 'SELECT pg_sleep%' AND state = 'active'")" = 1 ] && break
    sleep 0.1
done
q "ANALYZE gateway.outbox"
wait "$queuer"
check "the statistics say the outbox holds no row" "0" "$(q "SELECT reltuples::int FROM pg_class WHERE oid = 'gateway.outbox'::regclass")"
for _ in $(seq 1 240); do               # 120 s at most
    sleep 0.5
    [ "$(q "SELECT count(*) FROM gateway.outbox WHERE status = 'sent'")" = "$N" ] && break
done
check "all $N sent" "$N" "$(q "SELECT count(*) FROM gateway.outbox WHERE status = 'sent'")"
read_since "$before" "$N" message

# The listener's statements, with the same statistics: a delivery report for
# M of the rows, posted over HTTP by 8 keep-alive connections.
M=${GW_PLANS_M:-2000}
dlr=$(q "SELECT gw_callback_url('p', 'dlr')")
q "SELECT idempotency_key FROM gateway.outbox ORDER BY id LIMIT $M" >"$GW_WORK/plans.keys"
for _ in $(seq 1 100); do code -X POST --data '{}' "$dlr" | grep -q '^[24]' && break; sleep 0.1; done
sleep 1.5
before=$(reads)
python3 - "$dlr" "$GW_WORK/plans.keys" <<'PY' || echo "FAIL: posting the delivery reports"
import http.client, json, sys, threading, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
keys = open(sys.argv[2]).read().split()
bad = []
def post(share):
    c = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    for k in share:
        body = json.dumps({"uniqueId": k, "deliveryStatus": "DeliveredToTerminal",
                           "description": "Delivered", "msisdn": "254712345678"})
        c.request("POST", url.path + "?" + url.query, body, {"Content-Type": "application/json"})
        r = c.getresponse(); r.read()
        if r.status != 200: bad.append(r.status)
threads = [threading.Thread(target=post, args=(keys[i::8],)) for i in range(8)]
for t in threads: t.start()
for t in threads: t.join()
sys.exit(1 if bad else 0)
PY
check "$M delivery reports applied" "$M" "$(q "SELECT count(*) FROM gateway.outbox WHERE status = 'delivered'")"
read_since "$before" "$M" "delivery report"

[ "$fails" -eq 0 ]
