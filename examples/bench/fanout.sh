#!/usr/bin/env bash
# fanout.sh -- the fan-out figures of docs/benchmarks.md: a split MGET of 100
# keys beside 100 pipelined GETs, and DBSIZE fanned out to 3 and to 8
# primaries (clusterc-fanout-bench).
#   examples/bench/fanout.sh      Env: BUILD (/tmp/clusterc-fanout-build), PORT (24200)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-/tmp/clusterc-fanout-build}
port=${PORT:-24200}
dir=$(mktemp -d /tmp/clusterc-fanout-XXXXXX)
H="python3 $root/tests/cluster/harness.py"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCLUSTERC_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target clusterc-fanout-bench >/dev/null
B=$build/examples/clusterc-fanout-bench
sleep 7200 & owner=$!
trap '$H stop --dir "$dir/c3" >/dev/null 2>&1 || true; $H stop --dir "$dir/c8" >/dev/null 2>&1 || true
      kill $owner 2>/dev/null || true; rm -rf "$dir"' EXIT
$H start --dir "$dir/c3" --base "$port" --primaries 3 --replicas 1 --owner-pid $owner --max-life 7000 >/dev/null
sleep 2
$B --seeds "127.0.0.1:$port" mget --rounds 3000
$B --seeds "127.0.0.1:$port" dbsize --rounds 5000
$H stop --dir "$dir/c3" >/dev/null
$H start --dir "$dir/c8" --base "$((port + 20))" --primaries 8 --replicas 0 --owner-pid $owner --max-life 7000 >/dev/null
sleep 2
$B --seeds "127.0.0.1:$((port + 20))" dbsize --rounds 5000
