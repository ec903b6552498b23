#!/usr/bin/env bash
# The fault matrix: every failure mode of docs/reliability.md's "Fault matrix" table,
# driven against the mock provider (and a refusing port, a hanging port and a
# TLS server whose certificate does not verify) for a synchronous gw_call, a
# queued SMS and a queued STK push; each row's outcome is compared with the
# table as written.  Prints one line per mode, then "faults: N modes, N failed".
# Run by scripts/test.sh against its cluster (GW_WORK, GW_MOCK_PORT, PGHOST...).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$GW_WORK
# shellcheck source=../../scripts/lib.sh
. "$root/scripts/lib.sh"       # gw_free_port, gw_port_free
GW_WORK=$work
dir="$GW_WORK/faults"
mkdir -p "$dir"
db=contrib_regression
q() { psql -X -q -t -A -d "$db" -v ON_ERROR_STOP=1 "$@"; }

tls_pid=""
cleanup() {
    if [ -n "$tls_pid" ]; then
        kill "$tls_pid" 2>/dev/null
        wait "$tls_pid" 2>/dev/null
    fi
    q -c "ALTER SYSTEM RESET gateway.connect_timeout" -c "ALTER SYSTEM RESET gateway.request_timeout" \
      -c "SELECT pg_reload_conf()" >/dev/null
    curl -s -X POST "http://127.0.0.1:$GW_MOCK_PORT/_mock/reset" >/dev/null
}
trap cleanup EXIT

# A TLS server with a self-signed certificate, made now (nobody signed it).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=127.0.0.1 -keyout "$dir/key.pem" -out "$dir/cert.pem" >"$dir/openssl.log" 2>&1 ||
    { cat "$dir/openssl.log"; echo "faults: could not make a certificate"; exit 1; }
tls_port=$(gw_free_port $((GW_MOCK_PORT + 200)))
openssl s_server -quiet -www -accept "127.0.0.1:$tls_port" -cert "$dir/cert.pem" -key "$dir/key.pem" \
    </dev/null >"$dir/s_server.log" 2>&1 &
tls_pid=$!
for _ in $(seq 1 50); do gw_port_free "$tls_port" || break; sleep 0.1; done
gw_port_free "$tls_port" && { cat "$dir/s_server.log"; echo "faults: the TLS server did not start"; exit 1; }
# A port nobody listens on.
refused_port=$(gw_free_port $((GW_MOCK_PORT + 300)))

# Short timeouts for the worker (and, through PGOPTIONS, the synchronous calls).
q -c "ALTER SYSTEM SET gateway.connect_timeout = '500ms'" \
  -c "ALTER SYSTEM SET gateway.request_timeout = '1500ms'" -c "SELECT pg_reload_conf()" >/dev/null ||
    { echo "faults: could not set the timeouts"; exit 1; }

GW_ROOT="$root" GW_TLS_PORT="$tls_port" GW_REFUSED_PORT="$refused_port" GW_FAULTS_DB="$db" \
    python3 "$here/faults.py"
