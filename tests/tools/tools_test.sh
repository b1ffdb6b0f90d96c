#!/bin/sh
# tools_test.sh PKTGEN BRIDGE DROPPER CASE
# Integration tests of pkt-gen and bridge over unetmap pipes.  Each case
# runs in a fresh state directory under /dev/shm (UNETMAP_DIR), bounds every
# process with bounded.sh (a timeout that prints where a stuck process
# is), kills only the processes it started, and fails if anything is left
# in the state directory.
PKTGEN=$1 BRIDGE=$2 DROPPER=$3 CASE=$4
PCAPF=$(dirname "$DROPPER")/pcap_frames  # built beside pipe_dropper
T=${TOOLS_TEST_TIMEOUT:-20}
. "$(dirname "$0")/testlib.sh"
testlib_setup tools

case $CASE in
tx_rx_count)
    bg rx "$PKTGEN" -i 't}0' -f rx -n 123457
    settle
    bg tx "$PKTGEN" -i 't{0' -f tx -n 123457 -l 60
    waitfor tx; waitfor rx
    grepq '^Sent 123457 packets 7407420 bytes' tx
    grepq '^Received 123457 packets 7407420 bytes' rx
    grepq 'Speed: .*pps Bandwidth' rx
    grepq 'avg_batch' rx
    # -N (no copy) and longer frames
    bg rx2 "$PKTGEN" -i 't}1' -f rx -n 50000
    settle
    bg tx2 "$PKTGEN" -i 't{1' -f tx -n 50000 -N -l 1514
    waitfor tx2; waitfor rx2
    grepq '^Received 50000 packets 75700000 bytes' rx2
    ;;
tx_rx_vale)
    # through a VALE switch: broadcast frames flooded to the only other
    # port.  The switch drops what finds the receiver's ring full (netmap
    # does too): small bursts and an 8192-slot ring give the receiver
    # 80 ms of slack, and -W ends it if some were dropped all the same.
    bg rx "$PKTGEN" -i 'valeT:b' -f rx -n 50000 -W -C 8192,8192
    settle
    bg tx "$PKTGEN" -i 'valeT:a' -f tx -n 50000 -R 100k -b 16 -l 128
    waitfor tx; waitfor rx
    grepq '^Sent 50000 packets 6400000 bytes' tx
    grepq '^Received 50000 packets 6400000 bytes' rx
    awk '/^Received/ { r = $2 / $(NF-1); print r; exit !(r > 90000 && r < 110000) }' "$out/rx" >"$out/rate" \
        || fail "rate $(cat "$out/rate") pps not within 10% of 100000"
    ;;
monitor_vale)
    # a copy monitor of valeM:a ("/rt") counts what another pkt-gen sends
    # through it; it opens while the sender waits (-w 2): a monitor needs
    # its port to be open already.  A monitor that falls behind loses
    # frames: a 4096-slot ring and 10k pps leave it 400 ms of slack.
    bg rx "$PKTGEN" -i 'valeM:b' -f rx -n 10000 -C 4096,4096
    bg tx "$PKTGEN" -i 'valeM:a' -f tx -n 10000 -l 60 -w 2 -R 10k -b 16
    waitline tx 'Sending on'
    bg mon "$PKTGEN" -i 'valeM:a/rt' -f rx -n 10000 -C 4096,4096
    waitline mon 'Receiving from'
    waitfor tx; waitfor rx; waitfor mon
    grepq '^Sent 10000 packets 600000 bytes' tx
    grepq '^Received 10000 packets 600000 bytes' rx
    grepq '^Received 10000 packets 600000 bytes' mon
    # a monitor of a port nobody has open is refused
    sh "$BOUNDED" "$T" "$PKTGEN" -i 'valeM:zz/r' -f rx -n 1 >"$out/mon2" 2>&1 && fail "monitor of a missing port opened"
    grepq "No such device or address" mon2
    ;;
