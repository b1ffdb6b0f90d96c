#!/bin/sh
# vale_nic_test.sh VALECTL PKTGEN TCPXFER CASE
# Interfaces attached to a VALE switch (valectl -a valeS:IF), in network
# namespaces of the test's own:
#
#   [A] pa ==veth== ma [M] mb ==veth== pb [B]
#                    \     /
#                  vale$id (+ port vale$id:local, pkt-gen in M)
#
# traffic_*  ma and mb attached: A pings B and moves 4 MB over TCP through
#            the switch; N frames from the local port reach both pa and pb;
#            N frames sent from pa (and then pb) reach the local port;
# lifecycle  the agent outlives the shell that attached (SIGHUP to its
#            process group), has no terminal and stdin on /dev/null;
#            detach stops it and A-B traffic stops; a SIGKILLed agent is
#            listed without agent, detached cleanly, and a new attach
#            forwards again; deleting the veth makes the agent go and its
#            member leave the switch;
# host_rings_*  M's own stack on ma (10.79.0.3): attached with -a, ma is
#            cut off from it (A cannot ping M); with -h the switch has
#            members ma and ma^ and A and M ping each other through it
#            (wire -> ma -> switch -> ma^ -> M's stack, and back); after -d
#            ma is an ordinary interface again (A pings M directly);
# bad_input  unknown interface (ENXIO), attached twice or to another
#            switch, or held by another process (EBUSY), detach of what
#            is not attached (ENXIO): each leaves no agent, no member, no
#            XDP program.
# *_native uses AF_XDP (UNETMAP_ADMODE=1), *_emulated AF_PACKET (2).
# Needs root; namespaces and veth pairs are deleted at exit.
VALECTL=$1 PKTGEN=$2 XFER=$3 CASE=$4
T=${TOOLS_TEST_TIMEOUT:-30}
. "$(dirname "$0")/testlib.sh"
testlib_setup valenic
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v ip >/dev/null || { echo "SKIP: needs iproute2"; exit 77; }

case $CASE in
    *_native) export UNETMAP_ADMODE=1 ;;
    *_emulated) export UNETMAP_ADMODE=2 ;;
esac
id=$$
A=unvn${id}a M=unvn${id}m B=unvn${id}b
SW=vale$id
export UNETMAP_AGENT_LOG=$out/agent.log

# The agents of this run: "unetmap-vale-agent -p vale<id>:..." (pids only).
our_agents() { pgrep -f "unetmap-vale-agent -p $SW:" 2>/dev/null; }
vnic_cleanup() {
    for m in ma mb; do timeout 15 ip netns exec "$M" "$VALECTL" -d "$SW:${m}_$id" >/dev/null 2>&1; done
    for p in $(our_agents); do kill -9 "$p" 2>/dev/null; done
    testlib_cleanup
    for n in $A $M $B; do ip netns del "$n" 2>/dev/null; done
}
trap vnic_cleanup EXIT
# killed by a signal (a reader of our output gone, a hangup), still clean up
trap 'exit 1' INT TERM HUP PIPE
for n in $A $M $B; do ip netns add "$n" || fail "ip netns add $n"; done
ip link add pa_$id type veth peer name ma_$id || fail "veth"
ip link add pb_$id type veth peer name mb_$id || fail "veth"
ip link set pa_$id netns $A && ip link set ma_$id netns $M &&
    ip link set pb_$id netns $B && ip link set mb_$id netns $M || fail "moving veths"
