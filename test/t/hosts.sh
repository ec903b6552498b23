#!/usr/bin/env bash
# Outbound hosts at request time, in the worker: a host taken off
# gateway.allowed_hosts, or plain http turned off, after the account was
# stored.  The queued row fails with the reason and the key never reaches
# the mock (its request log); back on the list, the same row goes out.  Run
# by scripts/test.sh against its cluster (the worker serves
# contrib_regression; the suite's configuration allows 127.0.0.1 and http).
set -uo pipefail
db=contrib_regression
mock="http://127.0.0.1:$GW_MOCK_PORT"
. "$(dirname "$0")/../lib/secrets.sh"
key=$(new_secret GW-H0ST)
# requests the mock received carrying this test's key
mock_got() {
    curl -s "$mock/_mock/requests" | grep -c -F "$key"
}
hosts=$(q "SHOW gateway.allowed_hosts")
cleanup() {
    q "ALTER SYSTEM RESET gateway.allowed_hosts" >/dev/null
    q "ALTER SYSTEM RESET gateway.allow_http" >/dev/null
    q "SELECT pg_reload_conf()" >/dev/null
    q "SELECT gw_account_drop('hostw')" >/dev/null 2>&1
}
trap cleanup EXIT

q "SELECT gw_account_create('hostw', 'vaspro', '{\"api_key\": \"$key\"}', '$mock/vaspro',
                            '{\"sender_id\": \"HOSTS\"}')" >/dev/null || { echo "set-up failed"; exit 1; }

# a host off the list
setting gateway.allowed_hosts "api.vaspro.co.ke"
id=$(q "SELECT gw_queue_sms('hostw', '0712345678', 'to a host off the list')")
check "a row to a host off the list ends failed" "failed" "$(q "SELECT gw_wait($id, '30 s')")"
contains "its error names the host and the setting" \
    "request refused: host 127.0.0.1 is not in gateway.allowed_hosts" \
    "$(q "SELECT last_error FROM gateway.outbox WHERE id = $id")"
check "the key never reached the host" 0 "$(mock_got)"

# plain http off
setting gateway.allowed_hosts "$hosts"
setting gateway.allow_http "off"
id2=$(q "SELECT gw_queue_sms('hostw', '0712345678', 'over plain http')")
check "a row over plain http ends failed" "failed" "$(q "SELECT gw_wait($id2, '30 s')")"
contains "its error says plain http is off" "plain http to 127.0.0.1 is off (gateway.allow_http)" \
    "$(q "SELECT last_error FROM gateway.outbox WHERE id = $id2")"
check "the key never travelled over plain http" 0 "$(mock_got)"

# allowed again: the same rows go out
setting gateway.allow_http "on"
check "requeued" "t|t" "$(q "SELECT gw_requeue($id), gw_requeue($id2)")"
check "the first row is sent" "sent" "$(q "SELECT gw_wait($id, '30 s')")"
check "the second row is sent" "sent" "$(q "SELECT gw_wait($id2, '30 s')")"
check "the host got the key, once a row" 2 "$(mock_got)"

echo "hosts test: $fails failed"
[ "$fails" -eq 0 ]
