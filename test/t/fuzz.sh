#!/usr/bin/env bash
# Hostile input: every fuzz harness (fuzz/*.c) for FUZZ_SECONDS (30) under
# AddressSanitizer and UndefinedBehaviorSanitizer, in a single-user cluster
# of its own (never the test cluster).  Fails on any finding: a sanitizer
# report, a crash, an ERROR a harness may not raise, a broken invariant.
# Run by scripts/test.sh; prints each harness's executions and coverage.
set -uo pipefail
cd "$(dirname "$0")/../.."
make -s fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-30}"