for pair in $A:pa $M:ma $M:mb $B:pb; do
    ns=${pair%%:*} ifn=${pair#*:}_$id
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.$ifn.disable_ipv6=1
    ip -n "$ns" link set "$ifn" up || fail "link up $ifn"
    # checksums and segmentation by the endpoints (see docs/NIC.md)
    ip netns exec "$ns" ethtool -K "$ifn" tx off tso off gso off >/dev/null 2>&1 ||
        fail "ethtool -K $ifn (is ethtool installed?)"
done
ip -n $A addr add 10.79.0.1/24 dev pa_$id
ip -n $B addr add 10.79.0.2/24 dev pb_$id

# valectl in M, bounded; its output (stdout and stderr) in $out/vc
vc() { timeout 20 ip netns exec "$M" "$VALECTL" "$@" >"$out/vc" 2>&1; }
# the switch's members, one name per line
members() { timeout 10 "$VALECTL" | awk '{print $1}'; }
has_member() { members | grep -qx -- "$1"; }
# pid of the agent serving member $1, from valectl -v (empty if none)
agent_of() {
    timeout 10 "$VALECTL" -v | awk -v m="$1" '
        $1 == m { on = 1; next }
        / bridge_idx / { on = 0 }
        on && /agent pid/ { print $NF }'
}
alive() { kill -0 "$1" 2>/dev/null; }
# wait (bounded) until process $1 is gone
wait_gone() { i=0; while alive "$1"; do i=$((i + 1)); [ $i -lt 100 ] || fail "pid $1 still there after 10 s"; sleep 0.1; done; }
# is an XDP program attached to $2 in namespace $1?
xdp_on() { ip -n "$1" -d link show dev "$2" 2>/dev/null | grep -q 'prog/xdp'; }
link_stat() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3"; }
ping_ok() { timeout 15 ip netns exec $A ping -c "${1:-3}" -i 0.2 -W 1 10.79.0.2 >"$out/ping" 2>&1; }
attach_both() {
    vc -a $SW:ma_$id || fail "attach ma: $(cat "$out/vc")"
    vc -a $SW:mb_$id || fail "attach mb: $(cat "$out/vc")"
    [ -n "$(agent_of $SW:ma_$id)" ] && [ -n "$(agent_of $SW:mb_$id)" ] || fail "agents not listed: $(timeout 10 "$VALECTL" -v)"
}
# Nothing of interface $1 is left: no agent, no member, no XDP program.
nothing_left() {
    [ -z "$(our_agents)" ] || fail "$2: agent(s) left: $(our_agents)"
    ! has_member "$SW:$1" || fail "$2: member $SW:$1 left"
    ! xdp_on $M "$1" || fail "$2: XDP program left on $1"
}

case $CASE in
traffic_*)
    attach_both
    ping_ok 5 || fail "A cannot ping B through the switch"
    tcp_transfer $B $A 10.79.0.2

    # local port -> both peers: broadcast frames (pkt-gen's default), paced
    n=2000
    a0=$(link_stat $A pa_$id rx_packets) b0=$(link_stat $B pb_$id rx_packets)
    bg ltx ip netns exec $M "$PKTGEN" -f tx -i $SW:local -n $n -l 60 -R 20000
    waitfor ltx
    grepq "Sent $n packets" ltx
    sleep 0.5
    ga=$(( $(link_stat $A pa_$id rx_packets) - a0 )) gb=$(( $(link_stat $B pb_$id rx_packets) - b0 ))
    echo "local -> A $ga, -> B $gb of $n" >>"$out/summary"
    [ "$ga" -ge $n ] && [ "$ga" -le $((n + 20)) ] || fail "pa received $ga of $n frames from the local port"
    [ "$gb" -ge $n ] && [ "$gb" -le $((n + 20)) ] || fail "pb received $gb of $n frames from the local port"

    # each peer -> the local port (and the other peer: broadcast), paced in
    # small bursts (a veth with an XDP program queues at most 256 frames)
    for peer in $A:pa $B:pb; do
        ns=${peer%%:*} ifn=${peer#*:}_$id
        bg lrx ip netns exec $M "$PKTGEN" -f rx -i $SW:local
        waitline lrx 'Receiving from'
        settle 0.5
        bg ptx ip netns exec "$ns" "$PKTGEN" -f tx -i netmap:$ifn -n $n -l 60 -b 32 -R 20000
        waitfor ptx
        grepq "Sent $n packets" ptx
        settle 1
        stop lrx
        got=$(sed -n 's/^Received \([0-9]*\) packets.*/\1/p' "$out/lrx")
        echo "$ifn -> local $got of $n" >>"$out/summary"
        [ "${got:-0}" -ge $n ] && [ "$got" -le $((n + 20)) ] || fail "local port received ${got:-0} of $n frames from $ifn"
    done
    cat "$out/summary"
    vc -d $SW:ma_$id || fail "detach ma: $(cat "$out/vc")"
    vc -d $SW:mb_$id || fail "detach mb: $(cat "$out/vc")"
    nothing_left ma_$id "after detach"
    ;;
lifecycle)
    # Attach from a shell in a session of its own, then SIGHUP its whole
    # process group, as closing its terminal would.
    timeout 20 setsid -w ip netns exec $M sh -c "\"$VALECTL\" -a $SW:ma_$id && kill -HUP 0" >"$out/vc" 2>&1
    has_member $SW:ma_$id || fail "ma not attached: $(cat "$out/vc")"
    vc -a $SW:mb_$id || fail "attach mb: $(cat "$out/vc")"
    pa=$(agent_of $SW:ma_$id)
    [ -n "$pa" ] && alive "$pa" || fail "no agent for ma after its shell was hung up"
    [ "$(ps -o tty= -p "$pa" | tr -d ' ')" = "?" ] || fail "agent $pa has a terminal"
    [ "$(ps -o sid= -p "$pa")" != "$(ps -o sid= -p $$)" ] || fail "agent $pa is in the test's session"
    [ "$(readlink /proc/"$pa"/fd/0)" = /dev/null ] || fail "agent's stdin is not /dev/null"
    ping_ok || fail "no A-B traffic through the switch"
    sleep 1
    # idle: it sleeps in poll (well under 10% of a CPU over a second)
    t0=$(awk '{print $14 + $15}' /proc/"$pa"/stat)
    sleep 1
    t1=$(awk '{print $14 + $15}' /proc/"$pa"/stat)
    [ $((t1 - t0)) -le 10 ] || fail "idle agent used $((t1 - t0)) ticks in 1 s"

    # detach stops the agent, and the traffic
    vc -d $SW:ma_$id || fail "detach ma: $(cat "$out/vc")"
    wait_gone "$pa"
    ! has_member $SW:ma_$id || fail "ma still listed after detach"
    ! xdp_on $M ma_$id || fail "XDP program left on ma after detach"
    ip -n $A neigh flush dev pa_$id 2>/dev/null
    ! ping_ok 2 || fail "A still reaches B with ma detached"

    # a SIGKILLed agent: listed without agent, detached cleanly, re-attachable
    vc -a $SW:ma_$id || fail "re-attach ma: $(cat "$out/vc")"
    pa=$(agent_of $SW:ma_$id)
    [ -n "$pa" ] || fail "no agent after re-attach"
    kill -9 "$pa"
    wait_gone "$pa"
    timeout 10 "$VALECTL" -v >"$out/list"
    grepq "$SW:ma_$id" list
    grepq "no agent running" list
    vc -d $SW:ma_$id || fail "detach after SIGKILL: $(cat "$out/vc")"
    ! has_member $SW:ma_$id || fail "ma still listed after detach"
    vc -a $SW:ma_$id || fail "attach after SIGKILL: $(cat "$out/vc")"
    ping_ok || fail "no A-B traffic after re-attaching"
    # SIGKILL, then attach again without detaching: the dead agent's member goes
    pa=$(agent_of $SW:ma_$id)
    kill -9 "$pa"
    wait_gone "$pa"
    vc -a $SW:ma_$id || fail "attach over a killed agent: $(cat "$out/vc")"
    ping_ok || fail "no A-B traffic after attaching over a killed agent"

    # the interface goes away: its agent exits and its member leaves
    pb=$(agent_of $SW:mb_$id)
    [ -n "$pb" ] || fail "no agent for mb"
    ip -n $B link del pb_$id || fail "deleting the veth"
    wait_gone "$pb"
    ! has_member $SW:mb_$id || fail "mb still a member after its veth was deleted"
    grepq "mb_$id is gone" agent.log
    vc -d $SW:ma_$id || fail "detach ma: $(cat "$out/vc")"
    nothing_left ma_$id "after detach"
    ;;
