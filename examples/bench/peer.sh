# peer.sh -- sourced by fastpath.sh, instructions.sh and pipelined.sh: build
# the libvalkey peer (examples/bench/peer_libvalkey.c) against an install
# prefix, or say that its columns are left out (sets peer to the binary's
# path, or ""); and start the cluster they measure on.
#   clusterc_peer_build ROOT DIR PREFIX
clusterc_peer_build() {
  local root=$1 dir=$2 prefix=$3
  peer=""
  if [ -f "$prefix/include/valkey/cluster.h" ]; then
    peer=$dir/peer-libvalkey
    cc -O2 -o "$peer" "$root/examples/bench/peer_libvalkey.c" -I"$prefix/include" \
       -L"$prefix/lib" -Wl,-rpath,"$prefix/lib" -lvalkey -levent
  else
    echo "# libvalkey not found under $prefix: its columns are left out" >&2
  fi
}

# A 3 primaries + 3 replicas cluster from PORT under DIR/cluster for a
# benchmark script, owned by a sleeper of this script's so it cannot
# outlive it. The EXIT trap stops it and removes DIR, running the
# script's bench_cleanup_extra first when it defines one.
#   clusterc_bench_cluster ROOT DIR PORT
clusterc_bench_cluster() {
  bench_root=$1 bench_dir=$2
  sleep 7200 & bench_owner=$!
  trap clusterc_bench_cleanup EXIT
  python3 "$bench_root/tests/cluster/harness.py" start --dir "$bench_dir/cluster" --base "$3" \
    --primaries 3 --replicas 1 --owner-pid "$bench_owner" --max-life 7000 >/dev/null
  sleep 2   # every node's CLUSTER SHARDS lists the replicas (docs/benchmarks.md)
}

clusterc_bench_cleanup() {
  python3 "$bench_root/tests/cluster/harness.py" stop --dir "$bench_dir/cluster" >/dev/null 2>&1 || true
  kill "$bench_owner" 2>/dev/null || true
  if declare -F bench_cleanup_extra >/dev/null; then bench_cleanup_extra || true; fi
  rm -rf "$bench_dir"
}
