#!/usr/bin/env bash
# Many databases, one launcher.  Three databases with the extension drain
# at once; one of them is dropped mid-drain (DROP DATABASE ... WITH (FORCE))
# and the other two finish with every row sent exactly once (counted at the
# mock) by workers that were never restarted.  CREATE EXTENSION in a new
# database is served without a restart; DROP EXTENSION stops its set and
# CREATE EXTENSION starts it again; gateway.database_workers sets a
# database's worker count on reload; a queue call that nothing would serve
# (count 0, a template) is an ERROR with a hint; after a restart every
# database is found again.  One listener serves them all: a callback to
# each database's URL (/<database>/<account>/<kind>) lands in that
# database; a URL without a database (made before 0.3.0) lands in
# gateway.database.  Run by scripts/test.sh against its cluster
# (gateway.listen_address, gateway.database = contrib_regression).
set -uo pipefail
work=$GW_WORK
. "$(dirname "$0")/../../scripts/lib.sh"    # as_pg
GW_WORK=$work
N=${GW_MULTIDB_N:-1000}
mock="http://127.0.0.1:$GW_MOCK_PORT"
base="http://127.0.0.1:$GW_LISTEN_PORT"
conf="$GW_WORK/data/postgresql.conf"
dbs="gw_md1 gw_md2 gw_md3 gw_md4 gw_mdt"
. "$(dirname "$0")/../lib/check.sh"
q() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }   # here: q <database> <sql>
qv() { psql -X -q -t -A -v VERBOSITY=verbose -d "$1" -c "$2" 2>&1; }
# the pids of a database's gateway workers, sorted, on one line
workers() {
    q postgres "SELECT coalesce(string_agg(pid::text, ' ' ORDER BY pid), '') FROM pg_stat_activity
                 WHERE backend_type = 'gateway worker' AND datname = '$1'"
}
nworkers() { q postgres "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'gateway worker' AND datname = '$1'"; }
wait_workers() {  # db n: until the database has n workers (20 s at most)
    for _ in $(seq 1 200); do [ "$(nworkers "$1")" = "$2" ] && return 0; sleep 0.1; done
    return 1
}
sent() { q "$1" "SELECT count(*) FROM gateway.outbox WHERE status = 'sent'" 2>/dev/null; }
wait_sent() {  # db n [seconds]: until n rows are sent
    for _ in $(seq 1 $((${3:-60} * 10))); do [ "$(sent "$1")" = "$2" ] && return 0; sleep 0.1; done
    return 1
}
# how many SMS with this test's text for database $1 the mock accepted, and
# how many distinct ones
at_mock() {
    curl -s "$mock/_mock/messages?limit=100000000" | grep -o "\"message\":\"mdt $1 [a-z]* *[0-9]*\"" >"$GW_WORK/md.$1"
    echo "$(wc -l <"$GW_WORK/md.$1") $(sort -u "$GW_WORK/md.$1" | wc -l)"
}
setup_db() {  # db rate_limit
    q postgres "CREATE DATABASE $1" >/dev/null &&
    q "$1" "CREATE EXTENSION gateway;
            SELECT gw_account_create('md', 'vaspro', '{\"api_key\": \"$1-key-0001\"}',
                '$mock/vaspro', '{\"sender_id\": \"MDT\", \"rate_limit\": $2}');
            SELECT gw_grant_listener('gw_listener');" >/dev/null
}
inbound() { q "$1" "SELECT string_agg(payload->>'uniqueId', ',' ORDER BY id) FROM gateway.inbound WHERE account = '$2'"; }
dlr() {  # url unique_id: the HTTP status of a delivery report
    code -X POST -H 'Content-Type: application/json' \
        --data "{\"uniqueId\": \"$2\", \"deliveryStatus\": \"DeliveredToTerminal\"}" "$1"
}
wait_listener() {  # url: until the database's listener answers (not 503)
    for _ in $(seq 1 100); do
        c=$(code -X POST --data '{}' "$1")
        [ "$c" != 000 ] && [ "$c" != 503 ] && return 0
        sleep 0.1
    done
    return 1
}
reload() { q postgres "SELECT pg_reload_conf()" >/dev/null; sleep 0.5; }
cleanup() {
    q contrib_regression "SELECT gw_account_drop('mdl')" >/dev/null 2>&1
    sed -i '/^gateway.database_workers/d' "$conf"
    reload
    for d in $dbs; do
        psql -X -q -d postgres -c "ALTER DATABASE $d IS_TEMPLATE false" >/dev/null 2>&1
        psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1
    done
}
trap cleanup EXIT
cleanup
q postgres "$listen_role_sql" >/dev/null

