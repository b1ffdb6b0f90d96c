#!/usr/bin/env bash
# bench/nic_veth.sh: unetmap NIC ports (netmap:IFNAME) on a veth pair,
# side by side with the plain AF_PACKET socket loop, DPDK testpmd
# (net_af_xdp, net_af_packet) and trafgen, 60-byte frames, in one run.
#
#   bench/nic_veth.sh [-r REPS] [-t SECONDS] [--build DIR] [--csv FILE]
#                     [--smoke] [--no-dpdk] [--no-trafgen]
#
#   -r REPS     repetitions of every case (default $REPS or 3); the table
#               gives median and min-max
#   -t SECONDS  measuring time of one run (default $SECS or 5)
#   --build D   the Release build tree with tools/pkt-gen/pkt-gen (build)
#   --csv FILE  also append the results to FILE in bench/run's CSV format
#               (scenario 6-nic)
#   --smoke     1 repetition of 0.5 s, unetmap and socket cases only
#   --no-dpdk / --no-trafgen   leave those peers out
#
# Topology, made here and deleted at exit (trap), never touching any
# existing interface:
#
#   [ns unbnicPIDa] unbnAPID ==veth== unbnBPID [ns unbnicPIDb]
#
# A is the side under test; B is the peer.  TX cases send on A; the figure
# is what the peer's kernel counted (B's rx_packets over a steady window:
# a veth drops what it cannot take, and a sender's own count does not see
# that), the sender's own rate beside it.  RX cases receive on A from one
# and the same fast sender on B (the sendmmsg(64) loop); the figure is
# what the receiver got per second, beside what reached A (A's
# rx_packets).  Senders run on core $TXCPU (0), receivers on core $RXCPU
# (1); the veth's own work (xmit, the peer's backlog or NAPI) runs in
# softirq on the sending core.  Before each run the script waits (up to
# $QUIET_MAX s) until no other session's packet tool is running.
# Needs root; exits 77 (skip) without it.
set -u

REPS=${REPS:-3} SECS=${SECS:-5} TXCPU=${TXCPU:-0} RXCPU=${RXCPU:-1} QUIET_MAX=${QUIET_MAX:-120}
build=build csv="" dpdk=1 trafgen=1
cd "$(dirname "$0")/.." || exit 1
root=$PWD
while [ $# -gt 0 ]; do
    case $1 in
    -r) REPS=$2; shift ;;
    -t) SECS=$2; shift ;;
    --build) build=$2; shift ;;
    --csv) csv=$2; shift ;;
    --smoke) REPS=1 SECS=0.5 dpdk=0 trafgen=0 ;;
    --no-dpdk) dpdk=0 ;;
    --no-trafgen) trafgen=0 ;;
    -h|--help) sed -n '2,34p' "$0"; exit 0 ;;
    *) echo "nic_veth.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
[ "$(id -u)" = 0 ] || { echo "nic_veth.sh: SKIP: needs root (network namespaces, AF_XDP)" >&2; exit 77; }
for t in ip timeout taskset; do
    command -v $t >/dev/null || { echo "nic_veth.sh: SKIP: needs $t" >&2; exit 77; }
