#!/usr/bin/env bash
# A big history, short (bench/history.sh is the long run and measures the
# speed): HIST (200,000) finished rows over the 30 days before today and as
# many callbacks.  Beside them, messages queued now are all sent, none lost;
# then gateway.keep_finished is lowered so that the oldest day is past it:
# the worker makes that day's figures final and purges exactly its rows (the
# other days' rows and today's stay), gateway.daily holds what the purged
# rows were, and after VACUUM a day's rows fit in the space they left.  Run
# by scripts/test.sh against its cluster, in a database of its own (its own
# final days).  Behaviour, not speed: nothing here is timed but the waits.
set -uo pipefail
db=gw_history
HIST=${HIST:-200000}
DAYS=30
mock="http://127.0.0.1:$GW_MOCK_PORT/vaspro"
. "$(dirname "$0")/../lib/check.sh"
setting() {   # setting <name> <value>: ALTER SYSTEM (RESET when empty) and reload
    local p="psql -X -q -v ON_ERROR_STOP=1 -d postgres -c"
    if [ -n "$2" ]; then $p "ALTER SYSTEM SET $1 = '$2'" >/dev/null; else $p "ALTER SYSTEM RESET $1" >/dev/null; fi
    $p "SELECT pg_reload_conf()" >/dev/null
    sleep 0.3
}
cleanup() {
    setting gateway.keep_finished ""
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
}
trap cleanup EXIT
cleanup
# nothing final and nothing purged while the history is made
setting gateway.keep_finished -1
psql -X -q -d postgres -c "CREATE DATABASE $db" >/dev/null || exit 1
q "CREATE EXTENSION gateway" >/dev/null || exit 1
q "SELECT gw_account_create('hist', 'vaspro', '{\"api_key\": \"h-key-0001\"}', '$mock', '{\"sender_id\": \"HIST\"}')" >/dev/null \
    || { echo "FAIL: account"; exit 1; }

