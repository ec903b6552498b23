# Shared by scripts/demo.sh, scripts/test.sh and bench/: a throwaway
# PostgreSQL cluster and the mock provider, both on 127.0.0.1, and a
# tear-down that leaves no process behind.  Source it; don't run it.

GW_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The PostgreSQL to run: GW_PG_BINDIR, or the major in GW_PG_MAJOR (15).
export GW_PG_MAJOR=${GW_PG_MAJOR:-15}
export GW_PG_BINDIR=${GW_PG_BINDIR:-/usr/lib/postgresql/$GW_PG_MAJOR/bin}
export PATH="$GW_PG_BINDIR:$PATH"
export GW_PGPORT=${GW_PGPORT:-54329}
export GW_MOCK_PORT=${GW_MOCK_PORT:-18089}
GW_WORK=""
GW_MOCK_PID=""

# Run a command as the postgres user (PostgreSQL refuses to run as root).
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Whether nothing listens on 127.0.0.1:$1.
gw_port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The first free port from $1 on: another run on this machine (a second
# checkout, CI beside a developer) must never talk to our mock or cluster.
gw_free_port() {
    local p=$1
    while ! gw_port_free "$p"; do p=$((p + 1)); done
    echo "$p"
}

gw_start() {
    GW_MOCK_PORT=$(gw_free_port "$GW_MOCK_PORT")
    GW_PGPORT=$(gw_free_port "$GW_PGPORT")
    export GW_MOCK_PORT GW_PGPORT
    GW_WORK=$(mktemp -d /tmp/gateway.XXXXXX)
    export GW_WORK
    chmod 755 "$GW_WORK"
    [ "$(id -u)" = 0 ] && chown postgres: "$GW_WORK"
    export PGHOST="$GW_WORK" PGPORT="$GW_PGPORT" PGUSER=postgres PGDATABASE=postgres
    trap gw_stop EXIT
    trap 'exit 130' INT TERM

    echo "== starting the mock provider on 127.0.0.1:$GW_MOCK_PORT"
    "$GW_ROOT/test/mock/gw-mock" --port "$GW_MOCK_PORT" ${GW_MOCK_ARGS:-} >"$GW_WORK/mock.log" 2>&1 &
    GW_MOCK_PID=$!
    for _ in $(seq 1 50); do
        curl -sf "http://127.0.0.1:$GW_MOCK_PORT/_mock/health" >/dev/null 2>&1 && break
        sleep 0.1
    done
    curl -sf "http://127.0.0.1:$GW_MOCK_PORT/_mock/health" >/dev/null ||
        { echo "the mock provider did not start:"; cat "$GW_WORK/mock.log"; return 1; }

    echo "== starting PostgreSQL in $GW_WORK/data on port $GW_PGPORT"
    as_pg initdb -D "$GW_WORK/data" -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 >"$GW_WORK/initdb.log" 2>&1 ||
        { cat "$GW_WORK/initdb.log"; return 1; }
    cat >>"$GW_WORK/data/postgresql.conf" <<CONF
listen_addresses = ''
port = $GW_PGPORT
unix_socket_directories = '$GW_WORK'
shared_preload_libraries = 'gateway'
logging_collector = on
log_directory = 'log'
log_filename = 'postgresql.log'
log_min_messages = info
fsync = off
gateway.database = '${GW_DB:-postgres}'
# the mock provider: plain http on 127.0.0.1, allowed here only (beside
# the providers' own hosts, the default)
gateway.allowed_hosts = '127.0.0.1, api.vaspro.co.ke, api.umeskiasoftwares.com, vtpass.com, nenasasa.com'
gateway.allow_http = on
CONF
    # settings a caller adds (the test suite: pg_cron, quick retries)
    if [ -n "${GW_EXTRA_CONF:-}" ]; then
        printf '%s\n' "$GW_EXTRA_CONF" >>"$GW_WORK/data/postgresql.conf"
    fi
    as_pg pg_ctl -D "$GW_WORK/data" -l "$GW_WORK/server.log" -w -t 60 start >/dev/null ||
        { cat "$GW_WORK/server.log"; return 1; }
}

gw_stop() {
    local rc=$?
    if [ -n "$GW_WORK" ] && [ -f "$GW_WORK/data/postmaster.pid" ]; then
        as_pg pg_ctl -D "$GW_WORK/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
            as_pg pg_ctl -D "$GW_WORK/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    if [ -n "$GW_MOCK_PID" ]; then
        kill "$GW_MOCK_PID" 2>/dev/null || true
        wait "$GW_MOCK_PID" 2>/dev/null || true
    fi
    if [ -n "$GW_WORK" ] && [ -z "${GW_KEEP:-}" ]; then
        rm -rf "$GW_WORK"
    fi
    GW_WORK=""
    GW_MOCK_PID=""
    return $rc
}
