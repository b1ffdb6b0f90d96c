#!/bin/sh
# permissions_test.sh PKTGEN VALECTL
# Who may attach to a switch is decided by the modes of the state directory
# and its files (docs/ARCHITECTURE.md, "Sharing ports between users"):
#  1. with the usual umask 022, state made by root is not world-writable,
#     and user nobody can neither attach to root's switch, nor create or
#     delete ports there, nor change anything in the directory;
#  2. a directory granted to a group (chgrp, mode 2770, umask 007) lets a
#     member of that group attach and exchange packets with root.
# Needs root (to be root and nobody); skipped (exit 77) otherwise.
PKTGEN=$1 VALECTL=$2
T=${TOOLS_TEST_TIMEOUT:-20}
BOUNDED=$(dirname "$0")/bounded.sh

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
id nobody >/dev/null 2>&1 && getent group nogroup >/dev/null && command -v setpriv >/dev/null \
    || { echo "SKIP: needs user nobody, group nogroup and setpriv"; exit 77; }

base=$(mktemp -d /dev/shm/unetmap-perm.XXXXXX) || exit 2
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    for p in $pids; do wait "$p" 2>/dev/null; done
    rm -rf "$base"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() { echo "FAIL: $*" >&2; for f in "$base"/out.*; do [ -f "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }; done; exit 1; }

# nobody must be able to run the tools: copies in a directory it can read
# (the build tree may be under a home directory closed to others).
chmod 755 "$base"
mkdir "$base/bin"
cp "$PKTGEN" "$VALECTL" "$base/bin/" || fail "cannot copy the tools"
lib=$(ldd "$PKTGEN" | sed -n 's/.*libnetmap\.so[^ ]* => \([^ ]*\) .*/\1/p')
[ -n "$lib" ] && cp "$lib" "$base/bin/" || fail "libnetmap.so not found by ldd $PKTGEN"
chmod -R a+rX "$base/bin"
PG=$base/bin/$(basename "$PKTGEN") VC=$base/bin/$(basename "$VALECTL")
export LD_LIBRARY_PATH="$base/bin"

AS_NOBODY="setpriv --reuid=nobody --regid=nogroup --clear-groups"
[ "$($AS_NOBODY id -u)" = "$(id -u nobody)" ] || fail "setpriv did not make us nobody"
bg() { name=$1; shift; sh "$BOUNDED" "$T" "$@" >"$base/out.$name" 2>&1 & pids="$pids $!"; eval "pid_$name=$!"; }
waitfor() { eval "p=\$pid_$1"; wait "$p"; rc=$?; [ $rc -eq 0 ] || fail "$1 exited with status $rc"; }
# run $@ expecting failure with a message containing $EXPECT
expect_denied() {
    sh "$BOUNDED" "$T" "$@" >"$base/out.denied" 2>&1
    rc=$?
    [ $rc -ne 0 ] || fail "'$*' succeeded, expected it to be refused"
    grep -q "$EXPECT" "$base/out.denied" || fail "'$*': no '$EXPECT' in: $(cat "$base/out.denied")"
}

# ---- 1. root's state, default umask: closed to others
umask 022
export UNETMAP_DIR="$base/private"
"$VC" -n p0 >/dev/null || fail "valectl -n p0"
"$VC" -a valeP:p0 >/dev/null || fail "valectl -a valeP:p0"
bg hold "$PG" -i valeP:h -f rx          # an ephemeral port with a live socket
sleep 0.3
[ -n "$(ls -A "$UNETMAP_DIR")" ] || fail "no state files"
ww=$(find "$UNETMAP_DIR" -perm -o+w)
[ -z "$ww" ] || fail "world-writable state: $ww"
before=$(ls -l --time-style=+%s.%N "$UNETMAP_DIR"; "$VC" 2>&1)

EXPECT='Permission denied' expect_denied $AS_NOBODY "$PG" -i valeP:x -f tx -n 1
EXPECT='Permission denied' expect_denied $AS_NOBODY "$PG" -i valeP:p0 -f rx -n 1
EXPECT='Permission denied' expect_denied $AS_NOBODY "$PG" -i 'pp{0' -f tx -n 1
EXPECT='Permission denied' expect_denied $AS_NOBODY "$VC" -n p9
EXPECT='Permission denied' expect_denied $AS_NOBODY "$VC" -d valeP:p0
after=$(ls -l --time-style=+%s.%N "$UNETMAP_DIR"; "$VC" 2>&1)
[ "$before" = "$after" ] || fail "nobody's attempts changed the state directory:
$before
---
$after"

# root's switch still works: the persistent port receives what valeP:s sends
bg rx0 "$PG" -i valeP:p0 -f rx -n 1000
sleep 0.3
bg tx0 "$PG" -i valeP:s -f tx -n 1000 -R 100k
waitfor tx0; waitfor rx0
grep -q '^Received 1000 packets' "$base/out.rx0" || fail "valeP:p0 did not receive root's 1000 frames"
kill -INT "$pid_hold"; wait "$pid_hold"
"$VC" -d valeP:p0 >/dev/null || fail "valectl -d valeP:p0"
"$VC" -r p0 >/dev/null || fail "valectl -r p0"

# ---- 2. a directory granted to group nogroup: nobody may attach
export UNETMAP_DIR="$base/shared"
mkdir "$UNETMAP_DIR" && chgrp nogroup "$UNETMAP_DIR" && chmod 2770 "$UNETMAP_DIR" || fail "cannot make the shared directory"
umask 007
"$VC" -n q0 >/dev/null || fail "valectl -n q0 (shared)"
"$VC" -a valeQ:q0 >/dev/null || fail "valectl -a valeQ:q0 (shared)"
bg rx1 "$PG" -i valeQ:q0 -f rx -n 1000
sleep 0.3
bg tx1 $AS_NOBODY sh -c 'umask 007; exec "$@"' sh "$PG" -i valeQ:n -f tx -n 1000 -R 100k
waitfor tx1; waitfor rx1
grep -q '^Sent 1000 packets' "$base/out.tx1" || fail "nobody could not send through the shared switch"
grep -q '^Received 1000 packets' "$base/out.rx1" || fail "root did not receive nobody's 1000 frames"
ww=$(find "$UNETMAP_DIR" -perm -o+w -o -perm -o+r)
[ -z "$ww" ] || fail "shared state open to others: $ww"
"$VC" -d valeQ:q0 >/dev/null || fail "valectl -d valeQ:q0"
"$VC" -r q0 >/dev/null || fail "valectl -r q0"

for p in $pids; do wait "$p" 2>/dev/null; done
pids=""
for d in private shared; do
    left=$(ls -A "$base/$d")
    [ -z "$left" ] || fail "left in $d: $left"
done
echo "PASS"
exit 0
