# Source it: the environment a PostgreSQL executable needs to load a module
# built with AddressSanitizer (fuzz/Makefile): the shared ASan runtime
# preloaded, and that runtime initialized before any library constructor
# takes a libc lock.  (libgpg-error's constructor calls bindtextdomain, whose
# malloc would otherwise start ASan inside glibc's _nl_state_lock, and the
# process then hangs in its own bindtextdomain.)  A copy of libgpg-error that
# needs the runtime makes the loader initialize the runtime first.
GW_ASAN_RT=$(make -s -C "$GW_ROOT" -f fuzz/Makefile print-asan-rt)
GW_ASAN_LIB="$GW_ROOT/fuzz/build/asan-lib"
if [ ! -f "$GW_ASAN_LIB/libgpg-error.so.0" ]; then
    mkdir -p "$GW_ASAN_LIB"
    gpgerr=$(ldconfig -p | sed -n 's/.*libgpg-error.so.0 (libc6,x86-64) => //p' | head -1)
    cp "$gpgerr" "$GW_ASAN_LIB/libgpg-error.so.0.tmp"
    patchelf --add-needed "$(basename "$GW_ASAN_RT")" "$GW_ASAN_LIB/libgpg-error.so.0.tmp"
    mv "$GW_ASAN_LIB/libgpg-error.so.0.tmp" "$GW_ASAN_LIB/libgpg-error.so.0"
fi
# Settings for the sanitized process (env VAR=... postgres ...).
GW_ASAN_ENV=(
    "LD_PRELOAD=$GW_ASAN_RT"
    "LD_LIBRARY_PATH=$GW_ASAN_LIB:$(dirname "$GW_ASAN_RT")"
    "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1:detect_odr_violation=0:log_path=${GW_ASAN_LOG:-stderr}"
    "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=${GW_ASAN_LOG:-stderr}"
)
if command -v llvm-symbolizer-14 >/dev/null; then
    GW_ASAN_ENV+=("ASAN_SYMBOLIZER_PATH=$(command -v llvm-symbolizer-14)")
fi
