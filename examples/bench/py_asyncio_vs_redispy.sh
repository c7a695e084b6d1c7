#!/usr/bin/env bash
# py_asyncio_vs_redispy.sh -- Python asyncio GET throughput (issue 18):
# clusterc.asyncio.ClusterClient beside redis-py's asyncio RedisCluster
# (redis.asyncio.cluster, Debian's python3-redis), one client shared by 50
# tasks, on a 3 primaries + 3 replicas cluster on loopback, rounds
# interleaved, medians printed as a Markdown table.
#
#   examples/bench/py_asyncio_vs_redispy.sh [ROUNDS]     (default 3)
# Env: BUILD (default /tmp/clusterc-pyaio-build), PORT (24750: the cluster
#      uses PORT..PORT+5), N (GETs per run, default 100000), TASKS (50),
#      KEYS (10000), MAX_SECONDS (60: a run stops early past it, and says so),
#      PY (the interpreter; default /usr/bin/python3 when present: Debian's
#      python3-redis is importable there only).
# Without redis-py, this binding's column is printed alone, and said so.
# Client CPU per op is the whole benchmark process's CPU time (every thread,
# the library's loop thread included) over the timed part, per GET.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
rounds=${1:-3}
build=${BUILD:-/tmp/clusterc-pyaio-build}
port=${PORT:-24750}
n=${N:-100000}
tasks=${TASKS:-50}
keys=${KEYS:-10000}
max_s=${MAX_SECONDS:-60}
if [ -z "${PY:-}" ]; then
  if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi
fi
case "$rounds" in ''|*[!0-9]*) echo "ROUNDS must be a number" >&2; exit 2;; esac
[ "$rounds" -ge 1 ] && [ "$rounds" -le 20 ] || { echo "ROUNDS: 1..20" >&2; exit 2; }
dir=$(mktemp -d /tmp/clusterc-pyaio-XXXXXX)

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCLUSTERC_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target clusterc >/dev/null
export CLUSTERC_LIBRARY=$build/lib/libclusterc.so
export PYTHONPATH=$root/bindings/python${PYTHONPATH:+:$PYTHONPATH}
bench=$root/bindings/python/bench/asyncio_bench.py

have_redispy=1
if ! "$PY" -c "import redis.asyncio.cluster" 2>/dev/null; then
  have_redispy=0
  echo "# redis-py (redis.asyncio.cluster) is not importable by $PY: its column is left out" >&2
fi

sleep 7200 & owner=$!
trap 'python3 "$root/tests/cluster/harness.py" stop --dir "$dir/cluster" >/dev/null 2>&1 || true;
      kill $owner 2>/dev/null || true; rm -rf "$dir"' EXIT
python3 "$root/tests/cluster/harness.py" start --dir "$dir/cluster" --base "$port" \
  --primaries 3 --replicas 1 --owner-pid $owner --max-life 7000 >/dev/null
sleep 2

seeds=127.0.0.1:$port,127.0.0.1:$((port + 1)),127.0.0.1:$((port + 2))
common=(--seeds "$seeds" --tasks "$tasks" --ops "$n" --keys "$keys" --max-seconds "$max_s")
"$PY" "$bench" --client clusterc "${common[@]}" --ops 1000 --load >/dev/null   # the keys

: > "$dir/results.jsonl"
for r in $(seq 1 "$rounds"); do
  "$PY" "$bench" --client clusterc "${common[@]}" | tee -a "$dir/results.jsonl" >&2
  if [ $have_redispy = 1 ]; then
    "$PY" "$bench" --client redispy "${common[@]}" | tee -a "$dir/results.jsonl" >&2
  fi
done

"$PY" - "$dir/results.jsonl" "$PY" "$tasks" "$n" <<'EOF'
import json, statistics, sys, subprocess
path, py, tasks, n = sys.argv[1:5]
rows = [json.loads(l) for l in open(path) if l.strip()]
by = {}
for r in rows:
    by.setdefault(r["client"], []).append(r)
def ver():
    try:
        import importlib
        return subprocess.run([py, "-c", "import redis; print(redis.__version__)"],
                              capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception:
        return "?"
names = {"clusterc": "clusterc.asyncio.ClusterClient",
         "redispy": "redis-py %s redis.asyncio.cluster.RedisCluster" % ver()}
print("%s tasks, %s GETs per run, %d rounds interleaved, medians (%s)"
      % (tasks, n, max(len(v) for v in by.values()), py))
print()
print("| client | ops/s | client CPU per op | runs (ops/s) |")
print("|---|---:|---:|---|")
med = {}
for c in ("clusterc", "redispy"):
    if c not in by:
        continue
    ops = statistics.median(r["ops_per_s"] for r in by[c])
    cpu = statistics.median(r["cpu_us_per_op"] for r in by[c])
    med[c] = ops
    cut = " (cut short by MAX_SECONDS)" if any(r["cut_short"] for r in by[c]) else ""
    wrong = sum(r["wrong"] for r in by[c])
    print("| %s | %s | %.1f µs | %s%s%s |" % (names[c], format(round(ops), ","), cpu,
          ", ".join(format(r["ops_per_s"], ",") for r in by[c]), cut,
          " WRONG VALUES: %d" % wrong if wrong else ""))
if "redispy" in med:
    print()
    print("ratio (ops/s): %.2f×" % (med["clusterc"] / med["redispy"]))
else:
    print()
    print("redis-py not available: this binding's column alone")
EOF