done
[[ $build = /* ]] || build=$root/$build
PG=$build/tools/pkt-gen/pkt-gen
[ -x "$PG" ] || { echo "nic_veth.sh: $PG missing (cmake --build --preset release)" >&2; exit 1; }
[ "$dpdk" = 1 ] && ! command -v dpdk-testpmd >/dev/null && dpdk=0 no_dpdk_note="dpdk-testpmd not installed: DPDK cases skipped"
[ "$trafgen" = 1 ] && ! command -v trafgen >/dev/null && trafgen=0 no_tg_note="trafgen (netsniff-ng) not installed: trafgen case skipped"

id=$$
NSA=unbnic${id}a NSB=unbnic${id}b A=unbnA$id B=unbnB$id
work=$(mktemp -d /tmp/unetmap-nic.XXXXXX)
# On tmpfs: native mode cannot register a UMEM backed by a file on a disk
# filesystem (ext4 /tmp: the bind fails with EFAULT).
export UNETMAP_DIR=/dev/shm/unbn$id-state
mkdir -p "$UNETMAP_DIR"
pids=()
cleanup() {
    local p
    # pids are `timeout`s: SIGINT is passed on to the tool; a SIGKILL would
    # not be, so a survivor's children (the tool) get it by parent pid
    for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
        kill -0 "$p" 2>/dev/null && { pkill -KILL -P "$p"; kill -KILL "$p"; } 2>/dev/null
    done
    ip netns del "$NSA" 2>/dev/null
    ip netns del "$NSB" 2>/dev/null
    rm -rf /var/run/dpdk/unbn"$id"* /dev/shm/unbn"$id"* 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
t_start=$(date +%s)
log() { printf '[%4ds] %s\n' $(( $(date +%s) - t_start )) "$*" >&2; }

# ----------------------------------------------------------------- setup
loop=$work/socket_loop
cc=$(command -v gcc || command -v cc) || { echo "nic_veth.sh: no C compiler for bench/socket_loop.c" >&2; exit 1; }
"$cc" -O2 -Wall -o "$loop" "$root/bench/socket_loop.c" || exit 1
ip netns add "$NSA" && ip netns add "$NSB" || { echo "nic_veth.sh: ip netns add failed" >&2; exit 1; }
ip -n "$NSA" link add "$A" numtxqueues 1 numrxqueues 1 type veth \
    peer name "$B" netns "$NSB" numtxqueues 1 numrxqueues 1 || { echo "nic_veth.sh: veth failed" >&2; exit 1; }
for p in "$NSA:$A" "$NSB:$B"; do
    ns=${p%%:*} ifn=${p#*:}
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip netns exec "$ns" ethtool -K "$ifn" tx off tso off gso off >/dev/null 2>&1
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "$ifn" up || exit 1
done
sleep 0.5

cnt() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3"; }
now() { date +%s.%N; }
SID=$(ps -o sid= -p $$ | tr -d ' ')
foreign() {
    ps -eo sid=,comm= | awk -v s="$SID" '$1 != s && $2 ~ /^(dpdk-testpmd|testpmd|trafgen|pkt-gen|pipe_rate|vale_rate|socket_peer|socket_loop|rawsock|pktsock|iperf3?)$/ {f = 1} END {exit !f}'
}
wait_quiet() {
    local i
    for ((i = 0; i < QUIET_MAX * 2; i++)); do
        foreign || return 0
        [ $i = 0 ] && log "   waiting for another session's packet tool to finish"
        sleep 0.5
    done
    log "   gave up waiting for quiet after ${QUIET_MAX}s"
}
# bg NS LOG SECS CMD...: run CMD in namespace NS under timeout (SIGINT at
# SECS, SIGKILL 5 s later); its pid in $bgpid
spawn() {
    local ns=$1 lg=$2 t=$3; shift 3
    ip netns exec "$ns" timeout -s INT -k 5 "$t" "$@" >"$lg" 2>&1 &
    bgpid=$!
    pids+=("$bgpid")
}
stop() { kill -INT "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
wait_line() { # LOG REGEX SECONDS PID (while PID lives)
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        grep -Eq "$2" "$1" 2>/dev/null && return 0
        kill -0 "$4" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
# steady NS IF SECONDS PID: once IF's rx_packets moves (up to 20 s, while
# the sender PID lives), its rate over SECONDS after 0.3 s of warm-up, in
# Mpps ("" if nothing moved)
steady() {
    local ns=$1 ifn=$2 s=$3 pid=$4 c0 c1 c2 t1 t2 i
    c0=$(cnt "$ns" "$ifn" rx_packets)
    for ((i = 0; i < 200; i++)); do
        sleep 0.1
        kill -0 "$pid" 2>/dev/null || break
        c1=$(cnt "$ns" "$ifn" rx_packets)
        [ "$c1" -gt $((c0 + 1000)) ] && break
    done
    [ "$c1" -gt $((c0 + 1000)) ] || { echo ""; return; }
    sleep 0.3
    c1=$(cnt "$ns" "$ifn" rx_packets) t1=$(now)
    sleep "$s"
    c2=$(cnt "$ns" "$ifn" rx_packets) t2=$(now)
    awk -v a="$c1" -v b="$c2" -v x="$t1" -v y="$t2" 'BEGIN {printf "%.4f", (b - a) / (y - x) / 1e6}'
}
# rates from the tools' own reports, in Mpps
r_pktgen() { awk '/^(Sent|Received) [0-9]+ packets/ {for (i = 1; i < NF; i++) if ($i == "in") s = $(i+1); if (s > 0) printf "%.4f", $2 / s / 1e6}' "$1"; }
r_loop() { awk 'NR == 1 && $2 > 0 {print $2}' "$1"; }
r_testpmd() { # LOG Tx|Rx: median of the per-second samples, less the first (partial) one
    grep -oE "$2-pps: +[0-9]+" "$1" | awk '$2 > 0 {print $2}' | tail -n +2 | sort -g |
        awk '{a[NR] = $1} END {if (NR) printf "%.4f", (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2) / 1e6}'
}
r_trafgen() { # "N sec, M usec on CPU0 (P packets)": the worker's run time (lines start with \r)
    tr -d '\r' <"$1" | awk '/usec on CPU/ {t = $1 + $3 / 1e6; p = $(NF-1); sub(/^\(/, "", p)}
        END {if (t > 0) printf "%.4f", p / t / 1e6}'
}

EAL=(--no-huge -m 512 --no-pci)
PMD=(--stats-period 1 --total-num-mbufs=16384 --txpkts=60)
FRAME='{ fill(0xff, 6), 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, c16(0x88b5), fill(0x00, 46) }'
# What the peer's kernel does with a frame runs on the sending core (veth
# delivers in softirq there), so every sender must send frames the peer
# drops at once.  The socket loop and trafgen send broadcast frames of an
# EtherType nobody handles (dropped at the protocol demux); testpmd txonly
# sends IPv4/UDP to 02:00:00:00:00:00, which the peer drops as another
# host's.  pkt-gen's default frame is IPv4/UDP to ff:ff:ff:ff:ff:ff: the
# peer would route it (and fail) for every frame, which cost pkt-gen 35% of
# its rate.  It gets testpmd's destination.
PG_DST=(-D 02:00:00:00:00:00)
T=$(awk -v s="$SECS" 'BEGIN {printf "%d", s + 25}')  # every process's time bound
res=$work/results
: >"$res"
put() { echo "$1 $2 ${3:-}" >>"$res"; }  # KEY METRIC VALUE

# ------------------------------------------------------------- TX cases
# tx_case KEY PARSER CMD...: CMD sends on A from namespace A; records
# KEY fig (peer-counted Mpps) and KEY aux (the sender's own Mpps)
tx_case() {
    local key=$1 parser=$2; shift 2
    local lg=$work/$key.log peer
    spawn "$NSA" "$lg" "$T" "$@"
    local sp=$bgpid
    peer=$(steady "$NSB" "$B" "$SECS" "$sp")
    stop "$sp"
    local own
    case $parser in
    pktgen) own=$(r_pktgen "$lg") ;;
    loop) own=$(r_loop "$lg") ;;
    testpmd) own=$(r_testpmd "$lg" Tx) ;;
    trafgen) own=$(r_trafgen "$lg") ;;
    esac
    put "$key" fig "$peer"
    put "$key" aux "$own"
    [ -n "$peer" ] || { log "   $key: no traffic reached the peer; log:"; tail -5 "$lg" >&2; }
    log "   $key: peer-counted ${peer:--} Mpps, sender ${own:--} Mpps"
}
# rx_case KEY PARSER READY-REGEX CMD...: CMD receives on A; the peer sends
# with the sendmmsg(64) loop on B (the fastest sender always at hand); records KEY fig (received Mpps) and KEY aux
# (Mpps that reached A)
rx_case() {
    local key=$1 parser=$2 ready=$3; shift 3
    local lg=$work/$key.log
    spawn "$NSA" "$lg" "$T" "$@"
    local rp=$bgpid
    [ -z "$ready" ] || wait_line "$lg" "$ready" 20 "$rp" || log "   $key: receiver not ready after 20 s"
    sleep 0.3
    spawn "$NSB" "$work/$key.tx.log" "$T" taskset -c "$TXCPU" "$loop" txm "$B" "$T" 60 64
    local sp=$bgpid arrived
    arrived=$(steady "$NSA" "$A" "$SECS" "$sp")
    stop "$sp"
    sleep 0.3
    stop "$rp"
    local got
    case $parser in
    pktgen) got=$(r_pktgen "$lg") ;;
    loop) got=$(r_loop "$lg") ;;
    testpmd) got=$(r_testpmd "$lg" Rx) ;;
    esac
    put "$key" fig "$got"
    put "$key" aux "$arrived"
    [ -n "$got" ] || { log "   $key: nothing received; log:"; tail -5 "$lg" >&2; }
    log "   $key: received ${got:--} Mpps, reached $A ${arrived:--} Mpps"
}

pin_tx=(taskset -c "$TXCPU") pin_rx=(taskset -c "$RXCPU")
c_u_nat_tx() { tx_case u_nat_tx pktgen env UNETMAP_ADMODE=1 "${pin_tx[@]}" "$PG" -f tx -i "netmap:$A" -l 60 "${PG_DST[@]}"; }
c_u_emu_tx() { tx_case u_emu_tx pktgen env UNETMAP_ADMODE=2 "${pin_tx[@]}" "$PG" -f tx -i "netmap:$A" -l 60 "${PG_DST[@]}"; }
c_s_tx() { tx_case s_tx loop "${pin_tx[@]}" "$loop" tx "$A" "$T" 60; }
c_s_txm() { tx_case s_txm loop "${pin_tx[@]}" "$loop" txm "$A" "$T" 60 64; }
c_u_nat_rx() { rx_case u_nat_rx pktgen '^Receiving from' env UNETMAP_ADMODE=1 "${pin_rx[@]}" "$PG" -f rx -i "netmap:$A"; }
c_u_emu_rx() { rx_case u_emu_rx pktgen '^Receiving from' env UNETMAP_ADMODE=2 "${pin_rx[@]}" "$PG" -f rx -i "netmap:$A"; }
c_s_rx() { rx_case s_rx loop '' "${pin_rx[@]}" "$loop" rx "$A" "$T"; }
vdev() { # af_xdp|af_packet
    if [ "$1" = af_xdp ]; then echo "net_af_xdp0,iface=$A,start_queue=0,queue_count=1"
    else echo "net_af_packet0,iface=$A,qpairs=1"; fi
}
# testpmd: the forwarding lcore is the second of -l; the main one only prints
c_d_tx() { # af_xdp|af_packet
    tx_case "d_${1#af_}_tx" testpmd dpdk-testpmd -l "$RXCPU,$TXCPU" --main-lcore "$RXCPU" "${EAL[@]}" \
        --file-prefix "unbn${id}t$1" --vdev "$(vdev "$1")" -- --forward-mode=txonly "${PMD[@]}"
}
c_d_rx() {
    rx_case "d_${1#af_}_rx" testpmd 'Port statistics' dpdk-testpmd -l "$TXCPU,$RXCPU" --main-lcore "$TXCPU" "${EAL[@]}" \
        --file-prefix "unbn${id}r$1" --vdev "$(vdev "$1")" -- --forward-mode=rxonly "${PMD[@]}"
}
c_d_xdp_tx() { c_d_tx af_xdp; }
c_d_xdp_rx() { c_d_rx af_xdp; }
c_d_packet_tx() { c_d_tx af_packet; }
c_d_packet_rx() { c_d_rx af_packet; }
c_tg_tx() { tx_case tg_tx trafgen "${pin_tx[@]}" trafgen -o "$A" -P 1 --no-sock-mem --notouch-irq "$FRAME"; }

cases="u_nat_tx u_emu_tx s_tx s_txm"
[ "$dpdk" = 1 ] && cases+=" d_xdp_tx d_packet_tx"
[ "$trafgen" = 1 ] && cases+=" tg_tx"
cases+=" u_nat_rx u_emu_rx s_rx"
[ "$dpdk" = 1 ] && cases+=" d_xdp_rx d_packet_rx"

declare -A label=(
    [u_nat_tx]="unetmap native TX (AF_XDP, pkt-gen)"
    [u_emu_tx]="unetmap emulated TX (AF_PACKET, pkt-gen)"
    [s_tx]="plain AF_PACKET send() loop"
    [s_txm]="plain AF_PACKET sendmmsg(64) loop"
    [d_xdp_tx]="DPDK testpmd txonly, net_af_xdp"
    [d_packet_tx]="DPDK testpmd txonly, net_af_packet"
    [tg_tx]="trafgen (netsniff-ng, TX ring)"
    [u_nat_rx]="unetmap native RX (AF_XDP, pkt-gen)"
    [u_emu_rx]="unetmap emulated RX (AF_PACKET, pkt-gen)"
    [s_rx]="plain AF_PACKET recvmmsg(64) receiver"
    [d_xdp_rx]="DPDK testpmd rxonly, net_af_xdp"
    [d_packet_rx]="DPDK testpmd rxonly, net_af_packet"
)

log "nic_veth: $REPS reps x ${SECS}s, 60-byte frames, $A <-> $B, senders on core $TXCPU, receivers on core $RXCPU"
[ -n "${no_dpdk_note:-}" ] && log "$no_dpdk_note"
[ -n "${no_tg_note:-}" ] && log "$no_tg_note"
# Repetitions outside, cases inside: drift in the machine's load spreads
# over every case alike.
for ((rep = 1; rep <= REPS; rep++)); do
    for c in $cases; do
        wait_quiet
        log "rep $rep: ${label[$c]}"
        "c_$c"
    done
done

# ----------------------------------------------------------------- table
. "$(dirname "${BASH_SOURCE[0]}")/stats.sh"  # stats, ratio
med() { stats "$1" "${2:-fig}" | cut -d' ' -f1; }
verdict() { # RATIO TARGET
    awk -v v="$1" -v t="$2" 'BEGIN {if (v == "-") print "not measured"; else if (v + 0 >= t + 0) print "MET"; else printf "MISSED (%.0f%% short)\n", (1 - v / t) * 100}'
}
ref_plain() { case $1 in *_tx|*_txm) echo s_tx ;; *) echo s_rx ;; esac; }
ref_dpdk() { # native -> af_xdp, emulated -> af_packet, same direction
    case $1 in u_nat_*) echo "d_xdp_${1##*_}" ;; u_emu_*) echo "d_packet_${1##*_}" ;; *) echo "" ;; esac
}
ceiling=$(for c in $cases; do case $c in *_tx) med "$c" ;; esac; done | awk '$1 != "-"' | sort -g | tail -1)
best_tx=""
for c in $cases; do case $c in *_tx) [ "$(med "$c")" = "$ceiling" ] && best_tx=$c ;; esac; done
report=$work/report.md
{
    echo "## unetmap NIC ports on a veth pair: 60-byte frames, $REPS x ${SECS}s per case"
    echo
    echo "$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), Linux $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)."
    echo "TX figure: Mpps the peer's kernel counted (rx_packets of $B); RX figure: Mpps the receiver got."
    echo "x plain: over the plain AF_PACKET send() loop (TX) or recvmmsg receiver (RX); x DPDK: over testpmd's"
    echo "af_xdp (native rows) or af_packet (emulated rows) in the same direction; x trafgen: emulated TX over trafgen."
    echo
    echo "| case | figure Mpps (median) | min-max | sender Mpps (TX) / reached $A Mpps (RX) | x plain | x DPDK | x trafgen |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for c in $cases; do
        read -r m lo hi n <<<"$(stats "$c" fig)"
        read -r am _ _ _ <<<"$(stats "$c" aux)"
        d=$(ref_dpdk "$c") xd=- xt=-
        [ -n "$d" ] && [[ " $cases " == *" $d "* ]] && xd=$(ratio "$m" "$(med "$d")")
        [ "$c" = u_emu_tx ] && [ "$trafgen" = 1 ] && xt=$(ratio "$m" "$(med tg_tx)")
        printf '| %s | %s | %s-%s | %s | %s | %s | %s |\n' "${label[$c]}" "$m" "$lo" "$hi" "$am" \
            "$(ratio "$m" "$(med "$(ref_plain "$c")")")" "$xd" "$xt"
    done
    echo
    echo "Kernel ceiling on this veth (best peer-counted TX rate): ${ceiling:--} Mpps (${label[$best_tx]:-none})."
    for c in u_nat_tx u_emu_tx; do
        echo "- ${label[$c]}: $(med "$c") Mpps = $(ratio "$(med "$c")" "$ceiling") x the ceiling"
    done
    for c in u_nat_rx u_emu_rx; do
        echo "- ${label[$c]}: got $(med "$c") of $(med "$c" aux) Mpps that reached $A = $(ratio "$(med "$c")" "$(med "$c" aux)") (sender: sendmmsg(64) loop on $B)"
    done
    echo
    echo "### Targets"
    echo
    echo "| target | ratio | verdict |"
    echo "|---|---:|---|"
    for d in tx rx; do
        r=$(ratio "$(med u_nat_$d)" "$(med d_xdp_$d)")
        echo "| native $d >= DPDK af_xdp $d | $r | $(verdict "$r" 1) |"
        r=$(ratio "$(med u_nat_$d)" "$(med "$(ref_plain "u_nat_$d")")")
        echo "| native $d >= 2x plain socket loop ($( [ $d = tx ] && echo 'send()' || echo recvmmsg)) | $r | $(verdict "$r" 2) |"
    done
    r=$(ratio "$(med u_emu_tx)" "$(med tg_tx)")
    echo "| emulated tx >= trafgen | $r | $(verdict "$r" 1) |"
    for d in tx rx; do
        r=$(ratio "$(med u_emu_$d)" "$(med d_packet_$d)")
        echo "| emulated $d >= DPDK af_packet $d | $r | $(verdict "$r" 1) |"
    done
    [ -n "${no_dpdk_note:-}" ] && echo && echo "($no_dpdk_note.)"
    [ -n "${no_tg_note:-}" ] && echo && echo "($no_tg_note.)"
} >"$report"
cat "$report"

if [ -n "$csv" ]; then
    for c in $cases; do
        case $c in *_tx|*_txm) fm="Mpps peer-counted" am="Mpps sent" ;; *) fm="Mpps received" am="Mpps reached port" ;; esac
        for m in fig aux; do
            read -r md lo hi n <<<"$(stats "$c" $m)"
            [ "$md" = - ] && md="" lo="" hi=""
            echo "6-nic,\"${label[$c]//,/;}\",60,$( [ $m = fig ] && echo "$fm" || echo "$am"),$md,$lo,$hi,$n" >>"$csv"
        done
    done
fi
log "done ($(( $(date +%s) - t_start )) s)"
exit 0
