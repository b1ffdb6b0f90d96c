#!/bin/sh
# Build the libFuzzer targets with clang in build-fuzz/ and run each one for
# SECONDS (default 30), one after the other, on a copy of its seed corpus.
# Fails (exit 1) if any target crashes, leaks, trips a sanitizer or one of
# its own checks; the reproducer is then left in build-fuzz/fuzz-out/<target>/
# (crash-*, leak-*, timeout-*, oom-*) beside the full log.  See
# docs/FUZZING.md.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# CI smoke step: `fuzz/run.sh 20` (95 s from an empty build-fuzz/ on the
# 2-core development VM: see docs/FUZZING.md).
#
# Needs clang and libFuzzer (Debian: clang, libclang-rt-14-dev).
# Environment: JOBS (build parallelism, default 2), FUZZ_ARGS (extra
# libFuzzer flags), CC/CXX (default clang/clang++), FUZZ_BUILD_DIR (default
# build-fuzz).
set -eu
SECONDS_PER_TARGET=${1:-30}
[ $# -gt 0 ] && shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${FUZZ_BUILD_DIR:-"$ROOT/build-fuzz"}
OUT="$BUILD/fuzz-out"
TARGETS=${*:-"fuzz_ctl_request fuzz_legacy_nmreq fuzz_port_name fuzz_sync"}
start=$(date +%s)

CC=${CC:-clang} CXX=${CXX:-clang++} cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DUNETMAP_FUZZ=ON -DUNETMAP_BENCH=OFF -DBUILD_TESTING=OFF >/dev/null
# shellcheck disable=SC2086
cmake --build "$BUILD" --target $TARGETS -j"${JOBS:-2}"
echo "build: $(( $(date +%s) - start ))s"

# Each target makes its private state directory (UNETMAP_DIR) in here and
# removes it at exit; one that crashed cannot, so the whole parent goes at
# the end.
UNETMAP_FUZZ_TMP=$(mktemp -d /dev/shm/unetmap-fuzz-run.XXXXXX)
export UNETMAP_FUZZ_TMP
trap 'rm -rf "$UNETMAP_FUZZ_TMP"' EXIT INT TERM

status=0
for t in $TARGETS; do
    work="$OUT/$t"
    rm -rf "$work"
    mkdir -p "$work/corpus"
    cp "$ROOT/fuzz/corpus/$t/"* "$work/corpus/" 2>/dev/null || true
    echo "=== $t: ${SECONDS_PER_TARGET}s"
    # shellcheck disable=SC2086
    if (cd "$work" && "$BUILD/fuzz/$t" -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 \
            -dict="$ROOT/fuzz/netmap.dict" -rss_limit_mb=4096 -timeout=10 ${FUZZ_ARGS:-} \
            corpus >"$work/log" 2>&1); then
        grep -E 'cov: ' "$work/log" | tail -n 1 || true
        grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' \
            "$work/log" || true
    else
        status=1
        echo "!!! $t FAILED, log: $work/log"
        tail -n 40 "$work/log"
        ls "$work" | grep -E '^(crash|leak|timeout|oom|slow-unit)-' || true
    fi
done
echo "total: $(( $(date +%s) - start ))s"
exit $status
