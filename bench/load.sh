#!/usr/bin/env bash
# Load with faults: CLIENTS (50) pgbench sessions for DURATION (60) seconds
# mixing gw_send_sms, gw_queue_sms/gw_enqueue, gw_ingest (delivery reports
# and payment results for real outbox rows, incoming SMS, subscriptions,
# USSD), gw_cancel/gw_requeue, queued VTpass payments and other gw_call
# operations, against the mock with faults switched on (bench/load_side.py keeps its fault FIFO filled and posts callbacks to
# the listener), the outbox worker and the listener running, and a session
# making caller mistakes.  Prints transactions per type, ok/failed results,
# ERRORs by class, the crash check, memory (RssAnon, VmRSS) per process kind
# and the outbox after draining.  Exits 1 on an ERROR that is not a caller
# mistake, a crash, a failed or aborted session, a row left queued or sending, or
# memory growth beyond 20% and 10 MB between the 20 s mark and the end.
# It installs and starts a cluster: run it under the lock,
#     flock /tmp/gw-test.lock bash bench/load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${CLIENTS:-50}
DURATION=${DURATION:-60}
bash scripts/setup.sh >/dev/null
. scripts/lib.sh
export GW_DB=postgres
GW_LISTEN_PORT=$(gw_free_port "${GW_LISTEN_PORT:-18787}")
# Quick timeouts and retries, so that faults end calls and rows within the run.
export GW_EXTRA_CONF="max_connections = $((CLIENTS + 30))
log_line_prefix = '%m [%p] <%b|%a|%e> '
gateway.request_timeout = '2s'
gateway.connect_timeout = '1s'
gateway.retry_base = '100ms'
gateway.retry_max = '2s'
gateway.listen_address = '127.0.0.1:$GW_LISTEN_PORT'
gateway.listen_role = 'gw_listener'"
gw_start >/dev/null
mock="http://127.0.0.1:$GW_MOCK_PORT"
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$@"; }
W=$GW_WORK

sql >/dev/null <<SQL
CREATE EXTENSION gateway;
CREATE ROLE gw_listener NOLOGIN;
SELECT gw_grant_listener('gw_listener');
CREATE FUNCTION public.load_menu(msisdn text, session_id text, input text, service_code text)
RETURNS text LANGUAGE sql AS \$\$
    SELECT CASE input WHEN '' THEN E'CON Karibu\n1. Balance' WHEN '1' THEN 'END KES 100' ELSE 'END Kwaheri' END
\$\$;
SELECT gw_account_create('vp', 'vaspro', '{"api_key": "load-key-0001"}', '$mock/vaspro',
       '{"sender_id": "LOAD", "rate_limit": 100000, "paybill": "888888", "ussd_handler": "public.load_menu"}');
SELECT gw_account_create('ums', 'umeskia', '{"api_key": "ums-load-0001", "email": "ops@example.com"}',
       '$mock/umeskia', '{"account_id": "UMPAY123456789", "rate_limit": 100000}');
SELECT gw_account_create('ms', 'mspace', '{"username": "msuser", "password": "ms-load-pass"}',
       '$mock/mspace/mspaceservice/wr/sms/', '{"sender_id": "MSPACE"}');
SELECT gw_account_create('nn', 'nenasasa', '{"client_id": "nn-client-01", "username": "nnuser", "password": "nn-pass-0001"}',
       '$mock/nenasasa/api/v1', '{"sender_id": "NENA", "chid": "13"}');
SELECT gw_account_create('vt', 'vtpass', '{"username": "vt-load", "password": "vt-load-pass"}', '$mock/vtpass',
       '{"rate_limit": 100000}');
CREATE SCHEMA bench;
CREATE UNLOGGED TABLE bench.results (kind text, ok boolean, status text);
SQL
dlr_url=$(sql -c "SELECT gw_callback_url('vp', 'dlr')")
mo_url=$(sql -c "SELECT gw_callback_url('vp', 'mo')")
# Nenasasa tokens live 3 s: sessions and the worker refresh them all along.
curl -s -X POST "$mock/_mock/config" -d '{"record": false, "nenasasa_token_ttl": 3}' >/dev/null
for _ in $(seq 1 100); do   # the listener is up
    curl -s -o /dev/null -X POST --data '{}' "$dlr_url" && break
    sleep 0.1
done

