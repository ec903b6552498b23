#!/usr/bin/env bash
# make fuzz: run each harness (fuzz/*.c) for N seconds, inside a PostgreSQL
# backend of a throwaway cluster of its own (single-user mode: libFuzzer
# ends the process when its time is up), with the extension built with
# AddressSanitizer, UndefinedBehaviorSanitizer and libFuzzer
# (fuzz/build/fuzz/gateway_fuzz.so; never installed).  FUZZ_JOBS (the
# machine's cores, at most 4) harnesses run at once, each lane in a copy of
# the cluster (a single-user backend holds its data directory alone).
#   bash fuzz/run.sh SECONDS [HARNESS...]
# Prints per harness the executions, coverage and "no finding" or the crash
# files (kept in fuzz/findings/); exits 1 on any finding.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

seconds=${1:-30}
shift || true
harnesses=${*:-responses inbound msisdn smsinfo template encoding}
built="$GW_ROOT/fuzz/build/fuzz/gateway_fuzz.so"
[ -f "$built" ] || { echo "no $built: run make fuzz-build"; exit 1; }
[ -f "$(pg_config --sharedir)/extension/gateway.control" ] ||
    { echo "the extension is not installed: run scripts/setup.sh (or make install) first"; exit 1; }

work=$(mktemp -d /tmp/gw-fuzz.XXXXXX)
chmod 755 "$work"
cleanup() { [ -n "${GW_KEEP:-}" ] || rm -rf "$work"; }
trap cleanup EXIT
# The backends run as postgres, which may not reach into the checkout (under
# /root, mode 700, on a fresh machine): what they load or read is copied to
# $work, the module, the preloaded stub (asan-env.sh), the seeds, the dictionaries.
mkdir -p "$work/corpus" "$work/findings" "$work/lib" "$work/seeds"
so="$work/lib/gateway_fuzz.so"
install -m 755 "$built" "$so"
GW_ASAN_DIR="$work/lib"
. fuzz/asan-env.sh
[ -d fuzz/corpus ] && cp -R fuzz/corpus/. "$work/seeds/"
cp fuzz/*.dict "$work/seeds/" 2>/dev/null || true
[ "$(id -u)" = 0 ] && chown -R postgres: "$work"

# The sanitized processes must start at all: the preloaded stub loads, and
# nothing hangs before main() (see fuzz/preload/swift_demangle.c).
if ! out=$(as_pg env "${GW_ASAN_ENV[@]}" timeout -k 5 30 postgres --version 2>&1) ||
    echo "$out" | grep -q "cannot be preloaded"; then
    echo "a postgres with the ASan runtime preloaded does not start (or hangs):"
    echo "$out"
    exit 1
fi

# One statement in a single-user backend of the fuzz cluster.  The module is
# preloaded: its settings include some that only start-up may create.
single() {
    local log=$1 sql=$2
    shift 2
    echo "$sql" | as_pg env "${GW_ASAN_ENV[@]}" timeout -k 10 "${limit:-600}" \
        postgres --single -D "$work/${data:-data}" -F -c shared_buffers=16MB -c max_stack_depth=7MB \
        -c search_path=public -c shared_preload_libraries="${preload:-$so}" \
        -c gateway.allowed_hosts=127.0.0.1 -c gateway.allow_http=on "$@" contrib_fuzz >>"$log" 2>&1
}

as_pg initdb -D "$work/data" -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 >"$work/initdb.log" 2>&1 ||
    { cat "$work/initdb.log"; exit 1; }
echo "CREATE DATABASE contrib_fuzz" | as_pg postgres --single -D "$work/data" -F postgres >"$work/setup.log" 2>&1
# The extension's objects from its install script, its functions pointed at
# the instrumented build, the accounts and the table the harnesses use.
preload=gateway single "$work/setup.log" "CREATE EXTENSION gateway"
setup=(
    "UPDATE pg_proc SET probin = '$so' WHERE probin = '\$libdir/gateway'"
    "CREATE FUNCTION gw_fuzz_run(text, text[]) RETURNS void AS '$so', 'gw_fuzz_run' LANGUAGE C STRICT"
    "CREATE FUNCTION ussd_menu(msisdn text, session text, input text, code text) RETURNS text LANGUAGE sql AS \$\$ SELECT CASE WHEN input = '' THEN 'CON Menu' ELSE 'END You chose ' || input END \$\$"
    "CREATE TABLE gw_fuzz_row (name text, phone text, amount numeric, note text)"
    "SELECT gw_account_create('fz_vaspro', 'vaspro', '{\"api_key\": \"vk-Fz/Se\\\"cret-0001\"}', 'http://127.0.0.1:9/vaspro', '{\"ussd_handler\": \"public.ussd_menu\", \"paybill\": \"4000\", \"sender_id\": \"GATEWAY\"}')"
    "SELECT gw_account_create('fz_mspace', 'mspace', '{\"username\": \"fzuser\", \"password\": \"Ms-p\u00e4ssw\u00f6rd-0002\"}', 'http://127.0.0.1:9/mspace', '{\"sender_id\": \"GATEWAY\"}')"
    "SELECT gw_account_create('fz_umeskia', 'umeskia', '{\"api_key\": \"UM-key-0003-secret\", \"email\": \"fz@example.com\"}', 'http://127.0.0.1:9/umeskia', '{\"account_id\": \"UMPAY-0003\", \"sender_id\": \"GATEWAY\"}')"
    "SELECT gw_account_create('fz_vtpass', 'vtpass', '{\"username\": \"fz@example.com\", \"password\": \"vt pass 0004\"}', 'http://127.0.0.1:9/vtpass', '{\"sender_id\": \"GATEWAY\"}')"
    "SELECT gw_account_create('fz_nenasasa', 'nenasasa', '{\"client_id\": \"nn-client-0005\", \"username\": \"fzuser5\", \"password\": \"nn&pass=0005\"}', 'http://127.0.0.1:9/nenasasa', '{\"chid\": \"7\", \"sender_id\": \"GATEWAY\"}')"
)
for sql in "${setup[@]}"; do
    single "$work/setup.log" "$sql"
done
if grep -qE "ERROR|FATAL|AddressSanitizer|runtime error" "$work/setup.log"; then
    echo "setting up the fuzz cluster failed:"
    cat "$work/setup.log"
    exit 1
fi

# One harness in data directory $data: its line of the report in $work/$h.report.
fuzz_one() {
    local h=$1 log="$work/$1.log" seeds="$work/seeds/$1" args runs cov corp crashes a
    mkdir -p "$work/corpus/$h"
    args="'-max_total_time=$seconds', '-print_final_stats=1', '-timeout=0', '-rss_limit_mb=4096', '-max_len=8192', '-artifact_prefix=$work/findings/$h-', '$work/corpus/$h'"
    # FUZZ_ARGS: more libFuzzer flags, e.g. "-print_coverage=1 -seed=1"
    for a in ${FUZZ_ARGS:-}; do args="'$a', $args"; done
    [ -d "$seeds" ] && args="$args, '$seeds'"
    [ -f "$work/seeds/$h.dict" ] && args="'-dict=$work/seeds/$h.dict', $args"
    # a hang shows as the statement timeout (an ERROR no harness may raise)
    limit=$((seconds + 300)) single "$log" "SELECT gw_fuzz_run('$h', ARRAY[$args])" \
        -c statement_timeout=$(((seconds + 120) * 1000))
    runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 in \2 s/p' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
    corp=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1)
    crashes=$(ls "$work/findings/$h-"* 2>/dev/null || true)
    if [ -n "$crashes" ] || grep -qE "ERROR: AddressSanitizer|runtime error:|gw-fuzz: |deadly signal" "$log" || [ -z "$runs" ]; then
        mkdir -p "$GW_ROOT/fuzz/findings"
        cp "$log" "$GW_ROOT/fuzz/findings/$h.log"
        for c in $crashes; do cp "$c" "$GW_ROOT/fuzz/findings/"; done
        {
            echo "$h: FINDING after ${runs:-?} runs, $cov; log fuzz/findings/$h.log"
            grep -E "ERROR: AddressSanitizer|runtime error:|gw-fuzz: |SUMMARY" "$log" | head -5 | sed 's/^/    /'
            for c in $crashes; do echo "    crash file: fuzz/findings/$(basename "$c")"; done
        } >"$work/$h.report"
    else
        echo "$h: ${runs} runs, $cov, $corp: no finding" >"$work/$h.report"
    fi
}

# The harnesses dealt round the lanes; each lane runs its share in turn.
jobs=${FUZZ_JOBS:-$(nproc)}
[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1
[ "$jobs" -le 4 ] || jobs=4
read -ra hs <<<"$harnesses"
# every copy made before any backend starts (a running one's directory
# would copy half-written, its postmaster.pid with it)
for ((lane = 1; lane < jobs && lane < ${#hs[@]}; lane++)); do
    as_pg cp -a "$work/data" "$work/data$lane" || { echo "could not copy the fuzz cluster"; exit 1; }
done
pids=()
for ((lane = 0; lane < jobs && lane < ${#hs[@]}; lane++)); do
    (
        data=data$lane
        [ "$lane" -eq 0 ] && data=data
        for ((i = lane; i < ${#hs[@]}; i += jobs)); do fuzz_one "${hs[$i]}"; done
    ) &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
found=0
for h in "${hs[@]}"; do
    if [ -s "$work/$h.report" ]; then cat "$work/$h.report"; else echo "$h: FINDING: no report"; found=1; fi
    grep -q "FINDING" "$work/$h.report" 2>/dev/null && found=1
done
[ "$found" -eq 0 ]
