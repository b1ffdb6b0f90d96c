#!/bin/sh
# lb_nmstat_test.sh LB NMSTAT PKTGEN VALECTL RECORDER CASE
# Integration tests of lb and nmstat over unetmap pipes and VALE ports.
# Each case runs in a fresh state directory under /dev/shm (UNETMAP_DIR),
# bounds every process with bounded.sh (a timeout that prints where a
# stuck process is), kills only the processes it started, and fails if
# anything is left in the state directory.
LB=$1 NMSTAT=$2 PKTGEN=$3 VALECTL=$4 REC=$5 CASE=$6
T=${TOOLS_TEST_TIMEOUT:-20}
. "$(dirname "$0")/testlib.sh"
testlib_setup lb

# every flow of recorder output $1 on exactly one output; prints the number
# of distinct flows.  With $2 = sym, a flow and its reverse are one flow.
pinned() {
    awk -v sym="$2" '$1 == "FLOW" {
        a = $4; b = $5
        if (sym == "sym" && b < a) { t = a; a = b; b = t }
        k = $3 " " a " " b
        if (!(k in port)) { port[k] = $2; n++ }
        else if (port[k] != $2) { bad++; print "flow " k " on outputs " port[k] " and " $2 > "/dev/stderr" }
        used[$2] = 1
    } END { print n; exit bad > 0 }' "$out/$1"
}


# lb over 4 pipes; 64 UDP flows 10.0.0.1:1000..1063 -> 10.0.0.2:2000
# (and with sym, the 64 reverse flows too)
spread() {
    bg lb "$LB" -i 'in}0' -p out:4 -B 8192
    waitline lb 'zero-copy'
    n=6400; [ "$1" = sym ] && n=12800
    bg rec "$REC" -n $n 'out}0' 'out}1' 'out}2' 'out}3'
    waitline rec ready
    bg tx "$PKTGEN" -i 'in{0' -f tx -n 6400 -R 100k -s 10.0.0.1:1000-10.0.0.1:1063 -d 10.0.0.2:2000
    waitfor tx
    if [ "$1" = sym ]; then
        bg txr "$PKTGEN" -i 'in{0' -f tx -n 6400 -R 100k -s 10.0.0.2:2000 -d 10.0.0.1:1000-10.0.0.1:1063
        waitfor txr
    fi
    waitfor rec
    grepq "^TOTAL $n\$" rec
    if [ "$1" = sym ]; then
        [ "$(grep -c '^FLOW' "$out/rec")" -eq 128 ] || fail "expected 128 directed flows"
        f=$(pinned rec sym) || fail "a flow and its reverse went to different outputs"
    else
        f=$(pinned rec) || fail "a flow went to more than one output"
    fi
    [ "$f" -eq 64 ] || fail "expected 64 flows, got $f"
    for k in 0 1 2 3; do
        grep -q "^FLOW $k " "$out/rec" || fail "output $k got no flow"
    done
    # nmstat sees what lb sent on each pipe (lb still holds them)
    "$NMSTAT" --once --json -d 0 >"$out/json" || fail "nmstat failed"
    stop lb
    grepq "^$n packets forwarded.  0 packets dropped. Total $n\$" lb
    for k in 0 1 2 3; do
        got=$(sed -n "s/^PORT $k //p" "$out/rec")
        grepq "^lb: out{$k: $got packets forwarded ($((got * 60)) bytes), 0 dropped" lb
        [ "$(json_port json "out{$k" tx.packets)" = "$got" ] || fail "nmstat: out{$k tx.packets != $got"
        [ "$(json_port json "out{$k" tx.bytes)" = "$((got * 60))" ] || fail "nmstat: out{$k tx.bytes"
        [ "$(json_port json "out}$k" rx.packets)" = "$got" ] || fail "nmstat: out}$k rx.packets != $got"
    done
    [ "$(json_port json 'in{0' tx.packets)" = "$n" ] || fail "nmstat: in{0 tx.packets != $n"
}

case $CASE in
lb_spread)
    spread
    ;;
lb_symmetric)
    spread sym
    ;;
