#!/usr/bin/env bash
# The test suite on another PostgreSQL major, in a Debian root that ships it:
#
#   bash scripts/debian-root.sh [MAJOR]      17 (Debian 13, trixie) or 18 (forky)
#   bash scripts/debian-root.sh --image [MAJOR]   only build the root's image
#
# Builds the root once with mmdebstrap from Debian's archive (the host's apt
# sources with the suite renamed, and the host's apt settings) holding what a
# Debian machine has plus everything scripts/setup.sh installs for that major,
# and keeps it as /var/cache/gateway/SUITE-pgMAJOR.tar.zst: later runs unpack
# it in seconds (rebuilt when the package list changes or after 7 days).  Then
# copies this checkout (its tracked and untracked files, not its build
# products) to /root/project in a fresh copy of the root and runs
# scripts/test.sh there with GW_PG_MAJOR=MAJOR, chrooted in a private mount
# namespace with /proc, /sys and /dev bound and a network namespace of its
# own (its loopback only: no clash with another run's ports); the cluster
# runs as postgres.
# GW_TESTS and GW_SKIP_T pass through; fuzz.sh (it tests our parsers, which
# do not depend on the server), deb.sh and demo.sh (Debian 12's package and
# demo) are left out.  Last line: the suite's
# "N passed, N failed" ("0 passed, 1 failed" when the root could not be made).
# Runs as root (a Debian 12 host or a chroot of one: mmdebstrap --mode=root).
set -uo pipefail

# The host's apt settings (a proxy, Check-Valid-Until...) into root $1, but
# not its update hooks while mmdebstrap runs apt-get update outside the root.
copy_apt_conf() {
    local f
    for f in /etc/apt/apt.conf.d/* /etc/apt/preferences.d/* /etc/apt/apt.conf /etc/apt/preferences; do
        [ -f "$f" ] || continue
        mkdir -p "$1$(dirname "$f")" && cp -pL "$f" "$1$f" || return 1
    done
    printf '%s\n' '#clear APT::Update::Pre-Invoke;' '#clear APT::Update::Post-Invoke;' \
        '#clear APT::Update::Post-Invoke-Success;' >"$1/etc/apt/apt.conf.d/zz-gateway-build"
}
# mmdebstrap's hooks: --hook STAGE ROOT
if [ "${1:-}" = --hook ]; then
    case $2 in
    setup)
        copy_apt_conf "$3" || exit 1
        # no cluster of the server package's own (as setup.sh)
        mkdir -p "$3/etc/postgresql-common/createcluster.d" &&
            echo "create_main_cluster = false" >"$3/etc/postgresql-common/createcluster.d/gateway-no-main.conf" ;;
    customize)
        rm -f "$3/etc/apt/apt.conf.d/zz-gateway-build" ;;
    esac
    exit $?
fi

SELF=$(readlink -f "$0")
cd "$(dirname "$0")/.."
GW_ROOT=$(pwd)

# --image: only make sure the root's image is built (scripts/test.sh builds it
# beside the suite on this major, before it is wanted)
IMAGE_ONLY=
[ "${1:-}" = --image ] && { IMAGE_ONLY=1; shift; }
MAJOR=${1:-17}
case $MAJOR in
17) SUITE=trixie UPDATES=(trixie-updates) SECURITY=trixie-security ;;
18) SUITE=forky UPDATES=() SECURITY=forky-security ;;
*) echo "debian-root.sh: no Debian suite ships PostgreSQL $MAJOR (17: trixie, 18: forky)" >&2
   echo "0 passed, 1 failed"; exit 2 ;;
esac
CACHE=/var/cache/gateway
IMAGE=$CACHE/$SUITE-pg$MAJOR.tar.zst
MAX_AGE_MIN=$((7 * 24 * 60))
# Bump when the recipe changes in a way the package list does not show.
RECIPE=1
# What a Debian machine of a developer has (as the host's stock image), then
# what scripts/setup.sh wants for this major (fuzz.sh is left out here).
BASE=(gcc g++ make libc6-dev git ca-certificates curl python3 perl procps iproute2)
read -ra SETUP <<<"$(GW_PG_MAJOR=$MAJOR bash scripts/setup.sh --packages)"
PACKAGES=("${BASE[@]}" "${SETUP[@]}")

say() { echo "== debian-root: $*"; }
fail() { echo "debian-root.sh: $*" >&2; echo "0 passed, 1 failed"; exit 1; }
[ "$(id -u)" = 0 ] || fail "run me as root (mmdebstrap, mount and chroot)"

TMP=""
cleanup() {
    [ -n "$TMP" ] || return 0
    stop_procs_in "$TMP/root"
    rm -rf --one-file-system "$TMP"
    TMP=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Processes whose root directory is $1 or inside it: none may outlive a run.
pids_in() {
    find /proc -mindepth 2 -maxdepth 2 -path '/proc/[0-9]*/root' \
        \( -lname "$1" -o -lname "$1/*" \) -printf '%h\n' 2>/dev/null | sed 's|^/proc/||'
}
stop_procs_in() {
    local pids i
    pids=$(pids_in "$1")
    [ -z "$pids" ] && return 0
    say "stopping processes left in the root: $(echo $pids)"
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null
    for i in $(seq 1 50); do
        pids=$(pids_in "$1")
        [ -z "$pids" ] && return 0
        sleep 0.2
    done
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null
    sleep 0.5
}

