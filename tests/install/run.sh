#!/usr/bin/env bash
# Install test: tests/install/run.sh BUILD_DIR
# Installs BUILD_DIR (already built) into a temporary prefix, then builds and
# runs consumer.c twice: with `cc $(pkg-config --cflags --libs libclusterc)`
# and through find_package(clusterc) (shared and static targets).
set -euo pipefail

build=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/clusterc-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"

cache_get() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
# Same compiler and sanitizer flags as the library, or the link fails.
cc=$(cache_get CMAKE_C_COMPILER); cc=${cc:-${CC:-cc}}
flags=""
[ "$(cache_get CLUSTERC_SANITIZE)" = "ON" ] && flags="-fsanitize=address,undefined -fno-omit-frame-pointer"

echo "== install into $prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log" || { cat "$work/install.log"; exit 1; }
libdir=$(dirname "$(find "$prefix" -name 'libclusterc.pc' -print -quit)")/..
libdir=$(cd "$libdir" && pwd)
test -f "$prefix/include/clusterc/clusterc.h"
ls "$libdir"/libclusterc.so.* >/dev/null     # the SONAME'd shared library
test -f "$libdir/libclusterc.a"

echo "== pkg-config consumer"
export PKG_CONFIG_PATH="$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
pc=$(pkg-config --cflags --libs libclusterc)
echo "pkg-config: $pc"
# shellcheck disable=SC2086 # word splitting of flags is intended
"$cc" $flags -std=c11 -Wall -Werror "$here/consumer/consumer.c" -o "$work/consumer_pc" $pc
LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$work/consumer_pc"
objdump -p "$libdir/libclusterc.so" | grep -q 'SONAME *libclusterc.so.0'

echo "== find_package consumer"
cmake -S "$here/consumer" -B "$work/consumer-build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$flags" >"$work/configure.log" \
  || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/consumer-build" >"$work/build.log" || { cat "$work/build.log"; exit 1; }
LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$work/consumer-build/consumer_shared"
"$work/consumer-build/consumer_static"
echo "install test: ok"
