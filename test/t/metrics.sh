#!/usr/bin/env bash
# Counters, health and Prometheus against known traffic through the mock:
# synchronous and queued sends, a 429 injected by the mock, a transport error,
# callbacks through the listener; then the views equal what the mock received,
# GET /metrics passes promtool and says what the views say, behind the token
# or the address allowlist (404 with neither, 403 for a wrong token), the
# counters survive a purge and zero on gw_stat_reset, gw_health reports the
# workers, the listener and the backlog, a sender sees only its accounts, and
# every query of docs/prometheus-postgres-exporter.yaml runs.  Run by
# scripts/test.sh against its cluster.
set -uo pipefail
db=gw_metrics
port=${GW_LISTEN_PORT:-18787}
base="http://127.0.0.1:$port"
mock="http://127.0.0.1:$GW_MOCK_PORT"
. "$(dirname "$0")/../lib/check.sh"
qp() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d postgres -c "$1"; }
settings() {   # settings <token> <hosts>: set both and wait for the listener to see them
    qp "ALTER SYSTEM SET gateway.monitor_token = '$1'" >/dev/null
    qp "ALTER SYSTEM SET gateway.monitor_hosts = '$2'" >/dev/null
    qp "SELECT pg_reload_conf()" >/dev/null
    sleep 1.5
}
cleanup() {
    qp "ALTER SYSTEM RESET gateway.monitor_token" >/dev/null 2>&1
    qp "ALTER SYSTEM RESET gateway.monitor_hosts" >/dev/null 2>&1
    qp "SELECT pg_reload_conf()" >/dev/null 2>&1
    qp "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
    qp "DROP ROLE IF EXISTS m_sender" >/dev/null 2>&1
}
trap cleanup EXIT
cleanup
qp "CREATE DATABASE $db" >/dev/null || exit 1
qp "DO \$\$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gw_listener') THEN CREATE ROLE gw_listener NOLOGIN; END IF;
    END \$\$; CREATE ROLE m_sender NOLOGIN" >/dev/null
q "CREATE EXTENSION gateway;
   GRANT USAGE ON SCHEMA gateway TO gw_listener;
   GRANT EXECUTE ON FUNCTION gateway.ingest_text(text, text, text) TO gw_listener;
   SELECT gw_account_create('ma', 'vaspro', '{\"api_key\": \"ma-key-0001\"}', '$mock/vaspro');
   SELECT gw_account_create('mb', 'vaspro', '{\"api_key\": \"mb-key-0002\"}', '$mock/vaspro');
   SELECT gw_account_create('mc', 'vaspro', '{\"api_key\": \"mc-key-0003\"}', 'http://127.0.0.1:1/vaspro');
   SELECT gw_grant_sender('m_sender', 'ma');" >/dev/null || { echo "set-up failed"; exit 1; }
mock_count() { curl -s "$mock/_mock/requests?prefix=/vaspro&limit=1000000" | grep -c "$1"; }
before_a=$(mock_count 'ma-key-0001')
before_b=$(mock_count 'mb-key-0002')

# the listener of the database is up (the front answers 503 until it is)
for _ in $(seq 1 100); do
    c=$(code -X POST "$base/$db/ma/dlr")
    [ "$c" != 000 ] && [ "$c" != 503 ] && break
    sleep 0.1
done

# --- traffic ------------------------------------------------------------
for i in 1 2 3; do q "SELECT gw_send_sms('ma', '254712345678', 'sync $i')" >/dev/null; done
q "SELECT gw_send_sms('mb', '254712345678', 'sync b')" >/dev/null
q "SELECT gw_send_sms('mc', '254712345678', 'nowhere')" >/dev/null
curl -s -X POST "$mock/_mock/fault" -d '{"match":"\"ma-key-0001\"","count":1,"status":429,"headers":{"Retry-After":"1"}}' >/dev/null
ids=$(q "SELECT string_agg(gw_queue_sms('ma', '254712345678', 'queued ' || g)::text, ',') FROM generate_series(1, 4) g")
for _ in $(seq 1 150); do
    [ "$(q "SELECT count(*) FROM gateway.outbox WHERE id IN ($ids) AND status = 'sent'")" = 4 ] && break
    sleep 0.1
