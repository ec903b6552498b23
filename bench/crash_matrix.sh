#!/usr/bin/env bash
# The crash matrix: the outbox and the synchronous calls under kill -9 and
# pg_ctl stop -m immediate, counted against what the mock provider received.
#   a. kill -9 of the outbox worker while it drains SMS_N queued SMS;
#   b. kill -9 of a backend inside a synchronous gw_call (the mock holds the
#      answer back, so the request is surely out): an SMS (called again with
#      the same key), a VasPro STK push and a VTpass purchase;
#   c. pg_ctl stop -m immediate while it drains SMS_N queued SMS, then start;
#   d. the same while it drains PAY_N queued payments (VTpass purchases,
#      which the worker reconciles with VTpass's status query);
#   e. (no crash) a transaction that rolls back after its STK push went out;
#   f. pg_ctl stop -m immediate while DLR_N delivery reports for sent SMS
#      are posted to the callback listener (bench/crash_post.py, 16
#      connections): every report answered 200 is applied and recorded
#      after the restart.
# Prints a table: lost / duplicated (how many of them were in flight at the
# crash and carried the row's idempotency key) / payments sent twice; exits
# 1 when a requirement fails: nothing lost, no payment sent twice, an SMS sent
# twice only when it was in flight, with the same key.
#
#   bash bench/crash_matrix.sh            long: its own throwaway cluster and
#                                         mock, 100,000 SMS and 1,000 payments
#   bash bench/crash_matrix.sh short      against the test suite's cluster
#                                         (test/t/crash.sh), 10,000 SMS a
#                                         scenario and 200 payments
#
# The crash moment: the worker is frozen (SIGSTOP) while it waits on its
# sockets, so it holds no lock; the committed outbox is read (what recovery
# will find), then the worker is killed, or the server stopped -m immediate.
set -uo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-long}
if [ "$MODE" = short ]; then
    SMS_N=${SMS_N:-10000}
    PAY_N=${PAY_N:-200}
    DLR_N=${DLR_N:-4000}
    keep=$GW_WORK                       # the test suite's cluster
    . scripts/lib.sh
    GW_WORK=$keep
    db=contrib_regression
    drain_s=90
else
    SMS_N=${SMS_N:-100000}
    PAY_N=${PAY_N:-1000}
    DLR_N=${DLR_N:-40000}
    bash scripts/setup.sh >/dev/null
    . scripts/lib.sh
    export GW_DB=postgres
    GW_LISTEN_PORT=$(gw_free_port "${GW_LISTEN_PORT:-18787}")
    # one worker: the one frozen at the crash moment (no burst worker)
    export GW_EXTRA_CONF="gateway.max_in_flight = 64
gateway.batch_size = 500
gateway.burst_workers = 0
max_wal_size = '4GB'
gateway.listen_address = '127.0.0.1:$GW_LISTEN_PORT'
gateway.listen_role = 'gw_listener'"
    gw_start >/dev/null || exit 1
    db=postgres
    psql -X -q -d "$db" -c "CREATE EXTENSION gateway" || exit 1
    drain_s=600
fi
mock="http://127.0.0.1:$GW_MOCK_PORT"
. test/lib/check.sh        # for $listen_role_sql; its q is replaced below
out="$GW_WORK/crash"
mkdir -p "$out"
q() { psql -X -q -t -A -F $'\t' -d "$db" -c "$1" 2>/dev/null; }
now() { date +%s.%N; }
wait_up() {
    for _ in $(seq 1 300); do
        pg_isready -q -d "$db" && [ "$(q 'SELECT 1')" = 1 ] && return 0
        sleep 0.2
    done
    return 1
}
count() { q "SELECT count(*) FROM gateway.outbox WHERE account = '$1' AND status IN ($2)"; }
wait_count() {  # account, statuses, at least n[, seconds: 60]
    for _ in $(seq 1 $((${4:-60} * 10))); do
        local c; c=$(count "$1" "$2"); [ -n "$c" ] && [ "$c" -ge "$3" ] && return 0; sleep 0.1
    done
    return 1
}
wait_drained() {
    for _ in $(seq 1 $((drain_s * 5))); do
        [ "$(count "$1" "'queued', 'sending', 'unknown'")" = 0 ] && return 0; sleep 0.2
    done
    return 1
}
worker_pid() { q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'gateway worker' AND datname = '$db' LIMIT 1"; }

# Stop the worker ($1) while it sits in poll/epoll/select: a moment when it
# holds no lock, so the outbox can still be read.
freeze() {
    local st sc
    for _ in $(seq 1 500); do
        kill -STOP "$1" || return 1
        for _ in $(seq 1 100); do
            st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)
            [ "$st" = T ] && break
            sleep 0.001
        done
        sc=$(cut -d' ' -f1 "/proc/$1/syscall" 2>/dev/null)
        case "$sc" in 7 | 23 | 232 | 270 | 271 | 281 | 441) return 0 ;; esac
        kill -CONT "$1"
        sleep 0.003
    done
    return 1
}