host_rings_*)
    ip -n $M addr add 10.79.0.3/24 dev ma_$id
    ping_m() { timeout 15 ip netns exec $A ping -c 3 -i 0.2 -W 1 10.79.0.3 >"$out/ping" 2>&1; }
    flush() { ip -n $A neigh flush all; ip -n $M neigh flush all; }
    ping_m || fail "A cannot ping M before any attach"
    vc -a $SW:ma_$id || fail "attach ma: $(cat "$out/vc")"
    flush
    ! ping_m || fail "A reaches M's stack with ma attached without host rings"
    vc -d $SW:ma_$id || fail "detach ma: $(cat "$out/vc")"
    vc -h $SW:ma_$id || fail "attach ma with host rings: $(cat "$out/vc")"
    has_member $SW:ma_$id && has_member "$SW:ma_$id^" || fail "members: $(members)"
    pa=$(agent_of $SW:ma_$id)
    [ -n "$pa" ] || fail "no agent for ma"
    flush
    ping_m || fail "A cannot ping M's stack through the switch"
    grep -q DUP "$out/ping" && fail "duplicate replies: $(cat "$out/ping")"
    timeout 15 ip netns exec $M ping -c 3 -i 0.2 -W 1 10.79.0.1 >"$out/ping" 2>&1 ||
        fail "M's stack cannot ping A through the switch"
    # the switch counted them: frames in and out of both members
    timeout 10 "$VALECTL" -v >"$out/list"
    awk -v m="$SW:ma_$id^" '$1 == m { getline; if ($2 > 0 && $9 > 0) ok = 1 } END { exit !ok }' "$out/list" ||
        fail "no frames through $SW:ma_$id^: $(cat "$out/list")"
    vc -d $SW:ma_$id || fail "detach ma: $(cat "$out/vc")"
    wait_gone "$pa"
    nothing_left ma_$id "after detach"
    ! has_member "$SW:ma_$id^" || fail "host member left after detach"
    flush
    ping_m || fail "A cannot ping M once ma is detached"
    ;;