# The pgbench scripts.  Phones 0712000000-0712000999; 0712000000-99 also
# send STOP/START, so some sends meet opt-outs.  Queued SMS carry caller keys
# ld-1 .. ld-20000 (a repeated key is the same row), which the delivery
# reports (here and through the listener) refer to.
phone="'0712' || lpad(:p::text, 6, '0')"
cat >"$W/send.sql" <<SQL
\set p random(0, 999)
\set a random(1, 5)
INSERT INTO bench.results
SELECT 'gw_send_sms ' || a.acc, (r->>'ok')::boolean, r->>'status'
  FROM (SELECT (ARRAY['vp', 'vp', 'ums', 'ms', 'nn'])[:a] AS acc) a,
       LATERAL gw_send_sms(a.acc, $phone, 'Load test message ' || :p) r;
SQL
cat >"$W/queue.sql" <<SQL
\set p random(0, 999)
\set k random(1, 20000)
BEGIN;
SELECT gw_queue_sms('vp', $phone, 'Queued ' || :k, idempotency_key => 'ld-' || :k);
SELECT gw_enqueue('ums', 'sms.send', jsonb_build_object('recipient', $phone, 'message', 'Queued ums ' || :k));
INSERT INTO bench.results VALUES ('gw_queue_sms + gw_enqueue, committed', true, 'queued');
COMMIT;
SQL
# VTpass purchases through the worker: paid, pending, an unreadable answer, a
# dropped connection and a timeout (the last three are reconciled by requery).
cat >"$W/vtpass.sql" <<SQL
\set v random(1, 5)
SELECT gw_enqueue('vt', 'payment.purchase', jsonb_build_object('service_id', 'spectranet',
       'billers_code', (ARRAY['1212121212', '201000000000', '500000000000', '400000000000', '300000000000'])[:v],
       'variation_code', 'vt-1000', 'phone', '08011111111'));
SQL
cat >"$W/rollback.sql" <<SQL
\set p random(0, 999)
BEGIN;
SELECT gw_queue_sms('vp', $phone, 'Rolled back ' || :p);
ROLLBACK;
SQL
cat >"$W/dlr.sql" <<SQL
\set back random(0, 3000)
\set st random(1, 4)
INSERT INTO bench.results
SELECT 'gw_ingest dlr', r->>'error' IS NULL, coalesce(r->>'status', 'unchanged')
  FROM (SELECT o.idempotency_key, o.provider_ref FROM gateway.outbox o
         WHERE o.id >= (SELECT last_value FROM gateway.outbox_id_seq) - :back
           AND o.account = 'vp' AND NOT o.payment ORDER BY o.id LIMIT 1) o,
       LATERAL gw_ingest('vp', 'dlr', jsonb_build_object(
           'uniqueId', o.idempotency_key, 'correlator', o.provider_ref, 'msisdn', '254712345678',
           'deliveryStatus', (ARRAY['DeliveredToTerminal', 'DeliveredToNetwork', 'DeliveryImpossible', 'MessageWaiting'])[:st])) r;
