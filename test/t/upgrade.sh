#!/usr/bin/env bash
# Upgrades.  Every update script sql/gateway--A--B.sql must be a step on the
# path from the first released version to the default one.  For every
# version on that path but the last, a database gets the extension at that
# version (every C function it declares must resolve in today's library),
# data made with that version's functions (accounts, grants, queued rows, a
# callback, an SMS trigger on a user table), then ALTER EXTENSION UPDATE
# through each step.  Its objects (test/t/extension_objects.sql) must equal
# those of a database given CREATE EXTENSION at the default version and the
# same data; its data must be what it was (callback tokens: sealed now, the
# same URL), and still work.  Then pg_dump
# and pg_restore of the fresh database keep every row.  Run by
# scripts/test.sh against its cluster.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mock="http://127.0.0.1:$GW_MOCK_PORT"
out="$GW_WORK/upgrade"
mkdir -p "$out"
. "$(dirname "$0")/../lib/check.sh"
q() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }   # here: q <database> <sql>
dbs=()
cleanup() {
    for d in "${dbs[@]}"; do
        psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1
    done
    psql -X -q -d postgres -c "DROP ROLE IF EXISTS gw_up_sender" >/dev/null 2>&1
}
trap cleanup EXIT
newdb() {
    dbs+=("$1")
    psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1" \
        -c "CREATE DATABASE $1" >/dev/null
}

# The versions: the first released one, the default one, the path between.
first=$(ls "$root/sql" | sed -n 's/^gateway--\([^-]*\)\.sql$/\1/p' | sort -V | head -n 1)
default=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$root/gateway.control")
path=$(q postgres "SELECT path FROM pg_extension_update_paths('gateway')
                    WHERE source = '$first' AND target = '$default'")
[ "$first" = "$default" ] && path=$first
check "an update path from $first to $default" yes "$([ -n "$path" ] && echo yes || echo no)"
echo "update path: $path"
for f in "$root"/sql/gateway--*--*.sql; do
    [ -e "$f" ] || continue
    step=$(basename "$f" .sql); step=${step#gateway--}
    check "update script $step is a step of the path" yes \
        "$(case "--$path--" in *"--$step--"*) echo yes ;; *) echo no ;; esac)"
done
read -r -a versions <<<"${path//--/ }"

psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP ROLE IF EXISTS gw_up_sender" \
    -c "CREATE ROLE gw_up_sender NOLOGIN" >/dev/null

# The same data in every database, made with the functions of its version.
fill() {
    q "$1" "SELECT gw_account_create('up1', 'vaspro', '{\"api_key\": \"up-key-0001\"}', '$mock/vaspro',
                                     '{\"sender_id\": \"UP\", \"paybill\": \"789789\"}');
            SELECT gw_account_create('up2', 'mspace', '{\"username\": \"up\", \"password\": \"up-pass-01\"}',
                                     '$mock/mspace');
            SELECT gw_grant_sender('gw_up_sender');
            SELECT count(gw_queue_sms('up1', '0712345678', 'upgrade ' || i, idempotency_key => 'up-' || i))
              FROM generate_series(1, 50) i;
            SELECT gw_enqueue('up1', 'sms.send', '{\"recipient\": \"0712345678\", \"message\": \"tomorrow\"}',
                              now() + interval '1 day');
            SELECT gw_ingest('up1', 'mo', '{\"msisdn\": \"254712000003\", \"message\": \"STOP\"}');
            SELECT gw_ingest('up1', 'dlr', '{\"uniqueId\": \"up-1\", \"deliveryStatus\": \"DeliveredToTerminal\"}');
            CREATE TABLE public.customers (id serial PRIMARY KEY, name text, phone text);
            CREATE TRIGGER welcome AFTER INSERT ON public.customers FOR EACH ROW
                EXECUTE FUNCTION gw_sms_trigger('up1', 'phone', 'Karibu {{name}}!');
            INSERT INTO public.customers (name, phone) VALUES ('Amina', '0712345678');" >/dev/null
}
# Every database with the extension is served: wait until the database's
# worker has sent what is due (the row for tomorrow stays queued), so that
# the data compared before and after the update is at rest.
settle() {
    for _ in $(seq 1 300); do
        [ "$(q "$1" "SELECT count(*) FROM gateway.outbox WHERE status IN ('queued', 'sending')
                      AND next_attempt_at < now() + interval '1 hour'")" = 0 ] && return 0
        sleep 0.1
    done
    echo "FAIL: $1: the due rows were not sent"
    fails=$((fails + 1))
}
# (gateway's own idempotency keys start with a prefix drawn at install time)
objects() {
    psql -X -q -v ON_ERROR_STOP=1 -d "$1" -f "$here/extension_objects.sql" |
        sed -E "s/'gw[0-9a-f]{8}-'/'gw<per-install>-'/g"
}
key_default() {
    q "$1" "SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef
             WHERE adrelid = 'gateway.outbox'::regclass
               AND adnum = (SELECT attnum FROM pg_attribute
                             WHERE attrelid = 'gateway.outbox'::regclass AND attname = 'idempotency_key')"
}
# A query per table of the extension over the columns it has now: after an
# update the same query must give the same rows.  Not the daily figures
# (gateway.daily, gateway.rollup_state): each database's worker computes
# them from its rows on its own clock (test/t/rollup.sh, dump.sh).
data_queries() {
    q "$1" "SELECT format('SELECT %L || '': '' || x::text FROM (SELECT %s FROM %s) x ORDER BY 1;',
                          c.oid::regclass, string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum), c.oid::regclass)
              FROM pg_depend d
              JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid AND c.relkind IN ('r', 'p')
              JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                   -- stored sealed since 0.3.0: compared through its URL below
                   AND (c.oid, a.attname) <> ('gateway.account_secret'::regclass, 'callback_token')
             WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
               AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'gateway')
               AND c.relname NOT IN ('daily', 'rollup_state')
             GROUP BY c.oid ORDER BY c.oid::regclass::text"
}
data() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$1" -f "$2"; }

