#!/usr/bin/env bash
# The regression suite (sql/*.sql) against the installed extension, as
# Debian's autopkgtest runs it (debian/tests/installcheck): builds and starts
# the mock provider, then `pg_buildext installcheck`, which makes a throwaway
# cluster with pg_virtualenv for each installed postgresql-NN-gateway, with
# the settings of test/regress.conf, and runs `make installcheck` (pg_regress
# over every sql/*.sql but the extension scripts) against it.  Run from a
# source tree as root, with postgresql-NN-gateway, postgresql-NN-cron, make,
# gcc, libmicrohttpd-dev and curl installed.  Ports: GW_PGPORT, GW_MOCK_PORT,
# GW_LISTEN_PORT, or the first free ones from 54329, 18089, 18787.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v pg_buildext >/dev/null || { echo "installcheck.sh: pg_buildext (postgresql-common) is missing"; exit 1; }

free_port() {
    local p=$1
    while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
    echo "$p"
}

make -s -C test/mock
GW_MOCK_PORT=$(free_port "${GW_MOCK_PORT:-18089}")
GW_LISTEN_PORT=$(free_port "${GW_LISTEN_PORT:-18787}")
[ "$GW_LISTEN_PORT" = "$GW_MOCK_PORT" ] && GW_LISTEN_PORT=$(free_port $((GW_MOCK_PORT + 1)))
export GW_MOCK_PORT
mocklog=$(mktemp /tmp/gw-mock.XXXXXX)
test/mock/gw-mock --port "$GW_MOCK_PORT" >"$mocklog" 2>&1 &
mock_pid=$!
trap 'kill $mock_pid 2>/dev/null; wait $mock_pid 2>/dev/null; rm -f "$mocklog"' EXIT
for _ in $(seq 1 50); do
    curl -sf "http://127.0.0.1:$GW_MOCK_PORT/_mock/health" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -sf "http://127.0.0.1:$GW_MOCK_PORT/_mock/health" >/dev/null || { echo "the mock did not start:"; cat "$mocklog"; exit 1; }

# pg_virtualenv takes the cluster's port from PGPORT; its socket directory
# is /var/run/postgresql, which a booted Debian machine has.
PGPORT=$(free_port "${GW_PGPORT:-54329}")
export PGPORT
[ -d /var/run/postgresql ] || install -d -o postgres -g postgres -m 2775 /var/run/postgresql

# test/regress.conf as -o name=value (pg_buildext splits its options on
# spaces: the values have none)
opts=()
while IFS= read -r line; do
    case $line in '#'*|'') continue ;; esac
    name=$(echo "${line%%=*}" | tr -d ' ')
    value=$(echo "${line#*=}" | sed "s/^ *//; s/ *$//; s/^'\(.*\)'$/\1/; s/@LISTEN_PORT@/$GW_LISTEN_PORT/")
    case $value in *' '*) echo "installcheck.sh: test/regress.conf: $name has a space in its value"; exit 1 ;; esac
    opts+=(-o "$name=$value")
done <test/regress.conf
echo "== pg_buildext installcheck (mock on $GW_MOCK_PORT, cluster on $PGPORT, listener on $GW_LISTEN_PORT)"
pg_buildext -i --locale=C.UTF-8 "${opts[@]}" installcheck