# The server went down; start it again (kill -9 of a process: it restarts
# by itself; stop -m immediate: we start it).
restart() {
    if [ "$1" = immediate ]; then
        as_pg pg_ctl -D "$GW_WORK/data" -m immediate -W stop >/dev/null
        # let the frozen worker (if any) take its SIGQUIT, and nothing before it
        for _ in $(seq 1 500); do
            [ -n "$2" ] || break
            grep -qE '^(SigPnd|ShdPnd):.*[4567cdef]$' "/proc/$2/status" 2>/dev/null && break
            sleep 0.01
        done
        [ -z "$2" ] || kill -CONT "$2" 2>/dev/null
        for _ in $(seq 1 600); do
            as_pg pg_ctl -D "$GW_WORK/data" status >/dev/null 2>&1 || break
            sleep 0.1
        done
        as_pg pg_ctl -D "$GW_WORK/data" -l "$GW_WORK/server.log" -w -t 60 start >/dev/null
    else
        kill -9 "$2"
    fi
    sleep 1
    wait_up
}

# Seconds from the crash ($2) until every row of the scenario was final.
took() { echo "$1: every row final $(awk -v a="$2" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }') s after the crash"; }

table="$out/table"
failed=0
add_row() { if "$@" >>"$table"; then :; else failed=1; fi; }
: >"$table"

# a, c: SMS_N queued SMS (VasPro sms.bulk, key "<prefix>-i" sent as uniqueId).
sms_scenario() {  # label prefix crash
    local label=$1 p=$2 crash=$3 pid t
    curl -s -X POST "$mock/_mock/reset" >/dev/null
    q "SELECT gw_account_create('$p', 'vaspro', '{\"api_key\": \"crash-key-$p\"}',
           '$mock/vaspro', '{\"sender_id\": \"CRASH\", \"rate_limit\": 1000000}')" >/dev/null
    q "SELECT count(gw_queue_sms('$p', '0712345678', '$p ' || i, idempotency_key => '$p-' || i))
         FROM generate_series(1, $SMS_N) i" >/dev/null || { echo "$label: enqueue failed"; failed=1; return; }
    wait_count "$p" "'sent'" $((SMS_N / 4)) || { echo "$label: the worker did not drain"; failed=1; return; }
    pid=$(worker_pid)
    freeze "$pid" || { echo "$label: could not freeze the worker"; failed=1; return; }
    # what it wrote before it stopped reaches the mock (and is stamped)
    # before the crash moment
    sleep 0.3
    t=$(now)
    q "SELECT idempotency_key, status FROM gateway.outbox WHERE account = '$p'" >"$out/$p.snap"
    echo "$label: crash ($crash) at $(grep -c $'\tsent$' "$out/$p.snap") of $SMS_N sent"
    restart "$crash" "$pid" || { echo "$label: the server did not come back"; failed=1; return; }
    wait_drained "$p" || echo "$label: rows still queued or sending after ${drain_s} s"
    took "$label" "$t"
    q "SELECT idempotency_key, status, attempts FROM gateway.outbox WHERE account = '$p'" >"$out/$p.final"
    curl -s "$mock/_mock/requests?prefix=/vaspro/v3/BulkSMS/bulk/create&limit=100000000" >"$out/$p.req"
    add_row python3 bench/crash_count.py sms "$label" "$SMS_N" "$p" "$t" \
        "$out/$p.snap" "$out/$p.final" "$out/$p.req"
}

