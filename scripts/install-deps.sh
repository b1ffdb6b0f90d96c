#!/usr/bin/env bash
# Install what unetmap needs to build and test, from Debian's packages.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
  cmake make g++ gcc pkg-config libgtest-dev libgmock-dev libbenchmark-dev libpcap-dev git ca-certificates
