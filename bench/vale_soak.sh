#!/bin/bash
# vale_soak.sh [-t SECONDS] [-R RATE] [-B BUILD_DIR]
#
# Soak benchmark (issue 9): a VALE switch valeS with 4 persistent ports
# s0..s3.  On each port one pkt-gen sends frames of random sizes (60..1514
# bytes, a pcap of 4096 such frames replayed with -P) from the port's own
# MAC to the next port's (s0 -> s1 -> s2 -> s3 -> s0, unicast once the
# switch has learnt the addresses) and another pkt-gen receives.  After
# SECONDS (default 600) the senders are stopped, the receivers drain their
# rings and exit, and every packet must be accounted for:
#
#   per port:   sent by the switch's sender port (nmstat tx.packets)
#                 = received at the next port (rx.packets) + its drops
#   pkt-gen:    each receiver's count and bytes = the port's rx.packets/bytes
#               each sender's count = the port's tx.packets
#   in total:   sent = received + counted drops
#
# Prints the table and exits 1 on any mismatch.  -R limits each sender to
# RATE packets per second (default: as fast as it can; the receivers then
# fall behind and the switch drops, which is counted).  Runs in a private
# UNETMAP_DIR under /dev/shm, removed at the end; fails if anything is left
# in it once the ports are removed.
T=600 RATE="" B=""
while getopts "t:R:B:h" o; do
    case $o in
    t) T=$OPTARG ;;
    R) RATE=$OPTARG ;;
    B) B=$OPTARG ;;
    *) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 2 ;;
    esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
B=${B:-$root/build}
PKTGEN=$B/tools/pkt-gen/pkt-gen VALECTL=$B/tools/valectl NMSTAT=$B/tools/nmstat/nmstat
for x in "$PKTGEN" "$VALECTL" "$NMSTAT"; do [ -x "$x" ] || { echo "missing $x (build first)" >&2; exit 2; }; done
. "$root/tests/tools/testlib.sh"   # state and output directories, BOUNDED
testlib_setup soak
die() { echo "vale_soak: $*" >&2; for f in "$out"/*.txt; do [ -f "$f" ] && { echo "--- $f" >&2; tail -5 "$f" >&2; }; done; exit 1; }
mac() { printf '02:00:00:00:00:%02x' $((10 + $1)); }

# one pcap per port: 4096 UDP/IPv4 frames, random lengths 60..1514
python3 - "$out" <<'EOF' || die "cannot write the pcap files"
import os, random, struct, sys
out = sys.argv[1]
for i in range(4):
    src = bytes([2, 0, 0, 0, 0, 10 + i]); dst = bytes([2, 0, 0, 0, 0, 10 + (i + 1) % 4])
    with open(os.path.join(out, f"s{i}.pcap"), "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for k in range(4096):
            n = random.randint(60, 1514)
            ip_len = n - 14
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, ip_len, k, 0, 64, 17, 0,
                             bytes([10, 0, 0, 1 + i]), bytes([10, 0, 0, 1 + (i + 1) % 4]))
            s = sum(struct.unpack("!10H", ip)); s = (s & 0xffff) + (s >> 16); s = (s & 0xffff) + (s >> 16)
            ip = ip[:10] + struct.pack("!H", ~s & 0xffff) + ip[12:]
            udp = struct.pack("!HHHH", 1000 + i, 2000, ip_len - 20, 0)
            payload = bytes((k + j) & 0xff for j in range(ip_len - 28))
            frame = dst + src + b"\x08\x00" + ip + udp + payload
            f.write(struct.pack("<IIII", 0, k, n, n) + frame)
EOF

for i in 0 1 2 3; do
    "$VALECTL" -n s$i >/dev/null || die "valectl -n s$i"
    "$VALECTL" -a valeS:s$i >/dev/null || die "valectl -a valeS:s$i"
done
# the switch learns every port's address from one broadcast frame
for i in 0 1 2 3; do
    "$BOUNDED" 20 "$PKTGEN" -i valeS:s$i -f tx -n 1 -S "$(mac $i)" >/dev/null 2>&1 || die "learning frame on s$i"
done
"$NMSTAT" --once --json -d 0 >"$out/before.json" || die "nmstat"

for i in 0 1 2 3; do
    "$BOUNDED" $((T + 60)) "$PKTGEN" -i valeS:s$i -f rx -W -T 60000 >"$out/rx$i.txt" 2>&1 &
    pids="$pids $!"; eval "rx$i=$!"
done
sleep 0.3
for i in 0 1 2 3; do
    "$BOUNDED" $((T + 60)) "$PKTGEN" -i valeS:s$i -f tx -P "$out/s$i.pcap" -T 60000 ${RATE:+-R "$RATE"} >"$out/tx$i.txt" 2>&1 &
    pids="$pids $!"; eval "tx$i=$!"
done
echo "vale_soak: 4 ports on valeS, random sizes 60..1514, ${RATE:-unlimited} pps per sender, $T s"
sleep "$T"
for i in 0 1 2 3; do
    eval "p=\$rx$i"
    kill -0 "$p" 2>/dev/null || die "receiver on s$i exited before the end (no traffic for 1 s?)"
done
for i in 0 1 2 3; do eval "kill -INT \$tx$i"; done
st=0
for i in 0 1 2 3; do eval "wait \$tx$i" || { echo "sender on s$i: exit status $?" >&2; st=1; }; done
for i in 0 1 2 3; do eval "wait \$rx$i" || { echo "receiver on s$i: exit status $?" >&2; st=1; }; done
pids=""
"$NMSTAT" --once --json -d 0 >"$out/after.json" || die "nmstat"
[ $st = 0 ] || die "a pkt-gen failed"

json_port() {
    d=${3%.*} k=${3#*.}
    sed 's/{"name"/\n{"name"/g' "$out/$1" | grep -F "{\"name\":\"$2\"" | head -1 |
        sed -n "s/.*\"$d\":{[^}]*\"$k\":\([0-9]*\).*/\1/p"
}
delta() { echo $(( $(json_port after.json "valeS:$1" "$2") - $(json_port before.json "valeS:$1" "$2") )); }

