#!/usr/bin/env bash
# The Debian package.  dpkg-buildpackage builds postgresql-NN-gateway from
# debian/ (pg_buildext) for each PostgreSQL major whose server-dev package is
# installed; its Depends name the PostgreSQL major and, through shlibs,
# libcurl4 and libmicrohttpd12.  Then a fresh Debian 12 root
# (scripts/debroot.sh: minbase, PostgreSQL 15 and what debian/tests/control
# asks for, nothing of gateway) gets the package with dpkg -i, and the
# regression suite runs there against the installed package as autopkgtest
# runs it: debian/tests/installcheck, i.e. test/installcheck.sh and
# `pg_buildext installcheck` over every sql/*.sql.
set -uo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "FAILED: deb.sh needs root (it builds and enters a Debian root)"; exit 1; }
suite=bookworm root_major=15   # Debian 12 ships PostgreSQL 15
# what debian/tests/control asks for besides the package under test (@)
deps=$(sed -n '/^Depends:/,/^[A-Za-z-]*:/{/^Depends:/d;/^[A-Za-z-]*:/d;p}' debian/tests/control.in |
       tr ',' '\n' | sed 's/^ *//; s/ *$//' | grep -v -e '^@$' -e '^$' | sed "s/PGVERSION/$root_major/g")
# shellcheck disable=SC2206
root_pkgs=("postgresql-$root_major" $deps)
# --prepare: only build the root's image (scripts/test.sh, before this runs);
# --root DIR: make DIR this test's fresh root (test/t/demo.sh runs there)
[ "${1:-}" = --prepare ] && exec bash scripts/debroot.sh --image "$suite" "${root_pkgs[@]}"
[ "${1:-}" = --root ] && exec bash scripts/debroot.sh "$suite" "$2" "${root_pkgs[@]}"
work=$(mktemp -d /tmp/gw-deb.XXXXXX)
chmod 755 "$work"
trap 'rm -rf --one-file-system "$work"' EXIT
fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAILED: $*"; fail=1; }

echo "-- dpkg-buildpackage (a copy of this tree)"
mkdir "$work/src"
git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C "$work/src"
# one package per installed major (debian/control follows)
if (cd "$work/src" && PG_SUPPORTED_VERSIONS=installed PG_UPDATECONTROL=yes \
        DEB_BUILD_OPTIONS="parallel=2" dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
    ok "built: $(cd "$work" && ls postgresql-*-gateway_*.deb | tr '\n' ' ')"
else
    bad "dpkg-buildpackage:"; tail -30 "$work/build.log"; exit 1
fi
for m in $(cd "$work/src" && PG_SUPPORTED_VERSIONS=installed pg_buildext supported-versions); do
    deb=$(ls "$work"/postgresql-"$m"-gateway_*.deb 2>/dev/null)
    [ -n "$deb" ] || { bad "no postgresql-$m-gateway package"; continue; }
    dep=$(dpkg-deb -f "$deb" Depends)
    for d in "postgresql-$m" libcurl4 libmicrohttpd12; do
        case ", $dep" in *", $d "*|*", $d,"*|*", $d") ;; *) bad "postgresql-$m-gateway does not depend on $d: $dep" ;; esac
    done
    files=$(dpkg-deb -c "$deb")
    for f in "usr/lib/postgresql/$m/lib/gateway.so" "usr/share/postgresql/$m/extension/gateway.control" \
             $(cd sql && ls gateway--*.sql | sed "s|^|usr/share/postgresql/$m/extension/|"); do
        grep -q "\./$f\$" <<<"$files" || bad "postgresql-$m-gateway lacks /$f"
    done
    [ "$fail" = 0 ] && ok "postgresql-$m-gateway: Depends: $dep"
done
deb=$(ls "$work"/postgresql-"$root_major"-gateway_*.deb 2>/dev/null) || { bad "no postgresql-$root_major-gateway to install"; exit 1; }

echo "-- a fresh Debian 12 root"
# shellcheck disable=SC2086
if bash scripts/debroot.sh "$suite" "$work/root" "${root_pkgs[@]}" >"$work/root.log" 2>&1; then
    ok "root ready (postgresql-$root_major $(echo $deps))"
else
    bad "scripts/debroot.sh:"; tail -30 "$work/root.log"; exit 1
fi
cp "$deb" "$work/root/root/"
mkdir "$work/root/root/src"
git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C "$work/root/root/src"

echo "-- dpkg -i $(basename "$deb") and debian/tests/installcheck in the root"
export GW_DEBROOT_ENV="GW_PGPORT GW_MOCK_PORT GW_LISTEN_PORT DEBIAN_FRONTEND"
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2016
bash scripts/debroot.sh --run "$work/root" bash -c '
    set -e
    dpkg -i /root/'"$(basename "$deb")"' >/dev/null
    dpkg-query -W -f="installed: \${Package} \${Version}\n" postgresql-'"$root_major"'-gateway
    cd /root/src && debian/tests/installcheck' 2>&1 | tee "$work/installcheck.log"
rc=${PIPESTATUS[0]}
if [ "$rc" = 0 ] && grep -q "All [0-9]* tests passed" "$work/installcheck.log"; then
    ok "installcheck passed against the installed postgresql-$root_major-gateway"
else
    bad "installcheck in the root (exit $rc)"
fi
exit $fail
