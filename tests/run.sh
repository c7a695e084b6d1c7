#!/usr/bin/env bash
# tests/run.sh -- the one test command: install missing build/test packages
# (Debian, as root), configure, build and run every ctest test.
#
# Env knobs:
#   CC                  compiler (default: cmake's choice)
#   BUILD_DIR           build directory (default build/, or build-asan/ when sanitizing)
#   CLUSTERC_SANITIZE=1 ASan+UBSan build (-DCLUSTERC_SANITIZE=ON)
#   CTEST_ARGS          extra ctest arguments, e.g. "-L unit" or "-R keyslot"
#   CTEST_TIMEOUT       default per-test timeout in seconds (default 300)
#   CLUSTERC_WERROR=OFF to build without -Werror (default ON)
#   CLUSTERC_CMAKE_ARGS extra cmake configure arguments, e.g. "-DCLUSTERC_FUZZ=ON"
#   BUILD_TARGETS       build only these targets (default: everything)
#   CLUSTERC_HIREDIS=1x build against the hiredis 1.x API (hiredict 1.3.1's
#                       compatibility headers from bookworm-backports, unpacked
#                       into the build directory) instead of Debian's 0.14
# Redis servers started by the tests die with them: the cluster harness
# leaves a watchdog per cluster that kills them when the test process exits.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
sanitize=${CLUSTERC_SANITIZE:-0}
if [ "$sanitize" = 1 ]; then
  build=${BUILD_DIR:-build-asan}
else
  build=${BUILD_DIR:-build}
fi
case "$build" in /*) ;; *) build="$root/$build" ;; esac

# shellcheck source=tests/deps.sh
. "$root/tests/deps.sh"

# shellcheck disable=SC2086 # CLUSTERC_CMAKE_ARGS is a list of words on purpose
configure() {
  local san=OFF type=RelWithDebInfo
  if [ "$sanitize" = 1 ]; then san=ON; type=Debug; fi
  echo "== configure $build (CC=${CC:-default}, sanitize=$san)"
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE="$type" \
    -DCLUSTERC_WERROR="${CLUSTERC_WERROR:-ON}" -DCLUSTERC_SANITIZE="$san" \
    ${CLUSTERC_CMAKE_ARGS:-}
}

clusterc_install_deps
clusterc_install_valkey
if [ "${CLUSTERC_HIREDIS:-}" = 1x ]; then
  mkdir -p "$build"
  pc=$(clusterc_hiredict_unpack "$build/hiredict")
  export PKG_CONFIG_PATH="$pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  # Not installed system-wide: an installed consumer finds it this way.
  hd_libdir=$(pkg-config --variable=libdir hiredis)
  export LD_LIBRARY_PATH="$hd_libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
configure
echo "== build"
# shellcheck disable=SC2086 # BUILD_TARGETS is a list of words on purpose
cmake --build "$build" -j2 ${BUILD_TARGETS:+--target $BUILD_TARGETS}

if [ "$sanitize" = 1 ]; then
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi
echo "== ctest ${CTEST_ARGS:-}"
# shellcheck disable=SC2086 # CTEST_ARGS is a list of words on purpose
ctest --test-dir "$build" --output-on-failure -j2 --timeout "${CTEST_TIMEOUT:-300}" ${CTEST_ARGS:-}