newdb gw_up_fresh
q gw_up_fresh "CREATE EXTENSION gateway" >/dev/null || { echo "CREATE EXTENSION failed"; exit 1; }
fill gw_up_fresh || { echo "filling the fresh database failed"; exit 1; }
settle gw_up_fresh
objects gw_up_fresh >"$out/fresh.objects" || { echo "listing objects failed"; exit 1; }
echo "fresh install at $default: $(grep -c '^member: ' "$out/fresh.objects") objects"

for ((i = 0; i < ${#versions[@]} - 1; i++)); do
    from=${versions[$i]}
    db=gw_up_${from//[^0-9a-zA-Z]/_}
    newdb "$db"
    q "$db" "CREATE EXTENSION gateway VERSION '$from'" >/dev/null || { echo "CREATE EXTENSION at $from failed"; exit 1; }
    check "$from: installed" "$from" "$(q "$db" "SELECT extversion FROM pg_extension WHERE extname = 'gateway'")"
    # fmgr_c_validator loads the library and finds each symbol, or fails
    nc=$(q "$db" "SELECT count(*) FROM (
                      SELECT fmgr_c_validator(p.oid) FROM pg_proc p
                        JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
                        JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'gateway'
                       WHERE p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'c')) v")
    check "$from: every C function resolves in today's library" yes "$([ "${nc:-0}" -gt 0 ] && echo yes || echo no)"
    echo "$from: $nc C functions resolve"
    fill "$db" || { echo "$from: its functions could not make the data"; fails=$((fails + 1)); continue; }
    # The library serves only a schema at its own version: until the update,
    # the database's worker sends nothing (it says so in the log): no row
    # leased, no attempt made (a callback may still move a row).
    sleep 1.5
    check "$from: nothing is sent before the update" 0 \
        "$(q "$db" "SELECT count(*) FROM gateway.outbox WHERE status::text = 'sending' OR attempts > 0")"
    data_queries "$db" >"$out/$db.queries"
    data "$db" "$out/$db.queries" >"$out/$db.before"
    url_before=$(q "$db" "SELECT gw_callback_url('up1', 'dlr')")
    key_before=$(key_default "$db")

    # Every step and the rows after it in one transaction: the worker starts
    # sending only once the update commits.
    steps=(-c BEGIN)
    for ((j = i + 1; j < ${#versions[@]}; j++)); do
        steps+=(-c "ALTER EXTENSION gateway UPDATE TO '${versions[$j]}'")
    done
    psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$db" "${steps[@]}" -f "$out/$db.queries" -c COMMIT \
        >"$out/$db.after" 2>"$out/$db.update.err" ||
        { echo "FAIL: $from: ALTER EXTENSION gateway UPDATE:"; cat "$out/$db.update.err"; fails=$((fails + 1)); }
    check "$from: updated to $default" "$default" "$(q "$db" "SELECT extversion FROM pg_extension WHERE extname = 'gateway'")"

    objects "$db" >"$out/$db.objects"
    if diff -u "$out/fresh.objects" "$out/$db.objects" >"$out/$db.objects.diff"; then
        echo "ok: $from updated: the same objects as a fresh install"
    else
        echo "FAIL: $from updated: objects differ from a fresh install:"
        head -n 60 "$out/$db.objects.diff"
        fails=$((fails + 1))
    fi
    if diff -u "$out/$db.before" "$out/$db.after" >"$out/$db.data.diff"; then
        echo "ok: $from updated: every row is as it was ($(wc -l <"$out/$db.after") rows)"
    else
        echo "FAIL: $from updated: the data changed:"
        head -n 40 "$out/$db.data.diff"
        fails=$((fails + 1))
    fi
    check "$from updated: the callback URL and its token are the same" "$url_before" \
        "$(q "$db" "SELECT gw_callback_url('up1', 'dlr')")"
    token=${url_before##*token=}
    check "$from updated: the table no longer holds the token itself" 0 \
        "$(q "$db" "SELECT count(*) FROM gateway.account_secret WHERE strpos(callback_token, '$token') > 0")"
    check "$from updated: gateway's own keys keep their prefix" "$key_before" "$(key_default "$db")"
    check "$from updated: the SMS trigger still queues" 1 \
        "$(q "$db" "INSERT INTO public.customers (name, phone) VALUES ('Baraka', '0712345679');
                    SELECT count(*) FROM gateway.outbox WHERE params->>'message' = 'Karibu Baraka!'")"
    check "$from updated: a granted sender still queues" 1 \
        "$(q "$db" "SET ROLE gw_up_sender; SELECT count(gw_queue_sms('up1', '0712345678', 'after the update'))")"
done

# Payments recorded before 0.3.0: the update gives each the key its callback
# names it by (match_key), a payment that was not paid is failed, and a
# callback after the update finds its row by that key.
if case "--$path--" in *--0.2.0--0.3.0--*) true ;; *) false ;; esac; then
    prev=0.2.0
    newdb gw_up_pay
    q gw_up_pay "SET client_min_messages = warning; CREATE EXTENSION gateway VERSION '$prev'" >/dev/null
    q gw_up_pay "SELECT gw_account_create('up1', 'vaspro', '{\"api_key\": \"up-key-0001\"}', '$mock/vaspro');
        INSERT INTO gateway.outbox (account, operation, params, status, payment, result, provider_ref,
                                    next_attempt_at)
        VALUES ('up1', 'payment.stk_push', '{\"phone\": \"0712345678\", \"amount\": 10}', 'sent', true,
                '{\"data\": {\"data\": {\"CheckoutRequestID\": \"ws_CO_up_1\"}}}', 'corr-up-1', 'infinity'),
               ('up1', 'payment.stk_push', '{\"phone\": \"0712345678\", \"amount\": 10}', 'undelivered', true,
                NULL, 'UMSPID-up-2', 'infinity'),
               ('up1', 'sms.bulk', '{\"recipients\": \"0712345678\", \"message\": \"x\"}', 'undelivered', false,
                NULL, 'corr-up-3', 'infinity')" >/dev/null
    q gw_up_pay "ALTER EXTENSION gateway UPDATE" >/dev/null || { echo "FAIL: gw_up_pay: ALTER EXTENSION UPDATE"; fails=$((fails + 1)); }
    check "$prev updated: payments have their match_key, messages none" "ws_CO_up_1,UMSPID-up-2," \
        "$(q gw_up_pay "SELECT string_agg(coalesce(match_key, ''), ',' ORDER BY id) FROM gateway.outbox")"
    check "$prev updated: a payment that was not paid is failed, an undelivered message stays" \
        "sent,failed,undelivered" "$(q gw_up_pay "SELECT string_agg(status::text, ',' ORDER BY id) FROM gateway.outbox")"
    check "$prev updated: a callback finds its payment by match_key" delivered \
        "$(q gw_up_pay "SELECT gw_ingest('up1', 'payment', '{\"Body\": {\"stkCallback\": {\"CheckoutRequestID\": \"ws_CO_up_1\",
            \"ResultCode\": 0, \"ResultDesc\": \"ok\", \"CallbackMetadata\": {\"Item\": [{\"Name\": \"Amount\", \"Value\": 10},
            {\"Name\": \"MpesaReceiptNumber\", \"Value\": \"QBI3DNNHWP\"}, {\"Name\": \"PhoneNumber\", \"Value\": 254712345678}]}}}}')->>'status'")"
fi

# pg_dump and pg_restore keep gateway's data (its tables are configuration
# tables), and the sequences go on where they were.
newdb gw_up_restored
pg_dump -Fc -d gw_up_fresh -f "$out/fresh.dump" || { echo "FAIL: pg_dump"; fails=$((fails + 1)); }
pg_restore --exit-on-error -d gw_up_restored "$out/fresh.dump" ||
    { echo "FAIL: pg_restore"; fails=$((fails + 1)); }
data_queries gw_up_fresh >"$out/fresh.queries"
data gw_up_fresh "$out/fresh.queries" >"$out/fresh.data"
data gw_up_restored "$out/fresh.queries" >"$out/restored.data" 2>&1
if diff -u "$out/fresh.data" "$out/restored.data" >"$out/restored.data.diff"; then
    echo "ok: pg_dump and pg_restore keep every row ($(wc -l <"$out/restored.data") rows)"
else
    echo "FAIL: pg_dump and pg_restore lost or changed rows:"
    head -n 20 "$out/restored.data.diff"
    fails=$((fails + 1))
fi
check "after a restore, queueing goes on" 1 \
    "$(q gw_up_restored "SELECT count(gw_queue_sms('up1', '0712345678', 'after the restore'))" 2>&1)"
check "after a restore, callbacks are recorded" t \
    "$(q gw_up_restored "SELECT (gw_ingest('up1', 'mo', '{\"msisdn\": \"254712000004\", \"message\": \"hi\"}')) IS NOT NULL" 2>&1)"

echo "upgrade test: $fails failed"
[ "$fails" -eq 0 ]
