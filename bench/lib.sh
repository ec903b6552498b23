# Pieces the benchmarks share: source it after scripts/lib.sh (which starts
# the throwaway cluster and the mock).  Don't run it.
#
#   bench_nginx_start        a throwaway nginx on 127.0.0.1 answering every
#                            POST with a VasPro-shaped body (own prefix and
#                            config in a temp dir; never the system service)
#   bench_wrk URL C T S      wrk: C connections, T threads, S seconds of
#                            keep-alive POSTs; prints requests/s
#   bench_kaclient URL N     the bare keep-alive libcurl client; req/s
#   bench_kamulti URL N C P  the bare libcurl multi client, P processes of C
#                            connections; req/s and CPU a request
#   bench_account NAME URL   a VasPro account (rate limit off) at base URL
#   bench_sync ACCOUNT N     N gw_send_sms in one backend; prints calls/s
#   bench_drain ACCOUNT N    N gw_queue_sms in one transaction, drained;
#                            prints messages/s (every result recorded)
#   bench_callbacks_setup    the listener's role and a USSD menu
#   bench_callbacks ACCOUNT N PREFIX
#                            N SMS queued and sent, then a delivery report
#                            for each over HTTP; prints callbacks/s
#   bench_post_dlrs ACCOUNT N PREFIX
#                            the delivery reports alone, for rows already sent
#   bench_machine            nproc, CPU model, memory, load average

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_NGINX_DIR=""
BENCH_WRK_LOG=""

bench_sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$@"; }

# apt-get install what is missing (Debian package names), services not started.
bench_need() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "== installing: ${missing[*]}" >&2
    # RUNLEVEL=1: invoke-rc.d starts no service (nginx's own would take port 80)
    DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null 2>&1 ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 \
            apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
}

bench_machine() {
    echo "nproc $(nproc), $(lscpu | sed -n 's/^Model name: *//p' | head -1)," \
        "$(awk '/^MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo) memory"
}
# 12345 -> 12,345
bench_num() { echo "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/; ta'; }
bench_load() { cut -d' ' -f1-3 /proc/loadavg; }

# The body every POST gets: VasPro's answer to an SMS it took, a fresh
# correlator each time.
BENCH_VASPRO_ANSWER='{"code":"Success","statusDescription":"Request is Successfully Processed","data":{"correlator":"$request_id","credits":1,"recipients":1}}'

# A throwaway nginx on 127.0.0.1:${BENCH_NGINX_PORT:-19860} (the first free
# port from there); sets BENCH_NGINX_PORT.  Stopped by bench_nginx_stop.
bench_nginx_start() {
    local d
    bench_need nginx-light
    BENCH_NGINX_PORT=$(gw_free_port "${BENCH_NGINX_PORT:-19860}")
    d=$(mktemp -d /tmp/gw-nginx.XXXXXX)
    chmod 755 "$d"
    BENCH_NGINX_DIR=$d
    cat >"$d/nginx.conf" <<CONF
worker_processes auto;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $d/body;
    proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fastcgi;
    uwsgi_temp_path $d/uwsgi;
    scgi_temp_path $d/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    client_body_buffer_size 16k;
    server {
        listen 127.0.0.1:$BENCH_NGINX_PORT reuseport;
        location = /_nginx_status { stub_status; }
        location / {
            default_type application/json;
            return 200 '$BENCH_VASPRO_ANSWER';
        }
    }
}
CONF
    /usr/sbin/nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log" ||
        { cat "$d/error.log"; return 1; }
    for _ in $(seq 1 50); do
        curl -sf -o /dev/null -X POST -d '{}' "http://127.0.0.1:$BENCH_NGINX_PORT/" && return 0
        sleep 0.1
    done
    echo "nginx did not answer:"; cat "$d/error.log"; return 1
}

bench_nginx_stop() {
    local pid
    [ -n "$BENCH_NGINX_DIR" ] || return 0
    if [ -f "$BENCH_NGINX_DIR/nginx.pid" ]; then
        pid=$(cat "$BENCH_NGINX_DIR/nginx.pid")
        kill -QUIT "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -rf "$BENCH_NGINX_DIR"
    BENCH_NGINX_DIR=""
}

# The EXIT trap once nginx and the cluster both run: both stopped, the exit
# status kept.
bench_stop() {
    local rc=$?
    set +e                  # a failed run must still stop everything
    bench_nginx_stop
    bench_kaclient_clean
    (exit $rc)
    gw_stop
}

# Connections nginx accepted so far (each new TCP connection to it).
bench_nginx_accepts() {
    curl -s "http://127.0.0.1:$BENCH_NGINX_PORT/_nginx_status" | awk 'NR == 3 { print $1 }'
}