# Three databases, each served by a worker set of its own.
setup_db gw_md1 100000 && setup_db gw_md2 100000 && setup_db gw_md3 100 ||
    { echo "set-up failed"; exit 1; }
for d in gw_md1 gw_md2 gw_md3; do
    wait_workers $d 1
    check "$d has its worker" 1 "$(nworkers $d)"
done
check "one launcher" 1 "$(q postgres "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'gateway launcher'")"
check "no worker for postgres (no extension there)" 0 "$(nworkers postgres)"

# All three drain at once; gw_md3 (100 a second) is dropped mid-drain.
for d in gw_md3 gw_md1 gw_md2; do
    q $d "SELECT count(gw_queue_sms('md', '0712345678', 'mdt $d ' || i, idempotency_key => 'mdt-' || i))
            FROM generate_series(1, $N) i" >/dev/null || { echo "enqueue in $d failed"; exit 1; }
done
w1=$(workers gw_md1)
w2=$(workers gw_md2)
for _ in $(seq 1 300); do s=$(sent gw_md3); [ "${s:-0}" -ge 50 ] && break; sleep 0.1; done
s3=$(sent gw_md3)
timeout 30 psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE gw_md3 WITH (FORCE)" 2>"$GW_WORK/md.drop"
rc=$?
check "DROP DATABASE WITH (FORCE) mid-drain completed" 0 "$rc"
[ "$rc" = 0 ] || cat "$GW_WORK/md.drop"
echo "gw_md3 dropped at $s3 of $N sent"
check "gw_md3 was dropped mid-drain" yes "$([ "${s3:-0}" -lt "$N" ] && echo yes || echo no)"
check "gw_md3 is gone" 0 "$(q postgres "SELECT count(*) FROM pg_database WHERE datname = 'gw_md3'")"
wait_sent gw_md1 "$N"
wait_sent gw_md2 "$N"
for d in gw_md1 gw_md2; do
    check "$d: every row sent" "$N" "$(sent $d)"
    check "$d: each row reached the provider once" "$N $N" "$(at_mock $d)"
done
check "gw_md1's worker was never restarted" "$w1" "$(workers gw_md1)"
check "gw_md2's worker was never restarted" "$w2" "$(workers gw_md2)"
check "no worker left for the dropped database" 0 "$(nworkers gw_md3)"
sleep 1
check "and none started again" 0 "$(nworkers gw_md3)"

# A plain DROP DATABASE (no FORCE) of a database that is draining: its
# workers and listener step aside.
setup_db gw_md4 100 && wait_workers gw_md4 1
q gw_md4 "SELECT count(gw_queue_sms('md', '0712345678', 'mdt gw_md4 ' || i)) FROM generate_series(1, 500) i" >/dev/null
for _ in $(seq 1 300); do s=$(sent gw_md4); [ "${s:-0}" -ge 20 ] && break; sleep 0.1; done
s4=$(sent gw_md4)
check "DROP DATABASE (no FORCE) of a database mid-drain" 0 \
    "$(timeout 30 psql -X -q -d postgres -c "DROP DATABASE gw_md4" >/dev/null 2>&1; echo $?)"
check "it was mid-drain" yes "$([ "${s4:-0}" -ge 1 ] && [ "${s4:-0}" -lt 500 ] && echo yes || echo no)"
check "gw_md4 is gone" 0 "$(q postgres "SELECT count(*) FROM pg_database WHERE datname = 'gw_md4'")"

