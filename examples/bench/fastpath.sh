#!/usr/bin/env bash
# fastpath.sh -- the fast-path figure recorded in docs/benchmarks.md after
# every change: async GET client CPU per request with 50 in flight
# (pipelined) and one at a time (blocking face), on a 3+3 local cluster,
# libclusterc beside libvalkey in the same run, rounds interleaved.
#
#   examples/bench/fastpath.sh [ROUNDS]        (default 3; medians printed)
# Env: BUILD (default /tmp/clusterc-fastpath-build), PORT (24000),
#      N_ASYNC (2000000), N_SYNC (100000), EXTRA (more clusterc-benchmark flags),
#      LIBVALKEY (a libvalkey install prefix; default /tmp/libvalkey/inst),
#      CALLGRIND=1 (also count user-space instructions per async GET with
#      valgrind --tool=callgrind: runs of 20,000 and 60,000 GETs, difference
#      / 40,000, so start-up cancels; repeatable, unlike CPU time),
#      BASE (a git revision: also build it, from a worktree under /tmp, and
#      run its clusterc-benchmark in the same rounds: "before" beside "after"),
#      LATENCY=1 (time every request, as before f0ed34c; by default
#      --no-latency, so this library's figure holds no clock reads of the
#      benchmark's, like the peer's: a base without the flag times them).
# The peer is never part of this project: build it under /tmp (see
# docs/benchmarks.md). Without it, its columns are left out, and said so.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
rounds=${1:-3}
build=${BUILD:-/tmp/clusterc-fastpath-build}
port=${PORT:-24000}
n_async=${N_ASYNC:-2000000}
n_sync=${N_SYNC:-100000}
peer_prefix=${LIBVALKEY:-/tmp/libvalkey/inst}
dir=$(mktemp -d /tmp/clusterc-fastpath-XXXXXX)

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCLUSTERC_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target clusterc-benchmark >/dev/null
B=$build/examples/clusterc-benchmark
OB=""
if [ -n "${BASE:-}" ]; then
  rm -rf "$dir/base-src"
  git -C "$root" worktree add -q --detach "$dir/base-src" "$BASE"
  cmake -S "$dir/base-src" -B "$dir/base-build" -DCMAKE_BUILD_TYPE=Release \
    -DCLUSTERC_BUILD_TESTS=OFF >/dev/null
  cmake --build "$dir/base-build" -j2 --target clusterc-benchmark >/dev/null
  OB=$dir/base-build/examples/clusterc-benchmark
fi

# shellcheck source=examples/bench/peer.sh
. "$root/examples/bench/peer.sh"
clusterc_peer_build "$root" "$dir" "$peer_prefix"

bench_cleanup_extra() {   # run by clusterc_bench_cleanup (peer.sh) on exit
  [ -d "$dir/base-src" ] && git -C "$root" worktree remove --force "$dir/base-src"
}
clusterc_bench_cluster "$root" "$dir" "$port"

# CSV column 11 of clusterc-benchmark is cpu_us_per_req; 5 of the peer's.
nolat() {   # the flag, when wanted and known to the binary $1
  [ "${LATENCY:-0}" = 1 ] && return 0
  case "$("$1" --help 2>&1)" in *--no-latency*) echo --no-latency ;; esac
}
NL=$(nolat "$B")
BNL=""
[ -n "$OB" ] && BNL=$(nolat "$OB")
ours() { $B -p "$port" "$@" -d 3 -r 10000 --csv $NL ${EXTRA:-} | tail -1 | cut -d, -f11; }
base() { $OB -p "$port" "$@" -d 3 -r 10000 --csv $BNL ${EXTRA:-} | tail -1 | cut -d, -f11; }
theirs() { "$peer" "$port" "$@" 10000 | cut -d, -f5; }

$B -p "$port" -t get -n 1000 -d 3 -r 10000 -q >/dev/null   # fills the keyspace
declare -a oa os pa ps ba bs
for ((i = 0; i < rounds; i++)); do
  oa+=("$(ours -t get -n "$n_async" -c 50)")
  [ -n "$OB" ] && ba+=("$(base -t get -n "$n_async" -c 50)")
  [ -n "$peer" ] && pa+=("$(theirs "$n_async" 50)")
  os+=("$(ours --face sync -P 1 -t get -n "$n_sync")")
  [ -n "$OB" ] && bs+=("$(base --face sync -P 1 -t get -n "$n_sync")")
  [ -n "$peer" ] && ps+=("$(theirs "$n_sync" 0)")
done

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
echo "runs (cpu µs/request): clusterc async ${oa[*]}; sync ${os[*]}"
[ -n "$OB" ] && echo "runs (cpu µs/request): clusterc at $BASE async ${ba[*]}; sync ${bs[*]}"
[ -n "$peer" ] && echo "runs (cpu µs/request): libvalkey async ${pa[*]}; sync ${ps[*]}"
[ -n "$OB" ] && printf 'at %s: 50 in flight %s, one at a time %s (medians)\n' "$BASE" \
  "$(median "${ba[@]}")" "$(median "${bs[@]}")"
printf '%-34s %10s %10s %8s\n' "async GET, cpu µs/request" clusterc libvalkey ratio
row() {
  local name=$1 m=$2 p=${3:-}
  if [ -n "$p" ]; then
    printf '%-34s %10s %10s %8s\n' "$name" "$m" "$p" "$(awk -v a="$m" -v b="$p" 'BEGIN{printf "%.2f", a/b}')"
  else
    printf '%-34s %10s %10s %8s\n' "$name" "$m" "-" "-"
  fi
}
row "50 in flight (median of $rounds)" "$(median "${oa[@]}")" "$([ -n "$peer" ] && median "${pa[@]}")"
row "one at a time, blocking" "$(median "${os[@]}")" "$([ -n "$peer" ] && median "${ps[@]}")"

# Instructions per GET: the difference of two runs, so set-up cancels.
instr() {   # instr <binary> <args...>: total Ir of one run
  local out=$dir/cg.$RANDOM
  valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >/dev/null 2>&1
  callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'
  rm -f "$out"
}
per_get() {   # per_get <cmd...> (the request count is appended)
  local a b
  a=$(instr "$@" 20000); b=$(instr "$@" 60000)
  awk -v a="$a" -v b="$b" 'BEGIN{printf "%.0f", (b - a) / 40000}'
}
if [ "${CALLGRIND:-0}" = 1 ]; then
  printf '%-34s %10s\n' "instructions per async GET" "$(per_get $B -p "$port" -t get -d 3 -r 10000 -c 50 -q $NL -n)"
  [ -n "$OB" ] && printf '%-34s %10s\n' "  at $BASE" "$(per_get $OB -p "$port" -t get -d 3 -r 10000 -c 50 -q $BNL -n)"
  [ -n "$peer" ] && printf '%-34s %10s\n' "  libvalkey" "$(a=$(instr "$peer" "$port" 20000 50 10000); b=$(instr "$peer" "$port" 60000 50 10000); awk -v a="$a" -v b="$b" 'BEGIN{printf "%.0f", (b - a) / 40000}')"
fi
