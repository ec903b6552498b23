#!/usr/bin/env bash
# Used the documented way (credentials as "<field>_file"), no secret reaches
# the server log, even with log_statement = 'all' and
# log_min_duration_statement = 0, nor a pg_dump of the database (which does
# keep the accounts).  The settings are restored afterwards.  Run by
# scripts/test.sh against its cluster.
set -uo pipefail
db=contrib_regression
mock="http://127.0.0.1:$GW_MOCK_PORT"
. "$(dirname "$0")/../lib/secrets.sh"

dir="$GW_WORK/logkeys"
log="$GW_WORK/data/log/postgresql.log"
secret=$(new_secret GW-L0G)
secret2=$(new_secret GW-L0G2)
as_server mkdir -m 700 "$dir" "$dir/lg" "$dir/lg3"
put_secret "$dir/lg/lg.key" "$secret"
put_secret "$dir/lg/lg2.key" "$secret2"
url="$mock/vaspro"

restore() {
    setting log_statement "" none
    setting log_min_duration_statement "" -1
    setting gateway.credential_dir "" ""
    as_server rm -rf "$dir" "$dump"
}
dump="$GW_WORK/secrets_log.dump.sql"
trap restore EXIT
setting log_statement all
setting log_min_duration_statement 0
setting gateway.credential_dir "$dir"

# The documented flow: create, send, queue, update (new key file, new
# address), a failing call, a provider failure, a provider that echoes the key.
q "SELECT gw_account_create('lg', 'vaspro', '{\"api_key_file\": \"$dir/lg/lg.key\"}', '$url')" >/dev/null
check "send" "accepted" "$(q "SELECT gw_send_sms('lg', '0712345678', 'logged')->>'status'")"
id=$(q "SELECT gw_queue_sms('lg', '0712345678', 'logged, queued')")
check "queued" "sent" "$(q "SELECT gw_wait($id, '20 s')")"
q "SELECT gw_account_update('lg', '{\"api_key_file\": \"$dir/lg/lg2.key\"}', '$url/')" >/dev/null
check "send with the new key" "accepted" "$(q "SELECT gw_send_sms('lg', '0712345678', 'logged 2')->>'status'")"
check "a failing call" "1" "$(q "SELECT gw_send_sms('lg', 'not a number', 'x')" 2>&1 | grep -c 'invalid phone number')"
curl -s -X POST -d '{"status": 500}' "$mock/_mock/fault" >/dev/null
check "a provider failure" "false" "$(q "SELECT gw_send_sms('lg', '0712345678', 'fails')->>'ok'")"
curl -s -X POST -d "{\"status\": 400, \"body\": \"{\\\"code\\\":\\\"Error\\\",\\\"statusDescription\\\":\\\"bad key $secret2\\\"}\"}" \
    "$mock/_mock/fault" >/dev/null
check "a provider that echoes the key" "false" "$(q "SELECT gw_send_sms('lg', '0712345678', 'echo')->>'ok'")"
check "a missing key file" "1" \
    "$(q "SELECT gw_account_create('lg3', 'vaspro', '{\"api_key_file\": \"$dir/lg3/nosuch.key\"}', '$url')" 2>&1 | grep -c 'could not open credential file')"
# the key did reach the provider
check "the provider got the key" "1" "$(curl -s "$mock/_mock/requests" | grep -c -F "$secret2" | awk '{print ($1 > 0)}')"

# The log holds the statements (so it is the right log, logging them all) ...
check "the log holds the statements" "1" "$(grep -c -F "gw_send_sms('lg', '0712345678', 'logged 2')" "$log")"
pid=$(grep -F "gw_send_sms('lg', '0712345678', 'logged 2')" "$log" | head -1 | sed -n 's/^[^[]*\[\([0-9]*\)\].*/\1/p')
check "the log holds the statement's duration" "1" "$(grep -F "[$pid]" "$log" | grep -c 'duration:' | awk '{print ($1 > 0)}')"
# ... and no secret
check "no key in the server log" "0" "$(grep -c -F -e "$secret" -e "$secret2" "$log")"

# pg_dump keeps the account and its credentials, as the file's path only.
as_server pg_dump -h "$PGHOST" -p "$PGPORT" -U postgres -d "$db" -f "$dump" || { echo "FAIL: pg_dump"; fails=$((fails + 1)); }
check "the dump keeps the account" "1" "$(grep -c -F "$dir/lg/lg2.key" "$dump" | awk '{print ($1 > 0)}')"
check "no key in the dump" "0" "$(grep -c -F -e "$secret" -e "$secret2" "$dump")"

q "SELECT gw_account_drop('lg')" >/dev/null
restore
trap - EXIT
[ "$fails" -eq 0 ]
