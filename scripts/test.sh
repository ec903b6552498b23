#!/usr/bin/env bash
# The whole test suite: set-up on a fresh machine, a throwaway cluster and
# the mock provider, pg_regress over sql/ into expected/, then tear-down even
# on failure; then the same suite on each PostgreSQL major in GW_ALSO_PG (17)
# in a Debian root that ships it (scripts/debian-root.sh; GW_ALSO_PG= for
# none).  Last line: "N passed, N failed", all runs added up.  GW_KEEP=1
# keeps the cluster directory (its path is printed) for a look after a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
passed=0
failed=0
# The suite on the other majors, its counts added to ours.
also_pg() {
    local major last log
    for major in ${GW_ALSO_PG-17}; do
        echo "== PostgreSQL $major in a Debian root (scripts/debian-root.sh $major)"
        log=$(mktemp)
        bash scripts/debian-root.sh "$major" 2>&1 | tee "$log"
        last=$(tail -n 1 "$log")
        rm -f "$log"
        if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
            passed=$((passed + BASH_REMATCH[1]))
            failed=$((failed + BASH_REMATCH[2]))
        else
            failed=$((failed + 1))
        fi
    done
}
bash scripts/setup.sh || { failed=1; also_pg; echo "$passed passed, $failed failed"; exit 1; }
# Whether test/t script $1 runs: GW_T names the only ones to run (GW_T=none:
# none), GW_SKIP_T those to leave out, e.g. GW_SKIP_T="crash.sh faults.sh".
runs_t() {
    case " ${GW_SKIP_T:-} " in *" $(basename "$1") "*) return 1 ;; esac
    [ -z "${GW_T:-}" ] && return 0
    case " $GW_T " in *" $(basename "$1") "*) return 0 ;; esac
    return 1
}
# The Debian roots (the other majors', the package test's) are built, once,
# a few minutes of downloads and unpacking, while this suite runs; their
# users wait for them (a lock).
prepare() {
    local log=/tmp/gw-prepare-$1.$$.log
    echo "== made ready beside the suite: ${*:2} (log: $log)"
    shift
    "$@" >"$log" 2>&1 &
}
for major in ${GW_ALSO_PG-17}; do
    prepare "pg$major" bash scripts/debian-root.sh --image "$major"
done
runs_t deb.sh && prepare deb bash test/t/deb.sh --prepare
. scripts/lib.sh

finish() {
    trap - EXIT
    gw_stop
    also_pg
    wait    # what prepare started and nobody waited for: nothing outlives the run
    rm -f /tmp/gw-prepare-*."$$".log
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}
# The regression database gets the outbox worker, the callback listener
# (its role is made by test/t/listener.sh) and pg_cron: test/regress.conf.
export GW_DB=contrib_regression
GW_LISTEN_PORT=$(gw_free_port "${GW_LISTEN_PORT:-18787}")
export GW_LISTEN_PORT
GW_EXTRA_CONF=$(sed "s/@LISTEN_PORT@/$GW_LISTEN_PORT/" test/regress.conf)
export GW_EXTRA_CONF
gw_start || { failed=$((failed + 1)); finish; }
trap finish EXIT

echo "== pg_regress"
# All of sql/*.sql but the install scripts, or the files named in GW_TESTS
# ("00_setup vaspro"); results go to the work directory, not the checkout.
if [ -n "${GW_TESTS:-}" ]; then
    tests=$GW_TESTS
else
    tests=$(ls sql/*.sql | grep -v '/gateway--' | sed 's|sql/||; s|\.sql$||' | tr '\n' ' ')
fi
pgxs=$(dirname "$("$GW_PG_BINDIR/pg_config" --pgxs)")
outdir="$GW_WORK/regress"
mkdir -p "$outdir"
# shellcheck disable=SC2086
"$pgxs/../test/regress/pg_regress" --inputdir=. --outputdir="$outdir" \
    --bindir="$GW_PG_BINDIR" --dbname=contrib_regression \
    --host="$PGHOST" --port="$PGPORT" --user=postgres $tests 2>&1 | tee "$GW_WORK/regress.log"
# pg_regress 15 says "test name ... ok", 16 and later "ok 1 - name" (TAP)
passed=$((passed + $(grep -cE '\.\.\. ok|^ok [0-9]+ ' "$GW_WORK/regress.log" || true)))
failed=$((failed + $(grep -cE '\.\.\. FAILED|^not ok [0-9]+ ' "$GW_WORK/regress.log" || true)))
# pg_regress that could not run at all counts as a failure
grep -qE '\.\.\. (ok|FAILED)|^(not )?ok [0-9]+ ' "$GW_WORK/regress.log" || failed=$((failed + 1))
if [ -s "$outdir/regression.diffs" ]; then
    cp "$outdir/regression.diffs" regression.diffs
    echo "== regression.diffs (also in ./regression.diffs; actual output in $outdir/results when GW_KEEP=1)"
    cat regression.diffs
else
    rm -f regression.diffs
fi

for t in test/t/*.sh; do
    [ -e "$t" ] || continue
    runs_t "$t" || continue
    echo "== $t"
    started=$SECONDS
    if bash "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $t"; fi
    echo "== $t took $((SECONDS - started)) s"
done
finish
