#!/usr/bin/env bash
# 60-byte frames between two processes on two cores: netmap pipes (and
# VALE, two ports of one switch) at batch sizes 1..1024, and pkt-gen tx ->
# rx over a pipe and over VALE (with and without -N), beside DPDK's memif
# between two testpmd processes (server txonly -> client rxonly), in the
# same run.  Each case runs REPS times; the table shows the median,
# the min-max spread, and the ratio of medians to memif.
#
#   bench/pipes_vs_memif.sh [BUILD_DIR] [REPS] [SECONDS]
# Needs root for DPDK (no hugepages, no PCI: --no-huge --no-pci) and
# Debian's dpdk package (installed if missing).
set -euo pipefail
build=${1:-build}
reps=${2:-3}
secs=${3:-3}
rate=$build/bench/pipe_rate
[ -x "$rate" ] || { echo "build first: $rate missing" >&2; exit 1; }
command -v dpdk-testpmd >/dev/null || { apt-get update -qq && apt-get install -y -qq dpdk dpdk-dev >/dev/null; }  # testpmd ships in dpdk-dev
work=$(mktemp -d)
export UNETMAP_DIR=$work/state
trap 'pkill -INT -f "file-prefix unb" 2>/dev/null || true; rm -rf "$work"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {if (!NR) {print "-"; exit} print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
spread() { sort -g | awk 'NR==1{lo=$1} {hi=$1} END {if (NR) printf "%s-%s", lo, hi; else print "-"}'; }

# testpmd's per-second Rx-pps samples: the non-zero ones, less the first
# (a partial second after link-up) when there are at least three.
pps_median() { grep -o "$2-pps: *[0-9]*" "$1" | awk '{print $2}' | awk '$1 > 0' |
               awk '{v[NR]=$1} END {for (i = (NR >= 3 ? 2 : 1); i <= NR; i++) print v[i]/1e6}' | median; }

memif_once() {
    # memif's link-up takes a few seconds: give it at least 6 s of traffic.
    local secs=$(( secs > 6 ? secs : 6 ))
    local sock=$work/memif.sock log=$work/memif
    # A server that crashed at exit (a known testpmd memif issue) leaves its
    # socket file and hugepage-less memory files behind: clear them.
    pkill -INT -f "file-prefix unb" 2>/dev/null || true
    rm -f "$sock"
    local eal=(--no-huge -m 512 --no-pci) pmd=(--stats-period 1 --total-num-mbufs=16384 --txpkts=60)
    timeout -s INT -k 5 $((secs + 6)) dpdk-testpmd -l 0,1 --main-lcore 0 "${eal[@]}" --file-prefix unbs \
        --vdev "net_memif0,role=server,socket=$sock,socket-abstract=no" -- --forward-mode=txonly \
        "${pmd[@]}" >"$log-s.log" 2>&1 &
    local srv=$!
    sleep 2
    timeout -s INT -k 5 $((secs + 2)) dpdk-testpmd -l 1,0 --main-lcore 1 "${eal[@]}" --file-prefix unbc \
        --vdev "net_memif0,role=client,socket=$sock,socket-abstract=no" -- --forward-mode=rxonly \
        "${pmd[@]}" >"$log-c.log" 2>&1 || true
    kill -INT $srv 2>/dev/null || true
    wait $srv 2>/dev/null || true
    pps_median "$log-c.log" Rx
}

declare -A res cyc
cases=()
add_case() { cases+=("$1"); }

run_case() { # name, pipe_rate args...
    local name=$1; shift
    local out
    for r in $(seq "$reps"); do
        out=$("$rate" "$@" -t "$secs")
        res[$name]+="$(awk '{for (i=1;i<=NF;i++) if ($i=="received") print $(i+1)}' <<<"$out") "
        cyc[$name]+="$(awk '{for (i=1;i<=NF;i++) if ($i ~ /cycles/) print $(i-1)}' <<<"$out") "
    done
    add_case "$name"
}

# memif's link-up races with the start of forwarding: a run may see no
# traffic at all.  Retry such runs (up to 3 times) rather than count them.
for r in $(seq "$reps"); do
    for try in 1 2 3; do
        m=$(memif_once)
        [ "$m" != "-" ] && [ -n "$m" ] && break
    done
    [ "$m" != "-" ] && res[memif]+="$m "
done
if [ -n "${ONLY_MEMIF:-}${ONLY_PKTGEN:-}" ]; then :; else
for b in 1 8 32 64 256 512 1024; do run_case "pipe b=$b" -b "$b"; done
if "$rate" -s valeB0:probe -r valeB0:probe2 -b 1 -t 1 >/dev/null 2>&1; then
    for b in 1 32 256 1024; do run_case "vale b=$b" -s valeB1:a -r valeB1:b -b "$b"; done
else
    echo "(VALE ports not available in this build: VALE rows skipped)" >&2
fi
fi

# pkt-gen tx -> rx (60-byte frames, one core each), with and without -N.
pg=$build/tools/pkt-gen/pkt-gen
pkt_gen_once() { # port_tx port_rx extra-tx-args
    local n=20000000
    timeout 60 "$pg" -i "$2" -f rx -n "$n" -a 1 >"$work/pg-rx.log" 2>&1 &
    local rx=$!
    sleep 0.3
    timeout 60 "$pg" -i "$1" -f tx -n "$n" -l 60 -a 0 $3 >/dev/null 2>&1 || true
    wait $rx || true
    awk '/^Speed:/ {print $2}' "$work/pg-rx.log"
}
run_pg() { # name tx rx extra
    local name=$1
    for r in $(seq "$reps"); do res[$name]+="$(pkt_gen_once "$2" "$3" "$4") "; done
    add_case "$name"
}
if [ -x "$pg" ] && [ -z "${ONLY_MEMIF:-}" ]; then
    run_pg "pkt-gen pipe" 'pg{0' 'pg}0' ""
    run_pg "pkt-gen pipe -N" 'pg{1' 'pg}1' "-N"
    run_pg "pkt-gen vale" 'valeP:a' 'valeP:b' ""
    run_pg "pkt-gen vale -N" 'valeQ:a' 'valeQ:b' "-N"
fi

memif_med=$(tr ' ' '\n' <<<"${res[memif]}" | sed '/^$/d' | median)
printf '\n%-16s %10s %17s %12s %10s\n' case "Mpps(med)" "min-max" "cyc/pkt" "x memif"
printf '%-16s %10s %17s %12s %10s\n' "memif" "$memif_med" "$(tr ' ' '\n' <<<"${res[memif]}" | sed '/^$/d' | spread)" "-" "1.00"
for c in "${cases[@]}"; do
    m=$(tr ' ' '\n' <<<"${res[$c]}" | sed '/^$/d' | median)
    cy=$(tr ' ' '\n' <<<"${cyc[$c]:-}" | sed '/^$/d' | median)
    ratio=$(awk -v a="$m" -v b="$memif_med" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
    printf '%-16s %10s %17s %12s %10s\n' "$c" "$m" "$(tr ' ' '\n' <<<"${res[$c]}" | sed '/^$/d' | spread)" "$cy" "$ratio"
done