# Run "$@" in a mount namespace of its own, whose mounts vanish with it and
# never show outside.  In a chroot whose / is no mount point (fresh-check's
# Debian 12 root) unshare cannot make / private: there every mount we see must
# already be private (fresh-check's own namespace is), and we keep that.
# With --net, a network namespace of its own too (only its own loopback).
private_ns() {
    local -a ns=(--mount)
    [ "$1" = --net ] && { ns+=(--net); shift; }
    if unshare --mount --propagation private -- true 2>/dev/null; then
        unshare "${ns[@]}" --propagation private -- "$@"
    elif grep -q ' shared:' /proc/self/mountinfo; then
        echo "debian-root.sh: cannot make a private mount namespace (/ is no mount point and mounts are shared)" >&2
        return 1
    else
        unshare "${ns[@]}" --propagation unchanged -- "$@"
    fi
}

image_key() {
    printf '%s\n' "recipe=$RECIPE" "suite=$SUITE" "${PACKAGES[@]}" | sha256sum | cut -c1-16
}
image_ok() {
    [ -s "$IMAGE" ] && [ "$(cat "$IMAGE.key" 2>/dev/null)" = "$(image_key)" ] &&
        [ -z "$(find "$IMAGE" -mmin +"$MAX_AGE_MIN" 2>/dev/null)" ]
}

# The URI of the host's apt source for suite $1 (deb822 or one-line format).
host_uri() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v want="$1" '
            /^[[:space:]]*#/ { next }
            /^deb[[:space:]]/ { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) break
                                if ($(i + 1) == want) { print $i; exit } next }
            /^URIs:/ { uri = $2 }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == want && uri != "") { print uri; exit } }
            /^[[:space:]]*$/ { uri = "" }' "$f"
    done | head -n 1
}