# pids of the nginx workers (for their CPU time)
bench_nginx_pids() { pgrep -P "$(cat "$BENCH_NGINX_DIR/nginx.pid")" | tr '\n' ' '; }

# wrk URL connections threads seconds [body]: keep-alive POSTs; req/s.
bench_wrk() {
    local url=$1 c=$2 t=$3 s=$4 body=${5:-$BENCH_SMS_BODY}
    bench_need wrk
    BENCH_WRK_LOG=${GW_WORK:-/tmp}/wrk-c$c-$$.log
    wrk -t"$t" -c"$c" -d"${s}s" -s "$BENCH_DIR/post.lua" "$url" -- "$body" >"$BENCH_WRK_LOG" 2>&1
    if grep -q '^Non-2xx\|Socket errors' "$BENCH_WRK_LOG"; then
        echo "wrk: errors against $url:" >&2; cat "$BENCH_WRK_LOG" >&2
    fi
    sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$BENCH_WRK_LOG" | awk '{ printf "%.0f\n", $1 }'
}

# The request gw_send_sms makes to VasPro (sms.send), as the bare clients send it.
BENCH_SMS_BODY='{"apiKey":"bench-key","shortCode":"BENCH","recipient":"254712345678","message":"Benchmark message","enqueue":1}'
BENCH_SMS_PATH=/vaspro/v3/BulkSMS/api/create

# bench_kaclient URL N: N keep-alive POSTs, one after another (after a warm-up).
bench_kaclient() {
    local bin=${TMPDIR:-/tmp}/gw-kaclient-$$
    [ -x "$bin" ] || gcc -O2 -o "$bin" "$BENCH_DIR/kaclient.c" -lcurl
    "$bin" "$1" "$BENCH_SMS_BODY" 2000 >/dev/null   # warm-up
    "$bin" "$1" "$BENCH_SMS_BODY" "$2"
}
bench_kaclient_clean() { rm -f "${TMPDIR:-/tmp}/gw-kaclient-$$" "${TMPDIR:-/tmp}/gw-kamulti-$$"; }

# bench_kamulti URL N C P: the bare libcurl multi client (bench/kamulti.c), P
# processes at once, each N keep-alive POSTs over C connections (after a
# warm-up); prints their requests together over the time from the start of
# the first to the end of the last, and their CPU in microseconds a request
# (the mean of the processes').  Returns 1 when a request failed.
bench_kamulti() {
    local bin=${TMPDIR:-/tmp}/gw-kamulti-$$ url=$1 n=$2 c=$3 p=$4 i out t0 t1 pids=() bad=0
    [ -x "$bin" ] || gcc -O2 -o "$bin" "$BENCH_DIR/kamulti.c" -lcurl || return 1
    "$bin" "$url" "$BENCH_SMS_BODY" 5000 "$c" >/dev/null || return 1   # warm-up
    out=$(mktemp)
    t0=$(date +%s.%N)
    for i in $(seq 1 "$p"); do "$bin" "$url" "$BENCH_SMS_BODY" "$n" "$c" >>"$out" & pids+=($!); done
    for i in "${pids[@]}"; do wait "$i" || bad=1; done
    t1=$(date +%s.%N)
    awk -v t0="$t0" -v t1="$t1" -v n=$((n * p)) \
        '{ u += $2 } END { if (NR == 0 || t1 <= t0) exit 1; printf "%.0f %.1f\n", n / (t1 - t0), u / NR }' "$out" || bad=1
    rm -f "$out"
    return $bad
}

# Where gateway.allowed_hosts and gateway.allow_http exist (0.3.0), let
# accounts reach 127.0.0.1 over plain http; once a run.
BENCH_ALLOWED=""
bench_allow_local() {
    [ -n "$BENCH_ALLOWED" ] && return 0
    BENCH_ALLOWED=1
    bench_sql >/dev/null <<'SQL'
DO $$
DECLARE hosts text := current_setting('gateway.allowed_hosts', true);
BEGIN
    IF hosts IS NULL THEN
        RETURN;                         -- a version without the settings
    END IF;
    IF NOT '127.0.0.1' = ANY (regexp_split_to_array(hosts, '\s*,\s*')) THEN
        EXECUTE format('ALTER SYSTEM SET gateway.allowed_hosts = %L',
                       CASE WHEN hosts = '' THEN '127.0.0.1' ELSE hosts || ', 127.0.0.1' END);
    END IF;
    IF NOT current_setting('gateway.allow_http')::bool THEN
        ALTER SYSTEM SET gateway.allow_http = on;
    END IF;
    PERFORM pg_reload_conf();
END
$$;
SQL
    sleep 0.2
}