# CREATE EXTENSION in a new database is served without a restart.
setup_db gw_md4 100000 || { echo "set-up of gw_md4 failed"; exit 1; }
wait_workers gw_md4 1
check "gw_md4 has its worker" 1 "$(nworkers gw_md4)"
q gw_md4 "SELECT count(gw_queue_sms('md', '0712345678', 'mdt gw_md4 ' || i)) FROM generate_series(1, 50) i" >/dev/null
wait_sent gw_md4 50
check "gw_md4: every row sent" 50 "$(sent gw_md4)"

# DROP EXTENSION stops the set; CREATE EXTENSION starts it again.
q gw_md2 "DROP EXTENSION gateway CASCADE" >/dev/null
wait_workers gw_md2 0
check "DROP EXTENSION stops the database's workers" 0 "$(nworkers gw_md2)"
sleep 1.5
check "and they stay stopped" 0 "$(nworkers gw_md2)"
q gw_md2 "CREATE EXTENSION gateway;
          SELECT gw_account_create('md', 'vaspro', '{\"api_key\": \"gw_md2-key-0001\"}',
              '$mock/vaspro', '{\"sender_id\": \"MDT\", \"rate_limit\": 100000}');
          SELECT gw_grant_listener('gw_listener');" >/dev/null
wait_workers gw_md2 1
check "CREATE EXTENSION starts them again" 1 "$(nworkers gw_md2)"
q gw_md2 "SELECT count(gw_queue_sms('md', '0712345678', 'mdt gw_md2 again ' || i)) FROM generate_series(1, 20) i" >/dev/null
wait_sent gw_md2 20
check "gw_md2 sends again" 20 "$(sent gw_md2)"

# One listener for the cluster: each database's callback lands in it.
for d in gw_md1 gw_md2 gw_md4; do
    url=$(q $d "SELECT gw_callback_url('md', 'dlr')")
    check "$d: the callback URL names the database" "$base/$d/md/dlr?token=" "${url%%token=*}token="
    wait_listener "$url"
    check "$d: a delivery report over HTTP" 200 "$(dlr "$url" "cb-$d")"
done
for d in gw_md1 gw_md2 gw_md4; do
    check "$d: it landed there, and only there" "cb-$d" "$(inbound $d md)"
