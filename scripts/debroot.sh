#!/usr/bin/env bash
# A fresh Debian root for tests that need a machine of their own (the .deb
# test installs the package there).  Two uses:
#
#   scripts/debroot.sh SUITE DIR [PACKAGE...]
#       Make DIR (new or empty) a fresh Debian SUITE root, variant minbase,
#       with PACKAGEs installed.  The root comes from a tarball cached in
#       $GW_DEBROOT_CACHE (/var/cache/gateway-debroot), built with mmdebstrap
#       from this host's apt sources (their suite names changed to SUITE) when
#       it is missing, older than 7 days or the package list changed (a few
#       minutes, once); unpacking it takes seconds.
#   scripts/debroot.sh --image SUITE [PACKAGE...]
#       Only make sure that tarball is there (built ahead of its use).
#   scripts/debroot.sh --run DIR CMD...
#       Run CMD as root inside DIR, in a private mount namespace with /proc,
#       /sys, /dev, /dev/pts and a new /dev/shm mounted; the mounts go when CMD
#       ends.  Only the variables in GW_DEBROOT_ENV (names) pass in, with PATH,
#       HOME=/root and LANG=C.UTF-8.
#
# Needs root, mmdebstrap, unshare and chroot.
set -euo pipefail

die() { echo "debroot.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run me as root (I build a root, mount and chroot)"

ROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# Run "$@" in a private mount namespace: what it mounts goes with it.  Inside
# a chroot (fresh-check), "/" is no mount point and cannot be made private;
# the mounts there are private to the chroot's namespace already, and stay so.
private_ns() {
    if unshare --mount --propagation private true 2>/dev/null; then
        unshare --mount --propagation private -- "$@"
    else
        unshare --mount --propagation unchanged -- "$@"
    fi
}

if [ "${1:-}" = --run ]; then
    [ $# -ge 3 ] || die "usage: debroot.sh --run DIR CMD..."
    dir=$(readlink -f "$2"); shift 2
    [ -x "$dir/bin/sh" ] || die "$dir is not a root made by debroot.sh"
    envv=(PATH="$ROOT_PATH" HOME=/root LANG=C.UTF-8)
    for v in ${GW_DEBROOT_ENV:-}; do
        [ -n "${!v+x}" ] && envv+=("$v=${!v}")
    done
    # The resolver and hosts of this machine: apt inside may need them.
    cp -L /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
    cp -L /etc/hosts "$dir/etc/hosts" 2>/dev/null || true
    private_ns /bin/bash -c '
        set -e
        r=$1; shift
        mount --bind /proc "$r/proc"
        mount --bind /sys "$r/sys"
        mount --bind /dev "$r/dev"
        mount --bind /dev/pts "$r/dev/pts"
        mount -t tmpfs -o mode=1777,nosuid,nodev debroot-shm "$r/dev/shm"
        exec chroot "$r" /usr/bin/env -i "$@"' debroot "$dir" "${envv[@]}" "$@"
    exit 0   # (set -e: a failure exits with its status above)
fi

image_only=
[ "${1:-}" = --image ] && [ $# -ge 2 ] && { image_only=1; shift; set -- "$1" "" "${@:2}"; }
[ $# -ge 2 ] || die "usage: debroot.sh SUITE DIR [PACKAGE...] | debroot.sh --image SUITE [PACKAGE...] | debroot.sh --run DIR CMD..."
suite=$1 dir=$2; shift 2
pkgs=("$@")
case $suite in *[!a-z0-9-]*|'') die "bad suite name: $suite" ;; esac
command -v mmdebstrap >/dev/null || die "mmdebstrap is missing (apt-get install mmdebstrap)"
if [ -z "$image_only" ]; then
    mkdir -p "$dir"
    [ -z "$(ls -A "$dir")" ] || die "$dir is not empty"
fi

cache=${GW_DEBROOT_CACHE:-/var/cache/gateway-debroot}
mkdir -p "$cache"
recipe=1   # bump when this script builds roots differently
key=$(printf '%s\n' "recipe=$recipe" "$suite" "$(printf '%s\n' "${pkgs[@]}" | sort -u)" | sha256sum | cut -c1-12)
tarball=$cache/$suite-$key.tar

# This host's apt sources with its codename replaced by SUITE (deb822 and
# one-line formats); disabled files (other names) are left out.
host_sources() {
    local out=$1 f codename
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    : >"$out"
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        case $f in
            *.sources) grep -qi '^URIs:.*debian' "$f" || continue ;;
            *) grep -qE '^deb .*debian' "$f" || continue ;;
        esac
        if [ -n "$codename" ] && [ "$codename" != "$suite" ]; then
            sed -E "s/\b$codename(-(updates|security|backports))?\b/$suite\1/g" "$f"
        else
            cat "$f"
        fi
        echo
    done >"$out.tmp"
    # deb822 paragraphs and one-line entries cannot share a file: split them
    if grep -q '^Types:' "$out.tmp"; then mv "$out.tmp" "$out.sources"; echo "$out.sources"
    else mv "$out.tmp" "$out.list"; echo "$out.list"; fi
}

build() {
    local tmp src incl
    tmp=$(mktemp -d /tmp/debroot-build.XXXXXX)
    chmod 755 "$tmp"                                   # apt downloads as _apt
    src=$(host_sources "$tmp/sources")
    grep -qE '^(URIs:|deb )' "$src" || { rm -rf "$tmp"; die "this host has no Debian apt sources in /etc/apt"; }
    incl=$(IFS=,; echo "${pkgs[*]}")
    echo "debroot.sh: building a Debian $suite root with mmdebstrap (${incl:-minbase only}); cached in $tarball" >&2
    # The host's apt configuration and keyrings (proxies, archive keys)
    # before mmdebstrap's apt update; no PostgreSQL cluster of its own.
    # mmdebstrap writes the sources it used into the root.
    if ! TMPDIR=$tmp private_ns mmdebstrap --quiet --mode=root --variant=minbase \
        --format=tar ${incl:+--include="$incl"} \
        --setup-hook='for d in apt.conf.d trusted.gpg.d; do [ -d /etc/apt/$d ] && cp -rL /etc/apt/$d/. "$1/etc/apt/$d/"; done; true' \
        --setup-hook='mkdir -p "$1/etc/postgresql-common/createcluster.d" && echo "create_main_cluster = false" >"$1/etc/postgresql-common/createcluster.d/debroot.conf"' \
        "$suite" "$tarball.new" "$src" </dev/null; then
        rm -rf "$tmp" "$tarball.new"
        die "mmdebstrap failed"
    fi
    rm -rf "$tmp"
    mv -f "$tarball.new" "$tarball"
    # older roots of this suite are of no further use
    find "$cache" -maxdepth 1 -name "$suite-*.tar" ! -name "$(basename "$tarball")" -delete
}

exec 9>"$cache/lock"
flock 9
if [ ! -s "$tarball" ] || [ -n "$(find "$tarball" -mmin +$((7 * 24 * 60)))" ]; then
    build
fi
[ -z "$image_only" ] || exit 0
tar --numeric-owner -xpf "$tarball" -C "$dir"
