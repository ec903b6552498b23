# The helpers the scripts of test/t share: source it.  q runs SQL in $db
# (set by the caller before its first q) or in the database given second;
# check and contains count each failure in fails.
fails=0
q() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d "${2:-$db}" -c "$1"; }   # q <sql> [<database>]
check() {   # check <what> <expected> <actual>
    if [ "$2" = "$3" ]; then echo "ok: $1"; else echo "FAIL: $1: expected [$2], got [$3]"; fails=$((fails + 1)); fi
}
contains() {   # contains <what> <needle> <haystack>
    case "$3" in *"$2"*) echo "ok: $1";; *) echo "FAIL: $1: [$2] not in [$3]"; fails=$((fails + 1));; esac
}
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }   # the HTTP status curl got
# SQL that makes the role the test cluster's listener runs callbacks as
# (gateway.listen_role = 'gw_listener', scripts/lib.sh), if it is not there
listen_role_sql="DO \$\$ BEGIN
     IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gw_listener') THEN
         CREATE ROLE gw_listener NOLOGIN;
     END IF;
   END \$\$;"
# own_db ACCOUNT API_KEY SENDER: a database of the script's own ($db, made
# anew) with the extension, the listener's role granted, and a VasPro
# account against the mock that no rate limit holds back
own_db() {
    q "DROP DATABASE IF EXISTS $db WITH (FORCE)" postgres >/dev/null
    q "CREATE DATABASE $db" postgres >/dev/null
    q "$listen_role_sql" postgres
    q "CREATE EXTENSION gateway;
       SELECT gw_account_create('$1', 'vaspro', '{\"api_key\": \"$2\"}',
           'http://127.0.0.1:$GW_MOCK_PORT/vaspro', '{\"sender_id\": \"$3\", \"rate_limit\": 1000000}');
       SELECT gw_grant_listener('gw_listener')" >/dev/null
}
