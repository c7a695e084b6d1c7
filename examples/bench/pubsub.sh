#!/usr/bin/env bash
# pubsub.sh -- the Pub/Sub figures of docs/benchmarks.md: messages/s one
# async client receives from 50 shard channels, and the resubscribe gap
# (longest silence on a shard channel published every 2 ms) across a
# manual failover and a SIGKILL failover, ROUNDS times each.
#
#   examples/bench/pubsub.sh [ROUNDS]      (default 3)
# Env: BUILD (default /tmp/clusterc-pubsub-build), PORT (24100),
#      NODE_TIMEOUT (ms, default 1000).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
rounds=${1:-3}
build=${BUILD:-/tmp/clusterc-pubsub-build}
port=${PORT:-24100}
dir=$(mktemp -d /tmp/clusterc-pubsub-XXXXXX)
H="python3 $root/tests/cluster/harness.py"

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCLUSTERC_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target clusterc-pubsub-bench >/dev/null
B=$build/examples/clusterc-pubsub-bench

sleep 7200 & owner=$!
trap '$H stop --dir "$dir/cluster" >/dev/null 2>&1 || true; kill $owner 2>/dev/null || true; rm -rf "$dir"' EXIT
$H start --dir "$dir/cluster" --base "$port" --primaries 3 --replicas 1 \
  --node-timeout "${NODE_TIMEOUT:-1000}" --owner-pid $owner --max-life 7000 >/dev/null
sleep 2

$B --seeds "127.0.0.1:$port" rate --messages 200000

ch='{gap}'
# "primary replica" ports serving the channel's slot, as the cluster says now.
owners() {
  local slot
  slot=$(redis-cli -p "$port" CLUSTER KEYSLOT "$ch")
  redis-cli -p "$port" CLUSTER NODES | python3 -c '
import sys
slot = int(sys.argv[1]); nodes = [l.split() for l in sys.stdin if l.strip()]
prim = next(n for n in nodes if "master" in n[2] and "fail" not in n[2] and any(
    (lambda a, b: a <= slot <= b)(*map(int, (r.split("-") + [r])[:2])) for r in n[8:] if not r.startswith("[")))
rep = next(n for n in nodes if n[3] == prim[0] and "fail" not in n[2])
print(prim[1].split("@")[0].split(":")[1], rep[1].split("@")[0].split(":")[1])' "$slot"
}

for kind in failover kill; do
  for ((i = 1; i <= rounds; i++)); do
    read -r p r < <(owners)
    $B --seeds "127.0.0.1:$port" gap --channel "$ch" --seconds 8 > "$dir/out" &
    bench=$!
    sleep 3
    if [ "$kind" = failover ]; then
      redis-cli -p "$r" CLUSTER FAILOVER >/dev/null
    else
      $H kill --dir "$dir/cluster" --port "$p" --signal KILL
    fi
    wait $bench
    echo "$kind $i (primary $p, replica $r): $(cat "$dir/out")"
    if [ "$kind" = kill ]; then
      $H restart --dir "$dir/cluster" --port "$p" >/dev/null
    fi
    $H wait-ok --dir "$dir/cluster" --timeout 30 >/dev/null
    sleep 2
  done
done
