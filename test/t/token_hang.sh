#!/usr/bin/env bash
# OAuth tokens in the outbox worker (Nenasasa): one token request per
# account for all its claimed rows, never inside a transaction; while one
# account's token endpoint hangs, another account's queued SMS are sent; a
# failed token request is remembered, and the rows it held get its answer.
# Run by scripts/test.sh against its cluster and mock.
set -uo pipefail
db=contrib_regression
. "$(dirname "$0")/../lib/check.sh"
mock="http://127.0.0.1:$GW_MOCK_PORT"
# token requests the mock received for a client_id
tokens_for() {
    curl -s "$mock/_mock/requests?prefix=/nenasasa/api/v1/token" | grep -c -- "$1"
}
status_of() { q "SELECT string_agg(status::text || ':' || n, ' ' ORDER BY status) FROM (SELECT status, count(*) n FROM gateway.outbox WHERE account = '$1' GROUP BY status) s"; }

curl -s -X POST "$mock/_mock/reset" >/dev/null
q "SELECT gw_account_create('th_hang', 'nenasasa',
       '{\"client_id\": \"th-hang-client\", \"username\": \"thuser\", \"password\": \"th-pass-0001\"}',
       '$mock/nenasasa/api/v1', '{\"sender_id\": \"NENA\", \"chid\": \"13\"}');
   SELECT gw_account_create('th_ok', 'nenasasa',
       '{\"client_id\": \"th-ok-client\", \"username\": \"thuser\", \"password\": \"th-pass-0002\"}',
       '$mock/nenasasa/api/v1', '{\"sender_id\": \"NENA\", \"chid\": \"13\"}');" >/dev/null ||
    { echo "set-up failed"; exit 1; }

# th_hang's token endpoint answers only after 60 s (the worker gives up at
# gateway.request_timeout, 30 s); th_ok's answers at once.
curl -s -X POST "$mock/_mock/fault" \
    -d '{"prefix": "/nenasasa/api/v1/token", "match": "th-hang-client", "count": 10, "action": "delay", "delay_ms": 60000}' >/dev/null
q "SELECT count(gw_queue_sms('th_hang', '0712345678', 'stuck ' || i)) FROM generate_series(1, 5) i" >/dev/null
# the worker has claimed th_hang's rows and asked for its token
for _ in $(seq 1 100); do
    [ "$(tokens_for th-hang-client)" -ge 1 ] && break
    sleep 0.1
done
q "SELECT count(gw_queue_sms('th_ok', '0712345678', 'fine ' || i)) FROM generate_series(1, 20) i" >/dev/null
last=$(q "SELECT max(id) FROM gateway.outbox WHERE account = 'th_ok'")
q "SELECT gw_wait($last, '20 s')" >/dev/null
check "the other account's 20 SMS are sent while the token request hangs" "sent:20" "$(status_of th_ok)"
check "the hanging account's rows are still waiting for their token" "sending:5" "$(status_of th_hang)"
check "one token request for the 5 rows of the hanging account" 1 "$(tokens_for th-hang-client)"
check "one token request for the 20 rows of the other" 1 "$(tokens_for th-ok-client)"
check "no transaction is open meanwhile" 0 \
    "$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'gateway worker' AND xact_start IS NOT NULL")"

# A token endpoint that refuses (quickly): one request for all the rows; the
# rows get its answer; the failure is remembered.
curl -s -X POST "$mock/_mock/reset" >/dev/null
q "UPDATE gateway.outbox SET status = 'cancelled' WHERE account = 'th_hang'" >/dev/null
q "SELECT gw_account_create('th_bad', 'nenasasa',
       '{\"client_id\": \"th-bad-client\", \"username\": \"thuser\", \"password\": \"wrong\"}',
       '$mock/nenasasa/api/v1', '{\"sender_id\": \"NENA\", \"chid\": \"13\"}');" >/dev/null
q "SELECT count(gw_queue_sms('th_bad', '0712345678', 'refused ' || i)) FROM generate_series(1, 5) i" >/dev/null
first=$(q "SELECT min(id) FROM gateway.outbox WHERE account = 'th_bad'")
for _ in $(seq 1 100); do
    [ "$(q "SELECT count(*) FROM gateway.outbox WHERE account = 'th_bad' AND last_error IS NOT NULL")" = 5 ] && break
    sleep 0.1
done
check "the 5 rows carry the token request's answer" 5 \
    "$(q "SELECT count(*) FROM gateway.outbox WHERE account = 'th_bad' AND last_error LIKE 'token request failed: %invalid_grant%'")"
check "their first attempt made one token request, not five" yes \
    "$(n=$(tokens_for th-bad-client); [ "$n" -ge 1 ] && [ "$n" -lt 5 ] && echo yes || echo "no: $n")"

q "UPDATE gateway.outbox SET status = 'cancelled' WHERE account LIKE 'th_%' AND status IN ('queued', 'sending')" >/dev/null
for a in th_hang th_ok th_bad; do q "SELECT gw_account_drop('$a')" >/dev/null 2>&1; done
curl -s -X POST "$mock/_mock/reset" >/dev/null
echo "token test: $fails failed"
[ "$fails" -eq 0 ]