lb_groups_copy)
    # two groups: every packet to both; the first group gets copies, the
    # second the buffers; then copy mode when the pipes exist in another
    # region than the input (a VALE port's private one)
    bg lb "$LB" -i 'in}0' -p a:2 -p b:3 -B 8192
    waitline lb 'zero-copy'
    bg reca "$REC" -n 3000 'a}0' 'a}1'
    bg recb "$REC" -n 3000 'b}0' 'b}1' 'b}2'
    waitline reca ready; waitline recb ready
    bg tx "$PKTGEN" -i 'in{0' -f tx -n 3000 -R 100k -s 10.0.0.1:1000-10.0.0.1:1063 -d 10.0.0.2:2000
    waitfor tx; waitfor reca; waitfor recb
    grepq '^TOTAL 3000$' reca
    grepq '^TOTAL 3000$' recb
    [ "$(pinned reca)" -eq 64 ] || fail "group a: flows not pinned"
    [ "$(pinned recb)" -eq 64 ] || fail "group b: flows not pinned"
    stop lb
    grepq '^6000 packets forwarded.  0 packets dropped' lb
    # copy: the workers created the pipes (global region) before lb.  The
    # switch may drop frames for vale0:in if lb falls behind (a loaded
    # machine): count what arrived rather than expect all of it.
    bg rec "$REC" -n 2000 'c}0' 'c}1'
    waitline rec ready
    bg lb2 "$LB" -i 'vale0:in' -p c:2
    waitline lb2 ', copy'
    bg tx2 "$PKTGEN" -i 'vale0:src' -f tx -n 2000 -R 50k -s 10.0.0.1:1000-10.0.0.1:1063 -d 10.0.0.2:2000
    waitfor tx2
    settle 1
    finish rec
    stop lb2
    got=$(sed -n 's/^TOTAL //p' "$out/rec")
    [ "$got" -ge 1000 ] || fail "copy: only $got of 2000 packets arrived"
    [ "$(pinned rec)" -eq 64 ] || fail "copy: flows not pinned"
    grepq "^$got packets forwarded.  0 packets dropped" lb2
    ;;
lb_overflow)
    # nobody reads out}0 yet: its ring fills (1023 packets: one slot stays
    # empty), the next 977 wait in extra buffers and reach the worker once
    # it starts
    bg lb "$LB" -i 'in}0' -p out:1 -B 1000
    waitline lb 'zero-copy'
    grepq '1000 obtained' lb
    bg tx "$PKTGEN" -i 'in{0' -f tx -n 2000 -R 100k
    waitfor tx
    settle 0.5
    bg rec "$REC" -n 2000 'out}0'
    waitfor rec
    grepq '^TOTAL 2000$' rec
    stop lb
    grepq '^2000 packets forwarded.  0 packets dropped' lb
    # without -B: what does not fit is dropped and counted
    bg lb2 "$LB" -i 'in}1' -p x:1
    waitline lb2 'zero-copy'
    bg tx2 "$PKTGEN" -i 'in{1' -f tx -n 2000 -R 100k
    waitfor tx2
    settle 0.5
    stop lb2
    grepq "^lb: x{0: 1023 packets forwarded (61380 bytes), 977 dropped" lb2
    grepq '^1023 packets forwarded.  977 packets dropped. Total 2000$' lb2
    # a ring filled while the worker is away, then drained: lb must see the
    # room again (its TX ring's tail only moves when it syncs)
    bg lb4 "$LB" -i 'in}3' -p z:1
    waitline lb4 'zero-copy'
    bg tx4 "$PKTGEN" -i 'in{3' -f tx -n 1023
    waitfor tx4
    settle 0.3
    bg rec4 "$REC" -n 1023 'z}0'
    waitfor rec4
    bg rec5 "$REC" -n 1000 'z}0'
    waitline rec5 ready
    bg tx5 "$PKTGEN" -i 'in{3' -f tx -n 1000 -R 100k
    waitfor tx5; waitfor rec5
    stop lb4
    grepq '^2023 packets forwarded.  0 packets dropped' lb4
    # too few extra buffers: 500 queued, then each time none is free the
    # longest queue gives back its 100 oldest (5 times for the last 477)
    bg lb3 "$LB" -i 'in}2' -p y:1 -B 500
    waitline lb3 'zero-copy'
    bg tx3 "$PKTGEN" -i 'in{2' -f tx -n 2000 -R 100k
    waitfor tx3
    settle 0.5
    bg rec3 "$REC" -n 1500 'y}0'
    waitfor rec3
    grepq '^TOTAL 1500$' rec3
    stop lb3
    grepq "^lb: y{0: 1500 packets forwarded (90000 bytes), 500 dropped, 0 queued" lb3
    ;;
