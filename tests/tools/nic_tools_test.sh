#!/bin/sh
# nic_tools_test.sh BRIDGE PKTGEN TCPXFER NMSTAT CASE
# The tools on NIC ports, in network namespaces of the test's own:
#
#   [P1] p1 ==veth== m1 [M] m2 ==veth== p2 [P2]
#
# bridge_*   bridge -i netmap:m1 -i netmap:m2 in M joins P1 and P2: a TCP
#            transfer P1 -> P2 (10.77.0.1 -> 10.77.0.2) arrives intact, and
#            cannot connect once the bridge is stopped;
# pktgen_*   pkt-gen -f tx on netmap:p1 in P1: every frame is counted by the
#            kernel at m1, and pkt-gen -f rx on netmap:m1 receives them all;
# hosttap_*  bridge -i netmap:p1 -i netmap:p1^ in P1, the transparent
#            in-line tap: P1's host stack still reaches M (10.77.0.9) with
#            ping and a TCP transfer, every frame passing through the
#            bridge; nothing passes while the bridge is stopped (SIGSTOP);
#            once it exits, the interface works as before.
# *_native uses AF_XDP (UNETMAP_ADMODE=1), *_emulated AF_PACKET (2).
# Needs root; namespaces and veth pairs are deleted at exit.
BRIDGE=$1 PKTGEN=$2 XFER=$3 NMSTAT=$4 CASE=$5
T=${TOOLS_TEST_TIMEOUT:-30}
. "$(dirname "$0")/testlib.sh"
testlib_setup nic
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v ip >/dev/null || { echo "SKIP: needs iproute2"; exit 77; }

case $CASE in
    *_native) export UNETMAP_ADMODE=1 ;;
    *_emulated) export UNETMAP_ADMODE=2 ;;
esac
id=$$
P1=unmt${id}p1 M=unmt${id}m P2=unmt${id}p2
nic_cleanup() {
    testlib_cleanup
    for n in $P1 $M $P2; do ip netns del "$n" 2>/dev/null; done
}
trap nic_cleanup EXIT
for n in $P1 $M $P2; do ip netns add "$n" || fail "ip netns add $n"; done
ip link add p1_$id type veth peer name m1_$id || fail "veth"
ip link add p2_$id type veth peer name m2_$id || fail "veth"
ip link set p1_$id netns $P1 && ip link set m1_$id netns $M &&
    ip link set p2_$id netns $P2 && ip link set m2_$id netns $M || fail "moving veths"
