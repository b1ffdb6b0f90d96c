#!/bin/sh
# pcap_test.sh SHIM PKTGEN NMREPLAY PROBE FRAMES TCPDUMP CASE
# Tests of libunetmap-pcap.so (libpcap programs on unetmap ports) and of
# nmreplay.  Each case runs in a fresh state directory under /dev/shm,
# bounds every process with bounded.sh, kills only what it started, and
# fails if anything is left in the state directory.  Frames go through a
# VALE switch as broadcasts, which it floods to every other port.
SHIM=$1 PKTGEN=$2 NMREPLAY=$3 PROBE=$4 FRAMES=$5 TCPDUMP=$6 CASE=$7
T=${TOOLS_TEST_TIMEOUT:-20}
. "$(dirname "$0")/testlib.sh"
testlib_setup pcap

[ -n "$TCPDUMP" ] || TCPDUMP=$(command -v tcpdump || echo /usr/bin/tcpdump)
[ -x "$TCPDUMP" ] || { echo "SKIP: no tcpdump (needed to read the files back)"; exit 77; }
# tcpdump through the shim; -Z root: keep root's rights to the state
# directory when run as root (tcpdump drops to user tcpdump otherwise)
TD="env LD_PRELOAD=$SHIM $TCPDUMP"
[ "$(id -u)" = 0 ] && TD="$TD -Z root"
# tshark and dumpcap (Debian's tshark package), through the shim
[ -n "${TSHARK:-}" ] || TSHARK=$(command -v tshark || echo /usr/bin/tshark)
[ -n "${DUMPCAP:-}" ] || DUMPCAP=$(command -v dumpcap || echo /usr/bin/dumpcap)
TS="env LD_PRELOAD=$SHIM $TSHARK"
DC="env LD_PRELOAD=$SHIM $DUMPCAP"
need_tshark() { [ -x "$TSHARK" ] && [ -x "$DUMPCAP" ] || { echo "SKIP: no tshark/dumpcap"; exit 77; }; }
# the bytes of every frame of a file, as tshark dissects it (hex lines only)
ts_bytes() { "$TSHARK" -r "$1" -x 2>/dev/null | grep -E '^[0-9a-f]{4}  '; }
# wait (bounded) until tcpdump -D, through the shim, lists device $1
wait_listed() { i=0; until $TD -D 2>/dev/null | grep -qF -- ".$1 ("; do i=$((i + 1)); [ $i -lt 100 ] || fail "$1 never listed"; sleep 0.1; done; }
# the frames of a file, without time stamps, as hex
frames() { "$TCPDUMP" -r "$1" -t -nn -xx ${2:+"$2"} 2>/dev/null; }
same_frames() {  # FILE_EXPECTED FILE_GOT [FILTER for the expected]
    frames "$1" "$3" >"$out/want.txt"; frames "$2" >"$out/got.txt"
    [ -s "$out/want.txt" ] || fail "no frames in $1"
    cmp -s "$out/want.txt" "$out/got.txt" || { diff "$out/want.txt" "$out/got.txt" | head -20 >&2; fail "frames of $2 differ from $1"; }
}
# every gap between consecutive time stamps of FILE within 10% of GAP (s),
# and COUNT frames; status only (the offending gaps in $out/gaps)
gaps_ok() {
    "$TCPDUMP" -tt -nn -r "$1" 2>/dev/null | awk -v g="$2" -v n="$3" '
        !/^[0-9]/ { next }
        k++ > 0 { d = $1 - p; if (d < 0.9 * g || d > 1.1 * g) { bad++; print "gap " d > "/dev/stderr" } }
        { p = $1 } END { if (k != n) print k " frames" > "/dev/stderr"; exit !(k == n && bad == 0) }' 2>"$out/gaps"
}
# timed_replay DEV N GAP NMREPLAY-ARGS...: capture N frames on DEV with
# pcap_probe while nmreplay sends; the frames in $out/c.pcap, GAP s apart.
# One late wakeup of either process on a loaded machine shifts a frame by
# milliseconds, so the run is tried up to three times before failing;
# what arrives (count, bytes) is checked on every attempt.
timed_replay() {
    dev=$1 cnt=$2 gap=$3; shift 3
    for attempt in 1 2 3; do
        rm -f "$out/cap" "$out/rep"
        bg cap "$PROBE" capture "$dev" "$cnt" "$out/c.pcap"
        waitline cap '^ready'
        sh "$BOUNDED" "$T" "$NMREPLAY" -i vale0:in "$@" >"$out/rep" 2>&1 || fail "nmreplay $* failed"
        waitfor cap
        grepq "^captured $cnt " cap
        gaps_ok "$out/c.pcap" "$gap" "$cnt" && return 0
        echo "attempt $attempt: gaps off: $(tr '\n' ' ' <"$out/gaps")" >&2
    done
    fail "$out/c.pcap: not $cnt frames $gap s apart (within 10%): $(tr '\n' ' ' <"$out/gaps")"
}
# the gaps of FILE2 within 10% of those of FILE1 (status only)
same_gaps() {
    "$TCPDUMP" -tt -nn -r "$1" 2>/dev/null | awk '/^[0-9]/ { print $1 }' >"$out/t1"
    "$TCPDUMP" -tt -nn -r "$2" 2>/dev/null | awk '/^[0-9]/ { print $1 }' >"$out/t2"
    [ "$(wc -l <"$out/t1")" -eq "$(wc -l <"$out/t2")" ] || fail "$1 and $2 have different frame counts"
    paste "$out/t1" "$out/t2" | awk 'NR > 1 { a = $1 - p1; b = $2 - p2; if (b < 0.9 * a || b > 1.1 * a) { bad++; print a " vs " b > "/dev/stderr" } }
        { p1 = $1; p2 = $2 } END { exit bad > 0 }' 2>"$out/gaps"
}
# expect_fail STATUS TEXT COMMAND...: exits with STATUS, says TEXT, leaves nothing
n=0
expect_fail() {
    want=$1 text=$2; shift 2
    n=$((n + 1))
    sh "$BOUNDED" "$T" "$@" >"$out/o$n" 2>&1
    rc=$?
    [ $rc -eq "$want" ] || fail "'$*' exited with $rc, expected $want: $(cat "$out/o$n")"
    grep -q -- "$text" "$out/o$n" || fail "'$*': output '$(cat "$out/o$n")' does not mention '$text'"
    check_clean
}

