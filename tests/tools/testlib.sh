# testlib.sh: what the shell tests of the tools share.  Source it, then
# call testlib_setup NAME: a fresh state directory under /dev/shm
# (exported as UNETMAP_DIR), an output directory for the processes' logs,
# and an exit trap that kills only the processes started with bg and
# removes both directories.  Needs T (seconds each process may run) and
# CASE (named in failure messages).
BOUNDED=$(dirname "$0")/bounded.sh  # timeout(1) that shows where a stuck process is
[ -f "$BOUNDED" ] || BOUNDED=$(cd "$(dirname "$0")/.." && pwd)/tests/tools/bounded.sh

testlib_setup() {
    dir=$(mktemp -d "/dev/shm/unetmap-$1.XXXXXX") || exit 2
    out=$(mktemp -d "/tmp/unetmap-$1-out.XXXXXX") || exit 2
    export UNETMAP_DIR=$dir
    # NIC ports only in namespaces the test made, never the machine's own
    export UNETMAP_NIC_NETNS_ONLY=1
    pids=""
    trap testlib_cleanup EXIT
    trap 'exit 1' INT TERM
}
testlib_cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    for p in $pids; do wait "$p" 2>/dev/null; done
    rm -rf "$dir" "$out"
}

fail() { echo "FAIL [$CASE]: $*" >&2; for f in "$out"/*; do [ -f "$f" ] && { echo "--- $f" >&2; tail -40 "$f" >&2; }; done; exit 1; }
# bg NAME COMMAND...: run in the background, bounded, output in $out/NAME
bg() { name=$1; shift; sh "$BOUNDED" "$T" "$@" >"$out/$name" 2>&1 & pids="$pids $!"; eval "pid_$name=$!"; }
waitfor() { eval "p=\$pid_$1"; wait "$p"; rc=$?; [ $rc -eq 0 ] || fail "$1 exited with status $rc"; }
# give a background process time to register its port
settle() { sleep "${1:-0.3}"; }
# wait (bounded) until a background process printed a line matching $2
waitline() { i=0; until grep -q -- "$2" "$out/$1" 2>/dev/null; do i=$((i + 1)); [ $i -lt 100 ] || fail "$1 never printed '$2'"; sleep 0.1; done; }
check_clean() {
    left=$(ls -A "$dir")
    [ -z "$left" ] || fail "left in the state directory: $left"
}
grepq() { grep -q -- "$1" "$out/$2" || fail "'$1' not found in $2 output"; }
stop() { eval "p=\$pid_$1"; kill -INT "$p"; waitfor "$1"; }
# like stop, for a process that may have finished on its own
finish() { eval "p=\$pid_$1"; kill -INT "$p" 2>/dev/null; waitfor "$1"; }
# every process started with bg has ended
reap_all() { for p in $pids; do wait "$p" 2>/dev/null; done; pids=""; }
# the case passed: every process started with bg has ended and nothing is
# left in the state directory
pass() { reap_all; check_clean; echo "PASS [$CASE]"; exit 0; }
# tcp_transfer SRV_NS CLI_NS ADDR: 4 MB over TCP from CLI_NS to a listener
# on port 5001 in SRV_NS at ADDR, checked byte for byte (needs XFER, the
# tcp_xfer program)
tcp_transfer() {
    bg srv ip netns exec "$1" "$XFER" listen 5001 4000000
    waitline srv listening
    bg cli ip netns exec "$2" "$XFER" send "$3" 5001 4000000
    waitfor cli
    waitfor srv
    grepq 'ok 4000000' srv
}
. "$(dirname "$BOUNDED")/json_port.sh"
