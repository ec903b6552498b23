#!/usr/bin/env bash
# Credentials read from files: {"api_key_file": "/path"} inside the
# account's own directory of gateway.credential_dir (<dir>/<account>/).  The key reaches the provider (the mock records
# it) and no answer; every rule on the path and the file is enforced with an
# error that names the field and the path; a rotated file takes effect on
# the next call, in a backend and in the worker.  The secrets are written by
# the shell, never in SQL.  Run by scripts/test.sh against its cluster.
set -uo pipefail
db=contrib_regression
mock="http://127.0.0.1:$GW_MOCK_PORT"
. "$(dirname "$0")/../lib/secrets.sh"
set_dir() { setting gateway.credential_dir "$1"; }
# how many requests the mock received with this VasPro apiKey
mock_got() {
    curl -s "$mock/_mock/requests" | python3 -c '
import json, sys
key = sys.argv[1]
n = 0
for line in sys.stdin:
    r = json.loads(line)
    try:
        body = json.loads(r.get("body") or "null")
    except ValueError:
        continue
    if isinstance(body, dict) and body.get("apiKey") == key:
        n += 1
print(n)' "$1"
}

dir="$GW_WORK/keys"
secret=$(new_secret GW-F1LE)
secret2=$(new_secret GW-F2LE)
as_server mkdir -m 700 "$dir" "$dir/fk" "$dir/fk2" "$dir/fk3"
trap 'set_dir ""; as_server rm -rf "$dir"' EXIT
put_secret "$dir/fk/vaspro.key" "$secret"
url="$mock/vaspro"
cred="{\"api_key_file\": \"$dir/fk/vaspro.key\"}"

# Without gateway.credential_dir no file is read.
contains "no credential_dir: refused" \
    'credential field "api_key_file" needs gateway.credential_dir' \
    "$(qerr "SELECT gw_account_create('fk', 'vaspro', '$cred', '$url')")"

set_dir "$dir"
check "create with api_key_file" "fk" "$(q "SELECT gw_account_create('fk', 'vaspro', '$cred', '$url')")"
check "stored: the path, not the key" "$dir/fk/vaspro.key|f" \
    "$(q "SELECT credentials->>'api_key_file', credentials ? 'api_key' FROM gateway.account_secret WHERE account = 'fk'")"
curl -s -X POST "$mock/_mock/reset" >/dev/null
check "send" "accepted" "$(q "SELECT gw_send_sms('fk', '0712345678', 'from a file')->>'status'")"
check "the provider got the key from the file" "1" "$(mock_got "$secret")"

# a provider that echoes the key: it is masked in the answer like any credential
curl -s -X POST -d "{\"status\": 200, \"body\": \"{\\\"code\\\":\\\"Success\\\",\\\"echo\\\":\\\"$secret\\\"}\"}" \
    "$mock/_mock/fault" >/dev/null
echoed=$(q "SELECT gw_send_sms('fk', '0712345678', 'echo')->'data'->>'echo'")
check "an echoed key is masked" "$(printf '%*s' ${#secret} '' | tr ' ' '*')" "$echoed"

# Rotation: a new file (written and renamed into place) is used by the next call.
put_secret "$dir/fk/vaspro.key" "$secret2"
check "send after rotation" "accepted" "$(q "SELECT gw_send_sms('fk', '0712345678', 'rotated')->>'status'")"
check "the provider got the new key" "1" "$(mock_got "$secret2")"
# the same in one session that had the account cached before the rotation
curl -s -X POST "$mock/_mock/reset" >/dev/null
out=$(psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$db" <<SQL
SELECT gw_send_sms('fk', '0712345678', 'cached')->>'status';
\! printf '%s\n' "$secret" | $srv sh -c "umask 077; cat > '$dir/fk/vaspro.key.tmp' && mv '$dir/fk/vaspro.key.tmp' '$dir/fk/vaspro.key'"
SELECT gw_send_sms('fk', '0712345678', 'cached')->>'status';
SQL
)
check "a cached account reads the rotated file" "accepted
accepted" "$out"
check "... and sends the rotated key" "1" "$(mock_got "$secret")"
# and the worker
curl -s -X POST "$mock/_mock/reset" >/dev/null
put_secret "$dir/fk/vaspro.key" "$secret2"
id=$(q "SELECT gw_queue_sms('fk', '0712345678', 'queued')")
check "queued through the worker" "sent" "$(q "SELECT gw_wait($id, '20 s')")"
check "the worker sent the key from the file" "1" "$(mock_got "$secret2")"