# a mix for the filters: 3 of the 8 are UDP to port 53
mixed="udp:53:60 tcp:53:80 udp:1234:100 raw:64 udp:53:300 tcp:80:1514 udp:5353:90 udp:53:1000"

case $CASE in
probe_api)
    "$PROBE" api 'vale0:api' >"$out/api" 2>&1 || fail "API checks failed: $(grep FAIL "$out/api")"
    [ "$(grep -c '^ok:' "$out/api")" -ge 30 ] || fail "API checks missing"
    ;;
probe_inject)
    # pcap_inject/pcap_sendpacket on x{1 reach x}1, then frames longer
    # than a buffer (3000 bytes: two slots, NS_MOREFRAG)
    for len in 300 3000; do
        rm -f "$out/cap" "$out/inj"
        bg cap "$PROBE" capture 'x}1' 40 "$out/c.pcap"
        waitline cap '^ready'
        "$PROBE" inject 'x{1' 40 $len >"$out/inj" 2>&1 || fail "inject failed"
        waitfor cap
        grepq '^sent 40' inj
        grepq '^captured 40 recv 40 drop 0' cap
        grep '^frame' "$out/inj" >"$out/a"; grep '^frame' "$out/cap" >"$out/b"
        [ "$(wc -l <"$out/a")" -eq 40 ] && cmp -s "$out/a" "$out/b" || fail "frames of length $len changed on the way"
        [ "$("$TCPDUMP" -r "$out/c.pcap" -nn 2>/dev/null | grep -c "length $len")" -eq 40 ] || fail "capture file: not 40 frames of $len bytes"
    done
    ;;
probe_filter)
    "$FRAMES" "$out/mixed.pcap" $mixed || fail "cannot write the pcap file"
    bg cap "$PROBE" capture 'vale0:f' 3 "$out/c.pcap" 'udp port 53'
    waitline cap '^ready'
    sh "$BOUNDED" "$T" "$NMREPLAY" -i vale0:in -f "$out/mixed.pcap" -R 1k >"$out/rep" 2>&1 || fail "nmreplay failed"
    waitfor cap
    grepq '^captured 3 recv 8 drop 0' cap
    same_frames "$out/mixed.pcap" "$out/c.pcap" 'udp port 53'
    ;;
