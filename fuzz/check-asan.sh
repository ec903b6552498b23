#!/usr/bin/env bash
# make check-asan: the whole test suite (scripts/test.sh: pg_regress and
# test/t) against
# the extension built with AddressSanitizer and UndefinedBehaviorSanitizer
# (fuzz/build/asan/gateway.so); every process of the suite has the ASan
# runtime preloaded, so that the server has it however it is (re)started.
# It installs that build over the system's gateway.so, so it must hold
# /tmp/gw-test.lock (the make target takes it), and puts the normal build
# back whatever happens.  Fails on a failed test or any sanitizer report.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
so="$GW_ROOT/fuzz/build/asan/gateway.so"
[ -f "$so" ] || { echo "no $so: run make asan-build"; exit 1; }
reports=$(mktemp -d /tmp/gw-asan.XXXXXX)
chmod 777 "$reports"
GW_ASAN_LOG="$reports/report"
GW_ASAN_DIR="$reports"   # the server runs as postgres: the stub where it can read it
. fuzz/asan-env.sh

restore() {
    echo "== putting the normal build back"
    make -s install >/dev/null
}
trap restore EXIT

# scripts/setup.sh installs the sanitizer build last (GW_INSTALL_MODULE)
env "${GW_ASAN_ENV[@]}" GW_INSTALL_MODULE="$so" GW_SKIP_T="fuzz.sh" \
    bash scripts/test.sh 2>&1 | tee "$reports/test.log"
last=$(tail -1 "$reports/test.log")

found=$(grep -lE "ERROR: AddressSanitizer|runtime error:" "$reports"/report.* 2>/dev/null || true)
if [ -n "$found" ]; then
    mkdir -p fuzz/findings
    for f in $found; do cp "$f" fuzz/findings/; done
    echo "== sanitizer reports (copies in fuzz/findings/):"
    for f in $found; do grep -m3 -E "ERROR: AddressSanitizer|runtime error:|SUMMARY" "$f"; done
fi
echo "check-asan: $last; $(echo "$found" | grep -c . || true) sanitizer reports"
rm -rf "$reports"
[ -z "$found" ] && echo "$last" | grep -q ' 0 failed'