bad=0
tsent=0 trecv=0 tdrop=0 tbytes=0
printf '%-14s %14s %14s %14s %14s %8s\n' direction sent received dropped "rx bytes" ok
for i in 0 1 2 3; do
    j=$(( (i + 1) % 4 ))
    sent=$(delta s$i tx.packets) ingress=$(delta s$i tx.drops)
    recv=$(delta s$j rx.packets) drop=$(delta s$j rx.drops) rxb=$(delta s$j rx.bytes)
    pg_sent=$(sed -n 's/^Sent \([0-9]*\) packets.*/\1/p' "$out/tx$i.txt")
    pg_recv=$(sed -n 's/^Received \([0-9]*\) packets.*/\1/p' "$out/rx$j.txt")
    pg_rxb=$(sed -n 's/^Received [0-9]* packets \([0-9]*\) bytes.*/\1/p' "$out/rx$j.txt")
    ok=yes
    if [ "$sent" != $((recv + drop + ingress)) ]; then ok=NO; echo "s$i -> s$j: sent $sent != received $recv + dropped $drop + ingress drops $ingress" >&2; fi
    if [ "${pg_sent:-0}" != "$sent" ]; then ok=NO; echo "s$i: pkt-gen sent ${pg_sent:-?}, the port counted $sent" >&2; fi
    if [ "${pg_recv:-0}" != "$recv" ]; then ok=NO; echo "s$j: pkt-gen received ${pg_recv:-?}, the port counted $recv" >&2; fi
    if [ "${pg_rxb:-0}" != "$rxb" ]; then ok=NO; echo "s$j: pkt-gen received ${pg_rxb:-?} bytes, the port counted $rxb" >&2; fi
    [ $ok = yes ] || bad=1
    printf '%-14s %14d %14d %14d %14d %8s\n' "s$i -> s$j" "$sent" "$recv" "$((drop + ingress))" "$rxb" $ok
    tsent=$((tsent + sent)) trecv=$((trecv + recv)) tdrop=$((tdrop + drop + ingress)) tbytes=$((tbytes + rxb))
done
printf '%-14s %14d %14d %14d %14d %8s\n' total $tsent $trecv $tdrop $tbytes $([ $((trecv + tdrop)) = $tsent ] && echo yes || echo NO)
[ $((trecv + tdrop)) = $tsent ] || bad=1
awk -v s=$tsent -v r=$trecv -v b=$tbytes -v t="$T" 'BEGIN {
    printf "offered %.3f Mpps, delivered %.3f Mpps (%.3f Gbps), %.2f%% dropped\n",
        s / t / 1e6, r / t / 1e6, b * 8 / t / 1e9, s ? (s - r) * 100 / s : 0 }'

for i in 0 1 2 3; do
    "$VALECTL" -d valeS:s$i >/dev/null || die "valectl -d valeS:s$i"
    "$VALECTL" -r s$i >/dev/null || die "valectl -r s$i"
done
left=$(ls -A "$dir")
[ -z "$left" ] || { echo "vale_soak: left in the state directory: $left" >&2; bad=1; }
if [ $bad = 0 ]; then echo "vale_soak: every packet accounted for"; else echo "vale_soak: MISMATCH" >&2; fi
exit $bad