done
check "the 4 queued rows are sent (one after a 429)" 4 "$(q "SELECT count(*) FROM gateway.outbox WHERE id IN ($ids) AND status = 'sent'")"

# callbacks: one applied, one that matches nothing, one that cannot be taken
url=$(q "SELECT gw_callback_url('ma', 'dlr')")
key=$(q "SELECT idempotency_key FROM gateway.outbox WHERE id IN ($ids) ORDER BY id LIMIT 1")
check "dlr applied: 200" 200 "$(code -X POST --data "{\"uniqueId\": \"$key\", \"deliveryStatus\": \"DeliveredToTerminal\"}" "$url")"
check "dlr unmatched: 200" 200 "$(code -X POST --data '{"uniqueId": "nobody-1", "deliveryStatus": "DeliveredToTerminal"}' "$url")"
check "dlr not JSON: 400" 400 "$(code -X POST --data 'not json' "$url")"
check "dlr wrong token: 403" 403 "$(code -X POST --data '{}' "${url%%token=*}token=wrong")"

# --- the views against the mock -----------------------------------------
got_a=$(( $(mock_count 'ma-key-0001') - before_a ))
got_b=$(( $(mock_count 'mb-key-0002') - before_b ))
check "the mock received 3 sync + 4 queued + 1 retry of ma" 8 "$got_a"
# (an account's rows: one per operation, sms.send and the queued SMS's)
row() { q "SELECT sum($1) FROM gateway.stat_requests WHERE account = '$2'"; }
check "ma requests = what the mock received" "$got_a" "$(row requests ma)"
check "mb requests = what the mock received" "$got_b" "$(row requests mb)"
check "ma: 7 accepted" 7 "$(row accepted ma)"
check "ma: the outcomes add up to the requests" "$got_a" "$(row 'accepted + delivered + pending + failed + rejected + unknown' ma)"
check "ma: one 429" 1 "$(row http_429 ma)"
check "ma: one retry" 1 "$(row retries ma)"
check "ma: every request that went out has a latency" "$got_a" "$(row latency_count ma)"
check "ma: the buckets add up" "$got_a" "$(row '(SELECT sum(b) FROM unnest(latency_buckets) b)' ma)"
check "mc: one transport error" 1 "$(row transport_errors mc)"
check "mc: nothing reached the mock" 0 "$(mock_count 'mc-key-0003')"
cb() { q "SELECT $1 FROM gateway.stat_callbacks WHERE account = 'ma' AND kind = 'dlr'"; }
check "callbacks: received, applied, ignored, unmatched, refused" "3|1|0|1|1" \
    "$(cb "received || '|' || applied || '|' || ignored || '|' || unmatched || '|' || refused")"
check "listener answers: 403 counted (the wait for the listener's start, the wrong token)" 2 \
    "$(q "SELECT answers FROM gateway.stat_listener WHERE code = 403")"
check "listener answers: 400 counted" 1 "$(q "SELECT answers FROM gateway.stat_listener WHERE code = 400")"

# --- rights ---------------------------------------------------------------
check "a sender of ma sees ma only" "ma" \
    "$(q "SET ROLE m_sender; SELECT string_agg(DISTINCT account, ',') FROM gateway.stat_requests")"
check "... also through the function itself" "ma" \
    "$(q "SET ROLE m_sender; SELECT string_agg(DISTINCT account, ',') FROM gateway.stat_requests()")"
check "... and in gw_health" '["ma"]' \
    "$(q "SET ROLE m_sender; SELECT jsonb_path_query_array(gw_health(), '\$.accounts[*].account')")"
check "a sender cannot reset every counter" "only the owner" \
    "$(q "SET ROLE m_sender; SELECT gw_stat_reset()" 2>&1 | grep -o 'only the owner' | head -1)"
check "a sender cannot reset another account's" "permission denied" \
    "$(q "SET ROLE m_sender; SELECT gw_stat_reset('mb')" 2>&1 | grep -o 'permission denied' | head -1)"
check "nor its own (an admin's right)" "permission denied" \
    "$(q "SET ROLE m_sender; SELECT gw_stat_reset('ma')" 2>&1 | grep -o 'permission denied' | head -1)"

