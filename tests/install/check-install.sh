#!/usr/bin/env bash
# Install the build tree into a scratch prefix, then build and run small
# programs against it the way a netmap user would: pkg-config, and CMake's
# find_package(netmap).
set -euo pipefail
build=$1
src=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
libdir=$(pkg-config --variable=libdir netmap)
export UNETMAP_DIR="$tmp/state"
for prog in "$src"/*.c; do
  name=$(basename "$prog" .c)
  # shellcheck disable=SC2046
  cc -Wall -Wextra -Werror -o "$tmp/$name" "$prog" $(pkg-config --cflags --libs netmap) -Wl,-rpath,"$libdir"
  "$tmp/$name"
done
# The same through CMake's package.
mkdir -p "$tmp/cm"
cat > "$tmp/cm/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.20)
project(user C)
find_package(netmap REQUIRED)
add_executable(raw_null "$src/raw_null.c")
target_link_libraries(raw_null PRIVATE netmap::netmap)
CM
cmake -S "$tmp/cm" -B "$tmp/cm/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cm/build" >/dev/null
"$tmp/cm/build/raw_null"
# The VALE agent (started by the library for valectl -a valeS:IF) is
# installed and finds its library.  Without the library's handshake
# socket (descriptor 3, closed here) it refuses to run.
agent=$(find "$tmp/prefix" -name unetmap-vale-agent -type f)
[ -n "$agent" ] && [ -x "$agent" ] || { echo "unetmap-vale-agent not installed"; exit 1; }
msg=$("$agent" -p vale0:x -i x 2>&1 3<&- || true)
case $msg in
  *"started by hand"*) ;;
  *) echo "unetmap-vale-agent does not run: $msg"; exit 1 ;;
esac
left=$(ls -A "$UNETMAP_DIR" 2>/dev/null || true)
if [ -n "$left" ]; then echo "state left behind: $left"; exit 1; fi
echo "install check: ok"
