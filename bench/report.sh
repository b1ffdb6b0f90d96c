#!/usr/bin/env bash
# bench/report.sh DIR [MODE] [SECONDS]: results.md and PNG plots (gnuplot)
# from DIR/results.csv, as written by bench/run.  Rerun it by hand to
# redraw after editing the CSV.
set -uo pipefail
dir=$1 mode=${2:-?} took=${3:-?}
csv=$dir/results.csv
md=$dir/results.md
[ -f "$csv" ] || { echo "report.sh: no $csv" >&2; exit 1; }

# value SCENARIO SERIES-REGEX X METRIC [COLUMN]: a cell of the CSV (median by default)
value() {
    awk -F, -v sc="$1" -v se="$2" -v x="$3" -v me="$4" -v col="${5:-5}" '
        NR > 1 && $1 == sc && $2 ~ se && (x == "*" || $3 == x) && $4 == me && $col != "" {print $col; exit}' "$csv"
}
# peak SCENARIO SERIES-REGEX METRIC: "median x" of the row with the highest median
peak() {
    awk -F, -v sc="$1" -v se="$2" -v me="$3" '
        NR > 1 && $1 == sc && $2 ~ se && $4 == me && $5 != "" && (best == "" || $5 + 0 > best + 0) {best = $5; x = $3}
        END {if (best != "") print best, x}' "$csv"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a != "" && b != "" && b + 0 > 0) printf "%.2f", a / b; else printf "-"}'; }
verdict() { # VALUE TARGET [le]: met / missed by N%
    awk -v v="$1" -v t="$2" -v le="${3:-}" 'BEGIN {
        if (v == "" || v == "-") {print "not measured"; exit}
        if (le == "") { if (v + 0 >= t + 0) print "met"; else printf "missed by %.0f%%\n", (1 - v / t) * 100 }
        else { if (v + 0 <= t + 0) print "met"; else printf "missed by %.0f%%\n", (v / t - 1) * 100 } }'
}

read -r pipe_peak pipe_peak_b <<<"$(peak 1-pipes '^"netmap pipe \\(pipe_rate\\)' Mpps)"
pipe_256=$(value 1-pipes '^"netmap pipe \\(pipe_rate\\)' 256 Mpps)
memif60=$(value 1-pipes 'DPDK memif' '*' Mpps)
[ -z "$memif60" ] && memif60=$(value 2-vale 'DPDK memif' 60 "Mpps delivered")
vale60=$(value 2-vale '^"VALE 2 ports' 60 "Mpps delivered")
bridge60=$(value 2-vale 'Linux bridge' 60 "Mpps delivered")
cyc_pipe_256=$(value 4-cycles 'netmap pipe sender' 256 cycles/pkt)
read -r cyc_pipe_best cyc_pipe_best_b <<<"$(awk -F, 'NR > 1 && $1 == "4-cycles" && $2 ~ /netmap pipe sender/ && $5 != "" && (b == "" || $5 + 0 < b + 0) {b = $5; x = $3} END {if (b != "") print b, x}' "$csv")"
cyc_vale_256=$(value 4-cycles 'VALE 2 ports sender' 256 cycles/pkt)
# 6-nic (bench/nic_veth.sh): TX rows are peer-counted, RX rows received
nic() { value 6-nic "$1" 60 "$2"; }
nat_tx=$(nic 'unetmap native TX' 'Mpps peer-counted') emu_tx=$(nic 'unetmap emulated TX' 'Mpps peer-counted')
nat_rx=$(nic 'unetmap native RX' 'Mpps received') emu_rx=$(nic 'unetmap emulated RX' 'Mpps received')
sock_tx=$(nic 'send\\(\\) loop' 'Mpps peer-counted') sock_rx=$(nic 'recvmmsg' 'Mpps received')
xdp_tx=$(nic 'txonly; net_af_xdp' 'Mpps peer-counted') xdp_rx=$(nic 'rxonly; net_af_xdp' 'Mpps received')
afp_tx=$(nic 'txonly; net_af_packet' 'Mpps peer-counted') afp_rx=$(nic 'rxonly; net_af_packet' 'Mpps received')
tg_tx=$(nic 'trafgen' 'Mpps peer-counted')
nic_ceiling=$(awk -F, 'NR > 1 && $1 == "6-nic" && $4 == "Mpps peer-counted" && $5 != "" && $5 + 0 > m + 0 {m = $5} END {print m}' "$csv")

