#!/usr/bin/env bash
# The documented long fuzzing run (docs/FUZZING.md): each target runs for
# SECONDS of wall time (default 1800), PARALLEL targets at a time (default
# 2), at nice 19 so that it only takes idle cycles.  On a shared machine a
# fuzzer gets less than a whole core, so the processor time it had is
# printed beside the wall time: that, and the number of inputs, is what it
# fuzzed.
#
#   fuzz/long_run.sh [SECONDS] [TARGET...]
#
# Builds the targets as fuzz/run.sh does (build-fuzz/), works on a copy of
# each seed corpus in build-fuzz/fuzz-long/<target>/, and prints for each
# target its CPU and wall time, executions, coverage and new corpus units.
# Exits 1 if a target crashed, leaked or failed one of its checks (the
# reproducer and log stay in its directory).
set -uo pipefail
budget=${1:-1800}
[ $# -gt 0 ] && shift
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD_DIR:-"$root/build-fuzz"}
out="$build/fuzz-long"
targets=(${*:-fuzz_ctl_request fuzz_legacy_nmreq fuzz_port_name fuzz_sync})
parallel=${PARALLEL:-2}

CC=${CC:-clang} CXX=${CXX:-clang++} cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DUNETMAP_FUZZ=ON -DUNETMAP_BENCH=OFF -DBUILD_TESTING=OFF >/dev/null || exit 1
cmake --build "$build" --target "${targets[@]}" -j"${JOBS:-2}" >/dev/null || exit 1

UNETMAP_FUZZ_TMP=$(mktemp -d /dev/shm/unetmap-fuzz-long.XXXXXX)
export UNETMAP_FUZZ_TMP UNETMAP_NIC_NETNS_ONLY=1
trap 'rm -rf "$UNETMAP_FUZZ_TMP"' EXIT

# CPU seconds (user + system) of a live process, from /proc/PID/stat
cpu_of() {
    local s f
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    # fields 14 and 15 (utime, stime), counted from the state (field 3)
    # after the ")" that ends the command name
    read -ra f <<<"${s##*) }"
    echo $(( (f[11] + f[12]) / $(getconf CLK_TCK) ))
}

run_one() {
    local t=$1 work="$out/$1" start pid cpu=0 c status
    rm -rf "$work"; mkdir -p "$work/corpus"
    cp "$root/fuzz/corpus/$t/"* "$work/corpus/" 2>/dev/null
    start=$(date +%s)
    (cd "$work" && exec nice -n 19 "$build/fuzz/$t" -print_final_stats=1 -dict="$root/fuzz/netmap.dict" \
        -rss_limit_mb=4096 -timeout=10 -max_total_time="$budget" corpus >"$work/log" 2>&1) &
    pid=$!  # the subshell exec'ed the fuzzer: this is the fuzzer
    while kill -0 "$pid" 2>/dev/null; do
        c=$(cpu_of "$pid") && cpu=$c
        sleep 2
    done
    wait "$pid"; status=$?
    {
        echo "=== $t: ${cpu} s CPU, $(( $(date +%s) - start )) s wall, exit $status"
        grep -E 'cov: ' "$work/log" | tail -n 1
        grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$work/log"
        ls "$work" | grep -E '^(crash|leak|timeout|oom|slow-unit)-'
    } >"$work/summary"
    # 0: ran its time out; 72: interrupted (SIGINT).  Anything else is a finding.
    case $status in 0|72) return 0 ;; *) return 1 ;; esac
}

status=0
pids=()
for t in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n; done
    run_one "$t" & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
for t in "${targets[@]}"; do cat "$out/$t/summary"; done
[ $status -eq 0 ] || echo "long_run.sh: a target failed; see $out/<target>/log" >&2
exit $status