for pair in $P1:p1 $M:m1 $M:m2 $P2:p2; do
    ns=${pair%%:*} ifn=${pair#*:}_$id
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.$ifn.disable_ipv6=1
    ip -n "$ns" link set "$ifn" up || fail "link up $ifn"
done
# The endpoints compute their checksums and segment themselves: a veth
# otherwise hands over TCP segments of up to 64 KiB with checksums still to
# fill, which no netmap port (nor netmap's own generic adapter) can forward.
for pair in $P1:p1 $P2:p2; do
    ns=${pair%%:*} ifn=${pair#*:}_$id
    ip netns exec "$ns" ethtool -K "$ifn" tx off tso off gso off >/dev/null 2>&1 ||
        fail "ethtool -K $ifn (is ethtool installed?)"
done
ip -n $P1 addr add 10.77.0.1/24 dev p1_$id
ip -n $P2 addr add 10.77.0.2/24 dev p2_$id

# counter $3 (rx_packets, rx_dropped) of interface $2 in namespace $1
link_stat() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3"; }

case $CASE in
bridge_*)
    bg bridge ip netns exec $M "$BRIDGE" -i netmap:m1_$id -i netmap:m2_$id
    waitline bridge "bridge:"
    settle 0.5
    tcp_transfer $P2 $P1 10.77.0.2
    stop bridge
    grepq 'packets forwarded' bridge
    # Without the bridge, P1 and P2 are cut apart.
    ip -n $P1 neigh flush dev p1_$id 2>/dev/null
    bg srv2 ip netns exec $P2 "$XFER" listen 5002 1000
    waitline srv2 listening
    if ip netns exec $P1 "$XFER" send 10.77.0.2 5002 1000 >"$out/cli2" 2>&1; then
        fail "connected with the bridge stopped"
    fi
    kill "$pid_srv2" 2>/dev/null  # it waits for a connection that cannot come
    ;;
pktgen_*)
    n=200000
    rx0=$(link_stat $M m1_$id rx_packets) drop0=$(link_stat $M m1_$id rx_dropped)
    bg rx ip netns exec $M "$PKTGEN" -f rx -i netmap:m1_$id
    waitline rx 'Receiving from'
    settle 0.5
    # Small bursts: a veth with an XDP program queues at most 256 frames
    # per queue and drops beyond (the kernel's limit, not ours).
    bg tx ip netns exec $P1 "$PKTGEN" -f tx -i netmap:p1_$id -n $n -l 60 -b 32 -R 200000
    waitfor tx
    grepq "Sent $n packets" tx
    settle 1
    # the port's counters while pkt-gen still holds it: RX drops are frames
    # that found no room (emulated: the socket's ring was full)
    "$BOUNDED" 10 "$NMSTAT" --once --json -d 0 >"$out/stat" 2>&1 || fail "nmstat"
    stop rx
    got=$(sed -n 's/^Received \([0-9]*\) packets.*/\1/p' "$out/rx")
    came=$(( $(link_stat $M m1_$id rx_packets) - rx0 ))
    dropped=$(( $(link_stat $M m1_$id rx_dropped) - drop0 ))
    ours=$(json_port stat "m1_$id" rx.drops)
    [ -n "$ours" ] || fail "nmstat does not list m1_$id"
    echo "sent $n, reached m1 $came, dropped there $dropped, received $got, port counted $ours drops" >"$out/summary"
    [ "$came" -ge $((n * 9 / 10)) ] || fail "only $came of $n frames reached m1"
    case $CASE in
    *_native)
        # What the kernel could not hand to our socket (ring full under
        # load) it counts as dropped; everything else must be ours.
        [ "$got" -ge $((came - dropped)) ] && [ "$got" -le "$came" ] ||
            fail "received $got, but $came reached m1 and $dropped were dropped there"
        [ "$got" -ge $((n / 2)) ] || fail "received only $got of $n" ;;
    *)  # Every frame that reached m1 is received or counted as dropped
        # (the receiver was off the processor longer than the ring lasts).
        [ $((got + ours)) -eq "$came" ] || fail "received $got and counted $ours drops, but $came reached m1"
        [ "$got" -ge $((n / 2)) ] || fail "received only $got of $n" ;;
    esac
    ;;
hosttap_*)
    command -v ping >/dev/null || fail "needs ping (iputils-ping)"
    ip -n $M addr add 10.77.0.9/24 dev m1_$id
    ip netns exec $M ethtool -K m1_$id tx off tso off gso off >/dev/null 2>&1 || fail "ethtool -K m1_$id"
    bg bridge ip netns exec $P1 "$BRIDGE" -i netmap:p1_$id -i "netmap:p1_$id^"
    waitline bridge "bridge:"
    settle 0.5
    ip netns exec $P1 ping -c 3 -i 0.2 -W 2 10.77.0.9 >"$out/ping" 2>&1 || fail "ping through the tap"
    tcp_transfer $M $P1 10.77.0.9
    # Stopped, not gone: the interface stays the tap's, and nothing passes.
    kill -STOP "$pid_bridge"
    if ip netns exec $P1 ping -c 2 -i 0.2 -W 1 10.77.0.9 >"$out/ping_stopped" 2>&1; then
        kill -CONT "$pid_bridge"
        fail "ping passed a stopped tap"
    fi
    kill -CONT "$pid_bridge"
    stop bridge
    # Every frame went through the bridge: 4 MB of segments one way (2763
    # of 1448 bytes at least), their acknowledgements the other (how many
    # depends on delayed and stretched ACKs: 473 were seen once).
    up=$(sed -n "s/.*netmap:p1_$id^ -> netmap:p1_$id: \([0-9]*\) packets forwarded.*/\1/p" "$out/bridge")
    down=$(sed -n "s/.*netmap:p1_$id -> netmap:p1_$id^: \([0-9]*\) packets forwarded.*/\1/p" "$out/bridge")
    echo "host -> wire $up, wire -> host $down" >"$out/summary"
    [ "${up:-0}" -ge 2700 ] && [ "${down:-0}" -ge 100 ] ||
        fail "the bridge forwarded $up frames from the host and $down to it"
    # Gone: the interface is as it was.
    ip netns exec $P1 ping -c 1 -W 2 10.77.0.9 >"$out/ping_after" 2>&1 || fail "no traffic once the tap exited"
    ;;
*) fail "unknown case" ;;
esac
pass
