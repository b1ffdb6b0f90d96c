#!/usr/bin/env bash
# Install what unetmap needs to build and test, from Debian's packages.
#   build:   cmake make g++ gcc pkg-config, libpcap-dev (pkt-gen -P)
#   tests:   libgtest-dev libgmock-dev, util-linux (setpriv), gdb (stacks
#            of a stuck process in the tools tests)
#   fuzzers: clang libclang-rt-14-dev (libFuzzer, fuzz/run.sh)
#   bench:   libbenchmark-dev, valgrind (callgrind counts), iproute2
#            (the Linux bridge peer); DPDK (dpdk-dev) and gnuplot-nox are
#            optional and left out: bench/run skips or degrades without them
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
  cmake make g++ gcc pkg-config libgtest-dev libgmock-dev libbenchmark-dev libpcap-dev \
  util-linux gdb clang libclang-rt-14-dev valgrind iproute2 git ca-certificates