build_image() {
    local main security sources tmpimg=$IMAGE.new t0=$SECONDS
    main=$(host_uri bookworm)
    security=$(host_uri bookworm-security)
    main=${main:-http://deb.debian.org/debian}
    security=${security:-http://deb.debian.org/debian-security}
    sources=$(mktemp "$CACHE/sources.XXXXXX")
    cat >"$sources" <<EOF
Types: deb
URIs: $main
Suites: $SUITE ${UPDATES[*]}
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $SECURITY
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    say "building a Debian $SUITE root with PostgreSQL $MAJOR (once; a few minutes) from $main"
    local tmpd hook
    hook=$(printf '%q' "$SELF")
    tmpd=$(mktemp -d /tmp/gateway-mmdebstrap.XXXXXX)
    chmod 755 "$tmpd" # apt downloads as _apt
    TMPDIR=$tmpd private_ns mmdebstrap --mode=root --variant=minbase \
        --format=tar --skip=cleanup/run \
        --include="$(IFS=,; echo "${PACKAGES[*]}")" \
        --setup-hook="bash $hook --hook setup \"\$1\"" \
        --customize-hook="bash $hook --hook customize \"\$1\"" \
        "$SUITE" - "$sources" </dev/null 2>"$CACHE/$SUITE-pg$MAJOR.build.log" | zstd -q -T2 -3 -o "$tmpimg" -f
    local rc=${PIPESTATUS[0]}
    rm -rf "$tmpd" "$sources"
    if [ "$rc" -ne 0 ] || [ ! -s "$tmpimg" ]; then
        tail -n 20 "$CACHE/$SUITE-pg$MAJOR.build.log" >&2
        rm -f "$tmpimg"
        fail "mmdebstrap failed (exit $rc): $CACHE/$SUITE-pg$MAJOR.build.log"
    fi
    mv -f "$tmpimg" "$IMAGE" && image_key >"$IMAGE.key" || fail "could not store $IMAGE"
    say "root built in $((SECONDS - t0)) s: $IMAGE ($(du -h "$IMAGE" | cut -f1))"
}

if ! command -v mmdebstrap >/dev/null || ! command -v zstd >/dev/null; then
    say "installing mmdebstrap and zstd on this machine"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends mmdebstrap zstd >/dev/null ||
        fail "could not install mmdebstrap and zstd"
fi
mkdir -p "$CACHE" && exec 9>"$CACHE/lock" || fail "cannot write $CACHE"
flock -s 9
if ! image_ok; then
    flock -u 9
    flock -x 9
    image_ok || build_image
    flock -u 9
    flock -s 9
fi
[ -z "$IMAGE_ONLY" ] || { say "image ready: $IMAGE"; exit 0; }

t0=$SECONDS
TMP=$(mktemp -d /tmp/gateway-root.XXXXXX)
mkdir "$TMP/root"
tar --zstd --numeric-owner -xpf "$IMAGE" -C "$TMP/root" || fail "could not unpack $IMAGE"
flock -u 9
exec 9>&-
for f in /etc/hosts /etc/resolv.conf; do
    [ -f "$f" ] && { rm -f "$TMP/root$f"; cp -L "$f" "$TMP/root$f"; }
done
mkdir -p "$TMP/root/root/project"
if git -C "$GW_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$GW_ROOT" ls-files -z -co --exclude-standard | tar -C "$GW_ROOT" --null -T - -cf - |
        tar -C "$TMP/root/root/project" -xf -
else
    tar -C "$GW_ROOT" --exclude='*.o' --exclude='*.so' --exclude='*.bc' -cf - . | tar -C "$TMP/root/root/project" -xf -
fi || fail "could not copy the checkout into the root"
# a repository of its own whose HEAD is what was copied (make dist archives HEAD)
git -C "$TMP/root/root/project" init -q && git -C "$TMP/root/root/project" add -A &&
    git -C "$TMP/root/root/project" -c user.name=gateway -c user.email=gateway@localhost \
        commit -q -m "the checkout, as copied" || fail "could not make a repository of the copy"
say "Debian $SUITE root with PostgreSQL $MAJOR ready in $((SECONDS - t0)) s: $TMP/root"

# fuzz.sh: gateway's parsers, not the server's; deb.sh and demo.sh: the
# Debian 12 package and demo, each in a Debian 12 root of its own (no network
# here)
skip="fuzz.sh deb.sh demo.sh ${GW_SKIP_T:-}"
envv=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
      USER=root LOGNAME=root CI="${CI:-}" GW_PG_MAJOR="$MAJOR" GW_ALSO_PG= GW_SKIP_T="$skip"
      GW_TESTS="${GW_TESTS:-}" GW_KEEP="${GW_KEEP:-}"
      GW_PGPORT="${GW_PGPORT:-54329}" GW_MOCK_PORT="${GW_MOCK_PORT:-18089}"
      GW_LISTEN_PORT="${GW_LISTEN_PORT:-18787}")
# shellcheck disable=SC2016
# In a network namespace of its own: no port of the suite (cluster, mock,
# listener) can meet another test run's on this machine.  Everything it needs
# is in the root already.
private_ns --net bash -c '
    r=$1; shift
    mount --bind /proc "$r/proc" && mount --bind /sys "$r/sys" && mount --bind /dev "$r/dev" &&
        mount --bind /dev/pts "$r/dev/pts" && mount -t tmpfs -o mode=1777,nosuid,nodev gateway-shm "$r/dev/shm" ||
        { echo "debian-root.sh: cannot mount in $r (needs real root)"; exit 1; }
    chroot "$r" ip link set lo up || { echo "debian-root.sh: cannot bring up the loopback"; exit 1; }
    exec chroot "$r" /usr/bin/env -i -C /root/project "$@" bash scripts/test.sh
' -- "$TMP/root" "${envv[@]}" </dev/null 2>&1 | tee "$TMP/test.log"
last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$TMP/test.log" | tail -n 1)
cleanup
echo "${last:-0 passed, 1 failed}"
[[ $last =~ ^[0-9]+\ passed,\ 0\ failed$ ]]
