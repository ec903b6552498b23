# Helpers of test/t/credfiles.sh, test/t/hosts.sh and test/t/secrets_log.sh
# (and check.sh's): source it.  Needs db (the database) set by the caller.

. "$(dirname "${BASH_SOURCE[0]}")/check.sh"
# the error message of a statement that must fail (empty when it did not)
qerr() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$db" -c "$1" 2>&1 >/dev/null | sed -n 's/^.*ERROR:  //p'; }
# Run a command as the server's user (the one that owns credential files).
srv=""; [ "$(id -u)" = 0 ] && srv="runuser -u postgres --"
as_server() { $srv "$@"; }
# Write a secret file as the server's user, mode 0600, by an atomic rename:
# the key goes through a pipe, never through SQL.
put_secret() {   # put_secret <file> <secret>
    printf '%s\n' "$2" | as_server sh -c "umask 077; cat > '$1.tmp' && mv '$1.tmp' '$1'"
}
# A random secret no test writes anywhere else.
new_secret() { echo "$1-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"; }
# ALTER SYSTEM SET (or RESET, when the value is empty) a reloadable
# setting, reload, and wait until new sessions see it.
setting() {   # setting <name> <value> [<value once reset>]
    local want=${2:-${3:-}}
    if [ -n "$2" ]; then q "ALTER SYSTEM SET $1 = '$2'"; else q "ALTER SYSTEM RESET $1"; fi
    q "SELECT pg_reload_conf()" >/dev/null
    for _ in $(seq 1 100); do
        [ "$(q "SHOW $1")" = "$want" ] && return 0
        sleep 0.1
    done
    echo "FAIL: $1 did not become [$want]"; fails=$((fails + 1))
}
