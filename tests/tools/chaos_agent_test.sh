#!/bin/bash
# chaos_agent_test.sh PKTGEN VALECTL NMSTAT
#
# Crash recovery of an interface on a VALE switch and its forwarding agent,
# under traffic (issue 9; chaos_test.sh does the same for ports, pipes and
# a bridge, but never kills an agent).  In network namespaces of its own:
#
#   [M] valek<pid>:vtx, :vrx (persistent)   [P]
#        valek<pid>:ca_<pid> <-agent-> ca_<pid> ==veth== cp_<pid>
#
# For CHAOS_SECONDS (default 15), at random moments, one of these is
# SIGKILLed and restarted:
#   vtx    pkt-gen tx on valek:vtx (unthrottled half the time: a kill then
#          often lands in a txsync holding the member's or vrx's RX lease);
#   vrx    pkt-gen rx on valek:vrx;
#   peer   pkt-gen tx or rx on netmap:cp_<pid> in P (what goes through the
#          agent both ways);
#   agent  unetmap-vale-agent, the attach's forwarding process (busy in the
#          member's txsync when the peer sends); 3 times in 10 left dead
#          under traffic for a while, else re-attached at once by one of:
#          valectl -a; a valectl -a SIGKILLed 0-80 ms after it started,
#          then valectl -a; a valectl -a whose new agent is SIGKILLed
#          0-20 ms after it appears (in its start-up or handshake);
# or a valectl invocation in M (attach/detach of the interface, list, -v,
# persistent port churn) is started and, half the time, SIGKILLed 0-80 ms
# later: inside the attach's agent start-up, its handshake, or a detach
# waiting for the agent to stop.
#
# Checks, each exact:
#  - every SIGKILLed process (agent included) is gone within 5 s; every
#    valectl allowed to finish does so within 10 s, an attach of the
#    interface with 0 or EBUSY, a detach with 0 or ENXIO;
#  - after an agent is SIGKILLed: its member stays, listed as "no agent
#    running", and the interface has no XDP program; once the agents left
#    by SIGKILLed attaches are gone (within 5 s: they get EOF on their
#    handshake), valectl -a succeeds, reaps the dead member and starts a
#    new agent; an attach whose agent was SIGKILLed while starting either
#    succeeded first or fails leaving no member, no agent, no XDP program;
#  - no deadlock: every ~2 s nmstat --json and valectl (list) answer
#    within 10 s; the persistent ports' counters never go backwards;
#  - afterwards, with exactly one agent of ours running (the one that lived
#    through the chaos if it is sure to stay, else a fresh attach after
#    valectl -d) and vtx/vrx flushed of what killed users left, two clean
#    runs of N frames of 100 bytes, paced at 50 kpps (counts are exact
#    whatever the pacing; it only keeps drops rare):
#     peer -> ca -> agent -> switch -> vrx:
#        pkt-gen Sent N = cp tx_packets + cp tx_dropped (kernel: a frame
#        veth could not queue is counted as the sender's tx_dropped);
#        ca rx_packets = cp tx_packets (the pair's two views);
#        ca rx_packets = ca rx_dropped + NIC port rx (nmstat; the XDP
#        redirect to the agent's AF_XDP socket fails only when its ring is
#        full, counted as rx_dropped);
#        NIC port rx = member tx (the agent drops nothing: it waits for
#        room), member tx drops 0;
#        member tx = vrx rx + vrx rx drops (the switch counts every frame
#        it has no room for) and pkt-gen rx Received = vrx rx >= N/2;
#     vtx -> switch -> member -> agent -> ca -> cp (no program on cp: the
#     kernel counts what arrives):
#        pkt-gen Sent N = vtx tx, vtx tx drops 0;
#        member rx + member rx drops = N (vrx, unread, too);
#        NIC port tx = member rx (the agent drops nothing);
#        cp rx_packets + ca tx_dropped = NIC port tx, cp rx_packets >= N/2;
#    counted once the counters stop moving.  Native mode (AF_XDP,
#    UNETMAP_ADMODE=1) only: in emulated mode AF_PACKET's ring drops are in
#    no counter we can read, so the NIC step would not be exact;
#  - after valectl -d: the agent is gone within 5 s, no agent of ours is
#    left, no member, no XDP (or tc) program on either veth; after the
#    persistent ports are removed, the state directory is empty.
# Every process runs under bounded.sh or timeout(1), every loop is bounded
# in count and time; a watchdog report in any log fails the test.  The
# namespaces, veths, processes and directories are removed at exit, also on
# failure.  Needs root (skipped otherwise).  CHAOS_SEED reproduces a run's
# random choices (not the timing).
PKTGEN=$1 VALECTL=$2 NMSTAT=$3
DUR=${CHAOS_SECONDS:-15}
SEED=${CHAOS_SEED:-$(( $(od -An -N2 -tu2 /dev/urandom) % 32768 ))}
RANDOM=$SEED
BOUNDED=$(dirname "$0")/bounded.sh
. "$(dirname "$0")/json_port.sh"
LIFE=$((DUR + 30))  # bound on any chaos-phase process
N=20000             # frames per final run

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v ip >/dev/null || { echo "SKIP: needs iproute2"; exit 77; }