multi_slot)
    # -F: 5000-byte frames in 3 slots (1666 + 1666 + 1668) of 2048-byte buffers
    bg rx "$PKTGEN" -i 'm}0' -f rx -n 1000
    settle
    bg tx "$PKTGEN" -i 'm{0' -f tx -n 1000 -l 5000 -F 3
    waitfor tx; waitfor rx
    grepq '^Sent 1000 packets 5000000 bytes' tx
    grepq '^Received 1000 packets 5000000 bytes' rx
    # the slots as they arrive: -X dumps each with its length
    bg rx2 "$PKTGEN" -i 'm}1' -f rx -n 2 -X
    settle
    bg tx2 "$PKTGEN" -i 'm{1' -f tx -n 2 -l 3000 -F 2 -M 2000
    waitfor tx2; waitfor rx2
    grepq '^Received 2 packets 6000 bytes' rx2
    [ "$(grep -c 'len  2000\]' "$out/rx2")" -eq 2 ] && [ "$(grep -c 'len  1000\]' "$out/rx2")" -eq 2 ] \
        || fail "expected two 2000-byte and two 1000-byte slots"
    # sequence numbers (in each frame's first slot) survive chaining
    bg rx3 "$PKTGEN" -i 'm}2' -f rxseq -n 20000
    settle
    bg tx3 "$PKTGEN" -i 'm{2' -f txseq -n 20000 -l 300 -F 4
    waitfor tx3; waitfor rx3
    grepq '^Sequence: 20000 checked, 0 lost, 0 out of order' rx3
    grepq '^Received 20000 packets 6000000 bytes' rx3
    ;;
pcap_replay)
    # -P: the file's 4 frames in turn, twice; the 4000-byte one in 2 slots
    "$PCAPF" "$out/f.pcap" raw:60 raw:100 raw:1514 raw:4000 || fail "cannot write the pcap file"
    bg rx "$PKTGEN" -i 'c}0' -f rx -n 8 -X
    settle
    bg tx "$PKTGEN" -i 'c{0' -f tx -n 8 -P "$out/f.pcap"
    waitfor tx; waitfor rx
    grepq '^Sent 8 packets 11348 bytes' tx
    grepq '^Received 8 packets 11348 bytes' rx
    # frame 2 (k = 2): broadcast, source 02:..:01, type 88b5, then byte
    # (2*7+14)&255 = 0x1c at offset 14
    grep -A1 'len  1514\]' "$out/rx" | grep -qi 'ff ff ff ff ff ff 02 00 00 00 00 01 88 b5 1c 1d' \
        || fail "frame 3 of the file changed on its way"
    ;;
rate)
    bg rx "$PKTGEN" -i 'r}0' -f rx -n 200000
    settle
    bg tx "$PKTGEN" -i 'r{0' -f tx -n 200000 -R 100k
    waitfor tx; waitfor rx
    grepq '^Received 200000 packets' rx
    # packets / seconds of the receiver, within 10% of 100 kpps
    awk '/^Received/ { r = $2 / $(NF-1); print r; exit !(r > 90000 && r < 110000) }' "$out/rx" >"$out/rate" \
        || fail "rate $(cat "$out/rate") pps not within 10% of 100000"
    ;;
seq_noloss)
    bg rx "$PKTGEN" -i 's}0' -f rxseq -n 300000
    settle
    bg tx "$PKTGEN" -i 's{0' -f txseq -n 300000
    waitfor tx; waitfor rx
    grepq '^Received 300000 packets' rx
    grepq '^Sequence: 300000 checked, 0 lost, 0 out of order' rx
    ;;
seq_loss)
    # txseq -> s{0 | s}0 -> dropper (every 10th frame, 10000 of 100000) -> d}0 | d{0 -> rxseq
    bg rx "$PKTGEN" -i 'd{0' -f rxseq -n 90000
    bg drop "$DROPPER" 'netmap:s}0' 'netmap:d}0' 100000 10
    settle
    bg tx "$PKTGEN" -i 's{0' -f txseq -n 100000
    waitfor tx; waitfor drop; waitfor rx
    grepq '^dropped 10000 forwarded 90000' drop
    grepq '^Received 90000 packets' rx
    grepq '^Sequence: 90000 checked, 10000 lost, 0 out of order' rx
    ;;
