#!/usr/bin/env bash
# Install dependencies, build unetmap, and move packets between two
# processes over a netmap pipe: nm_recv opens "demo}0", nm_send opens
# "demo{0" and sends numbered frames; nm_recv checks every one arrived
# once and in order.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-10000000}
./scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)"
export UNETMAP_DIR=${UNETMAP_DIR:-/dev/shm/unetmap-demo-$$}
echo "== netmap pipe between two processes: $COUNT frames of 60 bytes"
./build/examples/nm_recv -i 'demo}0' -n "$COUNT" &
recv=$!
sleep 0.2
./build/examples/nm_send -i 'demo{0' -n "$COUNT" -l 60 -b 512
wait "$recv"
echo "== state left behind in $UNETMAP_DIR (should be empty):"
ls -A "$UNETMAP_DIR"
rmdir "$UNETMAP_DIR"