# d: PAY_N queued VTpass purchases; the mock holds each answer back 300 ms,
# so that many are in flight at the crash.
pay_scenario() {  # label prefix
    local label=$1 p=$2 pid t
    curl -s -X POST "$mock/_mock/reset" >/dev/null
    curl -s -X POST "$mock/_mock/fault" \
        -d "{\"prefix\": \"/vtpass/api/pay\", \"count\": $PAY_N, \"action\": \"delay\", \"delay_ms\": 300}" >/dev/null
    q "SELECT gw_account_create('$p', 'vtpass', '{\"username\": \"crash\", \"password\": \"crash-pw\"}',
           '$mock/vtpass', '{\"rate_limit\": 1000000}')" >/dev/null
    q "SELECT count(gw_enqueue('$p', 'payment.purchase', jsonb_build_object('service_id', 'spectranet',
           'billers_code', '1212121212', 'variation_code', 'vt-1000', 'phone', '08011111111')))
         FROM generate_series(1, $PAY_N) i" >/dev/null || { echo "$label: enqueue failed"; failed=1; return; }
    wait_count "$p" "'delivered', 'failed'" $((PAY_N / 4)) || { echo "$label: the worker did not drain"; failed=1; return; }
    pid=$(worker_pid)
    freeze "$pid" || { echo "$label: could not freeze the worker"; failed=1; return; }
    t=$(now)
    q "SELECT idempotency_key, status FROM gateway.outbox WHERE account = '$p'" >"$out/$p.snap"
    echo "$label: crash (immediate) at $(grep -c $'\tdelivered$' "$out/$p.snap") of $PAY_N paid"
    restart immediate "$pid" || { echo "$label: the server did not come back"; failed=1; return; }
    wait_drained "$p" || echo "$label: payments still queued, sending or unknown after ${drain_s} s"
    took "$label" "$t"
    q "SELECT idempotency_key, status FROM gateway.outbox WHERE account = '$p'" >"$out/$p.final"
    curl -s "$mock/_mock/requests?prefix=/vtpass/api/&limit=100000000" >"$out/$p.req"
    add_row python3 bench/crash_count.py pay "$label" "$out/$p.snap" "$out/$p.final" "$out/$p.req"
}

# f: DLR_N SMS sent, then a delivery report for each posted to the listener
# until a quarter are answered 200 and the server stops under the rest.
dlr_scenario() {  # label prefix
    local label=$1 p=$2 url poster t
    curl -s -X POST "$mock/_mock/reset" >/dev/null
    q "$listen_role_sql
       GRANT USAGE ON SCHEMA gateway TO gw_listener;
       GRANT EXECUTE ON FUNCTION gateway.ingest_text(text, text, text) TO gw_listener" >/dev/null
    q "SELECT gw_account_create('$p', 'vaspro', '{\"api_key\": \"crash-key-$p\"}',
           '$mock/vaspro', '{\"sender_id\": \"CRASH\", \"rate_limit\": 1000000}')" >/dev/null
    q "SELECT count(gw_queue_sms('$p', '0712345678', '$p ' || i, idempotency_key => '$p-' || i))
         FROM generate_series(1, $DLR_N) i" >/dev/null || { echo "$label: enqueue failed"; failed=1; return; }
    wait_count "$p" "'sent'" "$DLR_N" 120 || { echo "$label: the worker did not send them"; failed=1; return; }
    url=$(q "SELECT gw_callback_url('$p', 'dlr')")
    : >"$out/$p.answers"
    python3 bench/crash_post.py 127.0.0.1 "$GW_LISTEN_PORT" "/${url#http://*/}" "$p" "$DLR_N" 16 \
        "$out/$p.answers" &
    poster=$!
    for _ in $(seq 1 1200); do
        [ "$(grep -c $'\t200$' "$out/$p.answers")" -ge $((DLR_N / 4)) ] && break
        sleep 0.05
    done
    t=$(now)
    echo "$label: crash (immediate) at $(grep -c $'\t200$' "$out/$p.answers") of $DLR_N answered 200"
    restart immediate "" || { echo "$label: the server did not come back"; failed=1; wait "$poster"; return; }
    wait "$poster"
    q "SELECT o.idempotency_key, o.status,
              (SELECT count(*) FROM gateway.inbound i WHERE i.account = '$p' AND i.outbox_id = o.id)
         FROM gateway.outbox o WHERE o.account = '$p'" >"$out/$p.final"
    add_row python3 bench/crash_count.py dlr "$label" "$out/$p.answers" "$out/$p.final"
}

# b: a synchronous call whose backend is killed while the mock holds the
# answer back (10 s).  Prints the crash time.
kill_in_call() {  # app_name route sql
    local pid t
    curl -s -X POST "$mock/_mock/fault" \
        -d "{\"prefix\": \"$2\", \"count\": 1, \"action\": \"delay\", \"delay_ms\": 10000}" >/dev/null
    PGAPPNAME=$1 psql -X -q -d "$db" -c "$3" >/dev/null 2>&1 &
    local bg=$!
    for _ in $(seq 1 100); do
        [ -n "$(curl -s "$mock/_mock/requests?prefix=$2")" ] && break
        sleep 0.05
    done
    pid=$(q "SELECT pid FROM pg_stat_activity WHERE application_name = '$1' AND state = 'active'")
    [ -n "$pid" ] || { echo "$1: the call is not running" >&2; wait "$bg"; return 1; }
    t=$(now)
    kill -9 "$pid"
    wait "$bg" 2>/dev/null
    sleep 1
    wait_up || return 1
    echo "$t"
}

