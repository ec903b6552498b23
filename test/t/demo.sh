#!/usr/bin/env bash
# scripts/demo.sh on a fresh Debian 12 root (the root test/t/deb.sh uses:
# minbase with PostgreSQL 15, gcc and make, from scripts/debroot.sh's cache)
# installs what it lacks with apt-get, runs to its end, and leaves no clang
# and no llvm installed: the fuzzing toolchain is not the demo's.
set -uo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "FAILED: demo.sh needs root (it builds and enters a Debian root)"; exit 1; }
work=$(mktemp -d /tmp/gw-demo.XXXXXX)
chmod 755 "$work"
trap 'rm -rf --one-file-system "$work"' EXIT
fail=0

# test/t/deb.sh's root: the same cached image
bash test/t/deb.sh --root "$work/root" >"$work/root.log" 2>&1 ||
    { echo "FAILED: scripts/debroot.sh:"; tail -30 "$work/root.log"; exit 1; }
mkdir "$work/root/root/src"
git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C "$work/root/root/src"

export GW_DEBROOT_ENV="GW_PGPORT GW_MOCK_PORT GW_LISTEN_PORT"
bash scripts/debroot.sh --run "$work/root" bash -c '
    cd /root/src && bash scripts/demo.sh >/tmp/demo.log 2>&1
    rc=$?
    grep -E "^(==|ERROR)" /tmp/demo.log
    [ $rc = 0 ] || { tail -30 /tmp/demo.log; exit $rc; }
    # the session reached its end: the queued message was sent
    grep -q "^== done" /tmp/demo.log && grep -qE "^ *[0-9]+ \| sent " /tmp/demo.log' >"$work/demo.out" 2>&1
rc=$?
cat "$work/demo.out"
if [ "$rc" = 0 ]; then echo "ok: scripts/demo.sh ran to its end on a fresh root"; else echo "FAILED: scripts/demo.sh (exit $rc)"; fail=1; fi
toolchain=$(bash scripts/debroot.sh --run "$work/root" dpkg-query -W -f='${db:Status-Status} ${Package}\n' 'clang*' 'llvm*' 'libclang-rt*' 2>/dev/null |
            awk '$1 == "installed" { print $2 }')
if [ -z "$toolchain" ]; then echo "ok: no clang or llvm installed"; else echo "FAILED: the demo installed $(echo $toolchain)"; fail=1; fi
exit $fail