nmreplay_timing)
    # 12 frames 100 ms apart in the file: the same gaps on arrival; a file
    # with 200 ms gaps sent twice as fast (-B real,2): 100 ms again.  (Gaps
    # this long leave room for a loaded machine's wakeup latency.)
    "$FRAMES" "$out/g.pcap" -g 100000 udp:53:60 udp:53:70 udp:53:80 udp:53:90 raw:100 raw:110 \
        tcp:80:120 tcp:80:130 udp:9:140 udp:9:150 raw:1514 raw:60 || fail "cannot write the pcap file"
    "$FRAMES" "$out/h.pcap" -g 200000 udp:53:60 udp:53:70 udp:53:80 udp:53:90 raw:100 raw:110 \
        || fail "cannot write the pcap file"
    timed_replay vale0:t 12 0.1 -f "$out/g.pcap"
    grepq '^Sent 12 packets 2624 bytes' rep
    same_frames "$out/g.pcap" "$out/c.pcap"
    timed_replay vale0:t 6 0.1 -f "$out/h.pcap" -B real,2
    same_frames "$out/h.pcap" "$out/c.pcap"
    ;;
nmreplay_options)
    "$FRAMES" "$out/k.pcap" raw:1000 raw:1000 raw:1000 raw:1000 raw:1000 raw:1000 raw:1000 raw:1000 raw:1000 raw:1000 \
        || fail "cannot write the pcap file"
    # -B 80k: 1000-byte frames every 100 ms; -l 2: the file twice
    timed_replay vale0:o 20 0.1 -f "$out/k.pcap" -B 80k -l 2 -b 4
    grepq '^Sent 20 packets 20000 bytes' rep
    # ether: 24 more bytes per frame, 1024 * 8 / 81.92k = 100 ms
    timed_replay vale0:o 10 0.1 -f "$out/k.pcap" -B ether,81.92k
    # -R: a packet rate; -L plr,1 drops everything, -L 0 nothing
    sh "$BOUNDED" "$T" "$NMREPLAY" -i vale0:in -f "$out/k.pcap" -R 1k -l 5 >"$out/rep3" 2>&1 || fail "nmreplay -R failed"
    grepq '^Sent 50 packets 50000 bytes' rep3
    awk '/^Sent/ { exit !($7 >= 0.048 && $7 < 0.3) }' "$out/rep3" || fail "50 packets at 1000 pps: $(cat "$out/rep3")"
    sh "$BOUNDED" "$T" "$NMREPLAY" -i vale0:in -f "$out/k.pcap" -R 10k -L plr,1 >"$out/rep4" 2>&1 || fail "nmreplay -L failed"
    grepq '^Sent 0 packets 0 bytes .*(10 dropped by -L)' rep4
    sh "$BOUNDED" "$T" "$NMREPLAY" -i vale0:in -f "$out/k.pcap" -R 10k -L ber,0 -D uniform,1u,2u >"$out/rep5" 2>&1 || fail "nmreplay -L ber failed"
    grepq '^Sent 10 packets' rep5
    # -l 0 runs until interrupted
    bg loop "$NMREPLAY" -i vale0:in -f "$out/k.pcap" -R 10k -l 0 -v
    sleep 1.3
    stop loop
    awk '/^Sent/ { exit !($2 > 5000) }' "$out/loop" || fail "-l 0: $(cat "$out/loop")"
    grepq 'packets sent, .* in the last second' loop
    ;;