SQL
cat >"$W/payment.sql" <<SQL
\set p random(0, 999)
\set amt random(1, 500)
\set back random(0, 3000)
\set code random(1, 4)
INSERT INTO bench.results
SELECT 'gw_stk_push vp', (r->>'ok')::boolean, r->>'status' FROM gw_stk_push('vp', $phone, :amt) r;
INSERT INTO bench.results
SELECT 'gw_ingest payment', r->>'error' IS NULL, coalesce(r->>'status', 'unchanged')
  FROM (SELECT o.result #>> '{data,data,CheckoutRequestID}' AS cid FROM gateway.outbox o
         WHERE o.id >= (SELECT last_value FROM gateway.outbox_id_seq) - :back
           AND o.payment AND o.account = 'vp'
           AND o.result #>> '{data,data,CheckoutRequestID}' IS NOT NULL ORDER BY o.id LIMIT 1) o,
       LATERAL gw_ingest('vp', 'payment', jsonb_build_object('Body', jsonb_build_object('stkCallback',
           jsonb_build_object('MerchantRequestID', '12345-67-1', 'CheckoutRequestID', o.cid,
               'ResultCode', (ARRAY[0, 0, 1032, 1037])[:code], 'ResultDesc', 'load test',
               'CallbackMetadata', jsonb_build_object('Item', jsonb_build_array(
                   jsonb_build_object('Name', 'Amount', 'Value', :amt),
                   jsonb_build_object('Name', 'MpesaReceiptNumber', 'Value', 'LGR' || :p))))))) r;
SQL
cat >"$W/ums_payment.sql" <<SQL
\set back random(0, 3000)
\set st random(1, 3)
INSERT INTO bench.results
SELECT 'gw_ingest payment ums', r->>'error' IS NULL, coalesce(r->>'status', 'unchanged')
  FROM (SELECT o.provider_ref FROM gateway.outbox o
         WHERE o.id >= (SELECT last_value FROM gateway.outbox_id_seq) - :back
           AND o.payment AND o.account = 'ums' AND o.provider_ref IS NOT NULL ORDER BY o.id LIMIT 1) o,
       LATERAL gw_ingest('ums', 'payment', jsonb_build_object(
           'ResultCode', '200', 'ResultDesc', 'load test', 'TransactionID', o.provider_ref,
           'TransactionStatus', (ARRAY['Completed', 'Failed', 'Pending'])[:st],
           'TransactionCode', (ARRAY['0', '1032', ''])[:st], 'TransactionAmount', '10',
           'Msisdn', '254712345678')) r;
SQL
cat >"$W/inbound.sql" <<SQL
\set p random(0, 99)
\set w random(1, 4)
INSERT INTO bench.results
SELECT 'gw_ingest ' || k.k, r->>'error' IS NULL,
       coalesce(r->>'status', left(r->>'reply', 3), 'recorded')
  FROM (SELECT (ARRAY['mo', 'mo', 'subscription', 'ussd'])[:w] AS k) k,
       LATERAL gw_ingest('vp', k.k, CASE k.k
           WHEN 'mo' THEN jsonb_build_object('msisdn', $phone, 'link_id', 'L' || :p,
                                             'message', (ARRAY['STOP', 'START', 'hello'])[1 + :p % 3])
           WHEN 'subscription' THEN jsonb_build_object('msisdn', $phone, 'product_id', '123456',
                'service_name', 'Load', 'start_keyword', 'JOIN', 'stop_keyword', CASE WHEN :p % 2 = 0 THEN 'STOP' ELSE '' END)
           ELSE jsonb_build_object('msisdn', $phone, 'sessionID', 'S' || :p, 'accessPoint', '*664*1114#',
                                   'input', (ARRAY['', '1', '2'])[1 + :p % 3]) END) r;
SQL
cat >"$W/calls.sql" <<SQL
\set op random(1, 7)
\set p random(0, 999)
\set u random(1, 1000000000)
INSERT INTO bench.results
SELECT v.name, (v.r->>'ok')::boolean, v.r->>'status'
  FROM (SELECT (ARRAY['gw_call vp sms.bulk', 'gw_call vp contacts.groups', 'gw_balance ums', 'gw_balance ms',
                      'gw_stk_push ums', 'gw_call ums sms.status', 'gw_call nn sms.send'])[:op] AS name,
               CASE :op
               WHEN 1 THEN gw_call('vp', 'sms.bulk', jsonb_build_object('recipients', jsonb_build_array($phone, '0722000111'),
                                   'message', 'Bulk ' || :u, 'unique_id', 'bulk-' || :u))
               WHEN 2 THEN gw_call('vp', 'contacts.groups', '{}')
               WHEN 3 THEN gw_balance('ums')
               WHEN 4 THEN gw_balance('ms')
               WHEN 5 THEN gw_stk_push('ums', $phone, 1 + :p)
               WHEN 6 THEN gw_call('ums', 'sms.status', jsonb_build_object('request_id', '84000000000000000' || (:p % 50)))
               ELSE gw_call('nn', 'sms.send', jsonb_build_object('recipient', $phone, 'message', 'Nena ' || :u))
               END AS r) v;
SQL
cat >"$W/cancel.sql" <<SQL
\set back random(0, 500)
\set w random(1, 2)
INSERT INTO bench.results
SELECT (ARRAY['gw_cancel', 'gw_requeue'])[:w] || ' of a ' || o.status || ' row', true,
       CASE WHEN CASE :w WHEN 1 THEN gw_cancel(o.id) ELSE gw_requeue(o.id) END THEN 'done' ELSE 'refused' END
  FROM (SELECT id, status FROM gateway.outbox
         WHERE id >= (SELECT last_value FROM gateway.outbox_id_seq) - :back
           AND account = 'ums' AND NOT payment ORDER BY id LIMIT 1) o;
SQL
# Caller mistakes, once a second, from a session of its own: each must be an
# ERROR of a caller's class (22, 42, 0A), never anything else.  It ends
# before pgbench does (a killed session would log a lost connection).
for _ in $(seq 1 $((DURATION * 3 / 4))); do
    cat <<'SQL'
SELECT gw_send_sms('nosuch', '0712345678', 'hi');
SELECT gw_send_sms('vp', 'not a phone', 'hi');
SELECT gw_send_sms('vp', '0712345678', '');
SELECT gw_call('vp', 'no.such', '{}');
SELECT gw_queue_sms('vp', '0712345678', 'hi', sender_id => 'TWELVE_CHARS');
SELECT gw_enqueue('ums', 'sms.send', '{"message": "no recipient"}');
SELECT gw_call('vp', 'sms.bulk', '{"recipients": ["0712345678"], "message": "x", "bogus": 1}');
SELECT gw_ingest('vp', 'nosuch', '{}');
SELECT gw_ingest('nosuch', 'dlr', '{}');
SELECT pg_sleep(1);
SQL
done >"$W/mistakes.sql"

# Memory of the pgbench backends, the mistakes session, the worker and the
# listener: "label pid kind VmRSS RssAnon RssShmem" (kB) per line.
sample() {
    sql -F ' ' -c "SELECT pid, CASE application_name WHEN 'pgbench' THEN 'backend'
                                   WHEN 'load_mistakes' THEN 'mistakes_backend'
                                   ELSE replace(backend_type, ' ', '_') END
                     FROM pg_stat_activity
                    WHERE backend_type IN ('gateway worker', 'gateway listener')
                       OR application_name IN ('pgbench', 'load_mistakes')" |
        while read -r pid kind; do
            awk -v l="$1" -v p="$pid" -v k="$kind" '/^VmRSS/ { v = $2 } /^RssAnon/ { a = $2 }
                /^RssShmem/ { s = $2 } END { if (v != "") print l, p, k, v, a, s }' "/proc/$pid/status" 2>/dev/null || true
        done >>"$W/rss.txt"
    # and the palloc'd memory, in the server log ("Grand total: ... used")
    case $1 in
        20 | $((DURATION - 2)) | drained)
            sql -c "SELECT count(pg_log_backend_memory_contexts(pid)) FROM pg_stat_activity
                     WHERE backend_type IN ('gateway worker', 'gateway listener')
                        OR application_name = 'pgbench'" >/dev/null ;;
    esac
}

