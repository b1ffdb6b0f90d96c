#!/usr/bin/env bash
# bench/pcap_capture.sh: tcpdump on unetmap ports, beside tcpdump on a veth
# with the kernel's AF_PACKET, and the cost of a monitor on a busy VALE
# port; 60-byte frames, in one run.
#
#   bench/pcap_capture.sh [-r REPS] [-t SECONDS] [--build DIR] [--csv FILE] [--smoke]
#
#   -r REPS     repetitions of every case (default $REPS or 3), interleaved
#   -t SECONDS  sending time of one run (default $SECS or 3)
#   --build D   the Release build tree (pkt-gen, libunetmap-pcap.so)
#   --csv FILE  also append the results to FILE in bench/run's CSV format
#               (scenario 7-pcap)
#   --smoke     1 repetition of 0.5 s
#
# A. Capture rate: `tcpdump -n -w /dev/null` (Debian's, preloaded with
#    libunetmap-pcap.so for unetmap ports; -Z root) while a sender runs
#    flat out for SECONDS; the figure is what tcpdump reports captured,
#    over SECONDS, beside what was offered to it:
#      k_veth  tcpdump -i A, kernel AF_PACKET (TPACKET_V3), on a veth whose
#              peer B, in another namespace, gets the sendmmsg(64) loop
#              (bench/socket_loop.c); offered = A's rx_packets
#      u_veth  the same sender, tcpdump -i netmap:A (a unetmap NIC port,
#              native AF_XDP); offered = A's rx_packets
#      u_vale  pkt-gen -f tx on a VALE port, tcpdump on another port of the
#              switch (the broadcasts are flooded to it); offered = sent
#      u_pipe  pkt-gen -f tx on a pipe's master, tcpdump on its slave
#      u_mon   pkt-gen tx -> pkt-gen rx across a VALE switch, tcpdump on the
#              receiver's copy monitor (PORT/r)
#    The veth cases need root (namespaces, AF_XDP) and are skipped
#    otherwise.  Senders run on core 0, tcpdump on core 1.
# B. Monitor cost: pkt-gen -f tx (core 0) -> pkt-gen -f rx (core 1) across
#    a VALE switch, Mpps received, with nothing attached, with a /rt copy
#    monitor of the receiver held open but never read (tcpdump stopped
#    with SIGSTOP: the hook runs, finds the ring full, counts drops), with
#    tcpdump reading that monitor (a third busy process on two cores), and
#    with a /rt monitor of the sender held open.  Ratios to "none".
#
# Namespaces (unbpc<PID>a, unbpc<PID>b) and the veth pair between them are
# made here and deleted at exit; no existing interface is touched.  Exit
# status 0, or 1 if a case produced no number.
set -u

REPS=${REPS:-3} SECS=${SECS:-3}
build=build csv=""
cd "$(dirname "$0")/.." || exit 1
root=$PWD
while [ $# -gt 0 ]; do
    case $1 in
    -r) REPS=$2; shift ;;
    -t) SECS=$2; shift ;;
    --build) build=$2; shift ;;
    --csv) csv=$2; shift ;;
    --smoke) REPS=1 SECS=0.5 ;;
    -h|--help) sed -n '2,38p' "$0"; exit 0 ;;
    *) echo "pcap_capture.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