{
    echo "# unetmap benchmark results"
    echo
    echo "Written by \`bench/run${mode:+ --$mode}\` ($( [ "$mode" = default ] && echo 'default mode' || echo "--$mode" )) on $(date -u '+%Y-%m-%d %H:%M UTC'), ${took} s."
    echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), Linux $(uname -r);"
    echo "load average at the end $(cut -d' ' -f1-3 /proc/loadavg) (other work shared the machine: see docs/PERFORMANCE.md)."
    echo "Every row: median, min and max over the repetitions (reps)."
    echo
    echo "## Targets (issue 8)"
    echo
    echo "| target | measured | ratio | verdict |"
    echo "|---|---|---|---|"
    echo "| pipes >= 100 Mpps | ${pipe_peak:--} Mpps (best batch ${pipe_peak_b:--}); ${pipe_256:--} at batch 256 | $(ratio "${pipe_peak:-}" 100) x target | $(verdict "${pipe_peak:-}" 100) |"
    echo "| pipes >= 5x DPDK memif | ${pipe_peak:--} / ${memif60:--} Mpps | $(ratio "${pipe_peak:-}" "$memif60") x memif | $(verdict "$(ratio "${pipe_peak:-}" "$memif60")" 5) |"
    echo "| VALE >= 20 Mpps per sender core (60 B) | ${vale60:--} Mpps delivered | $(ratio "$vale60" 20) x target | $(verdict "$vale60" 20) |"
    echo "| VALE >= 1.5x DPDK memif | ${vale60:--} / ${memif60:--} Mpps | $(ratio "$vale60" "$memif60") x memif | $(verdict "$(ratio "$vale60" "$memif60")" 1.5) |"
    echo "| VALE >= 5x Linux bridge | ${vale60:--} / ${bridge60:--} Mpps | $(ratio "$vale60" "$bridge60") x bridge | $(verdict "$(ratio "$vale60" "$bridge60")" 5) |"
    echo "| pipes <= 15 cycles/pkt | ${cyc_pipe_256:--} at batch 256; best ${cyc_pipe_best:--} (batch ${cyc_pipe_best_b:--}) | $(ratio "${cyc_pipe_best:-}" 15) x target | $(verdict "${cyc_pipe_best:-}" 15 le) |"
    echo "| VALE <= 70 cycles/pkt | ${cyc_vale_256:--} at batch 256 | $(ratio "$cyc_vale_256" 70) x target | $(verdict "$cyc_vale_256" 70 le) |"
    if grep -q '^6-nic,' "$csv"; then
        echo "| NIC native TX >= DPDK af_xdp (veth, peer-counted) | ${nat_tx:--} / ${xdp_tx:--} Mpps | $(ratio "$nat_tx" "$xdp_tx") x af_xdp | $(verdict "$(ratio "$nat_tx" "$xdp_tx")" 1) |"
        echo "| NIC native RX >= DPDK af_xdp (veth, received) | ${nat_rx:--} / ${xdp_rx:--} Mpps | $(ratio "$nat_rx" "$xdp_rx") x af_xdp | $(verdict "$(ratio "$nat_rx" "$xdp_rx")" 1) |"
        echo "| NIC native TX >= 2x plain AF_PACKET send() loop | ${nat_tx:--} / ${sock_tx:--} Mpps | $(ratio "$nat_tx" "$sock_tx") x socket | $(verdict "$(ratio "$nat_tx" "$sock_tx")" 2) |"
        echo "| NIC native RX >= 2x plain recvmmsg receiver | ${nat_rx:--} / ${sock_rx:--} Mpps | $(ratio "$nat_rx" "$sock_rx") x socket | $(verdict "$(ratio "$nat_rx" "$sock_rx")" 2) |"
        echo "| NIC emulated TX >= trafgen | ${emu_tx:--} / ${tg_tx:--} Mpps | $(ratio "$emu_tx" "$tg_tx") x trafgen | $(verdict "$(ratio "$emu_tx" "$tg_tx")" 1) |"
        echo "| NIC emulated TX >= DPDK af_packet | ${emu_tx:--} / ${afp_tx:--} Mpps | $(ratio "$emu_tx" "$afp_tx") x af_packet | $(verdict "$(ratio "$emu_tx" "$afp_tx")" 1) |"
        echo "| NIC emulated RX >= DPDK af_packet | ${emu_rx:--} / ${afp_rx:--} Mpps | $(ratio "$emu_rx" "$afp_rx") x af_packet | $(verdict "$(ratio "$emu_rx" "$afp_rx")" 1) |"
        echo
        echo "NIC kernel ceiling on the veth (best peer-counted TX rate of any sender): ${nic_ceiling:--} Mpps;"
        echo "native TX reaches $(ratio "$nat_tx" "$nic_ceiling") of it, emulated TX $(ratio "$emu_tx" "$nic_ceiling")."
    fi
    echo
    if grep -q '^7-pcap,' "$csv"; then
        mon_held=$(awk -F, '$1 == "7-pcap" && $2 ~ /ratio: .*receiver; not read/ {print $5}' "$csv")
        mon_held_tx=$(awk -F, '$1 == "7-pcap" && $2 ~ /ratio: .*sender; not read/ {print $5}' "$csv")
        echo
        echo "| target | measured | | verdict |"
        echo "|---|---|---|---|"
        echo "| a /rt monitor costs a busy VALE port <= 5% (receiver's monitor, not read) | ${mon_held:--} x no monitor | | $(verdict "${mon_held:--}" 0.95) |"
        echo "| a /rt monitor costs a busy VALE port <= 5% (sender's monitor, not read) | ${mon_held_tx:--} x no monitor | | $(verdict "${mon_held_tx:--}" 0.95) |"
    fi
    echo
    for sc in 1-pipes 2-vale 4-cycles 4-callgrind 5-scaling 6-nic 7-pcap; do
        grep -q "^$sc," "$csv" || continue
        case $sc in
        1-pipes) echo "## 1. Pipes: 60-byte frames, two processes (x = batch)" ;;
        2-vale) echo "## 2. VALE (x = frame length in bytes, without CRC)" ;;
        4-cycles) echo "## 4a. Sender cycles per packet, TSC (x = batch)" ;;
        4-callgrind) echo "## 4b. callgrind: instructions per packet, inclusive (batch 64; x = sync_cost mode)" ;;
        5-scaling) echo "## 5. Scaling (x = senders, ports or pipes)" ;;
        6-nic) echo "## 6. NIC ports on a veth pair, 60-byte frames (bench/nic_veth.sh; TX: peer-counted, RX: received; see docs/PERFORMANCE-nic.md)" ;;
        7-pcap) echo "## 7. tcpdump on unetmap ports and on a veth; a monitor on a busy VALE port (bench/pcap_capture.sh; see docs/PERFORMANCE-pcap.md)" ;;
        esac
        echo
        echo "| series | x | metric | median | min | max | reps |"
        echo "|---|---:|---|---:|---:|---:|---:|"
        awk -F, -v sc="$sc" 'NR > 1 && $1 == sc {
            s = $2; gsub(/"/, "", s)
            printf "| %s | %s | %s | %s | %s | %s | %s |\n", s, $3, $4, ($5 == "" ? "**none**" : $5), $6, $7, $8 }' "$csv"
        echo
    done
} >"$md"