bad_input)
    vc -a $SW:nosuch0 && fail "attached a missing interface"
    grepq 'No such device or address' vc
    nothing_left nosuch0 "unknown interface"
    vc -h $SW:nosuch0 && fail "attached a missing interface with host rings"
    grepq 'No such device or address' vc
    ! has_member "$SW:nosuch0^" || fail "host member left"
    vc -d $SW:ma_$id && fail "detached what was not attached"
    grepq 'No such device or address' vc
    # held by another process (a program on netmap:ma)
    bg rx ip netns exec $M "$PKTGEN" -f rx -i netmap:ma_$id
    waitline rx 'Receiving from'
    vc -a $SW:ma_$id && fail "attached an interface held by pkt-gen"
    grepq 'Device or resource busy' vc
    [ -z "$(our_agents)" ] || fail "agent left after EBUSY"
    ! has_member $SW:ma_$id || fail "member left after EBUSY"
    stop rx
    ! xdp_on $M ma_$id || fail "XDP program left on ma"
    # attached already, here or on another switch
    vc -a $SW:ma_$id || fail "attach ma: $(cat "$out/vc")"
    pa=$(agent_of $SW:ma_$id)
    vc -a $SW:ma_$id && fail "attached twice"
    grepq 'Device or resource busy' vc
    vc -a ${SW}x:ma_$id && fail "attached to a second switch"
    grepq 'Device or resource busy' vc
    [ "$(our_agents)" = "$pa" ] || fail "agents: $(our_agents), expected only $pa"
    [ "$(members)" = "$SW:ma_$id" ] || fail "members: $(members)"
    vc -d $SW:ma_$id || fail "detach ma: $(cat "$out/vc")"
    wait_gone "$pa"
    nothing_left ma_$id "after detach"
    ;;
*) fail "unknown case" ;;
esac
# Nobody sees an agent's exit status: its sanitizer reports (asan build)
# land in the log.
if grep -q 'Sanitizer' "$out/agent.log" 2>/dev/null; then fail "sanitizer report from an agent"; fi
pass