echo "== $CLIENTS sessions for $DURATION s, faults on (pgbench, the mock at $mock, listener :$GW_LISTEN_PORT)"
python3 bench/load_side.py "$mock" "$dlr_url" "$mo_url" "$DURATION" "$W/side.json" &
side_pid=$!
PGAPPNAME=load_mistakes psql -X -q -v ON_ERROR_STOP=0 -f "$W/mistakes.sql" >/dev/null 2>"$W/mistakes.err" &
mistakes_pid=$!
t0=$(date +%s)
pgbench -n -c "$CLIENTS" -j 2 -T "$DURATION" \
    -f "$W/send.sql@30" -f "$W/queue.sql@20" -f "$W/rollback.sql@2" -f "$W/dlr.sql@15" \
    -f "$W/payment.sql@8" -f "$W/ums_payment.sql@3" -f "$W/inbound.sql@12" -f "$W/calls.sql@10" \
    -f "$W/cancel.sql@2" -f "$W/vtpass.sql@2" \
    postgres >"$W/pgbench.out" 2>"$W/pgbench.err" &
pgbench_pid=$!
for mark in 2 $(seq 10 10 $((DURATION - 3))) $((DURATION - 2)); do
    sleep $((t0 + mark - $(date +%s) > 0 ? t0 + mark - $(date +%s) : 0))
    sample "$mark"
done
pgbench_rc=0
wait "$pgbench_pid" || pgbench_rc=$?
wait "$side_pid" || true
wait "$mistakes_pid" || true

# No /_mock/reset: it would forget VTpass transactions that rows still
# unknown are about to requery.  The last queued faults are used up by retries.
echo "== draining the outbox (no new faults)"
left() { sql -c "SELECT count(*) FROM gateway.outbox WHERE status IN ('queued', 'sending')"; }
left >"$W/backlog.txt"
t1=$(date +%s)
while [ "$(left)" != 0 ] && [ $(($(date +%s) - t1)) -lt 300 ]; do
    sleep 0.2
done
echo $(($(date +%s) - t1)) >"$W/drain_s.txt"
sample drained
sql -c "SELECT 'outbox ' || account || ' ' || status || ' ' || count(*) FROM gateway.outbox GROUP BY account, status ORDER BY account, status" >"$W/outbox.txt"
sql -c "SELECT count(*) FROM gateway.outbox WHERE status IN ('queued', 'sending')" >"$W/stuck.txt"
sql -c "SELECT count(*) FROM gateway.outbox WHERE params->>'message' LIKE 'Rolled back%'" >"$W/rolledback.txt"
sql -F $'\t' -c "SELECT kind, ok, status, count(*) FROM bench.results GROUP BY 1, 2, 3 ORDER BY 1, 2 DESC, 4 DESC" >"$W/results.txt"
sql -F $'\t' -c "SELECT kind, count(*) FROM gateway.inbound GROUP BY 1 ORDER BY 1" >"$W/inbound.txt"

python3 bench/load_report.py "$W" "$DURATION" "$pgbench_rc"
