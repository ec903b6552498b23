#!/usr/bin/env bash
# Routing and failover against the mock (docs/routing.md): a provider outage
# (account fo_a's requests answered 503) with a fallback account of another
# provider (fo_b, Umeskia): queued messages drain on fo_b and record it, the
# circuit is open, a synchronous send takes fo_b too; after recovery the
# half-open probe closes the circuit and fo_a is used again.  Without a
# fallback (fo_c): rows wait queued, attempts not spent, never dead, and
# drain once fo_c recovers.  The outcomes are compared with the table
# "Provider outages" of docs/reliability.md, as written there.  Run by
# scripts/test.sh against its cluster.
set -uo pipefail
db=contrib_regression
mock="http://127.0.0.1:$GW_MOCK_PORT"
. "$(dirname "$0")/../lib/check.sh"
fault() { curl -s -X POST "$mock/_mock/fault" -d "$1" >/dev/null; }
here=$(cd "$(dirname "$0")" && pwd)
# outage <mode> <column words>: that cell of the "Provider outages" table
outage() {
    python3 - "$here/../../docs/reliability.md" "$1" "$2" <<'EOF'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r"^### Provider outages[ \t]*$", text, re.M)
rows = []
for ln in text[m.end():].splitlines() if m else []:
    if ln.strip().startswith("|"):
        rows.append([c.strip() for c in ln.strip().strip("|").split("|")])
    elif rows:
        break
header = rows[0] if rows else []
col = next((i for i, h in enumerate(header) if sys.argv[3] in h), None)
for r in rows[2:]:
    if col is not None and r[0] == "`%s`" % sys.argv[2]:
        print(r[col])
        break
else:
    print("(no such row or column in docs/reliability.md)")
