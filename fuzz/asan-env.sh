# Source it (GW_ROOT set): GW_ASAN_ENV, the VAR=value words a process needs
# to load a module built with AddressSanitizer (fuzz/Makefile): the shared
# ASan runtime preloaded, then fuzz/preload/swift_demangle.c (see there why:
# without it postgres, psql and curl hang at start on Debian 12).
# GW_ASAN_LOG: a path prefix for the reports (default: stderr).
# GW_ASAN_DIR: a directory every sanitized process can read, the stub is
# copied there (default: fuzz/build).  The processes that matter run as
# postgres, and a checkout under /root (mode 700: a fresh machine, CI) is
# out of their reach: ld.so then ignores the stub with one line on stderr,
# and the backend hangs as if it were not there.
GW_ASAN_RT=$(make -s -C "$GW_ROOT" -f fuzz/Makefile print-asan-rt)
GW_ASAN_FIRST=$GW_ROOT/fuzz/build/libgw_asan_first.so
if [ -n "${GW_ASAN_DIR:-}" ]; then
    install -m 755 "$GW_ASAN_FIRST" "$GW_ASAN_DIR/libgw_asan_first.so"
    GW_ASAN_FIRST=$GW_ASAN_DIR/libgw_asan_first.so
fi
GW_ASAN_ENV=(
    "LD_PRELOAD=$GW_ASAN_RT $GW_ASAN_FIRST"
    "LD_LIBRARY_PATH=$(dirname "$GW_ASAN_RT")"
    "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1:detect_odr_violation=0:log_path=${GW_ASAN_LOG:-stderr}"
    "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=${GW_ASAN_LOG:-stderr}"
)
if command -v llvm-symbolizer-14 >/dev/null; then
    GW_ASAN_ENV+=("ASAN_SYMBOLIZER_PATH=$(command -v llvm-symbolizer-14)")
fi
