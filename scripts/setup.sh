#!/usr/bin/env bash
# Install what gateway needs on a fresh Debian 12 machine, then build and
# install the extension and the mock provider.  Safe to run again.
#
#   scripts/setup.sh          the build, the runtime and the test suite's
#                             dependencies (scripts/test.sh, bench/)
#   scripts/setup.sh --demo   the build and the runtime only (scripts/demo.sh):
#                             no clang or llvm, see below
#   scripts/setup.sh --fuzz   only the fuzzing toolchain (make fuzz, make
#                             check-asan); builds nothing
#   scripts/setup.sh --packages  print the test suite's packages and stop
#                             (scripts/debian-root.sh builds its root with them)
# GW_PG_MAJOR (15) names the PostgreSQL major to install, build for and test.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-test}
mode=${mode#--}
case $mode in test|demo|fuzz|packages) ;; *) echo "usage: scripts/setup.sh [--demo|--fuzz|--packages]" >&2; exit 2 ;; esac
v=${GW_PG_MAJOR:-15}

# what runs gateway and builds it (the server headers: see below)
runtime=(postgresql-$v postgresql-client-$v libcurl4-openssl-dev libmicrohttpd-dev
         make gcc libc6-dev curl ca-certificates)
# the test suite: pg_cron, openssl (the fault matrix's TLS server), python3
# (reading results); build-essential, dpkg-dev, debhelper,
# postgresql-server-dev-all and mmdebstrap build the Debian package and the
# root it is tested in (test/t/deb.sh); prometheus gives promtool (checking
# the listener's /metrics), chromium renders the status page (test/t/monitor.sh)
tests=(postgresql-server-dev-$v postgresql-$v-cron openssl python3
       build-essential dpkg-dev debhelper postgresql-server-dev-all mmdebstrap
       prometheus chromium)
# make fuzz and make check-asan: clang with its sanitizer runtimes
fuzz=(clang-14 libclang-rt-14-dev llvm-14)

case $mode in
    test) need=("${runtime[@]}" "${tests[@]}") ;;
    demo) need=("${runtime[@]}" python3) ;;
    fuzz) need=("${fuzz[@]}") ;;
    packages) echo "${runtime[*]} ${tests[*]}"; exit 0 ;;
esac
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
for p in "${need[@]}"; do
    installed "$p" || missing+=("$p")
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
[ "$mode" = fuzz ] && exit 0

# The PostgreSQL to build for: GW_PG_BINDIR, or the major in GW_PG_MAJOR (15).
GW_PG_BINDIR=${GW_PG_BINDIR:-/usr/lib/postgresql/$v/bin}
export PATH="$GW_PG_BINDIR:$PATH"
makeargs=(PG_CONFIG="$GW_PG_BINDIR/pg_config")
# The demo: Debian's postgresql-server-dev-NN depends on clang and llvm (PGXS
# compiles LLVM bitcode for JIT inlining beside the module).  Unless it is
# installed already, the demo builds against its headers unpacked into .run/
# (nothing installed) and without the bitcode, which only JIT uses.
if [ "$mode" = demo ] && ! installed "postgresql-server-dev-$v"; then
    hdr=$PWD/.run/pg-headers-$v
    if [ ! -d "$hdr/usr/include/postgresql/$v/server" ]; then
        echo "== unpacking postgresql-server-dev-$v's headers into $hdr (not installing it: it pulls in clang and llvm)"
        dl=$(mktemp -d)
        chmod 777 "$dl"   # apt downloads as _apt
        ver=$(dpkg-query -W -f='${Version}' "postgresql-$v")
        # (apt's lists may be empty on a fresh machine with nothing missing)
        apt-cache show "postgresql-server-dev-$v" >/dev/null 2>&1 || apt-get update -qq
        (cd "$dl" && { apt-get download -qq "postgresql-server-dev-$v=$ver" 2>/dev/null ||
                       apt-get download -qq "postgresql-server-dev-$v"; })
        rm -rf "$hdr" && mkdir -p "$hdr"
        dpkg-deb -x "$dl"/postgresql-server-dev-"$v"_*.deb "$hdr"
        rm -rf "$dl"
    fi
    makeargs+=(includedir_server="$hdr/usr/include/postgresql/$v/server" with_llvm=no)
fi
echo "== building gateway"
make -s "${makeargs[@]}"
make -s "${makeargs[@]}" install >/dev/null
# make check-asan: the sanitizer build in place of the one just installed
if [ -n "${GW_INSTALL_MODULE:-}" ]; then
    install -m 755 "$GW_INSTALL_MODULE" "$("$GW_PG_BINDIR/pg_config" --pkglibdir)/gateway.so"
fi
echo "== building the mock provider"
make -s -C test/mock
