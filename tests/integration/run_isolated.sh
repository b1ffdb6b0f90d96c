#!/bin/sh
# run_isolated.sh PROGRAM [ARGS...]
# Runs a netmap program in a state directory of its own (a fresh
# /dev/shm/unetmap-test.XXXXXX as UNETMAP_DIR) and fails if the program
# fails or leaves anything in that directory (leaked region, binding,
# control file).  The directory is removed afterwards.
dir=$(mktemp -d /dev/shm/unetmap-test.XXXXXX) || exit 2
UNETMAP_DIR=$dir UNETMAP_NIC_NETNS_ONLY=1 "$@"  # no NIC of the machine's own
rc=$?
left=$(ls -A "$dir")
rm -rf "$dir"
if [ -n "$left" ]; then
    echo "run_isolated: left in the state directory: $left" >&2
    [ $rc -eq 0 ] && rc=1
fi
exit $rc
