#!/usr/bin/env bash
# The PGXN distribution.  META.json validates against PGXN's meta spec 1.0
# (test/pgxn_meta.py) with the version of gateway.control, and the checker
# rejects copies that break the spec; `make dist` archives the committed HEAD
# as gateway-VERSION.zip, one top directory holding every committed file;
# unpacked elsewhere it builds with PGXS and `make install` puts the module,
# the control file and every SQL script where the PostgreSQL of GW_PG_BINDIR
# looks for them (under a DESTDIR: the installed build is left alone).
set -uo pipefail
cd "$(dirname "$0")/../.."
pgc=${GW_PG_BINDIR:-/usr/lib/postgresql/${GW_PG_MAJOR:-15}/bin}/pg_config
ver=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" gateway.control)
tmp=$(mktemp -d /tmp/gw-dist.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAILED: $*"; fail=1; }

echo "-- META.json against PGXN's meta spec, version $ver"
if python3 test/pgxn_meta.py --dist . META.json; then ok "META.json is valid, version $ver"; else bad "META.json"; fi
# each of these breaks one rule of the spec (or of this distribution)
python3 - "$tmp" <<'PY'
import copy, json, sys
m = json.load(open('META.json'))
cases = {
    'no-license': lambda x: x.pop('license'),
    'no-provides': lambda x: x.pop('provides'),
    'bad-license': lambda x: x.update(license='PostgreSQL License'),
    'bad-version': lambda x: x.update(version='0.3'),
    'other-version': lambda x: x.update(version='9.9.9'),
    'provides-version': lambda x: x['provides']['gateway'].update(version='9.9.9'),
    'provides-missing-file': lambda x: x['provides']['gateway'].update(file='sql/nothing.sql'),
    'provides-no-file': lambda x: x['provides']['gateway'].pop('file'),
    'bad-name': lambda x: x.update(name='gate way'),
    'unknown-key': lambda x: x.update(url='https://example.com/'),
    'bad-prereq': lambda x: x['prereqs']['runtime']['requires'].update(PostgreSQL='15+'),
    'bad-meta-spec': lambda x: x['meta-spec'].update(version='2.0.0'),
    'bad-homepage': lambda x: x['resources'].update(homepage='not a uri'),
}
for name, change in cases.items():
    b = copy.deepcopy(m)
    change(b)
    json.dump(b, open('%s/bad-%s.json' % (sys.argv[1], name), 'w'))
PY
for f in "$tmp"/bad-*.json; do
    if out=$(python3 test/pgxn_meta.py --dist . "$f"); then
        bad "the checker accepted $(basename "$f")"
    else
        n=$(basename "$f" .json); echo "   rejected ${n#bad-}: $out" | head -1
    fi
done

echo "-- make dist"
rm -f "gateway-$ver.zip"
if make -s PG_CONFIG="$pgc" dist && [ -s "gateway-$ver.zip" ]; then
    mv "gateway-$ver.zip" "$tmp/"
    ok "make dist made gateway-$ver.zip"
else
    bad "make dist"
    exit 1
fi
# unzip is not on a minimal Debian: python3's zipfile
python3 - "$tmp/gateway-$ver.zip" "$tmp/unpacked" <<'PY' >"$tmp/zip.list"
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
z.extractall(sys.argv[2])
for i in z.infolist():
    if not i.is_dir():
        print(i.filename)
        # keep the executable bits (scripts) that extractall drops
        import os
        mode = (i.external_attr >> 16) & 0o777
        if mode:
            os.chmod(os.path.join(sys.argv[2], i.filename), mode)
PY
top=$(sed 's|/.*||' "$tmp/zip.list" | sort -u)
[ "$top" = "gateway-$ver" ] && ok "one top directory, gateway-$ver" || bad "top directories: $top"
if diff <(git ls-tree -r --name-only HEAD | sort) <(sed "s|^gateway-$ver/||" "$tmp/zip.list" | sort) >"$tmp/diff"; then
    ok "the zip holds every committed file ($(wc -l <"$tmp/zip.list"))"
else
    bad "the zip differs from HEAD:"; head -20 "$tmp/diff"
fi
src=$tmp/unpacked/gateway-$ver
[ -f "$src/META.json" ] && python3 test/pgxn_meta.py --dist "$src" "$src/META.json" && ok "META.json in the zip is valid" || bad "META.json in the zip"

echo "-- make && make install from the unpacked zip"
if make -s -C "$src" -j2 PG_CONFIG="$pgc" >"$tmp/build.log" 2>&1 &&
   make -s -C "$src" PG_CONFIG="$pgc" install DESTDIR="$tmp/inst" >>"$tmp/build.log" 2>&1; then
    ok "built and installed with PGXS"
else
    bad "make or make install:"; tail -20 "$tmp/build.log"
fi
lib=$tmp/inst$("$pgc" --pkglibdir)
ext=$tmp/inst$("$pgc" --sharedir)/extension
[ -x "$lib/gateway.so" ] && ok "gateway.so in $("$pgc" --pkglibdir)" || bad "no gateway.so in $lib"
if [ -x "$lib/gateway.so" ] && ldd "$lib/gateway.so" | grep -q "not found"; then bad "gateway.so has unresolved libraries"; fi
cmp -s gateway.control "$ext/gateway.control" && ok "gateway.control installed" || bad "gateway.control not installed"
for f in sql/gateway--*.sql; do
    cmp -s "$f" "$ext/$(basename "$f")" || bad "$(basename "$f") not installed"
done
[ "$fail" = 0 ] && ok "all $(ls sql/gateway--*.sql | wc -l) SQL scripts installed"
exit $fail
