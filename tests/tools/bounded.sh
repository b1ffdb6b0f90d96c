#!/bin/sh
# bounded.sh SECONDS COMMAND [ARGS...]
# Run COMMAND for at most SECONDS.  Unlike timeout(1), a command that
# outlives its time has its threads' stacks printed (to stderr, which the
# test scripts keep and show on failure) before it is sent SIGTERM, and is
# SIGKILLed if it is still there 3 seconds later: a process stuck where a
# handled SIGTERM cannot stop it (a lock, a loop that ignores its stop
# flag) then fails its test with a diagnosis instead of hanging it.
#
# COMMAND replaces this shell (exec), so it keeps this pid: the signals a
# test sends to the pid it started (kill -INT to stop a tool) reach it
# directly.  A command stopped by the watchdog exits by its signal
# (status 143 or 137), which the tests treat as a failure.
limit=$1
shift
target=$$
# running, and not just a zombie its parent has not reaped yet
alive() {
    st=$(awk '{print $3}' /proc/"$target"/stat 2>/dev/null)
    [ -n "$st" ] && [ "$st" != Z ]
}

stacks() {
    echo "bounded.sh: '$*' still running after ${limit}s; its threads:" >&2
    for t in /proc/"$target"/task/*; do
        [ -d "$t" ] || continue
        echo "  task ${t##*/}: state $(awk '{print $3}' "$t/stat" 2>/dev/null)" \
            "wchan $(cat "$t/wchan" 2>/dev/null) syscall $(cut -d' ' -f1 "$t/syscall" 2>/dev/null)" >&2
    done
    if command -v gdb >/dev/null 2>&1; then
        timeout 20 gdb -p "$target" -batch -nx -ex 'thread apply all bt' 2>/dev/null \
            | grep -E '^(Thread|#)' >&2
    fi
}

(
    # The watchdog: sleeps in slices so it goes as soon as the command does.
    ticks=0
    while [ "$ticks" -lt "$((limit * 10))" ]; do
        sleep 0.1
        alive || exit 0
        ticks=$((ticks + 1))
    done
    stacks "$@"
    kill -TERM "$target" 2>/dev/null
    for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
        sleep 0.2
        alive || exit 0
    done
    echo "bounded.sh: SIGTERM did not stop it, sending SIGKILL" >&2
    kill -KILL "$target" 2>/dev/null
) &
exec "$@"