# bench_account NAME BASE_URL [extra options, JSON members]
bench_account() {
    bench_allow_local
    bench_sql -c "SELECT gw_account_create('$1', 'vaspro', '{\"api_key\": \"bench-key\"}', '$2',
                  '{\"sender_id\": \"BENCH\", \"rate_limit\": 1000000${3:+, $3}}')" >/dev/null
}

# bench_sync ACCOUNT N: prints "ok calls/s" (after 2,000 warm-up calls).
bench_sync() {
    local out
    out=$(bench_sync_cpu "$@")
    echo "${out% * *}"
}

# bench_sync_cpu ACCOUNT N: as bench_sync, then the backend's CPU ticks
# (user + system, from its /proc/self/stat) before and after the N calls.
bench_sync_cpu() {
    bench_sql <<SQL
SELECT count(*) FILTER (WHERE (gw_send_sms('$1', '0712345678', 'Benchmark ' || i))->>'ok' = 'true')
  FROM generate_series(1, 2000) i \\g /dev/null
CREATE TEMP VIEW cpu AS SELECT f[12]::bigint + f[13]::bigint AS ticks
  FROM (SELECT string_to_array(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' ') f) s;
SELECT ticks AS c0, clock_timestamp() AS t0 FROM cpu \\gset
SELECT count(*) FILTER (WHERE (gw_send_sms('$1', '0712345678', 'Benchmark ' || i))->>'ok' = 'true') AS ok
  FROM generate_series(1, $2) i \\gset
SELECT :ok || ' ' || round($2 / extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)) || ' ' || :c0 || ' ' || ticks FROM cpu;
SQL
}

# Rows not finished yet (of one account, or all)
bench_pending() {
    bench_sql -c "SELECT count(*) FROM gateway.outbox WHERE status IN ('queued', 'sending')${1:+ AND account = '$1'}"
}
# (an EXISTS the outbox's work index answers: polling costs the drain little)
bench_wait_drained() {
    while [ "$(bench_sql -c "SELECT EXISTS (SELECT FROM gateway.outbox WHERE status IN ('queued', 'sending')
                                             ${1:+AND account = '$1'})")" = t ]; do
        sleep 0.1
    done
}

# bench_queue ACCOUNT N [KEY_PREFIX]: N SMS queued in one transaction;
# prints the commit's time (epoch seconds).
bench_queue() {
    local key=""
    [ -n "${3:-}" ] && key=", idempotency_key => '$3' || i"
    bench_sql -c "SELECT count(gw_queue_sms('$1', '0712345678', 'Drain test ' || i$key))
                  FROM generate_series(1, $2) i" >/dev/null
    date +%s.%N
}

# bench_drain ACCOUNT N: prints messages/s from the commit of the queueing
# transaction to the last result recorded.  Called outside $(...), it also
# leaves the interval in BENCH_DRAIN_T0 and BENCH_DRAIN_T1 and the rate in
# BENCH_DRAIN_RATE.
bench_drain() {
    BENCH_DRAIN_T0=$(bench_queue "$1" "$2")
    bench_wait_drained "$1"
    BENCH_DRAIN_T1=$(bench_sql -c "SELECT extract(epoch FROM max(sent_at)) FROM gateway.outbox WHERE account = '$1'")
    BENCH_DRAIN_RATE=$(awk -v n="$2" -v a="$BENCH_DRAIN_T0" -v b="$BENCH_DRAIN_T1" 'BEGIN { printf "%.0f", n / (b - a) }')
    echo "$BENCH_DRAIN_RATE"
}

# The listener's settings, for GW_EXTRA_CONF
bench_listener_conf() {
    printf "gateway.listen_address = '127.0.0.1:%s'\ngateway.listen_role = 'gw_listener'\n" "$GW_LISTEN_PORT"
}

bench_callbacks_setup() {
    bench_sql >/dev/null <<'SQL'
CREATE ROLE gw_listener NOLOGIN;
GRANT USAGE ON SCHEMA gateway TO gw_listener;
GRANT EXECUTE ON FUNCTION gateway.ingest_text(text, text, text) TO gw_listener;
CREATE FUNCTION public.bench_menu(msisdn text, session_id text, input text, service_code text)
RETURNS text LANGUAGE sql AS $$ SELECT 'CON Welcome ' || msisdn || E'\n1. Balance\n2. Buy airtime' $$;
SQL
}

bench_path_of() { printf '/%s' "${1#http://*/}"; }

# bench_callbacks ACCOUNT N PREFIX [connections threads]: N SMS queued with
# keys PREFIX1..PREFIXN and drained, then a delivery report for each posted
# (bench_post_dlrs); prints what bench_post_dlrs prints.
bench_callbacks() {
    bench_queue "$1" "$2" "$3" >/dev/null
    bench_wait_drained "$1"
    bench_wal_ready
    bench_post_dlrs "$@"
}