sync_scenarios() {
    local t st phone
    curl -s -X POST "$mock/_mock/reset" >/dev/null
    q "SELECT gw_account_create('cm_b', 'vaspro', '{\"api_key\": \"crash-key-b\"}',
           '$mock/vaspro', '{\"sender_id\": \"CRASH\", \"paybill\": \"174379\"}')" >/dev/null
    local sms_sql="SELECT gw_call('cm_b', 'sms.bulk', '{\"recipients\": [\"0712345678\"],
           \"message\": \"cm_b in gw_call\", \"unique_id\": \"cm_b-sms-1\"}')->>'status'"
    t=$(kill_in_call cm_b_sms /vaspro/v3/BulkSMS/bulk/create "$sms_sql") ||
        { echo "b: the call did not go out or the server did not come back"; failed=1; return; }
    echo "b. SMS: kill -9 of the backend inside gw_call; the application calls again with the same unique_id"
    st=$(q "$sms_sql")
    curl -s "$mock/_mock/requests?prefix=/vaspro/v3/BulkSMS/bulk/create" >"$out/b_sms.req"
    phone=$(curl -s "$mock/_mock/messages?provider=vaspro" | grep -c '"cm_b in gw_call"')
    add_row python3 bench/crash_count.py sync-sms "b. kill -9 backend in gw_call, SMS" cm_b-sms-1 "$t" \
        "$out/b_sms.req" "$st" "$phone"

    # a payment: the row is written down before the request goes out, and
    # the worker adopts it once the session is gone (src/journal.c)
    echo "b. payment: kill -9 of the backend inside gw_stk_push (VasPro: no status query)"
    kill_in_call cm_b_pay /vaspro/v3/checkout/mpesa \
        "SELECT gw_stk_push('cm_b', '0712345678', 10, 'cm_b-pay-1', 'crash test')" >/dev/null ||
        { echo "b: the call did not go out or the server did not come back"; failed=1; return; }
    sync_pay_row "b. kill -9 backend in gw_stk_push" cm_b /vaspro/v3/checkout/mpesa "'unknown'"

    echo "b. payment: kill -9 of the backend inside gw_call of a VTpass purchase (reconciled)"
    q "SELECT gw_account_create('cm_bv', 'vtpass', '{\"username\": \"crash\", \"password\": \"crash-pw\"}',
           '$mock/vtpass')" >/dev/null
    kill_in_call cm_b_vt /vtpass/api/pay "SELECT gw_call('cm_bv', 'payment.purchase', '{\"service_id\":
           \"spectranet\", \"billers_code\": \"1212121212\", \"variation_code\": \"vt-1000\",
           \"phone\": \"08011111111\"}')" >/dev/null ||
        { echo "b: the call did not go out or the server did not come back"; failed=1; return; }
    sync_pay_row "b. kill -9 backend in gw_call, VTpass" cm_bv /vtpass/api/pay "'delivered', 'failed'"

    echo "e. payment: the transaction rolls back after gw_stk_push answered"
    curl -s -X POST "$mock/_mock/reset" >/dev/null
    q "SELECT gw_account_create('cm_e', 'vaspro', '{\"api_key\": \"crash-key-e\"}',
           '$mock/vaspro', '{\"paybill\": \"174379\"}')" >/dev/null
    q "BEGIN; SELECT gw_stk_push('cm_e', '0712345678', 10, 'cm_e-pay-1', 'rolled back'); ROLLBACK" >/dev/null
    sync_pay_row "e. ROLLBACK after gw_stk_push (no crash)" cm_e /vaspro/v3/checkout/mpesa "'unknown'"
}

# One payment row: wait (20 s at most; the worker adopts within 5 s) for
# the account's payment row in one of the statuses given, then count.
sync_pay_row() {  # label account route statuses
    wait_count "$2" "$4" 1 20 || echo "$1: no payment row in ($4)"
    curl -s "$mock/_mock/requests?prefix=$3" >"$out/$2.req"
    add_row python3 bench/crash_count.py sync-pay "$1" "$out/$2.req" \
        "$(q "SELECT string_agg(status::text, ',') FROM gateway.outbox WHERE account = '$2' AND payment")"
}

t_start=$(now)
echo "== crash matrix ($MODE): $SMS_N SMS a scenario, $PAY_N payments"
sms_scenario "a. kill -9 worker mid-drain, SMS" cm_a worker
sync_scenarios
sms_scenario "c. stop -m immediate mid-drain, SMS" cm_c immediate
pay_scenario "d. stop -m immediate mid-drain, payments" cm_d
dlr_scenario "f. stop -m immediate under delivery reports" cm_f

echo
python3 bench/crash_count.py table "$table"
echo "crash matrix ($MODE): $(awk -v a="$t_start" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }') s"
[ "$failed" = 0 ] && [ "$(grep -c $'\tok$' "$table")" = 8 ]