id=$$
M=unchm$id P=unchp$id     # network namespaces: the switch's side, the peer
IFA=ca_$id IFP=cp_$id     # the veth pair: IFA in M (attached), IFP in P
SW=valek$id
MEMBER=$SW:$IFA

dir=$(mktemp -d /dev/shm/unetmap-chaosag.XXXXXX) || exit 2
out=$(mktemp -d /tmp/unetmap-chaosag-out.XXXXXX) || exit 2
export UNETMAP_DIR=$dir
export UNETMAP_NIC_NETNS_ONLY=1   # NIC ports only in the namespaces made here
export UNETMAP_ADMODE=1           # native (see above)
export UNETMAP_AGENT_LOG=$out/agent.log

declare -A pid       # actor -> pid of its current process
extra=""             # other pids we started (valectl, final runs)

# The agents of this run: their command line names our switch and their
# environment our state directory (pids only; nothing else is ever killed).
our_agents() {
    local p
    for p in $(timeout 5 pgrep -f "unetmap-vale-agent -p $SW:" 2>/dev/null); do
        tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qxF "UNETMAP_DIR=$dir" && echo "$p"
    done
}
cleanup() {
    local p
    for p in "${pid[@]}" $extra; do kill -9 "$p" 2>/dev/null; done
    for p in "${pid[@]}" $extra; do wait "$p" 2>/dev/null; done
    for p in $(our_agents); do kill -9 "$p" 2>/dev/null; done
    for n in $M $P; do timeout 10 ip netns del "$n" 2>/dev/null; done
    # still in the root namespace if moving it failed (deleting one end
    # deletes the pair)
    timeout 10 ip link del "$IFA" 2>/dev/null
    timeout 10 ip link del "$IFP" 2>/dev/null
    rm -rf "$dir" "$out"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE

# bash reports every SIGKILLed job on stderr: keep that in $out/shell,
# and our own messages on fd 3 (the real stderr)
exec 3>&2 2>>"$out/shell"
fail() {
    echo "FAIL [chaos_agent seed $SEED]: $*" >&3
    for f in "$out"/*; do [ -f "$f" ] && { echo "--- $f" >&3; tail -25 "$f" >&3; }; done
    echo "--- state directory:" >&3; ls -la "$dir" >&3
    echo "--- valectl -v:" >&3; timeout 10 "$VALECTL" -v >&3 2>&1
    # in a command substitution or a pipeline: stop the test itself too
    # (its TERM trap exits, and the EXIT trap cleans up)
    [ "$BASHPID" = $$ ] || kill -TERM $$
    exit 1
}
. "$(dirname "$0")/chaoslib.sh"  # alive, killwait, restart
# wait (bounded, 5 s) until pid $1 is gone by itself
wait_gone() {
    local i=0
    while alive "$1"; do
        i=$((i + 1)); [ $i -lt 50 ] || fail "$2 (pid $1) still there after 5 s"; sleep 0.1
    done
}

# ---- helpers: valectl, listings, XDP, counters ------------------------------
# valectl in M (where the interface is), bounded; output in $out/vc
vc() { "$BOUNDED" 10 ip netns exec "$M" "$VALECTL" "$@" >"$out/vc" 2>&1; }
listing() { "$BOUNDED" 10 "$VALECTL" -v >"$out/$1" 2>&1 || fail "valectl -v failed or hung: $(cat "$out/$1")"; }
members() { listing members.txt; awk '/ bridge_idx /{print $1}' "$out/members.txt" | sort | tr '\n' ' '; }
# pid of the agent serving our member, from valectl -v (empty if none runs)
agent_of() {
    listing agents.txt
    awk -v m="$MEMBER" '$1 == m { on = 1; next } / bridge_idx / { on = 0 } on && /agent pid/ { print $NF }' "$out/agents.txt"
}
member_without_agent() {
    listing dead.txt
    awk -v m="$MEMBER" '$1 == m { on = 1; next } / bridge_idx / { on = 0 } on && /no agent running/ { f = 1 } END { exit !f }' "$out/dead.txt"
}
# a BPF program at XDP (or tc/tcx) of interface $2 in namespace $1?
xdp_on() { timeout 5 ip -n "$1" -d link show dev "$2" 2>/dev/null | grep -q 'prog/xdp'; }
bpf_on() {
    xdp_on "$1" "$2" && return 0
    command -v bpftool >/dev/null || return 1
    timeout 5 ip netns exec "$1" bpftool net show dev "$2" 2>/dev/null | grep -q ' id [0-9]'
}
probe() {
    "$BOUNDED" 10 "$NMSTAT" --once --json -d 0 >"$out/$1" 2>&1 || fail "nmstat probe failed or hung: $(cat "$out/$1")"
}
# snapshot $1: nmstat JSON in $out/$1, the veths' kernel counters in $out/$1.k
kread() {
    timeout 5 ip netns exec "$1" sh -c "cd /sys/class/net/$2/statistics &&
        for f in rx_packets rx_dropped tx_packets tx_dropped; do echo $3_\$f=\$(cat \$f); done"
}
snap() {
    probe "$1"
    { kread "$M" "$IFA" ca && kread "$P" "$IFP" cp; } >"$out/$1.k" || fail "cannot read the veths' counters"
}
kv() { sed -n "s/^$2=//p" "$out/$1.k"; }
# snapshot $1, once nothing moves any more (two snapshots 0.3 s apart
# equal; at most 10 s): every frame is where it ends
snap_stable() {
    local i=0
    snap "$1"
    while [ $i -lt 30 ]; do
        sleep 0.3
        snap "$1.next"
        if cmp -s "$out/$1" "$out/$1.next" && cmp -s "$out/$1.k" "$out/$1.next.k"; then return 0; fi
        mv "$out/$1.next" "$out/$1"; mv "$out/$1.next.k" "$out/$1.k"
        i=$((i + 1))
    done
    fail "counters still moving 10 s after the traffic stopped"
}
# delta of nmstat counter $3 (dir.key) of port $2 from snapshot $1 to $4
jd() { echo $(( $(json_port "$4" "$2" "$3") - $(json_port "$1" "$2" "$3") )); }
kd() { echo $(( $(kv "$3" "$2") - $(kv "$1" "$2") )); }

# ---- setup --------------------------------------------------------------------
for n in $M $P; do timeout 10 ip netns add "$n" || fail "ip netns add $n"; done
timeout 10 ip link add "$IFA" type veth peer name "$IFP" || fail "ip link add veth"
timeout 10 ip link set "$IFA" netns "$M" && timeout 10 ip link set "$IFP" netns "$P" || fail "moving the veths"
for pair in $M:$IFA $P:$IFP; do
    ns=${pair%%:*} ifn=${pair#*:}
    # no address, no IPv6: the kernel sends nothing of its own on the pair,
    # so its counters count our frames only
    timeout 10 ip netns exec "$ns" sysctl -qw net.ipv6.conf.$ifn.disable_ipv6=1 || fail "disable IPv6 on $ifn"
    timeout 10 ip -n "$ns" link set "$ifn" up || fail "link up $ifn"
done
for p in vtx vrx; do
    vc -n $p || fail "valectl -n $p: $(cat "$out/vc")"
    vc -a $SW:$p || fail "valectl -a $SW:$p: $(cat "$out/vc")"
done
vc -a "$MEMBER" || fail "valectl -a $MEMBER: $(cat "$out/vc")"
[ -n "$(agent_of)" ] || fail "no agent after the first attach"
xdp_on "$M" "$IFA" || fail "no XDP program on $IFA with the agent running"
echo "chaos_agent: seed $SEED, $DUR s, state in $dir, $MEMBER (native)"

# ---- the actors ---------------------------------------------------------------
actors=(vtx vrx peer)
starts=0 kills=0 early=0
start() {
    local a=$1 cmd rate=()
    case $((RANDOM % 4)) in 2) rate=(-R 1m) ;; 3) rate=(-R 100k) ;; esac  # else unthrottled
    case $a in
    vtx) cmd=("$PKTGEN" -i $SW:vtx -f tx -l $((60 + RANDOM % 1455)) "${rate[@]}") ;;
    vrx) cmd=("$PKTGEN" -i $SW:vrx -f rx) ;;
    peer)
        if [ $((RANDOM % 3)) != 0 ]; then
            cmd=(ip netns exec "$P" "$PKTGEN" -i netmap:$IFP -f tx -l $((60 + RANDOM % 1455)) "${rate[@]}")
        else
            cmd=(ip netns exec "$P" "$PKTGEN" -i netmap:$IFP -f rx)
        fi ;;
    esac
    cmd+=(-T 3600000)  # no periodic report lines
    echo "== start: ${cmd[*]}" >>"$out/$a"
    "$BOUNDED" "$LIFE" "${cmd[@]}" >>"$out/$a" 2>&1 &
    pid[$a]=$!
    starts=$((starts + 1))
}

# Agents started by SIGKILLed attaches are never told to go: they see EOF
# on the handshake and exit.  Wait (5 s at most) until every agent of ours
# is the member's recorded one (or none).
wait_orphans() {
    local i=0 rec a stray
    while :; do
        rec=$(agent_of) stray=""
        for a in $(our_agents); do [ "$a" = "$rec" ] || stray="$stray $a"; done
        [ -z "$stray" ] && return 0
        i=$((i + 1))
        [ $i -lt 25 ] || fail "agent(s)$stray still running 5 s after their attach was killed (recorded: '$rec')"
        sleep 0.2
    done
}
# The member's agent once it is sure to stay (told to go: its "forwarding"
# line is in the log), or nothing once none runs: an agent recorded by an
# attach SIGKILLed just before it said go exits on EOF (5 s at most).
settled_agent() {
    local i=0 a
    while [ $i -lt 25 ]; do
        a=$(agent_of)
        [ -z "$a" ] && return 0
        grep -q "forwarding (.*), pid $a\$" "$out/agent.log" && { echo "$a"; return 0; }
        i=$((i + 1))
        sleep 0.2
    done
    fail "agent $a of $MEMBER neither forwards nor exits"
}
# valectl -a of the member in the background, SIGKILLed 0-80 ms later:
# in the member's creation, the agent's start-up, the handshake, or after
killed_attach() {
    "$BOUNDED" 10 ip netns exec "$M" "$VALECTL" -a "$MEMBER" >>"$out/valectl" 2>&1 &
    local p=$! d=$((RANDOM % 80))
    extra="$extra $p"
    [ $d -gt 0 ] && sleep "$(printf '0.%03d' $d)"
    alive "$p" && ctl_kills=$((ctl_kills + 1))
    killwait "$p" "valectl -a $MEMBER"
    echo "== valectl -a $MEMBER SIGKILLed after $d ms" >>"$out/valectl"
    extra=${extra% $p}
}
# Attach the interface; it must work, whatever the chaos left: a dead
# agent's member, a member "starting" for a SIGKILLed valectl, an agent
# started by one and never told to go.
attach() {
    local a
    wait_orphans
    [ -n "$(settled_agent)" ] && return 0  # a SIGKILLed attach got through first
    vc -a "$MEMBER" || fail "valectl -a $MEMBER ($1): $(cat "$out/vc")"
    a=$(agent_of)
    [ -n "$a" ] && alive "$a" || fail "valectl -a $MEMBER ($1) succeeded, no agent listed"
    attaches=$((attaches + 1))
}
# An attach whose agent is SIGKILLed 0-20 ms after it appears (in its
# start-up or handshake, or just after).  Either the attach fails and
# leaves nothing (no member, no agent, no XDP program), or it succeeded
# first and its member is left without agent.
attach_kill_agent() {
    local p a="" i=0 rc d
    wait_orphans
    [ -z "$(settled_agent)" ] || return 0
    "$BOUNDED" 10 ip netns exec "$M" "$VALECTL" -a "$MEMBER" >"$out/vk" 2>&1 &
    p=$!
    extra="$extra $p"
    while [ $i -lt 300 ] && alive "$p"; do
        a=$(our_agents | head -1)
        [ -n "$a" ] && break
        i=$((i + 1))
    done
    if [ -n "$a" ]; then
        d=$((RANDOM % 20))
        [ $d -gt 0 ] && sleep "$(printf '0.%03d' $d)"
        killwait "$a" "starting agent"
        starting_kills=$((starting_kills + 1))
    fi
    wait "$p"; rc=$?
    extra=${extra% $p}
    cat "$out/vk" >>"$out/valectl"
    echo "== valectl -a $MEMBER with its agent SIGKILLed (pid '$a'): status $rc" >>"$out/valectl"
    [ $rc -lt 128 ] || fail "valectl -a $MEMBER killed by signal $((rc - 128)) (watchdog?): $(cat "$out/vk")"
    if [ $rc != 0 ]; then
        failed_attaches=$((failed_attaches + 1))
        [ -z "$(our_agents)" ] || fail "agent(s) $(our_agents) left by a failed attach"
        ! members | grep -qF "$MEMBER " || fail "$MEMBER left by a failed attach: $(cat "$out/vk")"
        ! xdp_on "$M" "$IFA" || fail "XDP program left on $IFA by a failed attach"
    fi
}
agent_kills=0 attaches=0 starting_kills=0 failed_attaches=0
# 1 once a valectl -d of the member was SIGKILLed: it may have sent the
# agent its SIGTERM, and the agent may be on its way out, detaching itself
stopping=0
agent_chaos() {
    local a
    a=$(agent_of)
    if [ -n "$a" ]; then
        tr '\0' '\n' <"/proc/$a/environ" 2>/dev/null | grep -qxF "UNETMAP_DIR=$dir" ||
            fail "agent $a listed for $MEMBER is not one of ours"
        killwait "$a" "agent"
        agent_kills=$((agent_kills + 1))
        # no orphan can hold the interface while the recorded agent runs
        # (its attach gets EBUSY), so the killed agent's XDP program was
        # the only one, and the kernel removed it as the agent died
        ! xdp_on "$M" "$IFA" || fail "XDP program left on $IFA after its agent was SIGKILLed"
        # its member stays (unless a SIGTERMed agent detached it first)
        if [ $stopping = 0 ] || members | grep -qF "$MEMBER "; then
            member_without_agent || fail "$MEMBER not listed without agent after its agent was SIGKILLed"
        fi
        stopping=0
        [ $((RANDOM % 10)) -lt 3 ] && return 0  # left dead a while, under traffic
    fi
    case $((RANDOM % 3)) in
    0) attach "no agent running" ;;
    1) killed_attach; attach "after a SIGKILLed attach" ;;
    2) attach_kill_agent ;;
    esac
}

# ---- valectl churn ------------------------------------------------------------
ctl_runs=0 ctl_kills=0
ctl_op() {
    local k=$((RANDOM % 3)) args maxd=10 kind=other
    case $((RANDOM % 10)) in
    0|1) args=(-a "$MEMBER"); maxd=80; kind=attach ;;
    2) args=(-d "$MEMBER"); maxd=60; kind=detach ;;
    3) args=() ;;
    4) args=(-v) ;;
    5) args=(-n tmp$k) ;;
    6) args=(-a $SW:tmp$k) ;;
    7) args=(-d $SW:tmp$k) ;;
    8) args=(-r tmp$k) ;;
    9) args=(-l $SW:vtx) ;;
    esac
    echo "== valectl ${args[*]}" >>"$out/valectl"
    "$BOUNDED" 10 ip netns exec "$M" "$VALECTL" "${args[@]}" >"$out/vc1" 2>&1 &
    local p=$!
    extra="$extra $p"
    ctl_runs=$((ctl_runs + 1))
    if [ $((RANDOM % 2)) = 0 ]; then
        local d=$((RANDOM % maxd))
        [ $d -gt 0 ] && sleep "$(printf '0.%03d' $d)"
        alive "$p" && ctl_kills=$((ctl_kills + 1))
        killwait "$p" "valectl ${args[*]}"
        echo "   SIGKILLed after $d ms" >>"$out/valectl"
        [ $kind = detach ] && stopping=1
    else
        wait "$p"
        local rc=$?
        [ $rc -ge 128 ] && fail "valectl ${args[*]} killed by signal $((rc - 128)) (watchdog?): $(cat "$out/vc1")"
        echo "   status $rc" >>"$out/valectl"
        case $kind in
        attach) [ $rc = 0 ] || grep -q 'Device or resource busy' "$out/vc1" ||
                    fail "valectl -a $MEMBER: status $rc, not EBUSY: $(cat "$out/vc1")" ;;
        detach) [ $rc = 0 ] || grep -q 'No such device or address' "$out/vc1" ||
                    fail "valectl -d $MEMBER: status $rc, not ENXIO: $(cat "$out/vc1")"
                stopping=0 ;;  # whatever agent there was is gone
        esac
    fi
    cat "$out/vc1" >>"$out/valectl"
    extra=${extra% $p}
}

# ---- chaos -------------------------------------------------------------------
for a in "${actors[@]}"; do start "$a"; done
probes=0 rounds=0
declare -A last
last_probe=$SECONDS
end=$((SECONDS + DUR))
while [ $SECONDS -lt $end ] && [ $rounds -lt 5000 ]; do
    rounds=$((rounds + 1))
    case $((RANDOM % 8)) in
    0|1) ctl_op ;;
    2|3) agent_chaos ;;
    *) restart "${actors[RANDOM % ${#actors[@]}]}" ;;
    esac
    sleep "0.$((RANDOM % 2))$((RANDOM % 10))"
    if [ $((SECONDS - last_probe)) -ge 2 ]; then
        probe probe.json
        "$BOUNDED" 10 "$VALECTL" >"$out/probe.list" 2>&1 || fail "valectl (list) failed or hung: $(cat "$out/probe.list")"
        probes=$((probes + 1))
        counters_grow probe.json "$SW" vtx:tx.packets vtx:tx.bytes vrx:rx.packets vrx:rx.drops vrx:rx.bytes
        last_probe=$SECONDS
    fi
done
kill_remaining
echo "chaos_agent: $starts starts, $kills SIGKILLs, $early early exits; $agent_kills running agents and" \
     "$starting_kills starting ones SIGKILLed ($failed_attaches attaches failed so), $attaches attaches; $ctl_runs valectl runs, $ctl_kills SIGKILLed; $probes probes"
grep -l 'bounded.sh:' "$out"/* >/dev/null 2>&1 && fail "a process hung (watchdog report above): $(grep -h 'bounded.sh:' "$out"/*)"

# ---- back to a known state -----------------------------------------------------
run() { "$BOUNDED" 10 "$@" >>"$out/final" 2>&1; }
for k in 0 1 2; do run "$VALECTL" -d $SW:tmp$k; run "$VALECTL" -r tmp$k; done
# Keep the agent that lived through the chaos if it is sure to stay: it was
# told to go (its "forwarding" line is in the log), and no SIGKILLed detach
# may have sent it SIGTERM.  Otherwise detach (the agent is gone when
# valectl -d returns) and attach afresh.
wait_orphans
ag=$(settled_agent)
if [ -z "$ag" ] || [ $stopping = 1 ]; then
    echo "final: detach and attach again (agent '$ag', stopping $stopping)"
    vc -d "$MEMBER" || grep -q 'No such device or address' "$out/vc" || fail "valectl -d $MEMBER: $(cat "$out/vc")"
    [ -z "$ag" ] || wait_gone "$ag" "agent after valectl -d"
    attach "after the chaos"
    ag=$(settled_agent)
else
    echo "final: agent $ag lived through the chaos"
fi
[ "$(our_agents | tr '\n' ' ')" = "$ag " ] || fail "agents running: '$(our_agents | tr '\n' ' ')', listed: $ag"
[ "$(members)" = "$(printf '%s\n' "$MEMBER" $SW:vrx $SW:vtx | sort | tr '\n' ' ')" ] || fail "members: $(members)"
xdp_on "$M" "$IFA" || fail "no XDP program on $IFA with agent $ag running"
! bpf_on "$P" "$IFP" || fail "a BPF program left on $IFP after the peer's pkt-gen was SIGKILLed"

# Persistent ports keep their rings across users (chaos_test.sh): frames a
# killed sender filled but never synced leave with the next sender's sync,
# frames a killed reader left stay in vrx.  One frame from vtx flushes the
# former, a reader until 1 s of silence drains the latter.
"$BOUNDED" 30 "$PKTGEN" -i $SW:vtx -f tx -n 1 >"$out/prime" 2>&1 || fail "priming $SW:vtx failed"
"$BOUNDED" 30 "$PKTGEN" -i $SW:vrx -f rx -W >"$out/drain" 2>&1 || fail "draining $SW:vrx failed"
echo "$SW:vrx: $(sed -n 's/^Received \([0-9]*\) packets.*/\1/p' "$out/drain") frames left by killed senders and readers, drained"

# ---- clean run: peer -> veth -> agent -> switch -> vrx ------------------------
"$BOUNDED" 30 "$PKTGEN" -i $SW:vrx -f rx >"$out/brx" 2>&1 &
rxp=$!; extra="$extra $rxp"
i=0; until grep -q 'Receiving from' "$out/brx"; do i=$((i + 1)); [ $i -lt 50 ] || fail "vrx reader did not start"; sleep 0.1; done
snap_stable b0
"$BOUNDED" 30 ip netns exec "$P" "$PKTGEN" -i netmap:$IFP -f tx -n $N -l 100 -R 50k >"$out/btx" 2>&1 ||
    fail "peer tx failed"
grep -q "^Sent $N packets $((N * 100)) bytes" "$out/btx" || fail "peer tx did not send $N"
snap_stable b1
kill -INT $rxp 2>/dev/null
wait $rxp; rc=$?
extra=${extra% $rxp}
[ $rc = 0 ] || fail "vrx reader exited with $rc"
got=$(sed -n 's/^Received \([0-9]*\) packets.*/\1/p' "$out/brx")
cptx=$(kd b0 cp_tx_packets b1) cptxd=$(kd b0 cp_tx_dropped b1)
carx=$(kd b0 ca_rx_packets b1) carxd=$(kd b0 ca_rx_dropped b1)
nicrx=$(jd b0 $IFA rx.packets b1) mtx=$(jd b0 "$MEMBER" tx.packets b1)
vrx=$(jd b0 $SW:vrx rx.packets b1) vrxd=$(jd b0 $SW:vrx rx.drops b1)
echo "peer -> vrx: sent $N = cp tx $cptx + tx_dropped $cptxd; ca rx $carx = rx_dropped $carxd + NIC rx $nicrx;" \
     "member tx $mtx = vrx rx $vrx + drops $vrxd; pkt-gen received ${got:-?}"
[ $((cptx + cptxd)) = $N ] || fail "peer: cp tx_packets $cptx + tx_dropped $cptxd != $N sent"
[ "$carx" = "$cptx" ] || fail "ca rx_packets grew by $carx, cp tx_packets by $cptx"
[ $((carxd + nicrx)) = "$carx" ] || fail "ca: rx_dropped $carxd + NIC port rx $nicrx != rx_packets $carx"
[ "$nicrx" = "$mtx" ] || fail "agent: NIC port rx $nicrx != member tx $mtx"
[ "$(jd b0 $IFA rx.bytes b1)" = $((nicrx * 100)) ] || fail "NIC port rx.bytes"
[ "$(jd b0 "$MEMBER" tx.bytes b1)" = $((mtx * 100)) ] || fail "member tx.bytes"
[ "$(jd b0 "$MEMBER" tx.drops b1)" = 0 ] || fail "member tx.drops grew"
[ $((vrx + vrxd)) = "$mtx" ] || fail "vrx: rx $vrx + drops $vrxd != member tx $mtx"
[ "$got" = "$vrx" ] || fail "pkt-gen on vrx received '$got', nmstat says $vrx"
grep -q "^Received $got packets $((got * 100)) bytes" "$out/brx" || fail "vrx reader bytes"
[ "$got" -ge $((N / 2)) ] || fail "only $got of $N frames from the peer reached vrx"

# ---- clean run: vtx -> switch -> agent -> veth -> peer's kernel --------------
! bpf_on "$P" "$IFP" || fail "a BPF program left on $IFP after the peer's pkt-gen exited"
snap_stable a0
"$BOUNDED" 30 "$PKTGEN" -i $SW:vtx -f tx -n $N -l 100 -R 50k >"$out/atx" 2>&1 || fail "vtx tx failed"
grep -q "^Sent $N packets $((N * 100)) bytes" "$out/atx" || fail "vtx tx did not send $N"
snap_stable a1
vtx=$(jd a0 $SW:vtx tx.packets a1) mrx=$(jd a0 "$MEMBER" rx.packets a1) mrxd=$(jd a0 "$MEMBER" rx.drops a1)
nictx=$(jd a0 $IFA tx.packets a1) cprx=$(kd a0 cp_rx_packets a1) catxd=$(kd a0 ca_tx_dropped a1)
echo "vtx -> peer: sent $N = vtx tx $vtx = member rx $mrx + drops $mrxd; NIC tx $nictx = cp rx $cprx + ca tx_dropped $catxd"
[ "$vtx" = $N ] || fail "nmstat: vtx tx.packets grew by $vtx, not $N"
[ "$(jd a0 $SW:vtx tx.bytes a1)" = $((N * 100)) ] || fail "nmstat: vtx tx.bytes"
[ "$(jd a0 $SW:vtx tx.drops a1)" = 0 ] || fail "nmstat: vtx tx.drops grew"
[ $((mrx + mrxd)) = $N ] || fail "member: rx $mrx + drops $mrxd != $N"
[ "$(jd a0 "$MEMBER" rx.bytes a1)" = $((mrx * 100)) ] || fail "member rx.bytes"
[ $(( $(jd a0 $SW:vrx rx.packets a1) + $(jd a0 $SW:vrx rx.drops a1) )) = $N ] || fail "vrx: rx + drops != $N"
[ "$nictx" = "$mrx" ] || fail "agent: NIC port tx $nictx != member rx $mrx"
[ "$(jd a0 $IFA tx.bytes a1)" = $((nictx * 100)) ] || fail "NIC port tx.bytes"
[ $((cprx + catxd)) = "$nictx" ] || fail "veth: cp rx_packets $cprx + ca tx_dropped $catxd != NIC port tx $nictx"
[ "$cprx" -ge $((N / 2)) ] || fail "only $cprx of $N frames from vtx reached the peer"

# ---- detach, and nothing left ---------------------------------------------------
vc -d "$MEMBER" || fail "valectl -d $MEMBER: $(cat "$out/vc")"
wait_gone "$ag" "agent after valectl -d"
[ -z "$(our_agents)" ] || fail "agent(s) left after detach: $(our_agents)"
[ "$(members)" = "$SW:vrx $SW:vtx " ] || fail "members after detach: $(members)"
! bpf_on "$M" "$IFA" || fail "BPF program left on $IFA after detach"
! bpf_on "$P" "$IFP" || fail "BPF program left on $IFP"
grep -q "$MEMBER: stopped" "$out/agent.log" || fail "the agent did not stop by itself on SIGTERM"
for p in vtx vrx; do
    vc -d $SW:$p || fail "valectl -d $SW:$p: $(cat "$out/vc")"
    vc -r $p || fail "valectl -r $p: $(cat "$out/vc")"
done
grep -q 'Sanitizer' "$out/agent.log" && fail "sanitizer report from an agent"
left=$(ls -A "$dir")
[ -z "$left" ] || fail "left in the state directory after everyone exited: $left"
echo "PASS [chaos_agent seed $SEED]"
exit 0
