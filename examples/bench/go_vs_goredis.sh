#!/usr/bin/env bash
# go_vs_goredis.sh -- the Go figures of docs/benchmarks.md and
# bindings/go/README.md: one client shared by 50 goroutines, 200,000 GETs
# of 10,000 keys, on a 3 primaries + 3 replicas Redis cluster on loopback
# (127.0.0.1:24700-24705), for this binding and for go-redis v9's
# ClusterClient in the same run: primary reads, replica reads (ReadOnly),
# and the lateness of a goroutine sleeping 1 ms at a time while 50 others
# hammer (GOMAXPROCS=2). ROUNDS interleaved rounds (default 3); medians.
# Client CPU per op is getrusage of the benchmark process alone.
#
# go-redis is not in the repository: it is taken from /tmp/goredis
# (GOREDIS_DIR), laid out as
#   /tmp/goredis/go-redis        git archive v9.14.1 of github.com/redis/go-redis
#   /tmp/goredis/xxhash          git archive v2.3.0 of github.com/cespare/xxhash
#   /tmp/goredis/go-rendezvous   git archive 9f7001d12a5f of github.com/dgryski/go-rendezvous
# and wired with replace directives (GOPROXY=off: nothing is downloaded).
# When it is absent, only the binding's column is printed.
#
#   examples/bench/go_vs_goredis.sh
#   Env: BUILD (/tmp/clusterc-gobench-build), PORT (24700), ROUNDS (3),
#        OPS (200000), GOROUTINES (50), GOREDIS_DIR (/tmp/goredis)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-/tmp/clusterc-gobench-build}
port=${PORT:-24700}
rounds=${ROUNDS:-3}
ops=${OPS:-200000}
gor=${GOROUTINES:-50}
gr=${GOREDIS_DIR:-/tmp/goredis}
dir=$(mktemp -d /tmp/clusterc-gobench-XXXXXX)
H="python3 $root/tests/cluster/harness.py"

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCLUSTERC_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target clusterc >/dev/null
lib=$build/lib

# The benchmark program, built in a module of its own under $dir.
mkdir -p "$dir/src"
cp "$root"/bindings/go/bench/*.go "$dir/src/"
tags=""
clients="clusterc"
{
  echo "module clustercgobench"
  echo "go 1.19"
  echo "require github.com/libclusterc/clusterc-go v0.0.0"
  echo "replace github.com/libclusterc/clusterc-go => $root/bindings/go"
} > "$dir/src/go.mod"
if [ -f "$gr/go-redis/go.mod" ] && [ -d "$gr/xxhash" ] && [ -d "$gr/go-rendezvous" ]; then
  [ -f "$gr/go-rendezvous/go.mod" ] || echo "module github.com/dgryski/go-rendezvous" > "$gr/go-rendezvous/go.mod"
  {
    echo "require ("
    echo "  github.com/redis/go-redis/v9 v9.14.1"
    echo "  github.com/cespare/xxhash/v2 v2.3.0"
    echo "  github.com/dgryski/go-rendezvous v0.0.0-20200823014737-9f7001d12a5f"
    echo ")"
    echo "replace github.com/redis/go-redis/v9 => $gr/go-redis"
    echo "replace github.com/cespare/xxhash/v2 => $gr/xxhash"
    echo "replace github.com/dgryski/go-rendezvous => $gr/go-rendezvous"
  } >> "$dir/src/go.mod"
  tags="-tags goredis"
  clients="clusterc goredis"
else
  echo "go-redis not found in $gr: its column is left out (see the comment at the top)" >&2
fi
export CGO_ENABLED=1 CGO_CFLAGS="-I$root/include" \
  CGO_LDFLAGS="-L$lib -Wl,-rpath,$lib -lclusterc" GOFLAGS=-mod=mod GOPROXY=off \
  GOTOOLCHAIN=local GOCACHE=${GOCACHE:-$build/go-cache} GOPATH=${GOPATH:-$build/gopath}
(cd "$dir/src" && go build $tags -o "$dir/gobench" .)

sleep 7200 & owner=$!
trap '$H stop --dir "$dir/c" >/dev/null 2>&1 || true; kill $owner 2>/dev/null || true; rm -rf "$dir"' EXIT
$H start --dir "$dir/c" --base "$port" --primaries 3 --replicas 1 --owner-pid $owner --max-life 7000 >/dev/null
sleep 3
seeds="127.0.0.1:$port,127.0.0.1:$((port + 1)),127.0.0.1:$((port + 2))"
export GOMAXPROCS=2
"$dir/gobench" -addrs "$seeds" -populate
for r in $(seq "$rounds"); do
  for c in $clients; do
    "$dir/gobench" -addrs "$seeds" -client "$c" -ops "$ops" -goroutines "$gor" >> "$dir/results"
    "$dir/gobench" -addrs "$seeds" -client "$c" -ops "$ops" -goroutines "$gor" -readonly >> "$dir/results"
    "$dir/gobench" -addrs "$seeds" -client "$c" -ops "$ops" -goroutines "$gor" -ticker >> "$dir/results"
  done
done
[ -n "${KEEP_RESULTS:-}" ] && cp "$dir/results" "$KEEP_RESULTS"
python3 - "$dir/results" "$clients" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
clients = sys.argv[2].split()
med = lambda xs: statistics.median(xs) if xs else float("nan")
print("%-10s %-15s %10s %14s %10s %12s %12s %6s" % ("client", "reads", "ops/s", "CPU us/op",
      "cgo/cmd", "tick p99 us", "tick max us", "errors"))
for mode in ("primary", "replica", "primary+ticker"):
    for c in clients:
        rs = [r for r in rows if r["client"] == c and r["mode"] == mode]
        if not rs:
            continue
        cross = med([r["crossings_per_cmd"] for r in rs])
        tick = mode.endswith("ticker")
        print("%-10s %-15s %10.0f %14.2f %10s %12s %12s %6d" % (
            c, mode, med([r["ops_per_s"] for r in rs]), med([r["cpu_us_per_op"] for r in rs]),
            "%.3f" % cross if cross >= 0 else "-",
            "%.0f" % med([r.get("tick_p99_us", 0) for r in rs]) if tick else "-",
            "%.0f" % med([r.get("tick_max_us", 0) for r in rs]) if tick else "-",
            sum(r["errors"] for r in rs)))
print("(%d rounds, medians; %d GETs, %d goroutines, one shared client, GOMAXPROCS=2)" % (
    len([r for r in rows if r["client"] == clients[0] and r["mode"] == "primary"]),
    rows[0]["ops"], rows[0]["goroutines"]))
PY
