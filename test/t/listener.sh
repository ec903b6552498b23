#!/usr/bin/env bash
# The callback listener over real HTTP: every status it answers, a 1 MB body,
# a wrong token (refused, nothing recorded), 200 concurrent delivery reports
# (none lost), a USSD round trip, token rotation, a superuser listen_role
# refused, and no token in the server log.  Run by scripts/test.sh against
# its cluster (gateway.listen_address = 127.0.0.1:$GW_LISTEN_PORT,
# gateway.listen_role = gw_listener, created here).
set -uo pipefail
port=${GW_LISTEN_PORT:-18787}
base="http://127.0.0.1:$port"
db=contrib_regression
. "$(dirname "$0")/../lib/check.sh"
inbound() { q "SELECT count(*) FROM gateway.inbound WHERE account = 'lst'"; }

q "$listen_role_sql
   GRANT USAGE ON SCHEMA gateway TO gw_listener;
   GRANT EXECUTE ON FUNCTION gateway.ingest_text(text, text, text) TO gw_listener;
   CREATE OR REPLACE FUNCTION public.lst_menu(msisdn text, session_id text, input text, service_code text)
   RETURNS text LANGUAGE sql AS \$f\$
       SELECT CASE WHEN input = '' THEN 'CON Welcome ' || msisdn || E'\n1. Balance'
                   ELSE 'END Your balance is 42' END
   \$f\$;
   SELECT gw_account_create('lst', 'vaspro', '{\"api_key\": \"lst-key-0001\"}',
       'http://127.0.0.1:$GW_MOCK_PORT/vaspro', '{\"ussd_handler\": \"public.lst_menu\"}');" >/dev/null ||
    { echo "set-up failed"; exit 1; }

# The listener waited for the database and the role: it is up within seconds.
# (the front answers 503 until the database's listener is ready)
for _ in $(seq 1 100); do
    c=$(code -X POST "$base/lst/dlr")
    [ "$c" != 000 ] && [ "$c" != 503 ] && break
    sleep 0.1
done