[[ $build = /* ]] || build=$root/$build
PG=$build/tools/pkt-gen/pkt-gen SHIM=$build/src/pcap/libunetmap-pcap.so
for f in "$PG" "$SHIM"; do [ -e "$f" ] || { echo "pcap_capture.sh: $f missing (cmake --build --preset release)" >&2; exit 1; }; done
TCPDUMP=$(command -v tcpdump || echo /usr/bin/tcpdump)
[ -x "$TCPDUMP" ] || { echo "pcap_capture.sh: SKIP: no tcpdump" >&2; exit 77; }
for t in timeout taskset; do command -v $t >/dev/null || { echo "pcap_capture.sh: SKIP: needs $t" >&2; exit 77; }; done
is_root=0
[ "$(id -u)" = 0 ] && command -v ip >/dev/null && is_root=1

id=$$
NSA=unbpc${id}a NSB=unbpc${id}b A=unbpA$id B=unbpB$id
work=$(mktemp -d /tmp/unetmap-pcapb.XXXXXX)
export UNETMAP_DIR=/dev/shm/unbpc$id-state  # tmpfs: AF_XDP needs it
export UNETMAP_NIC_NETNS_ONLY=1
mkdir -p "$UNETMAP_DIR"
pids=()
netns_made=0
cleanup() {
    local p
    for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null; kill -INT "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
        kill -0 "$p" 2>/dev/null && { pkill -KILL -P "$p"; kill -KILL "$p"; } 2>/dev/null
    done
    if [ $netns_made = 1 ]; then
        ip netns del "$NSA" 2>/dev/null
        ip netns del "$NSB" 2>/dev/null
    fi
    rm -rf "$UNETMAP_DIR" "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
t_start=$(date +%s)
log() { printf '[%4ds] %s\n' $(( $(date +%s) - t_start )) "$*" >&2; }

# run NS LOG SECS CMD...: in the background (NS "-": here), under timeout
# (SIGINT at SECS, SIGKILL 5 s later); pid in $bgpid
run() {
    local ns=$1 lg=$2 t=$3; shift 3
    if [ "$ns" = - ]; then timeout -s INT -k 5 "$t" "$@" >"$lg" 2>&1 &
    else ip netns exec "$ns" timeout -s INT -k 5 "$t" "$@" >"$lg" 2>&1 &
    fi
    bgpid=$!
    pids+=("$bgpid")
}
# stop PID: SIGINT to the timeout, which passes it on; wait for it
stop() { kill -CONT "$1" 2>/dev/null; pkill -CONT -P "$1" 2>/dev/null; kill -INT "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
wait_line() { # LOG REGEX SECS
    local i
    for ((i = 0; i < $3 * 10; i++)); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
T=$(awk -v s="$SECS" 'BEGIN {print int(s + 20)}')
res=$work/res
: >"$res"
put() { echo "$1 $2 ${3:-}" >>"$res"; }  # KEY METRIC VALUE
per_s() { awk -v n="$1" -v s="$2" 'BEGIN {if (n != "" && s > 0) printf "%.3f", n / s / 1e6}'; }
cnt() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3"; }
td_captured() { awk '/packets captured/ {print $1; exit}' "$1"; }
td_dropped() { awk '/packets dropped by (kernel|interface)/ {n += $1} END {print n + 0}' "$1"; }
pg_sent() { awk '/^Sent [0-9]+ packets/ {print $2; exit}' "$1"; }
pg_rx_mpps() { awk '/^Received [0-9]+ packets/ {for (i = 1; i < NF; i++) if ($i == "in") s = $(i+1); if (s > 0) printf "%.3f\n", $2 / s / 1e6}' "$1"; }
TD=(taskset -c 1 "$TCPDUMP" -n -q -w /dev/null)
[ "$(id -u)" = 0 ] && TD+=(-Z root)
TDU=(env "LD_PRELOAD=$SHIM" "${TD[@]}")

# ----------------------------------------------------------------- setup
loop=""
if [ $is_root = 1 ]; then
    loop=$work/socket_loop
    cc=$(command -v gcc || command -v cc) && "$cc" -O2 -Wall -o "$loop" "$root/bench/socket_loop.c" || is_root=0
fi
if [ $is_root = 1 ]; then
    if ip netns add "$NSA" && ip netns add "$NSB"; then
        netns_made=1
        ip -n "$NSA" link add "$A" numtxqueues 1 numrxqueues 1 type veth \
            peer name "$B" netns "$NSB" numtxqueues 1 numrxqueues 1 || is_root=0
        for p in "$NSA:$A" "$NSB:$B"; do
            ns=${p%%:*} ifn=${p#*:}
            ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
            ip -n "$ns" link set lo up
            ip -n "$ns" link set "$ifn" up || is_root=0
        done
        sleep 0.5
    else
        is_root=0
    fi
fi
[ $is_root = 1 ] || log "veth cases skipped (need root, iproute2, a C compiler)"

# --------------------------------------------------------- A. capture rate
# veth_case KEY TCPDUMP-ARGV...: tcpdump in namespace A; the sendmmsg loop
# on B for SECS
veth_case() {
    local key=$1; shift
    local lg=$work/$key.log
    run "$NSA" "$lg" "$T" "$@"
    local tp=$bgpid
    wait_line "$lg" 'listening on' 20 || log "   $key: tcpdump not listening after 20 s"
    sleep 0.3
    local r0 r1
    r0=$(cnt "$NSA" "$A" rx_packets)
    run "$NSB" "$work/$key.tx" "$T" taskset -c 0 "$loop" txm "$B" "$SECS" 60 64
    wait "$bgpid" 2>/dev/null
    sleep 0.5  # tcpdump drains what is queued
    r1=$(cnt "$NSA" "$A" rx_packets)
    stop "$tp"
    local got
    got=$(td_captured "$lg")
    put "$key" cap "$(per_s "$got" "$SECS")"
    put "$key" off "$(per_s "$((r1 - r0))" "$SECS")"
    put "$key" pct "$(awk -v a="$got" -v b="$((r1 - r0))" 'BEGIN {if (a != "" && b > 0) printf "%.1f", 100 * a / b}')"
    [ -n "$got" ] || { log "   $key: no count from tcpdump:"; tail -5 "$lg" >&2; }
    log "   $key: captured ${got:--} of $((r1 - r0)) ($(per_s "$got" "$SECS") Mpps)"
}
# local_case KEY CAPTURE-DEVICE SENDER-PORT [RECEIVER-PORT]: unetmap only
local_case() {
    local key=$1 dev=$2 txp=$3 rxp=${4:-}
    local lg=$work/$key.log rp=""
    if [ -n "$rxp" ]; then
        run - "$work/$key.rx" "$T" taskset -c 1 "$PG" -i "$rxp" -f rx -b 1024
        rp=$bgpid
        wait_line "$work/$key.rx" 'Receiving from' 20 || sleep 0.5
    fi
    run - "$lg" "$T" "${TDU[@]}" -i "$dev"
    local tp=$bgpid
    wait_line "$lg" 'listening on' 20 || log "   $key: tcpdump not listening after 20 s"
    sleep 0.3
    run - "$work/$key.tx" "$T" timeout -s INT "$SECS" "$PG" -i "$txp" -f tx -l 60 -a 0 -b 512
    wait "$bgpid" 2>/dev/null
    sleep 0.5
    stop "$tp"
    [ -n "$rp" ] && stop "$rp"
    local got sent
    got=$(td_captured "$lg") sent=$(pg_sent "$work/$key.tx")
    put "$key" cap "$(per_s "$got" "$SECS")"
    put "$key" off "$(per_s "$sent" "$SECS")"
    put "$key" pct "$(awk -v a="$got" -v b="$sent" 'BEGIN {if (a != "" && b > 0) printf "%.1f", 100 * a / b}')"
    [ -n "$got" ] || { log "   $key: no count from tcpdump:"; tail -5 "$lg" >&2; }
    log "   $key: captured ${got:--} of ${sent:--} ($(per_s "$got" "$SECS") Mpps), tcpdump's drops $(td_dropped "$lg")"
}
c_k_veth() { veth_case k_veth "${TD[@]}" -i "$A"; }
c_u_veth() { veth_case u_veth env UNETMAP_ADMODE=1 "${TDU[@]}" -i "netmap:$A"; }
c_u_vale() { local s=pcv$RANDOM; local_case u_vale "vale$s:cap" "vale$s:tx"; }
c_u_pipe() { local s=pcp$RANDOM; local_case u_pipe "$s}0" "$s{0"; }
c_u_mon() { local s=pcm$RANDOM; local_case u_mon "vale$s:b/r" "vale$s:a" "vale$s:b"; }

# --------------------------------------------------------- B. monitor cost
# mon_case KEY [none|held_rx|read_rx|held_tx]
mon_case() {
    local key=$1 how=$2 s=vmc$RANDOM
    local rxl=$work/$key.rx mp=""
    run - "$rxl" "$T" "$PG" -i "vale$s:b" -f rx -a 1 -b 1024
    local rp=$bgpid
    wait_line "$rxl" 'Receiving from' 20 || sleep 0.5
    local watched=vale$s:b
    if [ "$how" = held_tx ]; then
        # the sender's port must exist before its monitor: a receiver-less
        # port holds it (pkt-gen tx opens the same port afterwards)
        run - "$work/$key.hold" "$T" "$PG" -i "vale$s:a" -f rx
        mp=$bgpid
        wait_line "$work/$key.hold" 'Receiving from' 20 || sleep 0.5
        watched=vale$s:a
    fi
    local tp=""
    if [ "$how" != none ]; then
        run - "$work/$key.td" "$T" "${TDU[@]}" -i "$watched/rt"
        tp=$bgpid
        wait_line "$work/$key.td" 'listening on' 20 || log "   $key: tcpdump not listening"
        [ "$how" = read_rx ] || { pkill -STOP -P "$tp"; kill -STOP "$tp"; }
    fi
    sleep 0.2
    timeout -s INT "$SECS" "$PG" -i "vale$s:a" -f tx -l 60 -a 0 -b 512 -N >/dev/null 2>&1
    sleep 0.2
    stop "$rp"
    [ -n "$tp" ] && stop "$tp"
    [ -n "$mp" ] && stop "$mp"
    local v
    v=$(pg_rx_mpps "$rxl")
    put "$key" rx "$v"
    [ -n "$v" ] || { log "   $key: nothing received:"; tail -5 "$rxl" >&2; }
    log "   $key: ${v:--} Mpps received"
}
c_m_none() { mon_case m_none none; }
c_m_held() { mon_case m_held held_rx; }
c_m_read() { mon_case m_read read_rx; }
c_m_held_tx() { mon_case m_held_tx held_tx; }

cases="u_vale u_pipe u_mon"
[ $is_root = 1 ] && cases="k_veth u_veth $cases"
cases+=" m_none m_held m_read m_held_tx"
declare -A label=(
    [k_veth]="tcpdump -i veth (kernel AF_PACKET), sendmmsg(64) loop on the peer"
    [u_veth]="tcpdump -i netmap:veth (unetmap native NIC port), same sender"
    [u_vale]="tcpdump -i valeS:cap (unetmap VALE port), pkt-gen tx on the switch"
    [u_pipe]="tcpdump -i 'x}0' (unetmap pipe), pkt-gen tx on 'x{0'"
    [u_mon]="tcpdump -i valeS:b/r (copy monitor), pkt-gen tx -> rx"
    [m_none]="VALE pkt-gen tx -> rx, no monitor"
    [m_held]="VALE pkt-gen tx -> rx, /rt monitor of the receiver, not read"
    [m_read]="VALE pkt-gen tx -> rx, /rt monitor of the receiver read by tcpdump"
    [m_held_tx]="VALE pkt-gen tx -> rx, /rt monitor of the sender, not read"
)
log "pcap_capture: $REPS reps x ${SECS}s, 60-byte frames; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((rep = 1; rep <= REPS; rep++)); do
    for c in $cases; do
        log "rep $rep: ${label[$c]}"
        "c_$c"
    done
done

# ----------------------------------------------------------------- table
. "$(dirname "${BASH_SOURCE[0]}")/stats.sh"  # stats, ratio
med() { stats "$1" "$2" | cut -d' ' -f1; }
rc=0
emit() { # KEY METRIC UNIT
    local s
    read -r -a s <<<"$(stats "$1" "$2")"
    [ "${s[3]}" = 0 ] && rc=1
    echo "| ${label[$1]} | $3 | ${s[0]} | ${s[1]} | ${s[2]} | ${s[3]} |"
    if [ -n "$csv" ]; then
        local v=("${s[@]:0:3}")
        [ "${s[3]}" = 0 ] && v=("" "" "")
        echo "7-pcap,\"${label[$1]//,/;}\",60,$3,${v[0]},${v[1]},${v[2]},${s[3]}" >>"$csv"
    fi
}
echo "### A. Capture rate of tcpdump -w /dev/null, 60-byte frames ($REPS x ${SECS}s)"
echo
echo "| case | metric | median | min | max | reps |"
echo "|---|---|---:|---:|---:|---:|"
for c in k_veth u_veth u_vale u_pipe u_mon; do
    [[ " $cases " == *" $c "* ]] || continue
    emit "$c" cap "Mpps captured"
    emit "$c" off "Mpps offered"
    emit "$c" pct "% captured"
done
echo
echo "### B. A monitor on a busy VALE port: pkt-gen tx -> rx, Mpps received ($REPS x ${SECS}s)"
echo
echo "| case | metric | median | min | max | reps |"
echo "|---|---|---:|---:|---:|---:|"
for c in m_none m_held m_read m_held_tx; do emit "$c" rx "Mpps received"; done
echo
base=$(med m_none rx)
echo "| monitor | median / no monitor | reduction | target (<= 5%) |"
echo "|---|---:|---:|---|"
for c in m_held m_read m_held_tx; do
    r=$(ratio "$(med "$c" rx)" "$base")
    red=$(awk -v r="$r" 'BEGIN {if (r == "-") print "-"; else printf "%.1f%%", (1 - r) * 100}')
    ok=$(awk -v r="$r" 'BEGIN {if (r == "-") print "not measured"; else if (r >= 0.95) print "MET"; else print "MISSED"}')
    echo "| ${label[$c]#VALE pkt-gen tx -> rx, } | $r | $red | $ok |"
    [ -n "$csv" ] && [ "$r" != - ] && echo "7-pcap,\"ratio: ${label[$c]//,/;}\",60,ratio to no monitor,$r,$r,$r,1" >>"$csv"
done
log "pcap_capture: done (exit $rc)"
exit $rc