# bench_post_dlrs ACCOUNT N PREFIX [connections threads]: wrk posts a VasPro
# delivery report to the listener for each of the rows keyed PREFIX1..PREFIXN;
# prints "updated received callbacks/s seconds steady/s": the rate until every
# one of the N rows was updated (or 120 s), and the rate while the rows from
# the 10th to the 60th percent were updated (steady: before any wrk thread has
# sent its share and starts sending it again, late duplicates that update
# nothing, while the slowest connections finish theirs).  The times are the
# rows' own updated_at (the start of the listener's transaction that applied
# each), read once at the end: the run is watched every half second with a
# query that stops at the first row not updated, so that watching it costs
# the machine next to nothing (a count of the outbox every 50 ms, a psql
# each, kept half a core of this 2-core machine busy).  The wrk log stays in
# $GW_WORK/wrk-dlr.log.
bench_post_dlrs() {
    local acc=$1 n=$2 prefix=$3 conns=${4:-64} threads=${5:-4} dlr before t0 wrk_pid deadline received
    bench_need wrk
    dlr=$(bench_sql -c "SELECT gw_callback_url('$acc', 'dlr')")
    for _ in $(seq 1 100); do
        curl -s -o /dev/null -X POST --data '{}' "$dlr" && break
        sleep 0.1
    done
    before=$(bench_sql -c "SELECT count(*) FROM gateway.inbound")
    t0=$(date +%s.%N)
    wrk -t"$threads" -c"$conns" -d10m -s "$BENCH_DIR/callbacks_dlr.lua" "http://127.0.0.1:$GW_LISTEN_PORT" \
        -- "$n" "$threads" "$(bench_path_of "$dlr")" "$prefix" >"$GW_WORK/wrk-dlr.log" 2>&1 &
    wrk_pid=$!
    deadline=$(( $(date +%s) + 120 ))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        sleep 0.5
        [ "$(bench_sql -c "SELECT EXISTS (SELECT FROM gateway.outbox WHERE account = '$acc' AND status = 'sent'
                                           AND key_given AND idempotency_key LIKE '$prefix%')")" = f ] && break
    done
    kill -INT "$wrk_pid" 2>/dev/null || true
    wait "$wrk_pid" 2>/dev/null || true
    received=$(( $(bench_sql -c "SELECT count(*) FROM gateway.inbound") - before ))
    bench_sql -c "
SELECT count(*), $received,
       round(count(*) / extract(epoch FROM max(updated_at) - to_timestamp($t0))),
       round(extract(epoch FROM max(updated_at) - to_timestamp($t0)), 2),
       coalesce(round(($n * 6 / 10 - $n / 10) / nullif(extract(epoch FROM
                percentile_disc(0.6) WITHIN GROUP (ORDER BY updated_at)
                - percentile_disc(0.1) WITHIN GROUP (ORDER BY updated_at)), 0)), 0)
  FROM gateway.outbox
 WHERE account = '$acc' AND key_given AND idempotency_key LIKE '$prefix%'
   AND status IN ('delivered', 'undelivered') AND updated_at >= to_timestamp($t0)" | tr '|' ' '
}

# A process's CPU time in seconds (user + system), from /proc.
bench_cpu() {
    local s=0 p
    for p in "$@"; do
        [ -r "/proc/$p/stat" ] || continue
        s=$(( s + $(awk '{ print $14 + $15 }' "/proc/$p/stat") ))
    done
    awk -v t="$s" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f\n", t / hz }'
}

bench_worker_pid() {
    bench_sql -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'gateway worker' LIMIT 1"
}

# WAL segments made ahead and recycled, up to min_wal_size, as a server that
# has run a while has them: in a cluster just made, each 16 MB segment is
# created when the WAL reaches it, zero-filled by the process that commits
# (10% of the listener's time in bench/callbacks.sh).  Ends with a
# CHECKPOINT, which recycles them (and writes what the phase before dirtied).
bench_wal_ready() {
    bench_sql -c "
DO \$\$
DECLARE
    want int := (SELECT setting::bigint * 1024 * 1024 / pg_size_bytes(current_setting('wal_segment_size'))
                   FROM pg_settings WHERE name = 'min_wal_size');
    have int := (SELECT count(*) FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}\$');
BEGIN
    FOR i IN 1 .. want - have LOOP
        PERFORM pg_logical_emit_message(false, 'bench', 'segment');
        PERFORM pg_switch_wal();
    END LOOP;
END
\$\$" -c "CHECKPOINT" >/dev/null
}

# Empty the outbox and the inbound table and checkpoint, so that a phase
# does not inherit the dead rows of the one before.
bench_fresh() {
    bench_sql -c "TRUNCATE gateway.outbox, gateway.inbound" -c "CHECKPOINT" >/dev/null
}
