#!/usr/bin/env bash
# Install what unetmap needs to build and test, from Debian's packages
# (the list is scripts/debian-packages.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
  $(grep -v '^#' scripts/debian-packages.txt)