bad_input)
    "$FRAMES" "$out/ok.pcap" udp:53:60 udp:53:1000 || fail "cannot write the pcap file"
    head -c 130 "$out/ok.pcap" >"$out/trunc.pcap"  # inside frame 2
    head -c 24 "$out/ok.pcap" >"$out/empty.pcap"
    echo "not a capture file at all" >"$out/junk.pcap"
    expect_fail 1 'No such file' "$NMREPLAY" -i vale0:in -f "$out/none.pcap"
    expect_fail 1 'truncated' "$NMREPLAY" -i vale0:in -f "$out/trunc.pcap"
    expect_fail 1 'format' "$NMREPLAY" -i vale0:in -f "$out/junk.pcap"
    expect_fail 1 'no packets' "$NMREPLAY" -i vale0:in -f "$out/empty.pcap"
    # An interface that does not exist.
    expect_fail 1 'cannot open port' "$NMREPLAY" -i netmap:nosuch0 -f "$out/ok.pcap"
    expect_fail 1 'missing port' "$NMREPLAY" -f "$out/ok.pcap"
    expect_fail 1 'missing pcap file' "$NMREPLAY" -i vale0:in
    expect_fail 1 'expected a positive number' "$NMREPLAY" -i vale0:in -f "$out/ok.pcap" -B fast
    expect_fail 1 'give the bandwidth' "$NMREPLAY" -i vale0:in -f "$out/ok.pcap" -B ether
    expect_fail 1 'between 0 and 1' "$NMREPLAY" -i vale0:in -f "$out/ok.pcap" -L plr,2
    expect_fail 1 'ends in s, m, u or n' "$NMREPLAY" -i vale0:in -f "$out/ok.pcap" -D 5x
    expect_fail 1 'unknown option' "$NMREPLAY" -i vale0:in -f "$out/ok.pcap" -Q
    # libpcap's statuses from the shim: no such device, nothing left open
    expect_fail 1 '^error -5: netmap:nosuch0' "$PROBE" open netmap:nosuch0
    expect_fail 1 '^error -5: x{1^' "$PROBE" open 'x{1^'
    expect_fail 1 'error: filter: .*syntax error' "$PROBE" capture 'vale0:b' 1 "$out/c.pcap" 'udp port'
    "$PROBE" open 'vale0:b' >"$out/open" 2>&1 || fail "vale0:b does not open: $(cat "$out/open")"
    check_clean
    ;;
tcpdump_capture)
    # pkt-gen -P sends a known file's 5 frames (one of 3000 bytes, in two
    # slots) through vale0:a; tcpdump -c 5 -w on vale0:cap gets them all
    "$FRAMES" "$out/k.pcap" raw:60 udp:53:100 tcp:80:1514 udp:9:3000 raw:200 || fail "cannot write the pcap file"
    bg td $TD -c 5 -w "$out/c.pcap" -i vale0:cap
    waitline td 'listening on vale0:cap, link-type EN10MB'
    sh "$BOUNDED" "$T" "$PKTGEN" -i vale0:a -f tx -n 5 -P "$out/k.pcap" >"$out/tx" 2>&1 || fail "pkt-gen failed"
    waitfor td
    grepq '^5 packets captured' td
    grepq '^5 packets received by filter' td
    grepq '^0 packets dropped by kernel' td
    same_frames "$out/k.pcap" "$out/c.pcap"
    "$TCPDUMP" -r "$out/c.pcap" 2>&1 | grep -q 'snapshot length 262144' || fail "snapshot length not 262144 in the file"
    # -s 100: caplen 100, len the frame's, and the file says 100
    bg td2 $TD -c 5 -s 100 -w "$out/s.pcap" -i vale0:cap
    waitline td2 'snapshot length 100 bytes'
    sh "$BOUNDED" "$T" "$PKTGEN" -i vale0:a -f tx -n 5 -P "$out/k.pcap" >"$out/tx2" 2>&1 || fail "pkt-gen failed"
    waitfor td2
    "$TCPDUMP" -r "$out/s.pcap" 2>&1 | grep -q 'snapshot length 100' || fail "snapshot length not 100 in the file"
    [ "$("$TCPDUMP" -r "$out/s.pcap" -nn -e 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "length") { print $(i + 1); break } }' | tr -d ':' | tr '\n' ' ')" = "60 100 1514 3000 200 " ] \
        || fail "frame lengths not kept with -s 100"
    [ "$(od -An -tu4 -j 32 -N 4 "$out/s.pcap" | tr -d ' ')" = 60 ] && [ "$(od -An -tu4 -j 108 -N 4 "$out/s.pcap" | tr -d ' ')" = 100 ] \
        || fail "caplen of frames 1 and 2 not 60 and 100"
    ;;
tcpdump_filter)
    "$FRAMES" "$out/mixed.pcap" $mixed || fail "cannot write the pcap file"
    bg td $TD -w "$out/c.pcap" -i vale0:cap 'udp port 53'
    waitline td 'listening on vale0:cap'
    sh "$BOUNDED" "$T" "$PKTGEN" -i vale0:a -f tx -n 8 -P "$out/mixed.pcap" >"$out/tx" 2>&1 || fail "pkt-gen failed"
    settle 0.5
    stop td
    grepq '^3 packets captured' td
    grepq '^8 packets received by filter' td
    same_frames "$out/mixed.pcap" "$out/c.pcap" 'udp port 53'
    ;;