# a new address without the credentials: refused, even though they come
# from a file the account already names
contains "a new base_url without the credentials is refused" \
    "a new base_url needs the credentials again" \
    "$(qerr "SELECT gw_account_update('fk', NULL, '$url/')")"
# update with a file, and a new address with it
check "update with api_key_file" "" "$(q "SELECT gw_account_update('fk', '$cred', '$url/')")"

# The rules, each an error naming the field and the path.
n_before=$(q "SELECT count(*) FROM gateway.account")
contains "missing file" \
    "could not open credential file \"$dir/fk2/nosuch.key\" of field \"api_key_file\": No such file or directory" \
    "$(qerr "SELECT gw_account_create('fk2', 'vaspro', '{\"api_key_file\": \"$dir/fk2/nosuch.key\"}', '$url')")"
put_secret "$dir/fk2/shared.key" "$secret"
as_server chmod 640 "$dir/fk2/shared.key"
contains "group-readable file" \
    "credential file \"$dir/fk2/shared.key\" of field \"api_key_file\" must be owned by the server's user and readable by it alone" \
    "$(qerr "SELECT gw_account_create('fk2', 'vaspro', '{\"api_key_file\": \"$dir/fk2/shared.key\"}', '$url')")"
contains "relative path" \
    'credential file "keys/vaspro.key" of field "api_key_file" is not an absolute path' \
    "$(qerr "SELECT gw_account_create('fk2', 'vaspro', '{\"api_key_file\": \"keys/vaspro.key\"}', '$url')")"
contains "outside the directory" \
    'credential file "/etc/passwd" of field "api_key_file" is outside gateway.credential_dir' \
    "$(qerr "SELECT gw_account_create('fk2', 'vaspro', '{\"api_key_file\": \"/etc/passwd\"}', '$url')")"
contains "a .. component" \
    "credential file \"$dir/../data/PG_VERSION\" of field \"api_key_file\" must not contain" \
    "$(qerr "SELECT gw_account_create('fk2', 'vaspro', '{\"api_key_file\": \"$dir/../data/PG_VERSION\"}', '$url')")"
# a symbolic link out of the directory, to a file the server owns with mode 0600
as_server ln -s "$GW_WORK/data/postgresql.auto.conf" "$dir/fk2/escape.key"
contains "a symbolic link out of the directory" \
    "credential file \"$dir/fk2/escape.key\" of field \"api_key_file\" is outside gateway.credential_dir" \
    "$(qerr "SELECT gw_account_create('fk2', 'vaspro', '{\"api_key_file\": \"$dir/fk2/escape.key\"}', '$url')")"
as_server mkdir -m 700 "$dir/fk2/sub"
contains "a directory" \
    "credential file \"$dir/fk2/sub\" of field \"api_key_file\" is not a regular file" \
    "$(qerr "SELECT gw_account_create('fk2', 'vaspro', '{\"api_key_file\": \"$dir/fk2/sub\"}', '$url')")"
as_server sh -c "umask 077; : > '$dir/fk2/empty.key'"
contains "an empty file" \
    "credential file \"$dir/fk2/empty.key\" of field \"api_key_file\" is empty" \
    "$(qerr "SELECT gw_account_create('fk2', 'vaspro', '{\"api_key_file\": \"$dir/fk2/empty.key\"}', '$url')")"