ping_pong)
    bg pong "$PKTGEN" -i 'p}0' -f pong -n 1000
    settle
    bg ping "$PKTGEN" -i 'p{0' -f ping -n 1000
    waitfor ping; waitfor pong
    grepq '^Ping: 1000 sent, 1000 received' ping
    grepq 'RTT over 1000 packets: min [0-9]* av [0-9]* ns' ping
    grepq '^RTT (ns): min [0-9]* avg [0-9]* max [0-9]* p50 [0-9]* p90 [0-9]* p99 [0-9]*$' ping
    grepq '^Pong: 1000 replies sent' pong
    ;;
bridge_both_ways)
    bg br "$BRIDGE" -i 'a}0' -i 'b}0' -v
    settle
    bg rxb "$PKTGEN" -i 'b{0' -f rxseq -n 100000
    bg rxa "$PKTGEN" -i 'a{0' -f rxseq -n 70000
    settle 0.2
    bg txa "$PKTGEN" -i 'a{0' -f txseq -n 100000 -d 10.9.8.7:4000
    bg txb "$PKTGEN" -i 'b{0' -f txseq -n 70000 -l 200
    waitfor txa; waitfor txb; waitfor rxa; waitfor rxb
    grepq '^Sequence: 100000 checked, 0 lost, 0 out of order' rxb
    grepq '^Received 100000 packets 6000000 bytes' rxb
    grepq '^Sequence: 70000 checked, 0 lost, 0 out of order' rxa
    grepq '^Received 70000 packets 14000000 bytes' rxa
    # contents: one frame each way, dumped, compared with what pkt-gen sends
    bg rxd "$PKTGEN" -i 'b{0' -f rx -n 1 -X
    settle 0.2
    bg txd "$PKTGEN" -i 'a{0' -f tx -n 1 -X -d 10.9.8.7:4000
    waitfor txd; waitfor rxd
    grep -E '^ +[0-9]+: ' "$out/txd" >"$out/txd.hex"
    grep -E '^ +[0-9]+: ' "$out/rxd" >"$out/rxd.hex"
    [ -s "$out/txd.hex" ] && cmp -s "$out/txd.hex" "$out/rxd.hex" || fail "frame changed on its way through the bridge"
    hex=$(sed 's/^ *[0-9]*: //' "$out/rxd.hex" | cut -c1-48 | tr -d ' \n')
    # IPv4 destination 10.9.8.7 at bytes 30..33, UDP port 4000 at 36..37
    [ "$(echo "$hex" | cut -c61-68)" = 0a090807 ] && [ "$(echo "$hex" | cut -c73-76)" = 0fa0 ] \
        || fail "destination 10.9.8.7:4000 not in the received frame"
    grep -q 'unetmap pkt-gen payload' "$out/rxd" || echo "$hex" | grep -q "$(printf 'unetmap pkt-gen' | od -An -tx1 | tr -d ' \n')" \
        || fail "payload not in the received frame"
    kill -INT "$pid_br"; waitfor br
    grepq 'a}0 -> b}0: 100001 packets forwarded' br
    grepq 'b}0 -> a}0: 70000 packets forwarded' br
    ;;