# --- Prometheus ---------------------------------------------------------
check "/metrics with neither setting: 404" 404 "$(code "$base/metrics")"
check "/<db>/status with neither setting: 404" 404 "$(code "$base/$db/status")"
token=mon-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
# (the setting holds the token's SHA-256: the postmaster logs what a reload changes)
settings "sha256:$(printf %s "$token" | sha256sum | cut -d' ' -f1)" ""
check "/metrics without the token: 403" 403 "$(code "$base/metrics")"
check "/metrics with a wrong token: 403" 403 "$(code -H "Authorization: Bearer ${token}x" "$base/metrics")"
check "/metrics with a wrong ?token=: 403" 403 "$(code "$base/metrics?token=nope")"
check "/metrics with the token: 200" 200 "$(code -H "Authorization: Bearer $token" "$base/metrics")"
check "/metrics with the hash itself as the token: 403" 403 \
    "$(code -H "Authorization: Bearer sha256:$(printf %s "$token" | sha256sum | cut -d' ' -f1)" "$base/metrics")"
check "/metrics with ?token=: 200" 200 "$(code "$base/metrics?token=$token")"
check "POST /metrics: 405" 405 "$(code -X POST -H "Authorization: Bearer $token" "$base/metrics")"
curl -s -H "Authorization: Bearer $token" "$base/metrics" >"$GW_WORK/metrics.txt"
if promtool check metrics <"$GW_WORK/metrics.txt" >"$GW_WORK/promtool.out" 2>&1; then
    echo "ok: promtool check metrics"
else
    echo "FAIL: promtool check metrics:"; head -20 "$GW_WORK/promtool.out"; fails=$((fails + 1))
fi
# the sum of a family's samples of database $db whose labels go on with $2
# and end with $3
metric() { grep -F "$1{database=\"$db\",$2" "$GW_WORK/metrics.txt" | grep -F "$3}" | awk '{s += $2} END {print s + 0}'; }
a='account="ma",'
check "requests_total = the view" "$(row requests ma)" "$(metric gateway_requests_total "$a" '"')"
check "outcomes_total accepted = the view" "$(row accepted ma)" "$(metric gateway_request_outcomes_total "$a" 'status="accepted"')"
check "http_429_total = the view" "$(row http_429 ma)" "$(metric gateway_http_429_total "$a" '"')"
check "retries_total = the view" "$(row retries ma)" "$(metric gateway_request_retries_total "$a" '"')"
check "transport_errors_total (mc) = the view" "$(row transport_errors mc)" \
    "$(metric gateway_transport_errors_total 'account="mc",' '"')"
check "histogram _count = the view" "$(row latency_count ma)" "$(metric gateway_request_duration_seconds_count "$a" '"')"
check "histogram +Inf bucket = _count" "$(row latency_count ma)" \
    "$(metric gateway_request_duration_seconds_bucket "$a" 'le="+Inf"')"
check "histogram _sum = the view" "$(q "SELECT round(sum(latency_sum)::numeric, 2) FROM gateway.stat_requests WHERE account = 'ma'")" \
    "$(metric gateway_request_duration_seconds_sum "$a" '"' | xargs printf '%.2f')"
check "callbacks_total unmatched = the view" "$(cb unmatched)" \
    "$(metric gateway_callbacks_total 'account="ma",kind="dlr",' 'result="unmatched"')"
check "listener 400 answers = the view" "$(q "SELECT answers FROM gateway.stat_listener WHERE code = 400")" \
    "$(metric gateway_listener_answers_total 'code="400"' '')"
check "no token in the server log" 0 "$(cat "$GW_WORK"/data/log/* 2>/dev/null | grep -c "$token")"

# the status page of a database: its gateway.status_page() (what it shows:
# test/t/statuspage.sh)
check "/<db>/status with a wrong token: 403" 403 "$(code -H "Authorization: Bearer nope" "$base/$db/status")"
check "/<db>/status: the page" "<!DOCTYPE html>" "$(curl -s -H "Authorization: Bearer $token" "$base/$db/status" | head -c 15)"
check "/<db>/status is text/html" "text/html; charset=utf-8" \
    "$(curl -s -D - -o /dev/null -H "Authorization: Bearer $token" "$base/$db/status" | tr -d '\r' | sed -n 's/^Content-Type: //Ip')"