# The history: sent, delivered, undelivered and failed rows, evenly over
# the DAYS days before today (UTC), and a callback for each.
q "INSERT INTO gateway.outbox (id, account, operation, params, status, attempts, send_at,
                               next_attempt_at, created_at, updated_at, sent_at, provider_ref,
                               idempotency_key, result, segments, encoding, cost)
   SELECT nextval('gateway.outbox_id_seq'), 'hist', 'sms.bulk',
          jsonb_build_object('message', 'History ' || i, 'recipients', '0712345678'),
          (ARRAY['sent', 'delivered', 'undelivered', 'failed'])[1 + i % 4]::gateway.outbox_status,
          1, t, t, t, t, CASE WHEN i % 4 <> 3 THEN t END, md5(i::text), 'hist-' || i,
          jsonb_build_object('ok', i % 4 <> 3, 'provider_ref', md5(i::text)),
          1, 'gsm7', CASE WHEN i % 4 <> 3 THEN 0.8 END
     FROM generate_series(1, $HIST) i,
          LATERAL (SELECT (date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')
                          - interval '1 day' * $DAYS + interval '1 day' * $DAYS * (i - 1) / $HIST AS t) d;
   INSERT INTO gateway.inbound (account, kind, received_at, payload, outbox_id)
   SELECT 'hist', 'dlr', received_at, jsonb_build_object('uniqueId', idempotency_key), id
     FROM (SELECT id, idempotency_key, updated_at AS received_at FROM gateway.outbox WHERE account = 'hist') o" \
    >/dev/null || { echo "FAIL: the history"; exit 1; }
q "VACUUM ANALYZE gateway.outbox" >/dev/null
q "VACUUM ANALYZE gateway.inbound" >/dev/null
check "the history is there" "$HIST $HIST" \
    "$(q "SELECT (SELECT count(*) FROM gateway.outbox) || ' ' || (SELECT count(*) FROM gateway.inbound)")"

# Messages queued now, beside the history: every one sent.
work_read="SELECT idx_tup_read FROM pg_stat_user_indexes WHERE indexrelname = 'outbox_work'"
read0=$(q "$work_read")
q "SELECT count(gw_queue_sms('hist', '0712000001', 'Now ' || i)) FROM generate_series(1, 5000) i" >/dev/null
# (the wait reads the table, not the work index whose reads are counted below)
no_index="SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off;"
for _ in $(seq 1 600); do
    [ "$(q "$no_index SELECT count(*) FROM gateway.outbox WHERE status IN ('queued', 'sending')")" = 0 ] && break
    sleep 0.2
done
check "5,000 messages queued beside the history are all sent" 5000 \
    "$(q "SELECT count(*) FROM gateway.outbox WHERE params->>'message' LIKE 'Now %' AND status = 'sent'")"
# The statistics (ANALYZE above) say no row is due: the claim still walks
# the work index in order and stops at its batch (planned by those figures
# alone, it sorted every due row at each claim), and marks the entries of
# the rows it took dead one by one (the 5,000 rows share one next_attempt_at;
# kept as one posting list, their entries could be marked only all
# together).  Either way each claim read every row sent before it: 110 to
# 210 entries a message here, a drain gone quadratic.  Index entries read a
# message, once the worker's counters reached the statistics (it sends them
# at most once a second):
read1=""
for _ in $(seq 1 20); do
    sleep 1
    r=$(q "$work_read")
    [ "$r" = "$read1" ] && break
    read1=$r
done
if [[ $read0 =~ ^[0-9]+$ && $read1 =~ ^[0-9]+$ ]]; then
    echo "work index entries read: $((read1 - read0)) for 5,000 messages"
    check "the claim reads the work index in order: at most 20 entries a message" yes \
        "$([ $((read1 - read0)) -le $((20 * 5000)) ] && echo yes || echo "no: $(( (read1 - read0) / 5000 ))")"
else
    check "the work index's counters can be read" "numbers" "[$read0] [$read1]"
fi

# The oldest day, D0, and what its rows are.
d0="(date_trunc('day', now() AT TIME ZONE 'UTC') - interval '$DAYS days')::date"
in_d0="send_at >= $d0::timestamp AT TIME ZONE 'UTC' AND send_at < ($d0 + 1)::timestamp AT TIME ZONE 'UTC'"
d0_rows=$(q "SELECT count(*) FROM gateway.outbox WHERE $in_d0")
d0_figures=$(q "SELECT count(*) FILTER (WHERE status IN ('sent', 'delivered', 'undelivered')) || ' ' ||
                       count(*) FILTER (WHERE status = 'delivered') || ' ' ||
                       count(*) FILTER (WHERE status = 'undelivered') || ' ' ||
                       count(*) FILTER (WHERE status = 'failed')
                  FROM gateway.outbox WHERE $in_d0")
others=$(q "SELECT count(*) FROM gateway.outbox WHERE NOT ($in_d0)")
[ "$d0_rows" -gt 0 ] || { echo "FAIL: no rows on the oldest day"; fails=$((fails + 1)); }
size_before=$(q "SELECT pg_relation_size('gateway.outbox')")

# keep_finished such that now - keep_finished falls in the day after D0:
# D0 is the last day that can be final, and only its rows are purged.
keep=$(q "SELECT ($DAYS - 2) * 86400 + 1800
                 + extract(epoch FROM now() - date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')::int")
setting gateway.keep_finished "${keep}s"
for _ in $(seq 1 1200); do
    [ "$(q "SELECT count(*) FROM gateway.outbox WHERE $in_d0")" = 0 ] && break
    sleep 0.1
done
check "the oldest day's rows are purged" 0 "$(q "SELECT count(*) FROM gateway.outbox WHERE $in_d0")"
check "every other row is still there" "$others" "$(q "SELECT count(*) FROM gateway.outbox WHERE NOT ($in_d0)")"
check "the oldest day is the last final one" t \
    "$(q "SELECT final_through = $d0 FROM gateway.rollup_state")"
check "gateway.daily holds what the purged rows were (sent delivered undelivered failed)" "$d0_figures" \
    "$(q "SELECT sent || ' ' || delivered || ' ' || undelivered || ' ' || failed
            FROM gateway.daily WHERE day = $d0 AND account = 'hist' AND final")"

# After VACUUM a day's rows go into the space the purge left.
q "VACUUM gateway.outbox" >/dev/null
q "INSERT INTO gateway.outbox (account, operation, params, status, attempts, send_at, next_attempt_at,
                               created_at, updated_at, sent_at, idempotency_key, result)
   SELECT 'hist', 'sms.bulk', jsonb_build_object('message', 'History ' || i, 'recipients', '0712345678'),
          'sent', 1, now(), now(), now(), now(), now(), 'again-' || i,
          jsonb_build_object('ok', true, 'provider_ref', md5(i::text))
     FROM generate_series(1, $d0_rows) i" >/dev/null
check "a day's rows again fit in the space the purged day left" t \
    "$(q "SELECT pg_relation_size('gateway.outbox') <= $size_before")"

echo "history test: $fails failed"
[ "$fails" -eq 0 ]
