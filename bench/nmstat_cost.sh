#!/usr/bin/env bash
# bench/nmstat_cost.sh [REPS]
# Does watching the counters slow the data path?  pipe_rate (pipe, and a
# 2-port VALE switch; batch 256, 1 s) with and without nmstat refreshing
# every 0.1 s in JSON, interleaved runs, medians and their ratio.
# nmstat only reads the shared counters: the ratio should be 1 within
# the machine's noise.
set -uo pipefail
cd "$(dirname "$0")/.."
reps=${1:-7}
rate=build/bench/pipe_rate nmstat=build/tools/nmstat/nmstat
[ -x "$rate" ] && [ -x "$nmstat" ] || { echo "build the release preset first" >&2; exit 2; }
export UNETMAP_DIR
UNETMAP_DIR=$(mktemp -d /dev/shm/unetmap-nmcost.XXXXXX)
trap 'rm -rf "$UNETMAP_DIR"' EXIT
declare -A res
for _ in $(seq "$reps"); do
    for mode in without with; do
        for kind in pipe vale; do
            args=(-b 256 -t 1)
            [ $kind = vale ] && args+=(-s valeN:a -r valeN:b)
            np=""
            if [ $mode = with ]; then "$nmstat" -j -d 0.1 >/dev/null 2>&1 & np=$!; fi
            r=$("$rate" "${args[@]}" 2>&1 | sed -n 's/.*received \([0-9.]*\) Mpps.*/\1/p' | tail -1)
            [ -n "$np" ] && { kill "$np"; wait "$np" 2>/dev/null; }
            res[$kind $mode]+="${r:-0} "
        done
    done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
printf '%-5s %16s %16s %8s\n' port "without nmstat" "with nmstat" ratio
for kind in pipe vale; do
    a=$(echo "${res[$kind without]}" | median) b=$(echo "${res[$kind with]}" | median)
    printf '%-5s %11.2f Mpps %11.2f Mpps %8.3f\n' "$kind" "$a" "$b" "$(echo "$b / $a" | bc -l)"
done