# ------------------------------------------------------------------ plots
if ! command -v gnuplot >/dev/null; then
    echo "report.sh: gnuplot not installed (apt-get install gnuplot-nox): no plots" >&2
    echo "(No plots: gnuplot was not installed.)" >>"$md"
    cat "$md"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/index"
rm -f "$dir"/{pipes_batch,vale_sizes_mpps,vale_sizes_gbps,cycles,scaling}.png
# series data files: x median min max, one file per (scenario, metric, series)
awk -F, -v d="$tmp" 'NR > 1 && $5 != "" {
    s = $2; gsub(/"/, "", s); key = $1 "|" $4 "|" s
    if (!(key in id)) { id[key] = ++n; print key > (d "/index") }
    f = d "/" id[key] ".dat"; print $3, $5, $6, $7 > f }' "$csv"
# plot FILE TITLE XLABEL YLABEL LOG(0|1: x|xy) "scenario|metric|series-prefix"...
plot() {
    local file=$1 title=$2 xl=$3 yl=$4 logx=$5; shift 5
    local cmds="" sel k
    for sel in "$@"; do
        while IFS= read -r k; do
            local n
            n=$(grep -nxF "$k" "$tmp/index" | cut -d: -f1)
            local t=${k#*|}; t=${t#*|}
            t=${t//_/\\_}
            local rows
            rows=$(wc -l <"$tmp/$n.dat")
            if [ "$rows" = 1 ] && [[ $t == *memif* ]]; then  # memif at its own burst (32): a level line
                cmds+="${cmds:+, }$(awk '{print $2}' "$tmp/$n.dat") with lines dt 2 lw 2 title \"$t\""
            else
                cmds+="${cmds:+, }'$tmp/$n.dat' using 1:2:3:4 with yerrorlines lw 2 title \"$t\""
            fi
        done < <(awk -v s="$sel" 'index($0, s) == 1' "$tmp/index")
    done
    [ -z "$cmds" ] && return
    gnuplot <<EOF
set terminal pngcairo size 1000,620 font ",11" noenhanced
set output '$dir/$file'
set title "$title"
set xlabel "$xl"
set ylabel "$yl"
set grid
set key outside bottom center horizontal maxrows 3
$( [ "$logx" != 0 ] && echo 'set logscale x 2' )
$( [ "$logx" = xy ] && echo 'set logscale y 10' || echo 'set yrange [0:*]' )
plot $cmds
EOF
}
plot pipes_batch.png "1. Pipes: 60-byte frames between two processes (median, min-max bars)" \
    "batch (frames per sync / system call)" "Mpps received (log scale)" xy "1-pipes|Mpps|"
plot vale_sizes_mpps.png "2. VALE vs memif vs Linux bridge: 1 sender, 1 receiver" "frame length (bytes)" \
    "Mpps delivered" 0 "2-vale|Mpps delivered|VALE 2 ports" "2-vale|Mpps delivered|DPDK" "2-vale|Mpps delivered|Linux"
plot vale_sizes_gbps.png "2. VALE vs memif vs Linux bridge: 1 sender, 1 receiver" "frame length (bytes)" \
    "Gbps delivered (frame bytes)" 0 "2-vale|Gbps|VALE 2 ports" "2-vale|Gbps|DPDK" "2-vale|Gbps|Linux"
plot cycles.png "4. Sender cycles per packet (TSC), 60-byte frames" "batch" "cycles / packet" 1 \
    "4-cycles|cycles/pkt|netmap pipe" "4-cycles|cycles/pkt|VALE 2 ports"
plot scaling.png "5. Scaling on this machine (aggregate Mpps delivered, 60-byte frames)" \
    "senders (pairs) / ports (flooding) / pipes (lb)" "Mpps delivered" 0 "5-scaling|Mpps delivered|"
ls "$dir"/*.png >/dev/null 2>&1 && {
    echo "## Plots"
    echo
    for p in pipes_batch vale_sizes_mpps vale_sizes_gbps cycles scaling; do
        [ -f "$dir/$p.png" ] && echo "![$p]($p.png)"
    done
} >>"$md"
cat "$md"