check "/<db>/status of a database that does not exist: 404" 404 "$(code -H "Authorization: Bearer $token" "$base/gw_nodb/status")"
check "callbacks still work beside the routes" 200 "$(code -X POST --data '{"uniqueId": "nobody-2"}' "$url")"

# the address allowlist: that address without a token, no other
settings "" "127.0.0.3"
check "/metrics from an allowed address: 200" 200 "$(code --interface 127.0.0.3 "$base/metrics")"
check "/metrics from another address: 403" 403 "$(code --interface 127.0.0.2 "$base/metrics")"
check "/metrics from an allowed address with a wrong token: 403" 403 \
    "$(code --interface 127.0.0.3 -H 'Authorization: Bearer x' "$base/metrics")"
check "a non-address in gateway.monitor_hosts is refused" "invalid value" \
    "$(qp "ALTER SYSTEM SET gateway.monitor_hosts = 'example.com'" 2>&1 | grep -o 'invalid value' | head -1)"
check "a non-superuser cannot read gateway.monitor_token" "permission denied" \
    "$(q "SET ROLE m_sender; SHOW gateway.monitor_token" 2>&1 | grep -oE 'must be superuser|permission denied' | head -1 | sed 's/must be superuser/permission denied/')"

# --- the exporter's queries -----------------------------------------------
python3 - "$(dirname "$0")/../../docs/prometheus-postgres-exporter.yaml" >"$GW_WORK/exporter.sql" <<'EOF'
import sys, yaml
for name, m in yaml.safe_load(open(sys.argv[1])).items():
    print("-- " + name)
    print(m["query"].strip().rstrip(";") + ";")
EOF
nq=$(grep -c '^-- ' "$GW_WORK/exporter.sql")
check "the exporter file has queries" yes "$([ "$nq" -ge 3 ] && echo yes || echo no)"
check "every exporter query runs" "" "$(psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$GW_WORK/exporter.sql" 2>&1 >/dev/null)"

# --- health -------------------------------------------------------------
q "SELECT gw_queue_sms('mb', '254712345678', 'later', NULL, now() + interval '1 hour')" >/dev/null
h() { q "SELECT gw_health() #>> '{$1}'"; }
check "health: ok" true "$(h ok)"
check "health: live workers = configured" "$(h workers,configured)" "$(h workers,live)"
check "health: the workers were active" t "$(q "SELECT (gw_health() #>> '{workers,last_activity}')::timestamptz > now() - interval '1 minute'")"
check "health: the listener is up" true "$(h listener,up)"
check "health: the listener was active" t "$(q "SELECT (gw_health() #>> '{listener,last_activity}') IS NOT NULL")"
check "health: mb has one queued row, not due" "1|0" \
    "$(q "SELECT a->>'queued' || '|' || (a->>'due') FROM jsonb_array_elements(gw_health()->'accounts') a WHERE a->>'account' = 'mb'")"
check "health: its age" t \
    "$(q "SELECT (a->>'oldest_queued_s')::numeric >= 0 FROM jsonb_array_elements(gw_health()->'accounts') a WHERE a->>'account' = 'mb'")"
check "health: nothing dropped" 0 "$(h stats_dropped)"

# --- purge and reset ------------------------------------------------------
n=$(row requests ma)
q "DELETE FROM gateway.outbox" >/dev/null
check "counters survive a purge of the outbox" "$n" "$(row requests ma)"
check "gw_stat_reset('ma') zeroes ma" "0" "$(q "SELECT gw_stat_reset('ma') > 0; SELECT requests FROM gateway.stat_requests WHERE account = 'ma'" | tail -1)"
check "... not mb" "$got_b" "$(row requests mb)"
q "SELECT gw_stat_reset()" >/dev/null
check "gw_stat_reset() zeroes the database" "0|0|0" \
    "$(q "SELECT (SELECT coalesce(sum(requests), 0) FROM gateway.stat_requests) || '|' ||
                 (SELECT coalesce(sum(received), 0) FROM gateway.stat_callbacks) || '|' ||
                 (SELECT coalesce(sum(answers), 0) FROM gateway.stat_listener)")"
check "stats_reset moved" t "$(q "SELECT bool_and(stats_reset > now() - interval '1 minute') FROM gateway.stat_requests")"

echo "metrics test: $fails failed"
[ "$fails" -eq 0 ]