url=$(q "SELECT gw_callback_url('lst', 'dlr')")
token=${url##*token=}
check "gw_callback_url" "$base/$db/lst/dlr?token=" "${url%%token=*}token="
check "token is 64 hex digits" 64 "$(printf %s "$token" | grep -cE '^[0-9a-f]{64}$' | sed 's/^1$/64/')"
check "a role without admin rights cannot read the URL" "permission denied" \
    "$(psql -X -q -t -A -d "$db" -c "SET ROLE gw_listener; SELECT gw_callback_url('lst', 'dlr')" 2>&1 | grep -o 'permission denied' | head -1)"

before=$(inbound)
check "200 for a delivery report" 200 \
    "$(code -X POST -H 'Content-Type: application/json' --data '{"uniqueId": "lst-1", "deliveryStatus": "DeliveredToTerminal"}' "$url")"
check "it is recorded" $((before + 1)) "$(inbound)"
check "400 for a body that is not JSON" 400 "$(code -X POST --data 'not json' "$url")"
check "400 for a body that is not UTF-8" 400 "$(printf '\xff\xfe' | code -X POST --data-binary @- "$url")"
check "405 for GET" 405 "$(code "$url")"
check "405 says Allow: POST" "Allow: POST" "$(curl -s -D - -o /dev/null "$url" | tr -d '\r' | grep -i '^allow:')"
check "403 for an unknown account, as for a wrong token" 403 "$(code -X POST --data '{}' "$base/nobody/dlr?token=$token")"
check "404 for an unknown kind" 404 "$(code -X POST --data '{}' "$base/lst/fax?token=$token")"
check "404 for another path" 404 "$(code -X POST --data '{}' "$base/lst/dlr/more?token=$token")"

before=$(inbound)
last=${token: -1}; [ "$last" = 0 ] && wrong=${token%?}1 || wrong=${token%?}0
check "403 for a wrong token" 403 "$(code -X POST --data '{"uniqueId": "lst-x"}' "$base/lst/dlr?token=$wrong")"
check "403 for a token of another length" 403 "$(code -X POST --data '{}' "$base/lst/dlr?token=abc")"
check "403 without a token" 403 "$(code -X POST --data '{}' "$base/lst/dlr")"
check "nothing recorded for a wrong token" "$before" "$(inbound)"

head -c 1048576 /dev/zero | tr '\0' 'x' >"$GW_WORK/big.body"
check "413 for a 1 MB body" 413 "$(code -X POST --data-binary @"$GW_WORK/big.body" "$url")"
# answered before the body was all read, the connection was reset now and
# then under the answer (curl: 000): the body is read and thrown away first
check "413 for a 1 MB body, 20 times in a row" "20x413" \
    "$(for _ in $(seq 1 20); do code -X POST --data-binary @"$GW_WORK/big.body" "$url"; echo; done | sort | uniq -c | awk '{ printf "%sx%s ", $1, $2 }' | sed 's/ $//')"
check "413 at once for a client that waits for 100 Continue" "413 0" \
    "$(curl -s -o /dev/null -w '%{http_code} %{size_upload}' -H 'Expect: 100-continue' -X POST --data-binary @"$GW_WORK/big.body" "$url")"
check "413 for a 1 MB chunked body" 413 \
    "$(code -X POST -H 'Transfer-Encoding: chunked' --data-binary @"$GW_WORK/big.body" "$url")"
# a wrong token is refused on the headers: not a byte of the body is read
# (a declared body within gateway.listen_max_body; a body streamed in chunks,
# whose size nothing declares)
head -c 60000 /dev/zero | tr '\0' 'x' >"$GW_WORK/fits.body"
check "403 and nothing uploaded for a wrong token and a 60 kB body" "403 0" \
    "$(curl -s -o /dev/null -w '%{http_code} %{size_upload}' -H 'Expect: 100-continue' -X POST --data-binary @"$GW_WORK/fits.body" "$base/lst/dlr?token=$wrong")"
check "403 and nothing uploaded for a wrong token and a streamed body" "403 0" \
    "$(curl -s -o /dev/null -w '%{http_code} %{size_upload}' -H 'Expect: 100-continue' -H 'Transfer-Encoding: chunked' -X POST --data-binary @"$GW_WORK/big.body" "$base/lst/dlr?token=$wrong")"
check "nothing recorded for a body too large" "$before" "$(inbound)"

# 200 delivery reports at once, each on its own connection.
before=$(inbound)
# (from four source addresses: at most gateway.listen_max_per_client, 100, each)
seq 1 200 | xargs -P 200 -I{} sh -c 'curl -s -o /dev/null -w "%{http_code}\n" --interface 127.0.0.$(({} % 4 + 1)) -X POST "$@"' _ \
    --data '{"uniqueId": "lst-c{}", "deliveryStatus": "DeliveredToTerminal"}' "$url" >"$GW_WORK/concurrent.codes"
check "200 concurrent posts all answered 200" 200 "$(grep -c '^200$' "$GW_WORK/concurrent.codes")"
check "200 concurrent posts all recorded" $((before + 200)) "$(inbound)"
# Concurrent posts are applied in batches (one transaction, a subtransaction
# each): a wrong token or a body that cannot be taken among them is answered on
# its own, and the others of its batch are still kept.
before=$(inbound)
seq 1 200 | xargs -P 100 -I{} sh -c 'ip=127.0.0.$(({} % 4 + 1)); case $(({} % 10)) in
      0) curl -s -o /dev/null -w "%{http_code}\n" --interface $ip -X POST --data "{\"uniqueId\": \"lst-m{}\"}" "$1?token=wrong" ;;
      5) curl -s -o /dev/null -w "%{http_code}\n" --interface $ip -X POST --data "{\"deliveryStatus\": \"x\"}" "$2" ;;
      *) curl -s -o /dev/null -w "%{http_code}\n" --interface $ip -X POST --data "{\"uniqueId\": \"lst-m{}\", \"deliveryStatus\": \"DeliveredToTerminal\"}" "$2" ;;
    esac' _ "${url%%\?*}" "$url" >"$GW_WORK/mixed.codes"
check "mixed batch: 160 good posts answered 200" 160 "$(grep -c '^200$' "$GW_WORK/mixed.codes")"
check "mixed batch: 20 wrong tokens answered 403" 20 "$(grep -c '^403$' "$GW_WORK/mixed.codes")"
check "mixed batch: 20 bodies without a key answered 400" 20 "$(grep -c '^400$' "$GW_WORK/mixed.codes")"
check "mixed batch: the 180 with the right token recorded, the wrong ones not" $((before + 180)) "$(inbound)"
check "each of them once" 200 \
    "$(q "SELECT count(DISTINCT payload::text) FROM gateway.inbound WHERE account = 'lst' AND payload::text LIKE '%lst-c%'")"