as_server sh -c "umask 077; head -c 9000 /dev/zero | tr '\\0' x > '$dir/fk2/big.key'"
contains "a file over 8 kB" \
    "credential file \"$dir/fk2/big.key\" of field \"api_key_file\" is larger than 8192 bytes" \
    "$(qerr "SELECT gw_account_create('fk2', 'vaspro', '{\"api_key_file\": \"$dir/fk2/big.key\"}', '$url')")"
contains "both the key and its file" \
    'credentials for provider "vaspro" give both "api_key" and "api_key_file"' \
    "$(qerr "SELECT gw_account_create('fk2', 'vaspro', '{\"api_key\": \"inline-key-01\", \"api_key_file\": \"$dir/fk2/vaspro.key\"}', '$url')")"
contains "a file for a field the provider does not take" \
    'unknown credential field "token_file" for provider "vaspro"' \
    "$(qerr "SELECT gw_account_create('fk2', 'vaspro', '{\"api_key\": \"inline-key-01\", \"token_file\": \"$dir/fk2/vaspro.key\"}', '$url')")"
# A file is tied to its account: another account's file, or one directly
# in the directory, is refused, however the path is spelled.
contains "another account's file" \
    "credential file \"$dir/fk/vaspro.key\" of field \"api_key_file\" is not in the directory of account \"fk2\"" \
    "$(qerr "SELECT gw_account_create('fk2', 'vaspro', '$cred', '$url')")"
put_secret "$dir/loose.key" "$secret"
contains "a file outside any account's directory" \
    "is not in the directory of account \"fk2\"" \
    "$(qerr "SELECT gw_account_create('fk2', 'vaspro', '{\"api_key_file\": \"$dir/loose.key\"}', '$url')")"
as_server ln -s "$dir/fk/vaspro.key" "$dir/fk2/link.key"
contains "a symbolic link to another account's file" \
    "is outside gateway.credential_dir" \
    "$(qerr "SELECT gw_account_create('fk2', 'vaspro', '{\"api_key_file\": \"$dir/fk2/link.key\"}', '$url')")"
check "no account was left behind" "$n_before" "$(q "SELECT count(*) FROM gateway.account")"

# A non-superuser admin cannot read server files through this either.
q "CREATE ROLE gw_cf_admin; SELECT gw_grant_admin('gw_cf_admin')" >/dev/null
contains "an admin names a server file" \
    "is outside gateway.credential_dir" \
    "$(qerr "SET ROLE gw_cf_admin; SELECT gw_account_create('fk3', 'vaspro', '{\"api_key_file\": \"$GW_WORK/data/postgresql.auto.conf\"}', '$url')")"
contains "an admin names another account's file" \
    "is not in the directory of account \"fk3\"" \
    "$(qerr "SET ROLE gw_cf_admin; SELECT gw_account_create('fk3', 'vaspro', '$cred', '$url')")"
put_secret "$dir/fk3/vaspro.key" "$secret"
check "an admin creates an account from a file in its directory" "fk3" \
    "$(q "SET ROLE gw_cf_admin; SELECT gw_account_create('fk3', 'vaspro', '{\"api_key_file\": \"$dir/fk3/vaspro.key\"}', '$url')")"
contains "an admin still cannot read the credentials" "permission denied" \
    "$(qerr "SET ROLE gw_cf_admin; SELECT credentials FROM gateway.account_secret")"
# Only a superuser sets the directory.
contains "gateway.credential_dir is not a session setting" \
    'parameter "gateway.credential_dir" cannot be changed now' \
    "$(qerr "SET ROLE gw_cf_admin; SET gateway.credential_dir = '/'")"

# A file that goes away: the call is refused, naming the field and path.
as_server rm "$dir/fk/vaspro.key"
contains "the file was removed" \
    "could not open credential file \"$dir/fk/vaspro.key\" of field \"api_key_file\"" \
    "$(qerr "SELECT gw_send_sms('fk', '0712345678', 'gone')")"

q "SELECT gw_account_drop('fk'); SELECT gw_account_drop('fk3'); SELECT gw_revoke('gw_cf_admin'); DROP ROLE gw_cf_admin" >/dev/null
[ "$fails" -eq 0 ]
