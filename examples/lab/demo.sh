#!/usr/bin/env bash
# examples/lab/demo.sh -- the lab demo from scratch on a laptop: install what
# is missing, build libclusterc, start a local 3 primaries + 3 replicas
# cluster (redis-server processes on 127.0.0.1, no Docker), run the example
# program against it, show where the keys live, and clean up.
#
# Env: LAB_PORT (first port, default 7001), BUILD_DIR (default build/).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
port=${LAB_PORT:-7001}
build=${BUILD_DIR:-$root/build}
dir=$(mktemp -d /tmp/clusterc-lab.XXXXXX)

# shellcheck source=tests/deps.sh
. "$root/tests/deps.sh"
clusterc_install_deps

echo "== build ($build)"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target clusterc-example >/dev/null

cleanup() { python3 "$root/tests/cluster/harness.py" stop --dir "$dir" >/dev/null 2>&1 || true; }
trap cleanup EXIT

echo "== start 3 primaries + 3 replicas on 127.0.0.1:$port..$((port + 5))"
python3 "$root/tests/cluster/harness.py" start --dir "$dir" --base "$port" \
  --primaries 3 --replicas 1 --owner-pid $$ >/dev/null
for p in $(seq "$port" $((port + 5))); do
  redis-cli -p "$p" role | head -3 | tr '\n' ' ' |
    awk -v p="$p" '$1 == "master" {print "    127.0.0.1:" p, "primary"}
                   $1 == "slave" {print "    127.0.0.1:" p, "replica of", $2 ":" $3}'
done

seeds="127.0.0.1:$port,127.0.0.1:$((port + 1))"
echo "== clusterc-example $seeds"
"$build/examples/clusterc-example" "$seeds"

echo "== where the keys went (CLUSTER KEYSLOT, then the primary holding the slot's keys)"
for key in greeting counter:0 counter:1 counter:2 counter:3 counter:4; do
  slot=$(redis-cli -p "$port" cluster keyslot "$key")
  for p in $(seq "$port" $((port + 5))); do
    role=$(redis-cli -p "$p" role | head -1)
    n=$(redis-cli -p "$p" cluster countkeysinslot "$slot")
    if [ "$role" = master ] && [ "$n" -gt 0 ]; then
      echo "    $key -> slot $slot -> primary 127.0.0.1:$p"
    fi
  done
done
echo "== done; stopping the cluster"
