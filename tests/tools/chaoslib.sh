# Shared by the chaos tests (chaos_test.sh, chaos_agent_test.sh), sourced
# after they define fail(), start() (start actor $1, its pid in pid[$1])
# and the counters starts, kills and early.

# Is pid $1 a live process (not a zombie)?
alive() { [ -d /proc/"$1" ] && [ "$(awk '{print $3}' /proc/"$1"/stat 2>/dev/null)" != Z ]; }

# SIGKILL pid $1 (actor $2) and reap it; it must be gone within 5 s
killwait() {
    kill -9 "$1" 2>/dev/null
    local i=0
    while alive "$1"; do
        i=$((i + 1))
        [ $i -lt 50 ] || fail "$2 (pid $1) still there 5 s after SIGKILL: $(cat /proc/"$1"/wchan 2>/dev/null)"
        sleep 0.1
    done
    wait "$1" 2>/dev/null
}

# SIGKILL actor $1 (or note that it had exited by itself) and start it again
restart() {
    local a=$1 p=${pid[$1]}
    if alive "$p"; then
        killwait "$p" "$a"
        kills=$((kills + 1))
    else
        # exited on its own (a port it could not open, or busy a moment):
        # keep the status; only a watchdog report is a failure (checked at
        # the end)
        wait "$p" 2>/dev/null
        echo "== exited by itself, status $?" >>"$out/$a"
        early=$((early + 1))
    fi
    start "$a"
}

# The end of the chaos phase: every actor still running is SIGKILLed too
kill_remaining() {
    local a p
    for a in "${actors[@]}"; do
        p=${pid[$a]}
        if alive "$p"; then killwait "$p" "$a"; kills=$((kills + 1)); else wait "$p" 2>/dev/null; fi
        unset "pid[$a]"
    done
}

# Counters of persistent ports never go back: for each "port:dir.key" of
# $3..., the value in nmstat JSON file $out/$1 (ports named "$2:port") is at
# least the last one seen (kept in the caller's associative array last)
counters_grow() {
    local json=$1 sw=$2 c v
    shift 2
    for c in "$@"; do
        v=$(json_port "$json" "$sw:${c%%:*}" "${c#*:}")
        [ -n "$v" ] || fail "nmstat: no $sw:${c%%:*} ${c#*:} (persistent port gone?)"
        [ "$v" -ge "${last[$c]:-0}" ] || fail "nmstat: $sw:$c went back from ${last[$c]} to $v"
        last[$c]=$v
    done
}
