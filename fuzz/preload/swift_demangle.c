/*
 * swift_demangle.c: preloaded after the shared ASan runtime (fuzz/asan-env.sh).
 *
 * A preloaded ASan runtime starts at the first malloc, which on Debian 12 can
 * be inside a library constructor that holds one of glibc's locale locks
 * (libgpg-error's bindtextdomain for postgres, setlocale for curl).  Starting,
 * it looks up swift_demangle, and the failed lookup's dlerror() translates
 * its message under the same lock: the lock is left corrupt and the process
 * hangs later.  With this symbol there, the lookup succeeds and takes no lock.
 * It is never called for C symbols.
 *
 * It only helps if it is loaded: a process that cannot read it (postgres, with
 * the file in a checkout under /root) gets "ld.so: object ... cannot be
 * preloaded: ignored" and hangs as before.  Hence GW_ASAN_DIR (asan-env.sh)
 * and run.sh's start-up check.
 */
#include <stddef.h>
#include <stdint.h>

char	   *swift_demangle(const char *mangled, size_t len, char *out, size_t *outlen, uint32_t flags);

char *
swift_demangle(const char *mangled, size_t len, char *out, size_t *outlen, uint32_t flags)
{
	return NULL;
}