# USSD: the reply as text/plain, answered well within the second.
ussd=$(q "SELECT gw_callback_url('lst', 'ussd')")
# (VasPro's USSD request, as its document shows it: JSON)
q "GRANT EXECUTE ON FUNCTION public.lst_menu(text, text, text, text) TO gw_listener" >/dev/null
out=$(curl -s -D "$GW_WORK/ussd.headers" -w '\n%{time_total}' -X POST \
    --data '{"msisdn": "254712345678", "sessionID": "s1", "input": "", "accessPoint": "*384*1#"}' "$ussd")
check "USSD first screen" "CON Welcome 254712345678|1. Balance" "$(printf '%s' "$out" | head -n 2 | paste -sd '|')"
check "USSD reply is text/plain" "text/plain; charset=utf-8" \
    "$(tr -d '\r' <"$GW_WORK/ussd.headers" | sed -n 's/^Content-Type: //Ip')"
check "USSD answered within 1 s" yes "$(printf '%s' "$out" | tail -n 1 | awk '{print ($1 < 1.0) ? "yes" : "no"}')"
check "USSD second screen" "END Your balance is 42" \
    "$(curl -s -X POST --data '{"msisdn": "254712345678", "sessionID": "s1", "input": "1", "accessPoint": "*384*1#"}' "$ussd")"

# Rotation: the old URL stops working, the new one works.
q "SELECT gw_callback_token_rotate('lst')" >/dev/null
check "403 with the token before rotation" 403 "$(code -X POST --data '{}' "$url")"
url2=$(q "SELECT gw_callback_url('lst', 'dlr')")
check "200 with the new token" 200 "$(code -X POST --data '{"uniqueId": "lst-r"}' "$url2")"
# the same rotation is one gw_account_update
q "SELECT gw_account_update('lst', rotate_callback_token => true)" >/dev/null
check "403 after gw_account_update rotated the token" 403 "$(code -X POST --data '{}' "$url2")"
url2=$(q "SELECT gw_callback_url('lst', 'dlr')")
check "200 with the token gw_account_update made" 200 "$(code -X POST --data '{"uniqueId": "lst-r2"}' "$url2")"
# A session whose snapshot is older than a rotation (repeatable read) reads
# the account again when the rotation's invalidation comes: as it is now,
# so that its cache (the listener's is the same code) never keeps the token
# rotated away once that invalidation is taken.
out=$(psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$db" <<SQL
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) > 0 FROM gateway.accounts;
\! psql -X -q -d $db -c "SELECT gw_callback_token_rotate('lst')" >/dev/null
SELECT gw_callback_url('lst', 'dlr');
COMMIT;
SELECT gw_callback_url('lst', 'dlr');
SQL
)
url3=$(q "SELECT gw_callback_url('lst', 'dlr')")
check "a rotation behind an older snapshot: the session's URL has the new token" \
    "t|$url3|$url3" "$(echo "$out" | paste -sd'|')"
check "and the new token opens the account" 200 "$(code -X POST --data '{"uniqueId": "lst-r3"}' "$url3")"
url2=$url3

# A superuser as listen_role: the listener refuses to start, and starts once
# the setting is right again.
q "ALTER SYSTEM SET gateway.listen_role = 'postgres'" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'gateway listener'" >/dev/null
sleep 4
check "no listener with a superuser role (the front answers 503)" 503 "$(code -X POST --data '{}' "$url2")"
log=$(cat "$GW_WORK"/data/log/*.log "$GW_WORK/server.log" 2>/dev/null)
check "the refusal is an ERROR in the log" 1 \
    "$(printf '%s\n' "$log" | grep -c 'ERROR:.*gateway.listen_role "postgres" is a superuser' | sed 's/^[1-9][0-9]*$/1/')"
q "ALTER SYSTEM RESET gateway.listen_role" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 1 50); do
    [ "$(code -X POST --data '{}' "$url2")" = 200 ] && break
    sleep 0.1
done
check "the listener starts after the reload" 200 "$(code -X POST --data '{"uniqueId": "lst-s"}' "$url2")"

# Tokens never reach the server log.
log=$(cat "$GW_WORK"/data/log/*.log "$GW_WORK/server.log" 2>/dev/null)
t2=${url2##*token=}
check "no token in the server log" 0 "$(printf '%s\n' "$log" | grep -c -e "$token" -e "$t2")"

echo "listener test: $fails failed"
[ "$fails" -eq 0 ]
