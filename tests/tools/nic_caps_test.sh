#!/bin/sh
# nic_caps_test.sh PROBE
# NIC ports without the privileges docs/NIC.md ("Privileges") lists: in a
# network namespace of the test's own, with a veth pair, PROBE
# (nic_open_probe) opens netmap:IF native (admode 1), emulated (admode 2)
# and netmap:IF^ (host rings):
#
#   - as root with every capability: it opens (the test can tell), and once
#     it exits the interface is as before;
#   - as root with no capability at all (setpriv --bounding-set=-all), and
#     as user nobody: the open fails with EPERM and a line on stderr naming
#     the missing capabilities;
#   - with CAP_NET_RAW only: native and host rings fail the same way,
#     naming what is still missing; emulated opens (a tap, docs/NIC.md);
#   - native with all but CAP_IPC_LOCK and a small RLIMIT_MEMLOCK: EPERM
#     naming CAP_IPC_LOCK;
#
# and after each attempt the interface is exactly as it was: no XDP or
# tcx program, same flags and link details, nothing in the state
# directory.  Needs root and setpriv; the namespace and veth are deleted
# at exit.
PROBE=$1
CASE=nic_caps
T=${TOOLS_TEST_TIMEOUT:-30}
. "$(dirname "$0")/testlib.sh"
testlib_setup niccaps
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v ip >/dev/null && command -v setpriv >/dev/null || { echo "SKIP: needs iproute2 and setpriv"; exit 77; }
id nobody >/dev/null 2>&1 && getent group nogroup >/dev/null || { echo "SKIP: needs user nobody, group nogroup"; exit 77; }

id=$$
NS=unmc$id A=ca_$id B=cb_$id
caps_cleanup() {
    testlib_cleanup
    ip netns del "$NS" 2>/dev/null
}
trap caps_cleanup EXIT
ip netns add "$NS" || fail "ip netns add $NS"
ip -n "$NS" link add "$A" type veth peer name "$B" || fail "veth"
ip -n "$NS" link set "$A" up && ip -n "$NS" link set "$B" up || fail "link up"

# nobody must reach the probe, its library and the state directory.
chmod 755 "$out"
mkdir "$out/bin"
cp "$PROBE" "$out/bin/" || fail "cannot copy the probe"
lib=$(ldd "$PROBE" | sed -n 's/.*libnetmap\.so[^ ]* => \([^ ]*\) .*/\1/p')
[ -n "$lib" ] && cp "$lib" "$out/bin/" || fail "libnetmap.so not found by ldd $PROBE"
chmod -R a+rX "$out/bin"
P=$out/bin/$(basename "$PROBE")
export LD_LIBRARY_PATH="$out/bin"
chmod 1777 "$dir"
umask 000

# Everything about the interface a failed open could have changed.
state() {
    ip -n "$NS" -d link show dev "$A"
    ip netns exec "$NS" cat "/sys/class/net/$A/flags"
    if command -v bpftool >/dev/null; then ip netns exec "$NS" bpftool net show dev "$A"; fi
}
before=$(state)
echo "$before" | grep -qE 'prog/xdp| id [0-9]+' && fail "an XDP program before the test: $before"

# attempt NAME ADMODE SPEC PREFIX...: run the probe under PREFIX
attempt() {
    name=$1 mode=$2 spec=$3
    shift 3
    UNETMAP_ADMODE=$mode ip netns exec "$NS" sh "$BOUNDED" "$T" "$@" "$P" "$spec" 300 >"$out/$name" 2>&1
    rc=$?
    after=$(state)
    [ "$after" = "$before" ] || fail "$name changed the interface:
--- before
$before
--- after
$after"
    check_clean
    return $rc
}
# denied NAME ADMODE SPEC WORDS PREFIX...: the open fails with EPERM, and
# the library's line names each capability in WORDS as missing
denied() {
    name=$1 mode=$2 spec=$3 words=$4
    shift 4
    attempt "$name" "$mode" "$spec" "$@" && fail "$name: opened without the privileges"
    grepq 'failed 1$' "$name"   # EPERM
    line=$(grep '^unetmap: .*missing' "$out/$name") || fail "$name: no line saying what is missing"
    for w in $words; do
        echo "$line" | grep -q "$w" || fail "$name: '$w' not named in: $line"
    done
}

NOCAPS="setpriv --bounding-set=-all --inh-caps=-all --ambient-caps=-all"
RAWONLY="setpriv --bounding-set=-all,+net_raw --inh-caps=-all --ambient-caps=-all"
NOBODY="setpriv --reuid=nobody --regid=nogroup --clear-groups"

# Root with every capability: each mode opens.
attempt root_native 1 "netmap:$A" || fail "root could not open netmap:$A natively"
grepq opened root_native
attempt root_emulated 2 "netmap:$A" || fail "root could not open netmap:$A emulated"
attempt root_host 2 "netmap:$A^" || fail "root could not open netmap:$A^"

denied nocaps_native 1 "netmap:$A" "CAP_NET_RAW CAP_BPF CAP_NET_ADMIN" $NOCAPS
denied nocaps_emulated 2 "netmap:$A" "CAP_NET_RAW" $NOCAPS
denied nocaps_host 2 "netmap:$A^" "CAP_NET_RAW CAP_BPF CAP_NET_ADMIN" $NOCAPS
denied nobody_native 1 "netmap:$A" "CAP_NET_RAW CAP_BPF CAP_NET_ADMIN" $NOBODY
denied nobody_host 1 "netmap:$A^" "CAP_NET_ADMIN" $NOBODY
denied rawonly_native 1 "netmap:$A" "CAP_BPF CAP_NET_ADMIN" $RAWONLY
denied rawonly_host 2 "netmap:$A^" "CAP_BPF CAP_NET_ADMIN" $RAWONLY
grep -q 'missing.*CAP_NET_RAW' "$out/rawonly_native" && fail "CAP_NET_RAW named as missing while held"
# Every capability but CAP_IPC_LOCK, and a small RLIMIT_MEMLOCK: the UMEM
# cannot be pinned.
denied memlock_native 1 "netmap:$A" "CAP_IPC_LOCK" sh -c 'ulimit -l 64 && exec "$@"' sh \
    setpriv --bounding-set=-all,+net_raw,+bpf,+net_admin --inh-caps=-all --ambient-caps=-all
grep -q 'missing.*CAP_NET_' "$out/memlock_native" && fail "a held capability named as missing"
attempt rawonly_emulated 2 "netmap:$A" $RAWONLY || fail "emulated mode with CAP_NET_RAW did not open (a tap)"
pass
