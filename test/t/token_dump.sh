#!/usr/bin/env bash
# Callback tokens at rest: what pg_dump writes (and what the owner reads in
# gateway.account_secret) is the token sealed with the key in the data
# directory, not the token.  The attack: take the dumped value and call the
# listener with it; it is refused and nothing is recorded, while the URL
# gw_callback_url gives is taken.  A restore into the same cluster keeps the
# URL working; the dump holds no copy of the token anywhere.  Run by
# scripts/test.sh against its cluster (the listener serves
# contrib_regression on 127.0.0.1:$GW_LISTEN_PORT).
set -uo pipefail
port=${GW_LISTEN_PORT:-18787}
base="http://127.0.0.1:$port"
db=contrib_regression
copy=gw_token_copy
. "$(dirname "$0")/../lib/check.sh"
inbound() { q "SELECT count(*) FROM gateway.inbound WHERE account = 'tokdump'"; }
cleanup() {
    q "SELECT gw_account_drop('tokdump')" >/dev/null 2>&1
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $copy" >/dev/null 2>&1
}
trap cleanup EXIT
cleanup

q "$listen_role_sql
   SELECT gw_account_create('tokdump', 'vaspro', '{\"api_key\": \"tokdump-key-01\"}',
       'http://127.0.0.1:$GW_MOCK_PORT/vaspro');" >/dev/null || { echo "set-up failed"; exit 1; }
for _ in $(seq 1 100); do
    [ "$(code -X POST "$base/$db/tokdump/dlr")" != 000 ] && break
    sleep 0.1
done

url=$(q "SELECT gw_callback_url('tokdump', 'dlr')")
token=${url##*token=}
check "the URL carries a 64-digit token" 1 "$(printf %s "$token" | grep -cE '^[0-9a-f]{64}$')"

pg_dump -d "$db" -f "$GW_WORK/token.dump" || { echo "FAIL: pg_dump"; exit 1; }
dumped=$(awk -F'\t' '/^COPY gateway\.account_secret /{on=1; next} on && /^\\\.$/{on=0} on && $1 == "tokdump" {print $3}' \
    "$GW_WORK/token.dump")
check "the dump has the account's stored token" 1 "$([ -n "$dumped" ] && echo 1 || echo 0)"
check "the dump holds no copy of the token" 0 "$(grep -c -F "$token" "$GW_WORK/token.dump")"
check "the table holds no copy of the token" 0 \
    "$(q "SELECT count(*) FROM gateway.account_secret WHERE strpos(callback_token, '$token') > 0")"

# The attack: the dumped value, and its hex part, used as the token.
before=$(inbound)
body='{"uniqueId": "tokdump-1", "deliveryStatus": "DeliveredToTerminal"}'
c1=$(code -X POST -H 'Content-Type: application/json' --data "$body" \
    "$base/$db/tokdump/dlr?token=$(printf %s "$dumped" | sed 's/:/%3A/g')")
c2=$(code -X POST -H 'Content-Type: application/json' --data "$body" "$base/$db/tokdump/dlr?token=${dumped##*:}")
check "the dumped value is refused as a token" 1 "$([ "$c1" != 200 ] && [ "$c1" != 000 ] && echo 1 || echo 0)"
check "its hex part is refused as a token" 1 "$([ "$c2" != 200 ] && [ "$c2" != 000 ] && echo 1 || echo 0)"
check "nothing recorded for them" "$before" "$(inbound)"
# the real URL is taken
check "the URL gw_callback_url gives is taken" 200 \
    "$(code -X POST -H 'Content-Type: application/json' --data "$body" "$url")"
check "it is recorded" $((before + 1)) "$(inbound)"

# A restore into this cluster (the same key): the same URL.
psql -X -q -d postgres -c "CREATE DATABASE $copy" >/dev/null
psql -X -q -d "$copy" -f "$GW_WORK/token.dump" >/dev/null 2>"$GW_WORK/token.restore.err"
url_copy=$(q "SELECT gw_callback_url('tokdump', 'dlr')" "$copy")
check "restored here, the token in the URL is the same" "$token" "${url_copy##*token=}"

# Without the key file (another cluster's restore, or a lost file) the
# stored value opens to nothing: the URL is refused with a hint to rotate.
# A wrong key is simulated by a token sealed for another account.
q "UPDATE gateway.account_secret
      SET callback_token = gateway.seal_token('someone-else', gateway.random_token())
    WHERE account = 'tokdump'" "$copy" >/dev/null
check "a token sealed for something else does not open" 1 \
    "$(q "SELECT gw_callback_url('tokdump', 'dlr')" "$copy" 2>&1 | grep -c 'cannot be opened')"

echo "token dump test: $fails failed"
[ "$fails" -eq 0 ]
