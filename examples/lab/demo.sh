#!/usr/bin/env bash
# examples/lab/demo.sh -- the whole "add a replica" lab from scratch on a
# laptop: install what is missing, build clusterc-admin, start a local
# 3 primaries + 3 replicas cluster (redis-server processes on 127.0.0.1, no
# Docker), add a 4th primary with 4096 slots and no replica, show `check`
# naming it unprotected, add its replica through the library, show `check`
# clean ("all 4 primaries protected"), replication from both sides, lag, and
# clean up. The steps are examples/lab/lab.sh's targets; docs/lab-add-replica.md
# explains each.
#
# Env: LAB_PORT (first port, default 7001; the lab uses 8: LAB_PORT..+7),
#      BUILD_DIR (default build/).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build}
export LAB_BASE=${LAB_PORT:-${LAB_BASE:-7001}}
export BUILD_DIR=$build
LAB_DIR=$(mktemp -d /tmp/clusterc-lab.XXXXXX)
rmdir "$LAB_DIR"   # lab.sh creates it and removes it at cluster-down
export LAB_DIR

# shellcheck source=tests/deps.sh
. "$root/tests/deps.sh"
clusterc_install_deps

echo "== build ($build)"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=(clusterc-admin)
if cmake --build "$build" --target help 2>/dev/null | grep -q 'clusterc-read-routing'; then
  targets+=(clusterc-read-routing)
fi
cmake --build "$build" -j2 --target "${targets[@]}" >/dev/null

# lab.sh all stops the lab itself; this catches Ctrl-C and failures too.
cleanup() { "$root/examples/lab/lab.sh" cluster-down >/dev/null 2>&1 || true; }
trap cleanup EXIT INT TERM

"$root/examples/lab/lab.sh" all