bridge_zerocopy)
    # zero-copy: the receiver on b{0 gets the buffers of a{0's tx ring
    for mode in zc copy; do
        if [ $mode = zc ]; then bg br "$BRIDGE" -i 'a}0' -i 'b}0' -v; else bg br "$BRIDGE" -c -i 'a}0' -i 'b}0' -v; fi
        settle
        bg rx "$PKTGEN" -i 'b{0' -f rx -n 300 -X -vv
        settle 0.2
        bg tx "$PKTGEN" -i 'a{0' -f tx -n 300 -vv
        waitfor tx; waitfor rx
        kill -INT "$pid_br"; waitfor br
        txr=$(sed -n 's/.*TX0: .* buffers \([0-9]*\)\.\.\([0-9]*\),.*/\1 \2/p' "$out/tx")
        rxr=$(sed -n 's/.*RX0: .* buffers \([0-9]*\)\.\.\([0-9]*\),.*/\1 \2/p' "$out/rx")
        [ -n "$txr" ] && [ -n "$rxr" ] || fail "no ring buffer ranges printed by -vv"
        sed -n 's/.*\[buf *\([0-9]*\) .*/\1/p' "$out/rx" >"$out/bufs"
        [ "$(wc -l <"$out/bufs")" -eq 300 ] || fail "expected 300 dumped frames"
        if [ $mode = zc ]; then
            grepq 'zerocopy supported' br
            grepq 'zero-copy' br
            # every buffer received belongs to a{0's tx ring
            awk -v r="$txr" 'BEGIN { split(r, a, " ") } $1 < a[1] || $1 > a[2] { bad++ } END { exit bad > 0 }' "$out/bufs" \
                || fail "zero-copy: buffers outside a{0's tx ring ($txr)"
        else
            grepq 'zerocopy NOT supported' br
            awk -v r="$rxr" 'BEGIN { split(r, a, " ") } $1 < a[1] || $1 > a[2] { bad++ } END { exit bad > 0 }' "$out/bufs" \
                || fail "copy: buffers outside b{0's own rx ring ($rxr)"
        fi
        grepq 'a}0 -> b}0: 300 packets forwarded' br
        rm -f "$out/br" "$out/rx" "$out/tx"
    done
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
    EXPECT='unknown option' expect_fail "$PKTGEN" -i 'x{0' -f tx -Q
    EXPECT='unknown function' expect_fail "$PKTGEN" -i 'x{0' -f foo
    EXPECT='malformed address' expect_fail "$PKTGEN" -i 'x{0' -f tx -d 10.0.0.300
    EXPECT='malformed address' expect_fail "$PKTGEN" -i 'x{0' -f tx -s 10.0.0.1:99999
    EXPECT='malformed address' expect_fail "$PKTGEN" -i 'x{0' -f tx -d 10.0.0.1:12-10.0.0.x
    EXPECT='malformed MAC' expect_fail "$PKTGEN" -i 'x{0' -f tx -D 00:11:22:33:44
    EXPECT='below the minimum' expect_fail "$PKTGEN" -i 'x{0' -f tx -l 59
    EXPECT="above the port's maximum" expect_fail "$PKTGEN" -i 'x{0' -f tx -l 4000
    EXPECT='cannot open port' expect_fail "$PKTGEN" -i 'nosuchport' -f tx
    EXPECT='cannot open port' expect_fail "$PKTGEN" -i 'x{0^' -f rx
    EXPECT='missing port' expect_fail "$PKTGEN" -f tx
    EXPECT='No such file' expect_fail "$PKTGEN" -i 'x{0' -f tx -P "$out/none.pcap"
    EXPECT='by -f tx only' expect_fail "$PKTGEN" -i 'x{0' -f rx -P "$out/none.pcap"
    EXPECT='without -F' expect_fail "$PKTGEN" -i 'x{0' -f tx -M 100
    EXPECT='cannot fill' expect_fail "$PKTGEN" -i 'x{0' -f tx -F 64
    EXPECT='more than the port' expect_fail "$PKTGEN" -i 'x{0' -f tx -l 9000 -F 2
    EXPECT='has only 1' expect_fail "$PKTGEN" -i 'x{0' -f tx -p 2
    EXPECT='expected a rate' expect_fail "$PKTGEN" -i 'x{0' -f tx -R fast
    EXPECT='unknown option' expect_fail "$BRIDGE" -i 'x}0' -i 'y}0' -Q
    EXPECT='give two ports' expect_fail "$BRIDGE" -i 'x}0'
    EXPECT='cannot open port' expect_fail "$BRIDGE" -i 'x}0' -i 'nosuchport'
    EXPECT='expected an integer' expect_fail "$BRIDGE" -i 'x}0' -i 'y}0' -b 0
    ;;
*)
    fail "unknown case"
    ;;
esac
pass
