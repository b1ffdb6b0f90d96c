#!/bin/sh
# interpose_overhead.sh BINDIR LIBNETMAP [REPS] [SECONDS] [BATCHES]
#
# The cost of reaching unetmap through interposed system calls: the same
# one-thread pipe workload (bench/overhead_loop.h) three ways, interleaved,
# REPS times (default 7) for SECONDS each (default 1), per batch size
# (default "1 64 256"):
#   (a) nmport   nmport_open() + ioctl(), program linked with libnetmap.so
#   (b) preload  raw open/ioctl/mmap, program not linked, LD_PRELOAD=libnetmap.so
#   (c) direct   the core's C++ API (Descriptor::sync), no interposition
# Prints the median Mpps of each (and the spread), the overhead of (a) and
# (b) relative to (c) (time per packet over (c)'s, minus 1), and that extra
# time per sync call in nanoseconds (two syncs per round).
# Usually run through the CMake target: cmake --build --preset release
# --target bench_interpose_overhead.  See docs/PERFORMANCE-interposition.md.
set -eu
bindir=$1
lib=$2
reps=${3:-7}
secs=${4:-1}
batches=${5:-"1 64 256"}
[ "$reps" -ge 5 ] || { echo "interpose_overhead: at least 5 repetitions" >&2; exit 2; }

dir=$(mktemp -d /dev/shm/unetmap-overhead.XXXXXX)
out=$(mktemp /tmp/unetmap-overhead.XXXXXX)
trap 'rm -rf "$dir" "$out"' EXIT INT TERM
export UNETMAP_DIR="$dir"

run() {  # way batch
    case $1 in
        nmport) "$bindir/overhead_nmport" "$2" "$secs" ;;
        preload) LD_PRELOAD="$lib" "$bindir/overhead_raw" "$2" "$secs" ;;
        direct) "$bindir/overhead_direct" "$2" "$secs" ;;
    esac
}

# Interleave the ways so slow drifts of the machine hit all three alike.
for r in $(seq "$reps"); do
    for b in $batches; do
        for w in direct nmport preload; do
            v=$(run "$w" "$b") || { echo "interpose_overhead: $w batch $b failed" >&2; exit 1; }
            echo "$b $w $v" >> "$out"
        done
    done
done
if [ -n "$(ls -A "$dir")" ]; then
    echo "interpose_overhead: left in the state directory: $(ls -A "$dir")" >&2
    exit 1
fi

echo "pipe, one thread, 60-byte frames, medians of $reps runs of ${secs}s (min..max)"
printf '%-6s %-40s %8s %17s %9s %12s\n' batch way Mpps "(min..max)" overhead "ns/sync +"
for b in $batches; do
    for w in direct nmport preload; do
        grep "^$b $w " "$out" | awk '{print $3}' | sort -g | awk -v w="$w" -v b="$b" '
            { v[NR] = $1 }
            END {
                m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                print b, w, m, v[1], v[NR]
            }'
    done
done | awk '
    BEGIN {
        name["direct"] = "(c) direct C++ API (Descriptor::sync)"
        name["nmport"] = "(a) nmport_* + ioctl, linked"
        name["preload"] = "(b) raw ioctl, LD_PRELOAD"
    }
    {
        if ($2 == "direct") base = $3
        ov = ($2 == "direct") ? "-" : sprintf("%+.1f%%", (base / $3 - 1) * 100)
        # two syncs per round of $1 frames: extra time per sync call
        ns = ($2 == "direct") ? "-" : sprintf("%+.1f", ($1 / $3 - $1 / base) / 2 * 1000)
        printf "%-6s %-40s %8.2f %8.2f..%-8.2f %9s %12s\n", $1, name[$2], $3, $4, $5, ov, ns
    }'
