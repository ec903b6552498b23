#!/usr/bin/env bash
# pg_dump and restore keep the extension's data: accounts (credentials
# included, for the restore to work), the outbox with its idempotency keys
# and statuses, callbacks received, opt-outs, subscriptions, the daily
# figures, and the sequences' positions (a restored outbox never reuses an id or a key).
# Run by scripts/test.sh against its cluster, in two databases of its own.
set -uo pipefail
src=gw_dump_src
dst=gw_dump_dst
. "$(dirname "$0")/../lib/check.sh"
q() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }   # here: q <database> <sql>
cleanup() { for d in $src $dst; do psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1; done; }
trap cleanup EXIT
cleanup
psql -X -q -d postgres -c "CREATE DATABASE $src" -c "CREATE DATABASE $dst" >/dev/null || exit 1

# Both databases are served by workers of their own: the rows are due in an
# hour, so that none is sent while the two are compared.
q $src "CREATE EXTENSION gateway;
  SELECT gw_account_create('dmp', 'vaspro', '{\"api_key\": \"dump-key-0001\"}',
      'http://127.0.0.1:$GW_MOCK_PORT/vaspro', '{\"sender_id\": \"DUMP\"}');
  SELECT count(gw_queue_sms('dmp', '07120000' || lpad(i::text, 2, '0'), 'Habari ' || i,
                                send_at => now() + interval '1 hour'))
    FROM generate_series(1, 5) i;
  SELECT gw_queue_sms('dmp', '0712000099', 'with a key', idempotency_key => 'dump-key-given',
                      send_at => now() + interval '1 hour');
  SELECT gw_ingest('dmp', 'mo', '{\"msisdn\": \"254712000003\", \"message\": \"STOP\"}');
  SELECT gw_ingest('dmp', 'subscription', '{\"msisdn\": \"254712000004\", \"product_id\": \"P1\",
      \"start_keyword\": \"JOIN\"}');
  SELECT gw_ingest('dmp', 'dlr', '{\"uniqueId\": \"nothing\", \"deliveryStatus\": \"DeliveredToTerminal\"}');
  INSERT INTO gateway.daily (day, account, sent, delivered, undelivered, failed, segments, cost,
                             final, rolled_up_at)
      VALUES (current_date - 30, 'dmp', 10, 8, 1, 1, 12, 12.5, true, now());" >/dev/null \
    || { echo "FAIL: could not make the data"; exit 1; }

pg_dump -d $src >"$GW_WORK/dump.sql" 2>"$GW_WORK/dump.err" || { cat "$GW_WORK/dump.err"; exit 1; }
psql -X -q -v ON_ERROR_STOP=1 -d $dst -f "$GW_WORK/dump.sql" >/dev/null 2>"$GW_WORK/restore.err" \
    || { echo "FAIL: restore"; cat "$GW_WORK/restore.err"; exit 1; }

rows() {   # a digest of a table's rows, in id order where there is one
    q "$1" "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM $2 t"
}
for t in "gateway.account" "gateway.outbox" "gateway.inbound" "gateway.optouts" \
         "gateway.subscriptions" "gateway.account_secret" "gateway.daily"; do
    check "$t restored row for row" "$(rows $src "$t")" "$(rows $dst "$t")"
done
check "6 outbox rows restored" 6 "$(q $dst "SELECT count(*) FROM gateway.outbox")"
max_id=$(q $dst "SELECT max(id) FROM gateway.outbox")
new_id=$(q $dst "SELECT gw_queue_sms('dmp', '0712000100', 'after')")
check "the next outbox id follows the restored ones" t "$( [ "$new_id" -gt "$max_id" ] && echo t || echo f)"
check "a given key still answers with its row after the restore" \
    "$(q $src "SELECT id FROM gateway.outbox WHERE idempotency_key = 'dump-key-given'")" \
    "$(q $dst "SELECT gw_queue_sms('dmp', '0712000099', 'with a key', idempotency_key => 'dump-key-given')")"
check "the opt-out holds after the restore" rejected \
    "$(q $dst "SELECT gw_send_sms('dmp', '0712000003', 'x')->>'status'")"
echo "dump test: $fails failed"
[ "$fails" -eq 0 ]