tcpdump_replay)
    # a file with 100 ms gaps, replayed by nmreplay and captured by tcpdump;
    # then that capture replayed and captured again: same frames, gaps
    # within 10% (each step tried up to three times, as in timed_replay)
    "$FRAMES" "$out/g.pcap" -g 100000 udp:53:60 udp:53:70 udp:53:80 udp:53:90 raw:100 raw:110 \
        tcp:80:120 tcp:80:130 udp:9:140 udp:9:150 || fail "cannot write the pcap file"
    td_replay() {  # FROM TO: nmreplay FROM, tcpdump writes TO; gaps compared
        rm -f "$out/td" "$out/rep"
        bg td $TD -c 10 -w "$2" -i vale0:cap
        waitline td 'listening on'
        sh "$BOUNDED" "$T" "$NMREPLAY" -i vale0:in -f "$1" >"$out/rep" 2>&1 || fail "nmreplay failed"
        waitfor td
        grepq '^10 packets captured' td
        same_frames "$1" "$2"
        same_gaps "$1" "$2"
    }
    for step in "g c1" "c1 c2"; do
        set -- $step
        for attempt in 1 2 3 x; do
            [ $attempt = x ] && fail "gaps of $2.pcap not within 10% of those of $1.pcap: $(tr '\n' ' ' <"$out/gaps")"
            td_replay "$out/$1.pcap" "$out/$2.pcap" && break
        done
    done
    ;;
tcpdump_lo)
    # devices that are not unetmap ports go to the real libpcap
    [ "$(id -u)" = 0 ] || { echo "SKIP: capturing on lo needs root"; exit 77; }
    port=$((40000 + $$ % 20000))
    bg td $TD -c 1 -nn -i lo "udp port $port"
    waitline td 'listening on lo'
    i=0
    while kill -0 "$pid_td" 2>/dev/null && [ $i -lt 50 ]; do
        bash -c "echo unetmap-lo-test >/dev/udp/127.0.0.1/$port" 2>/dev/null
        sleep 0.1; i=$((i + 1))
    done
    waitfor td
    grepq '^1 packet captured' td
    grepq "127.0.0.1.[0-9]* > 127.0.0.1.$port: UDP" td
    ;;
tshark_capture)
    # tshark (which captures through dumpcap, its child) writes a pcapng
    # file of what pkt-gen sent; read back: the same 5 frames, byte for byte
    need_tshark
    "$FRAMES" "$out/k.pcap" raw:60 udp:53:100 tcp:80:1514 udp:9:3000 raw:200 || fail "cannot write the pcap file"
    bg ts $TS -i vale0:cap -c 5 -w "$out/c.pcapng"
    waitline ts 'Capture started'
    sh "$BOUNDED" "$T" "$PKTGEN" -i vale0:a -f tx -n 5 -P "$out/k.pcap" >"$out/tx" 2>&1 || fail "pkt-gen failed"
    waitfor ts
    grepq '^5 packets captured' ts
    ts_bytes "$out/k.pcap" >"$out/want.txt"; ts_bytes "$out/c.pcapng" >"$out/got.txt"
    [ -s "$out/want.txt" ] && cmp -s "$out/want.txt" "$out/got.txt" || fail "tshark -r: frames of c.pcapng differ from k.pcap"
    [ "$("$TSHARK" -r "$out/c.pcapng" -T fields -e frame.len 2>/dev/null | tr '\n' ' ')" = "60 100 1514 3000 200 " ] \
        || fail "frame lengths in c.pcapng"
    same_frames "$out/k.pcap" "$out/c.pcapng"  # tcpdump reads pcapng too
    ;;
dumpcap_filter)
    # dumpcap with a capture filter (compiled by libpcap, run by the shim)
    need_tshark
    "$FRAMES" "$out/mixed.pcap" $mixed || fail "cannot write the pcap file"
    bg dc $DC -i vale0:cap -f 'udp port 53' -c 3 -w "$out/c.pcapng"
    waitline dc 'File: '
    sh "$BOUNDED" "$T" "$PKTGEN" -i vale0:a -f tx -n 8 -P "$out/mixed.pcap" >"$out/tx" 2>&1 || fail "pkt-gen failed"
    waitfor dc
    grepq 'Packets captured: 3' dc
    grepq "Packets received/dropped on interface 'vale0:cap': 3/0" dc
    same_frames "$out/mixed.pcap" "$out/c.pcapng" 'udp port 53'
    [ "$("$TSHARK" -r "$out/c.pcapng" -Y 'udp.port == 53' 2>/dev/null | wc -l)" -eq 3 ] || fail "tshark -r: not 3 DNS frames"
    ;;