nmstat_vale)
    # persistent ports keep their counters after pkt-gen exits
    for p in v0 v1; do
        "$VALECTL" -n $p >/dev/null || fail "valectl -n $p"
        "$VALECTL" -a vale0:$p >/dev/null || fail "valectl -a vale0:$p"
    done
    # the switch drops what does not fit in vale0:v1's ring (a loaded
    # machine): nmstat must count exactly what pkt-gen reports either way
    bg rx "$PKTGEN" -i 'vale0:v1' -f rx
    settle
    bg tx "$PKTGEN" -i 'vale0:v0' -f tx -n 30000 -l 100 -R 100k
    waitfor tx
    settle 0.5
    finish rx
    grepq '^Sent 30000 packets 3000000 bytes' tx
    got=$(sed -n 's/^Received \([0-9]*\) packets.*/\1/p' "$out/rx")
    [ -n "$got" ] && [ "$got" -ge 15000 ] || fail "vale0:v1 received only '$got' of 30000"
    grepq "^Received $got packets $((got * 100)) bytes" rx
    "$NMSTAT" --once --json -d 0.2 >"$out/json" || fail "nmstat --json failed"
    [ "$(json_port json vale0:v0 tx.packets)" = 30000 ] || fail "vale0:v0 tx.packets"
    [ "$(json_port json vale0:v0 tx.bytes)" = 3000000 ] || fail "vale0:v0 tx.bytes"
    [ "$(json_port json vale0:v0 tx.drops)" = 0 ] || fail "vale0:v0 tx.drops"
    [ "$(json_port json vale0:v1 rx.packets)" = "$got" ] || fail "vale0:v1 rx.packets != $got"
    [ "$(json_port json vale0:v1 rx.bytes)" = "$((got * 100))" ] || fail "vale0:v1 rx.bytes"
    [ "$(json_port json vale0:v1 rx.drops)" = "$((30000 - got))" ] || fail "vale0:v1 rx.drops != $((30000 - got))"
    [ "$(json_port json vale0:v1 tx.pps)" = 0 ] || fail "vale0:v1: nonzero rate while idle"
    grep -q '"switches":\[{"name":"vale0","ports":2,"tx":{"packets":30000,' "$out/json" \
        || fail "switch row vale0 missing or wrong"
    "$NMSTAT" --once -d 0 >"$out/table" || fail "nmstat --once failed"
    grep -q '^vale0 (2) *switch' "$out/table" || fail "no switch row in the table"
    grep -q '^  vale0:v0 *vale *| *30000 ' "$out/table" || fail "no vale0:v0 row in the table"
    # the live view: two refreshes, then exit
    "$NMSTAT" -d 0.1 -c 2 >"$out/live" || fail "nmstat -c 2 failed"
    [ "$(grep -c '^NAME' "$out/live")" -eq 2 ] || fail "expected two tables"
    for p in v0 v1; do
        "$VALECTL" -d vale0:$p >/dev/null || fail "valectl -d vale0:$p"
        "$VALECTL" -r $p >/dev/null || fail "valectl -r $p"
    done
    "$NMSTAT" --once --json -d 0 >"$out/json2"
    grep -q '^{"interval":0.000,"ports":\[\],"switches":\[\]}$' "$out/json2" || fail "ports left after removal"
    ;;
bad_input)
    n=0
    expect_fail() {
        n=$((n + 1))
        sh "$BOUNDED" "$T" "$@" >"$out/o$n" 2>"$out/e$n"
        rc=$?
        [ $rc -eq 1 ] || fail "'$*' exited with $rc, expected 1"
        [ "$(wc -l <"$out/e$n")" -eq 1 ] || fail "'$*' did not print exactly one error line: $(cat "$out/e$n")"
        grep -q "$EXPECT" "$out/e$n" || fail "'$*': message '$(cat "$out/e$n")' does not mention '$EXPECT'"
        check_clean
    }
    EXPECT='unknown option' expect_fail "$LB" -i 'x}0' -Q
    EXPECT='missing input port' expect_fail "$LB" -p out:2
    EXPECT='give -i once' expect_fail "$LB" -i 'x}0' -i 'y}0'
    EXPECT='expected an integer' expect_fail "$LB" -i 'x}0' -p out:0
    EXPECT='expected an integer' expect_fail "$LB" -i 'x}0' -p out:many
    EXPECT='pipe name' expect_fail "$LB" -i 'x}0' -p 'a{b:2'
    EXPECT='expected an integer' expect_fail "$LB" -i 'x}0' -b 0
    EXPECT='expected an integer' expect_fail "$LB" -i 'x}0' -B -1
    EXPECT='needs an argument' expect_fail "$LB" -i
    EXPECT='cannot open port' expect_fail "$LB" -i 'nosuchport'
    EXPECT='unexpected argument' expect_fail "$LB" -i 'x}0' extra
    EXPECT='unknown option' expect_fail "$NMSTAT" --bogus
    EXPECT='unknown option' expect_fail "$NMSTAT" -Q
    EXPECT='expected a number' expect_fail "$NMSTAT" -d soon
    EXPECT='expected a positive integer' expect_fail "$NMSTAT" -c 0
    EXPECT='needs --once' expect_fail "$NMSTAT" -d 0
    EXPECT='unexpected argument' expect_fail "$NMSTAT" --once extra
    "$LB" -h | grep -q '^Usage: lb ' || fail "lb -h"
    "$NMSTAT" -h | grep -q '^Usage: nmstat ' || fail "nmstat -h"
    ;;
*)
    fail "unknown case"
    ;;
esac
pass
