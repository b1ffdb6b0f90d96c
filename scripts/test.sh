#!/usr/bin/env bash
# Build and run the test suite: a release build, then the same tests under
# AddressSanitizer + UndefinedBehaviorSanitizer.  Assumes the dependencies
# are installed (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
for preset in release asan; do
  echo "== $preset build"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j"$jobs"
  echo "== $preset tests"
  ctest --preset "$preset" --timeout 300
done
