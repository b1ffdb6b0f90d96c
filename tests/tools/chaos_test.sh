#!/bin/bash
# chaos_test.sh PKTGEN BRIDGE VALECTL NMSTAT
#
# Crash recovery under traffic (issue 9).  For CHAOS_SECONDS (default 20)
# a VALE switch valeC carries traffic between persistent ports (pa -> pb,
# broadcast, so it also floods to pc and the ephemeral ports) and
# ephemeral ones (valeC:eN senders, valeC:rN receivers), and a pipe chain
# ca{0 -> bridge (ca}0 <-> cb}0) -> cb{0 carries more.  At random moments
# one of these processes is SIGKILLed and restarted, or a valectl
# invocation (create, attach, detach, remove, list) is started and, half
# the time, SIGKILLed a few milliseconds later.  Senders are unthrottled,
# so a kill often lands inside a txsync holding a destination ring's lease;
# valectl holds the control lock for most of its life.
#
# Checks:
#  - every SIGKILLed process is gone within 5 s, every valectl allowed to
#    finish finishes within 10 s, and an nmstat probe every ~2 s answers
#    within 10 s (no deadlock on the control lock);
#  - the persistent ports' counters never go backwards during the chaos;
#  - afterwards, a clean run across the persistent ports (pa -> pb) and
#    one across the pipes and a fresh bridge complete, with exact counts in
#    pkt-gen's reports and in nmstat --json (sent = received + drops);
#  - after the persistent ports are detached and removed, the state
#    directory is empty: nothing leaked.
# Every process runs under bounded.sh, so nothing can hang the test; a
# watchdog report in any log fails it.  CHAOS_SEED reproduces a run's
# random choices (not the timing).
PKTGEN=$1 BRIDGE=$2 VALECTL=$3 NMSTAT=$4
DUR=${CHAOS_SECONDS:-20}
SEED=${CHAOS_SEED:-$(( $(od -An -N2 -tu2 /dev/urandom) % 32768 ))}
RANDOM=$SEED
BOUNDED=$(dirname "$0")/bounded.sh
. "$(dirname "$0")/json_port.sh"
LIFE=$((DUR + 60))  # bound on any chaos-phase process