done
url1=$(q gw_md1 "SELECT gw_callback_url('md', 'dlr')")
check "gw_md1's token does not open gw_md2's account" 403 "$(dlr "$base/gw_md2/md/dlr?token=${url1##*token=}" x)"
check "a database that does not exist: 404" 404 "$(dlr "$base/gw_nosuch/md/dlr?token=${url1##*token=}" x)"
check "a database without the extension: 503" 503 "$(dlr "$base/postgres/md/dlr?token=${url1##*token=}" x)"
check "nothing else was recorded" "cb-gw_md1 cb-gw_md2" "$(inbound gw_md1 md) $(inbound gw_md2 md)"
# a URL made before 0.3.0 (no database) is gateway.database's
q contrib_regression "SELECT gw_account_create('mdl', 'vaspro', '{\"api_key\": \"mdl-key-0001\"}',
                          '$mock/vaspro', '{\"sender_id\": \"MDL\"}');
                      SELECT gw_grant_listener('gw_listener');" >/dev/null
urll=$(q contrib_regression "SELECT gw_callback_url('mdl', 'dlr')")
check "an old URL without the database" 200 "$(dlr "$base/mdl/dlr?token=${urll##*token=}" old-url)"
check "lands in gateway.database" "old-url" "$(inbound contrib_regression mdl)"
check "the new URL works there too" 200 "$(dlr "$urll" new-url)"
check "both recorded" "old-url,new-url" "$(inbound contrib_regression mdl)"
# (no account md there: refused, 403 or 404 as for any unknown account)
check "an old URL does not reach another database" refused \
    "$(case $(dlr "$base/md/dlr?token=${url1##*token=}" x) in 403 | 404) echo refused ;; *) echo accepted ;; esac)"

# Worker counts per database, on reload.
echo "gateway.database_workers = 'gw_md1:3, gw_md2:0'" >>"$conf"
reload
wait_workers gw_md1 3
check "gw_md1 has 3 workers (gateway.database_workers)" 3 "$(nworkers gw_md1)"
wait_workers gw_md2 0
check "gw_md2 has none" 0 "$(nworkers gw_md2)"
check "gw_md4 keeps gateway.workers (1)" 1 "$(nworkers gw_md4)"
check "gw_queue_sms where no worker serves: ERROR 55000" \
    "ERROR:  55000: no gateway worker serves database \"gw_md2\"" \
    "$(qv gw_md2 "SELECT gw_queue_sms('md', '0712345678', 'nobody')" | head -n 1)"
check "with a hint" \
    "HINT:  Set gateway.workers, or this database's entry in gateway.database_workers, above 0 and reload the configuration." \
    "$(qv gw_md2 "SELECT gw_queue_sms('md', '0712345678', 'nobody')" | grep '^HINT')"
check "gw_enqueue likewise" "ERROR:  55000: no gateway worker serves database \"gw_md2\"" \
    "$(qv gw_md2 "SELECT gw_enqueue('md', 'sms.send', '{\"recipient\": \"0712345678\", \"message\": \"x\"}')" | head -n 1)"
check "nothing was queued" 0 "$(q gw_md2 "SELECT count(*) FROM gateway.outbox WHERE status = 'queued'")"
out=$(q postgres "ALTER SYSTEM SET gateway.database_workers = 'gw_md1'" 2>&1)
check "a bad gateway.database_workers is refused" \
    "ERROR:  invalid value for parameter \"gateway.database_workers\": \"gw_md1\"" "$(echo "$out" | head -n 1)"
sed -i '/^gateway.database_workers/d' "$conf"
reload
wait_workers gw_md1 1
check "back to one worker in gw_md1" 1 "$(nworkers gw_md1)"
wait_workers gw_md2 1
check "and one in gw_md2" 1 "$(nworkers gw_md2)"

# A template is not served: queueing there is an ERROR with a hint.
setup_db gw_mdt 100000 && wait_workers gw_mdt 1
q postgres "ALTER DATABASE gw_mdt IS_TEMPLATE true" >/dev/null
wait_workers gw_mdt 0
check "a template's workers stop" 0 "$(nworkers gw_mdt)"
check "gw_queue_sms in a template: ERROR" \
    "ERROR:  55000: gateway's workers do not serve database \"gw_mdt\"" \
    "$(qv gw_mdt "SELECT gw_queue_sms('md', '0712345678', 'nobody')" | head -n 1)"
out=$(qv gw_mdt "SELECT gw_queue_sms('md', '0712345678', 'nobody')")
check "with a hint" \
    "HINT:  Queue from a database that accepts connections, or ALTER DATABASE \"gw_mdt\" WITH IS_TEMPLATE false ALLOW_CONNECTIONS true." \
    "$(echo "$out" | grep '^HINT')"

# After a restart, every database with the extension is found again.
q gw_md1 "SELECT count(gw_queue_sms('md', '0712345678', 'mdt gw_md1 restart ' || i, send_at => now() + interval '3 seconds'))
            FROM generate_series(1, 30) i" >/dev/null
as_pg pg_ctl -D "$GW_WORK/data" -l "$GW_WORK/server.log" -m fast -w -t 60 restart >/dev/null ||
    { echo "restart failed"; exit 1; }
for d in gw_md1 gw_md2 gw_md4; do
    wait_workers $d 1
    check "after the restart $d has its worker" 1 "$(nworkers $d)"
done
wait_sent gw_md1 $((N + 30))
check "rows queued before the restart are sent after it" $((N + 30)) "$(sent gw_md1)"
wait_listener "$url1"
check "the listener serves gw_md1 after the restart" 200 "$(dlr "$url1" after-restart)"
check "recorded in gw_md1" "cb-gw_md1,after-restart" "$(inbound gw_md1 md)"
check "no worker for the template" 0 "$(nworkers gw_mdt)"

echo "multidb test: $fails failed"
[ "$fails" -eq 0 ]
