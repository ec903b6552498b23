#!/usr/bin/env bash
# Install what gateway needs on a fresh Debian 12 machine, then build and
# install the extension and the mock provider.  Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# The PostgreSQL major to build for and test on (GW_PG_MAJOR, 15); pg_cron for the suite.
major=${GW_PG_MAJOR:-15}
# openssl and python3 for the tests (the fault matrix's TLS server, reading results)
need=(postgresql-$major postgresql-client-$major postgresql-server-dev-$major postgresql-$major-cron
      libcurl4-openssl-dev libmicrohttpd-dev make gcc curl ca-certificates
      openssl python3)
# make fuzz, make check-asan (test/t/fuzz.sh): Debian 12's clang, with its
# PostgreSQL 15 (fuzzing tests our parsers, not the server); not wanted
# where fuzz.sh is left out
case "$major: ${GW_SKIP_T:-} " in
*" fuzz.sh "* | 1[6-9]:*) ;;
*) need+=(clang-14 libclang-rt-14-dev llvm-14) ;;
esac
# --packages: print the list and stop (scripts/debian-root.sh builds its root with it)
if [ "${1:-}" = --packages ]; then
    echo "${need[*]}"
    exit 0
fi
missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # The server package would create and start a cluster of its own: we don't want it.
    mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/gateway-no-main.conf
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The PostgreSQL to build for: GW_PG_BINDIR, or the major in GW_PG_MAJOR (15).
GW_PG_BINDIR=${GW_PG_BINDIR:-/usr/lib/postgresql/$major/bin}
export PATH="$GW_PG_BINDIR:$PATH"
echo "== building gateway"
make -s PG_CONFIG="$GW_PG_BINDIR/pg_config"
make -s PG_CONFIG="$GW_PG_BINDIR/pg_config" install >/dev/null
# make check-asan: the sanitizer build in place of the one just installed
if [ -n "${GW_INSTALL_MODULE:-}" ]; then
    install -m 755 "$GW_INSTALL_MODULE" "$("$GW_PG_BINDIR/pg_config" --pkglibdir)/gateway.so"
fi
echo "== building the mock provider"
make -s -C test/mock
