#!/usr/bin/env bash
# Symbol visibility: tests/install/symbols.sh BUILD_DIR
# The shared library must export the public API only: every defined dynamic
# symbol starts with clusterc_ and none with clusterc__ (the internal tier).
# A foreign caller (ctypes, cgo) sees exactly what the headers declare, and
# internal names can change without breaking the ABI.
set -euo pipefail

build=$(cd "${1:?usage: symbols.sh BUILD_DIR}" && pwd)
lib=$(find "$build" -name 'libclusterc.so*' -type f -print -quit)
[ -n "$lib" ] || { echo "no libclusterc.so under $build"; exit 1; }

# Defined, exported code and data; linker-made names (_init, _fini, _edata,
# __bss_start, _end) are not ours to control.
syms=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVWiu]$/ {print $3}' |
       sed 's/@.*//' | grep -Ev '^(_init|_fini|_edata|_end|__bss_start)$' | sort -u)
bad=$(printf '%s\n' "$syms" | grep -Ev '^clusterc_' || true)
internal=$(printf '%s\n' "$syms" | grep -E '^clusterc__' || true)
status=0
if [ -n "$bad" ]; then
    echo "exported symbols without the clusterc_ prefix:"; printf '  %s\n' $bad; status=1
fi
if [ -n "$internal" ]; then
    echo "internal (clusterc__) symbols exported:"; printf '  %s\n' $internal; status=1
fi
# Every public function the headers declare is exported (a missing
# CLUSTERC_API on a definition would hide it).
here=$(cd "$(dirname "$0")/../.." && pwd)
declared=$(grep -hoE 'CLUSTERC_API[^;(]*[ *]clusterc_[a-z0-9_]+\(' "$here"/include/clusterc/*.h |
           grep -oE 'clusterc_[a-z0-9_]+\($' | tr -d '(' | sort -u)
missing=$(comm -23 <(printf '%s\n' "$declared") <(printf '%s\n' "$syms"))
if [ -n "$missing" ]; then
    echo "declared in include/clusterc but not exported:"; printf '  %s\n' $missing; status=1
fi
n=$(printf '%s\n' "$syms" | wc -l)
[ $status -eq 0 ] && echo "ok: $n exported symbols, all public API ($lib)"
exit $status
