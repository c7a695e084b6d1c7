# peer.sh -- sourced by fastpath.sh and instructions.sh: build the libvalkey
# peer (examples/bench/peer_libvalkey.c) against an install prefix, or say
# that its columns are left out. Sets peer to the binary's path, or "".
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
