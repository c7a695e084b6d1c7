#!/usr/bin/env bash
# examples/lab/demo.sh -- the whole "add a replica" lab from scratch on a
# laptop: install what is missing, build clusterc-admin, clusterc-lab-load and
# clusterc-read-routing, start a local 3 primaries + 3 replicas cluster
# (redis-server processes on 127.0.0.1, no Docker), add a 4th primary with
# 4096 slots and no replica, load 200,000 keys (about 30 MB of values) over
# every slot, show `check` naming the 4th primary unprotected, add its replica
# through the library while writes keep coming (the sync moves its ~50,000
# keys), show `check` clean ("all 4 primaries protected"), replication from
# both sides, lag, then read the keys through the library under read_only,
# route_randomly and route_by_latency (each node's own GET count), count the
# stale reads of read_only vs read_your_writes, and clean up. The steps are
# examples/lab/lab.sh's targets (`all`); docs/lab-add-replica.md explains each.
#
# Env: LAB_PORT (first port, default 7001; the lab uses 8: LAB_PORT..+7;
#        lab.sh's scale-add-second-replica uses a 9th),
#      BUILD_DIR (default build/),
#      LAB_TLS=1: the same lab over TLS. Throw-away certificates
#        (examples/lab/tls-certs.sh) go into the lab directory; every
#        redis-server gets port 0, tls-port, tls-cluster yes,
#        tls-replication yes; redis-cli, clusterc-admin and
#        clusterc-read-routing get --tls --cacert LAB_DIR/tls/ca.crt.
#      LAB_TLS_MTLS=1 (with LAB_TLS=1): mutual TLS (tls-auth-clients yes;
#        the clients also get --cert/--key of the lab's client certificate).
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
if [ "${LAB_TLS:-}" = 1 ]; then
  clusterc_packages+=(openssl)   # tls-certs.sh makes the lab's certificates
  export LAB_TLS LAB_TLS_MTLS=${LAB_TLS_MTLS:-}
  if [ "$LAB_TLS_MTLS" = 1 ]; then echo "== the lab over mutual TLS"; else echo "== the lab over TLS"; fi
fi
clusterc_install_deps

echo "== build ($build)"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=(clusterc-admin)
available=$(cmake --build "$build" --target help 2>/dev/null || true)
for t in clusterc-lab-load clusterc-read-routing; do
  if grep -q -- "$t" <<<"$available"; then targets+=("$t"); fi
done
cmake --build "$build" -j2 --target "${targets[@]}" >/dev/null

# lab.sh all stops the lab itself; this catches Ctrl-C and failures too.
cleanup() { "$root/examples/lab/lab.sh" cluster-down >/dev/null 2>&1 || true; }
trap cleanup EXIT INT TERM

"$root/examples/lab/lab.sh" all