dir=$(mktemp -d /dev/shm/unetmap-chaos.XXXXXX) || exit 2
out=$(mktemp -d /tmp/unetmap-chaos-out.XXXXXX) || exit 2
export UNETMAP_DIR=$dir
declare -A pid       # actor -> pid of its current process
extra=""             # other pids we started (valectl, final runs)
cleanup() {
    for p in "${pid[@]}" $extra; do kill -9 "$p" 2>/dev/null; done
    for p in "${pid[@]}" $extra; do wait "$p" 2>/dev/null; done
    rm -rf "$dir" "$out"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# bash reports every SIGKILLed job on stderr: keep that in $out/shell,
# and our own messages on fd 3 (the real stderr)
exec 3>&2 2>>"$out/shell"
fail() {
    echo "FAIL [chaos seed $SEED]: $*" >&3
    for f in "$out"/*; do [ -f "$f" ] && { echo "--- $f" >&3; tail -25 "$f" >&3; }; done
    echo "--- state directory:" >&3; ls -la "$dir" >&3
    exit 1
}
. "$(dirname "$0")/chaoslib.sh"  # alive, killwait, restart

# ---- the actors ------------------------------------------------------------
actors=(vtx vrx etx erx ptx brg prx)
starts=0 kills=0 early=0
start() {
    local a=$1 cmd
    case $a in
    vtx) cmd=("$PKTGEN" -i valeC:pa -f tx -l $((60 + RANDOM % 1455))) ;;
    vrx) cmd=("$PKTGEN" -i valeC:pb -f rx) ;;
    etx) cmd=("$PKTGEN" -i valeC:e$((RANDOM % 3)) -f tx -l $((60 + RANDOM % 1455))) ;;
    erx) cmd=("$PKTGEN" -i valeC:r$((RANDOM % 3)) -f rx) ;;
    ptx) cmd=("$PKTGEN" -i 'ca{0' -f tx -l $((60 + RANDOM % 1455))) ;;
    brg) cmd=("$BRIDGE" -i 'ca}0' -i 'cb}0') ;;
    prx) cmd=("$PKTGEN" -i 'cb{0' -f rx) ;;
    esac
    [ "${cmd[0]}" = "$PKTGEN" ] && cmd+=(-T 3600000)  # no periodic report lines
    echo "== start: ${cmd[*]}" >>"$out/$a"
    "$BOUNDED" "$LIFE" "${cmd[@]}" >>"$out/$a" 2>&1 &
    pid[$a]=$!
    starts=$((starts + 1))
}

# ---- valectl churn -----------------------------------------------------------
ctl_runs=0 ctl_kills=0
ctl_op() {
    local k=$((RANDOM % 4)) args
    case $((RANDOM % 9)) in
    0) args=(-n tmp$k) ;;
    1) args=(-a valeC:tmp$k) ;;
    2) args=(-d valeC:tmp$k) ;;
    3) args=(-r tmp$k) ;;
    4) args=() ;;
    5) args=(-a valeC:pc) ;;
    6) args=(-d valeC:pc) ;;
    7) args=(-l valeC:pa) ;;
    8) args=(-a valeC:null:z$k) ;;
    esac
    echo "== valectl ${args[*]}" >>"$out/valectl"
    "$BOUNDED" 10 "$VALECTL" "${args[@]}" >>"$out/valectl" 2>&1 &
    local p=$!
    extra="$extra $p"
    ctl_runs=$((ctl_runs + 1))
    if [ $((RANDOM % 2)) = 0 ]; then
        local d=$((RANDOM % 10))  # valectl lives a few milliseconds
        [ $d -gt 0 ] && sleep "0.00$d"
        alive "$p" && ctl_kills=$((ctl_kills + 1))
        killwait "$p" "valectl ${args[*]}"
    else
        wait "$p"
        local rc=$?
        [ $rc -ge 128 ] && fail "valectl ${args[*]} killed by signal $((rc - 128)) (watchdog?)"
    fi
    extra=${extra% $p}
}

probe() {
    "$BOUNDED" 10 "$NMSTAT" --once --json -d 0 >"$out/$1" 2>&1 || fail "nmstat probe failed or hung: $(cat "$out/$1")"
}

# ---- setup -------------------------------------------------------------------
for p in pa pb pc; do
    "$BOUNDED" 10 "$VALECTL" -n $p >/dev/null || fail "valectl -n $p"
    "$BOUNDED" 10 "$VALECTL" -a valeC:$p >/dev/null || fail "valectl -a valeC:$p"
done
echo "chaos: seed $SEED, $DUR s, state in $dir"
for a in "${actors[@]}"; do start "$a"; done

# ---- chaos -------------------------------------------------------------------
probes=0
declare -A last
last_probe=$SECONDS
end=$((SECONDS + DUR))
while [ $SECONDS -lt $end ]; do
    if [ $((RANDOM % 4)) = 0 ]; then
        ctl_op
    else
        restart "${actors[RANDOM % ${#actors[@]}]}"
    fi
    sleep "0.$((RANDOM % 2))$((RANDOM % 10))"
    if [ $((SECONDS - last_probe)) -ge 2 ]; then
        probe probe.json
        probes=$((probes + 1))
        counters_grow probe.json "valeC" pa:tx.packets pa:tx.bytes pb:rx.packets pb:rx.drops pb:rx.bytes
        last_probe=$SECONDS
    fi
done
kill_remaining
echo "chaos: $starts starts, $kills SIGKILLs, $early early exits; $ctl_runs valectl runs, $ctl_kills SIGKILLed; $probes probes"
grep -l 'bounded.sh:' "$out"/* >/dev/null 2>&1 && fail "a process hung (watchdog report above): $(grep -h 'bounded.sh:' "$out"/*)"

# ---- remove what valectl may have created ----------------------------------
run() { "$BOUNDED" 10 "$@" >>"$out/final" 2>&1; }
for k in 0 1 2 3; do
    run "$VALECTL" -d valeC:tmp$k; run "$VALECTL" -r tmp$k; run "$VALECTL" -d valeC:null:z$k
done
run "$VALECTL" -d valeC:pc
run "$VALECTL" -r pc || fail "valectl -r pc: $(tail -1 "$out/final")"

# ---- clean run across the persistent ports ------------------------------------
N=20000
# A persistent port's rings outlive the processes bound to it (netmap
# recreates a port's rings when its last user goes): TX slots a killed
# sender filled but never synced go out with the next sender's first sync,
# and frames a killed reader left unread reach the next reader.  Flush
# both before counting: one frame from pa, then drain pb.
probe prime0.json
"$BOUNDED" 30 "$PKTGEN" -i valeC:pa -f tx -n 1 >"$out/prime" 2>&1 || fail "priming valeC:pa failed"
probe prime1.json
"$BOUNDED" 30 "$PKTGEN" -i valeC:pb -f rx -W >"$out/drain" 2>&1 || fail "draining valeC:pb failed"
stale=$(sed -n 's/^Received \([0-9]*\) packets.*/\1/p' "$out/drain")
leftover=$(( $(json_port prime1.json valeC:pa tx.packets) - $(json_port prime0.json valeC:pa tx.packets) - 1 ))
echo "valeC:pa: $leftover frames filled but not synced by killed senders went out with the next sender's sync"
echo "valeC:pb: ${stale:-0} frames left in its RX ring by killed readers, drained"
probe before.json
"$BOUNDED" 30 "$PKTGEN" -i valeC:pb -f rx -n $N >"$out/frx" 2>&1 &
rxp=$!; extra="$extra $rxp"
sleep 0.3
"$BOUNDED" 30 "$PKTGEN" -i valeC:pa -f tx -n $N -l 100 -R 50k >"$out/ftx" 2>&1 || fail "final tx failed"
sleep 1
kill -INT $rxp 2>/dev/null
wait $rxp; rc=$?
extra=${extra% $rxp}
[ $rc = 0 ] || fail "final rx exited with $rc"
grep -q "^Sent $N packets $((N * 100)) bytes" "$out/ftx" || fail "final tx did not send $N"
got=$(sed -n 's/^Received \([0-9]*\) packets.*/\1/p' "$out/frx")
[ -n "$got" ] && [ "$got" -ge $((N / 2)) ] || fail "valeC:pb received only '$got' of $N"
grep -q "^Received $got packets $((got * 100)) bytes" "$out/frx" || fail "final rx bytes"
probe after.json
delta() { echo $(( $(json_port after.json "$1" "$2") - $(json_port before.json "$1" "$2") )); }
[ "$(delta valeC:pa tx.packets)" = $N ] || fail "nmstat: valeC:pa tx.packets grew by $(delta valeC:pa tx.packets), not $N"
[ "$(delta valeC:pa tx.bytes)" = $((N * 100)) ] || fail "nmstat: valeC:pa tx.bytes"
[ "$(delta valeC:pa tx.drops)" = 0 ] || fail "nmstat: valeC:pa tx.drops grew"
rxd=$(delta valeC:pb rx.packets) drd=$(delta valeC:pb rx.drops)
[ "$rxd" = "$got" ] || fail "nmstat: valeC:pb rx.packets grew by $rxd, pkt-gen received $got"
[ "$(delta valeC:pb rx.bytes)" = $((got * 100)) ] || fail "nmstat: valeC:pb rx.bytes"
[ $((rxd + drd)) = $N ] || fail "valeC:pb: $rxd received + $drd dropped != $N sent"
echo "final vale run: sent $N, received $got, dropped $drd"

# ---- clean run across the pipes and a fresh bridge ---------------------------
"$BOUNDED" 30 "$PKTGEN" -i 'cb{0' -f rx -n $N >"$out/prx2" 2>&1 &
p1=$!
"$BOUNDED" 30 "$BRIDGE" -i 'ca}0' -i 'cb}0' >"$out/brg2" 2>&1 &
p2=$!
extra="$extra $p1 $p2"
sleep 0.3
"$BOUNDED" 30 "$PKTGEN" -i 'ca{0' -f tx -n $N -l 200 >"$out/ptx2" 2>&1 || fail "final pipe tx failed"
wait $p1 || fail "final pipe rx failed"
kill -INT $p2; wait $p2 || fail "final bridge failed"
extra=""
grep -q "^Sent $N packets $((N * 200)) bytes" "$out/ptx2" || fail "pipe tx count"
grep -q "^Received $N packets $((N * 200)) bytes" "$out/prx2" || fail "pipe rx count"
grep -q "ca}0 -> cb}0: $N packets forwarded ($((N * 200)) bytes)" "$out/brg2" || fail "bridge count"
echo "final pipe run: $N through the bridge"

# ---- nothing left --------------------------------------------------------------
probe left.json
names=$(sed 's/{"name"/\n{"name"/g' "$out/left.json" | sed -n 's/^{"name":"\([^"]*\)","type".*/\1/p' | sort | tr '\n' ' ')
[ "$names" = "valeC:pa valeC:pb " ] || fail "ports left besides pa, pb: '$names'"
for p in pa pb; do
    run "$VALECTL" -d valeC:$p || fail "valectl -d valeC:$p"
    run "$VALECTL" -r $p || fail "valectl -r $p"
done
left=$(ls -A "$dir")
[ -z "$left" ] && echo "PASS [chaos seed $SEED]" && exit 0
fail "left in the state directory after everyone exited: $left"
