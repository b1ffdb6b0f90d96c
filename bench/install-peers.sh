#!/usr/bin/env bash
# bench/install-peers.sh: install what the benchmarks compare unetmap with,
# from Debian's packages, if it is not there yet:
#
#   dpdk-testpmd  (dpdk-dev)    memif, net_af_xdp, net_af_packet peers
#   trafgen       (netsniff-ng) TX-ring sender on a veth
#   ip, bridge    (iproute2)    namespaces, veths, the Linux bridge peer
#   gnuplot       (gnuplot-nox) the PNG plots of bench/report.sh
#   valgrind                    callgrind instruction counts
#
# bench/run calls it before a --quick or full run (not --smoke, which CI
# runs and which needs none of them); --no-install skips it.  Needs root
# (apt-get); without root it only lists what is missing and exits 0, and
# each scenario then skips the peers it cannot find, saying so.
#
#   bench/install-peers.sh [--check]    --check: list what is missing, install nothing
set -uo pipefail
check_only=0
[ "${1:-}" = --check ] && check_only=1

# command  package
peers=(
    "dpdk-testpmd dpdk-dev"
    "trafgen netsniff-ng"
    "ip iproute2"
    "bridge iproute2"
    "gnuplot gnuplot-nox"
    "valgrind valgrind"
)
missing=()
for p in "${peers[@]}"; do
    read -r cmd pkg <<<"$p"
    command -v "$cmd" >/dev/null 2>&1 && continue
    [[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && { echo "install-peers: every peer is installed"; exit 0; }
echo "install-peers: missing: ${missing[*]}"
if [ "$check_only" = 1 ] || [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "install-peers: not installing (--check, not root, or no apt-get); those peers will be skipped"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || {
    echo "install-peers: apt-get install ${missing[*]} failed; those peers will be skipped" >&2
    exit 0
}
echo "install-peers: installed ${missing[*]}"