tcpdump_tshark_read)
    # a file written by tcpdump from a unetmap port reads back in tshark
    need_tshark
    "$FRAMES" "$out/k.pcap" raw:60 udp:53:100 tcp:80:1514 udp:9:3000 raw:200 || fail "cannot write the pcap file"
    bg td $TD -c 5 -w "$out/c.pcap" -i vale0:cap
    waitline td 'listening on vale0:cap'
    sh "$BOUNDED" "$T" "$PKTGEN" -i vale0:a -f tx -n 5 -P "$out/k.pcap" >"$out/tx" 2>&1 || fail "pkt-gen failed"
    waitfor td
    ts_bytes "$out/k.pcap" >"$out/want.txt"; ts_bytes "$out/c.pcap" >"$out/got.txt"
    [ -s "$out/want.txt" ] && cmp -s "$out/want.txt" "$out/got.txt" || fail "tshark -r: frames of c.pcap differ from k.pcap"
    "$TSHARK" -r "$out/c.pcap" -T fields -e frame.cap_len -e frame.len 2>/dev/null >"$out/lens"
    [ "$(awk '$1 == $2' "$out/lens" | wc -l)" -eq 5 ] || fail "tshark -r: $(cat "$out/lens")"
    ;;
findalldevs)
    # no state directory: nothing added, nothing created
    $TD -D >"$out/d0" 2>&1 || fail "tcpdump -D failed"
    grep -q '\.lo ' "$out/d0" || fail "lo not listed"
    grep -q unetmap "$out/d0" && fail "unetmap ports listed where there are none"
    check_clean
    bg rx "$PKTGEN" -i vale0:d -f rx
    bg rx2 "$PKTGEN" -i 'dp{2' -f rx
    wait_listed vale0:d
    wait_listed 'dp}2'
    $TD -D >"$out/d1" 2>&1 || fail "tcpdump -D failed"
    grep -qF '.vale0:d (unetmap VALE port)' "$out/d1" || fail "vale0:d not listed"
    grep -qF '.dp{2 (unetmap pipe, master end)' "$out/d1" || fail "dp{2 not listed"
    grep -qF '.dp}2 (unetmap pipe, slave end)' "$out/d1" || fail "dp}2 not listed"
    grep -q '\.lo ' "$out/d1" || fail "lo no longer listed"
    [ "$(wc -l <"$out/d1")" -eq $(($(wc -l <"$out/d0") + 3)) ] || fail "not the system's devices plus 3"
    if [ -x "$TSHARK" ]; then
        $TS -D >"$out/t1" 2>&1 || fail "tshark -D failed"
        grep -qF '. vale0:d' "$out/t1" || fail "tshark -D does not list vale0:d"
    fi
    stop rx
    stop rx2
    ;;
tcpdump_zcopy)
    # a zero-copy monitor of vale0:b, which a receiver drains: tcpdump on
    # vale0:b/z gets each frame once vale0:b has released it
    "$FRAMES" "$out/k.pcap" raw:60 udp:53:100 tcp:80:1514 raw:200 udp:9:70 || fail "cannot write the pcap file"
    bg rx "$PKTGEN" -i vale0:b -f rx
    wait_listed vale0:b
    bg td $TD -c 5 -w "$out/c.pcap" -i vale0:b/z
    waitline td 'listening on vale0:b/z'
    sh "$BOUNDED" "$T" "$PKTGEN" -i vale0:a -f tx -n 5 -P "$out/k.pcap" >"$out/tx" 2>&1 || fail "pkt-gen failed"
    waitfor td
    grepq '^5 packets captured' td
    same_frames "$out/k.pcap" "$out/c.pcap"
    stop rx
    ;;
tcpdump_errors)
    expect_fail 1 'syntax error' $TD -i vale0:e 'udp port'
    expect_fail 1 'No such device' $TD -i netmap:nosuch0
    expect_fail 1 'only incoming' $TD -Q out -i vale0:e
    expect_fail 1 'monitor mode' $TD -I -i vale0:e
    ;;
*)
    fail "unknown case"
    ;;
esac
pass