EOF
}
# who <account> <fallback> <name>: the table's word for an account name
who() { case "$3" in "") echo nobody ;; "$1") echo account ;; "$2") echo fallback ;; *) echo "$3" ;; esac; }
# queued_cell <where> <account> <fallback>: status / sent by / attempts of the
# rows (the status and account all rows share, the attempts most rows have)
queued_cell() {
    local r; r=$(q "SELECT CASE WHEN count(DISTINCT status) = 1 THEN min(status::text) ELSE 'mixed' END,
                          CASE WHEN bool_and(status = 'queued') THEN ''
                               WHEN count(DISTINCT account) = 1 THEN min(account) ELSE 'several' END,
                          mode() WITHIN GROUP (ORDER BY attempts)
                     FROM gateway.outbox WHERE $1")
    echo "${r%%|*} / $(who "$2" "$3" "$(echo "$r" | cut -d'|' -f2)") / ${r##*|}"
}
after_cell() { local c; c=$(queued_cell "$@"); echo "${c% / *}"; }
sync_provider=$(mktemp)
sync_cell() {  # sync_cell <route> <account> <fallback>: ok / sent by of gw_send_sms
    local r; r=$(q "SELECT r->>'ok', r->>'account', r->>'provider' FROM gw_send_sms('$1', '0712000002', 'sync failover') r")
    echo "${r##*|}" >"$sync_provider"; r=${r%|*}
    echo "${r%%|*} / $(who "$2" "$3" "${r##*|}")"
}
received() {   # requests the mock received whose body holds $1
    curl -s "$mock/_mock/requests?limit=1000000" | grep -c -- "$1"
}
wait_rows() {  # wait_rows <where>: until no row matching it is queued or sending (30 s)
    for _ in $(seq 1 300); do
        [ "$(q "SELECT count(*) FROM gateway.outbox WHERE ($1) AND status IN ('queued', 'sending')")" = 0 ] && return
        sleep 0.1
    done
}
cleanup() {
    q "ALTER SYSTEM RESET gateway.circuit_failures" >/dev/null
    q "ALTER SYSTEM RESET gateway.circuit_open_time" >/dev/null
    q "SELECT pg_reload_conf()" >/dev/null
    q "DELETE FROM gateway.outbox WHERE account LIKE 'fo\_%'" >/dev/null
    q "SELECT gw_route_drop(name) FROM (SELECT DISTINCT name FROM gateway.route WHERE name LIKE 'fo\_%') r" >/dev/null
    q "SELECT gw_account_drop(name) FROM gateway.account WHERE name LIKE 'fo\_%'" >/dev/null
    curl -s -X POST "$mock/_mock/reset" >/dev/null
    rm -f "${sync_provider:-}"
}
trap cleanup EXIT
cleanup

# three failures open a circuit for 3 s
q "ALTER SYSTEM SET gateway.circuit_failures = 3" >/dev/null
q "ALTER SYSTEM SET gateway.circuit_open_time = '3s'" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
q "SELECT gw_account_create('fo_a', 'vaspro', '{\"api_key\": \"fo-a-key-0001\"}', '$mock/vaspro', '{\"sender_id\": \"FOA\"}');
   SELECT gw_account_create('fo_b', 'umeskia', '{\"api_key\": \"fo-b-key-0001\", \"email\": \"fo@example.com\"}', '$mock/umeskia');
   SELECT gw_account_create('fo_c', 'vaspro', '{\"api_key\": \"fo-c-key-0001\"}', '$mock/vaspro', '{\"sender_id\": \"FOC\"}');
   SELECT gw_route_set('fo_route', '254', 'fo_a', 'fo_b');
   SELECT gw_route_set('fo_solo', '', 'fo_c');" >/dev/null || { echo "set-up failed"; exit 1; }

echo "== an outage with a fallback"
fault '{"match": "\"fo-a-key-0001\"", "count": 100000, "status": 503}'
# three synchronous sends fail on fo_a: its circuit opens
for i in 1 2 3; do q "SELECT gw_call('fo_a', 'sms.send', '{\"recipient\": \"0712000001\", \"message\": \"down $i\"}')" >/dev/null; done
check "the circuit of fo_a is open" "open|3" "$(q "SELECT state, failures FROM gw_circuits() WHERE account = 'fo_a'")"
# a synchronous send through the route takes the fallback
check "outage-fallback: the account's circuit" "$(outage outage-fallback circuit)" \
    "$(q "SELECT state FROM gw_circuits() WHERE account = 'fo_a'")"
check "outage-fallback: gw_send_sms through the route" "$(outage outage-fallback gw_send_sms)" \
    "$(sync_cell fo_route fo_a fo_b)"
q "SELECT count(gw_queue_sms('fo_route', '07120001' || lpad(i::text, 2, '0'), 'failover ' || i)) FROM generate_series(1, 20) i" >/dev/null
wait_rows "route = 'fo_route'"
check "outage-fallback: 20 queued SMS" "$(outage outage-fallback "during the outage: status")" \
    "$(queued_cell "route = 'fo_route' AND params::text LIKE '%failover%'" fo_a fo_b)"
check "20 queued messages sent, all by fo_b, one attempt each" "20|sent|fo_b|fo_a|1" \
    "$(q "SELECT count(*), min(status::text), min(account), min(fallback), max(attempts) FROM gateway.outbox WHERE route = 'fo_route'")"
check "the synchronous send's result names the fallback's provider" "umeskia" "$(cat "$sync_provider")"
check "fo_a received only the three synchronous requests" 3 "$(received 'fo-a-key-0001')"
check "fo_b (Umeskia) received the 21 messages" 21 "$(curl -s "$mock/_mock/messages?provider=umeskia&limit=1000" | grep -c 'failover')"
check "a payment never fails over: gw_stk_push through the route is refused" "0A000" \
    "$(psql -X -q -t -A -d "$db" -c "SELECT gw_stk_push('fo_route', '0712000001', 10)" 2>&1 | grep -o '0A000\|route' | head -1 | sed 's/route/0A000/')"

echo "== recovery: the half-open probe closes the circuit"
curl -s -X POST "$mock/_mock/reset" >/dev/null
sleep 3.2     # the circuit half-opens
q "SELECT gw_queue_sms('fo_route', '0712000200', 'the probe')" >/dev/null
wait_rows "route = 'fo_route'"
check "the half-open probe is sent by fo_a" "sent|fo_a" \
    "$(q "SELECT status, account FROM gateway.outbox WHERE params::text LIKE '%the probe%'")"
check "its success closes the circuit of fo_a" "closed|0|1" "$(q "SELECT state, failures, opens FROM gw_circuits() WHERE account = 'fo_a'")"
q "SELECT count(gw_queue_sms('fo_route', '07120002' || lpad(i::text, 2, '0'), 'recovered ' || i)) FROM generate_series(1, 5) i" >/dev/null
wait_rows "route = 'fo_route'"
check "outage-fallback: queued SMS once it is over" "$(outage outage-fallback "once it is over")" \
    "$(after_cell "params::text LIKE '%recovered%'" fo_a fo_b)"
check "5 messages after recovery sent, all by fo_a" "5|5" \
    "$(q "SELECT count(*) FILTER (WHERE status = 'sent'), count(*) FILTER (WHERE account = 'fo_a') FROM gateway.outbox WHERE params::text LIKE '%recovered%'")"
check "fo_a (VasPro) received them" 5 "$(curl -s "$mock/_mock/requests?prefix=/vaspro&limit=1000" | grep -c 'recovered')"

echo "== an outage without a fallback"
fault '{"match": "\"fo-c-key-0001\"", "count": 100000, "status": 500}'
for i in 1 2 3; do q "SELECT gw_call('fo_c', 'sms.send', '{\"recipient\": \"0712000001\", \"message\": \"down $i\"}')" >/dev/null; done
check "the circuit of fo_c is open" "open" "$(q "SELECT state FROM gw_circuits() WHERE account = 'fo_c'")"
q "SELECT count(gw_queue_sms('fo_solo', '07120003' || lpad(i::text, 2, '0'), 'waiting ' || i)) FROM generate_series(1, 10) i" >/dev/null
sleep 5       # the circuit half-opens once in between: one probe, which fails
check "10 rows wait queued, none dead, due when the circuit half-opens" "10|queued|0" \
    "$(q "SELECT count(*), min(status::text), count(*) FILTER (WHERE next_attempt_at <= now()) FROM gateway.outbox WHERE route = 'fo_solo'")"
check "attempts not spent (at most the probes')" "ok" \
    "$(q "SELECT CASE WHEN sum(attempts) <= 2 AND count(*) FILTER (WHERE attempts = 0) >= 8 THEN 'ok' ELSE 'spent: ' || string_agg(attempts::text, ',') END FROM gateway.outbox WHERE route = 'fo_solo'")"
check "outage-no-fallback: 10 queued SMS" "$(outage outage-no-fallback "during the outage: status")" \
    "$(queued_cell "route = 'fo_solo'" fo_c '')"
check "they say why" "waiting: the circuit of account fo_c is open" \
    "$(q "SELECT min(last_error) FROM gateway.outbox WHERE route = 'fo_solo' AND attempts = 0")"
check "fo_c received the 3 synchronous requests and at most 2 probes" "ok" \
    "$(n=$(received 'fo-c-key-0001'); [ "$n" -ge 3 ] && [ "$n" -le 5 ] && echo ok || echo "$n")"
check "outage-no-fallback: the account's circuit" "$(outage outage-no-fallback circuit)" \
    "$(q "SELECT state FROM gw_circuits() WHERE account = 'fo_c'")"
check "outage-no-fallback: gw_send_sms through the route" "$(outage outage-no-fallback gw_send_sms)" \
    "$(sync_cell fo_solo fo_c '')"
curl -s -X POST "$mock/_mock/reset" >/dev/null
wait_rows "route = 'fo_solo'"
check "outage-no-fallback: queued SMS once it is over" "$(outage outage-no-fallback "once it is over")" \
    "$(after_cell "route = 'fo_solo'" fo_c '')"
check "after recovery the 10 rows drain on fo_c" "10|sent|fo_c" \
    "$(q "SELECT count(*), min(status::text), min(account) FROM gateway.outbox WHERE route = 'fo_solo'")"
check "the circuit of fo_c is closed" "closed" "$(q "SELECT state FROM gw_circuits() WHERE account = 'fo_c'")"

echo "== the worker's own failures open the circuit"
q "SELECT gw_account_create('fo_d', 'vaspro', '{\"api_key\": \"fo-d-key-0001\"}', '$mock/vaspro', '{\"sender_id\": \"FOD\"}');
   SELECT gw_route_set('fo_worker', 'KE', 'fo_d', 'fo_b');" >/dev/null
fault '{"match": "\"fo-d-key-0001\"", "count": 100000, "status": 503}'
q "SELECT count(gw_queue_sms('fo_worker', '07120004' || lpad(i::text, 2, '0'), 'worker failover ' || i)) FROM generate_series(1, 10) i" >/dev/null
wait_rows "route = 'fo_worker'"
check "10 messages sent, all by fo_b in the end, none dead" "10|10" \
    "$(q "SELECT count(*) FILTER (WHERE status = 'sent'), count(*) FILTER (WHERE account = 'fo_b') FROM gateway.outbox WHERE route = 'fo_worker'")"
check "the worker's failures opened the circuit of fo_d" "t" "$(q "SELECT opens >= 1 FROM gw_circuits() WHERE account = 'fo_d'")"

if [ "$fails" -gt 0 ]; then
    echo "-- the rows and circuits, for a look"
    q "SELECT id, account, route, status, attempts, round(extract(epoch FROM next_attempt_at - now())::numeric, 1), last_error FROM gateway.outbox WHERE account LIKE 'fo\_%' ORDER BY id"
    q "SELECT * FROM gw_circuits()"
    grep -E "gateway|ERROR" "$GW_WORK/data/log/postgresql.log" | tail -20
fi
echo "failover test: $fails failed"
[ "$fails" -eq 0 ]
