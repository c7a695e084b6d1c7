#!/usr/bin/env bash
# instructions.sh -- user-space instructions per GET (issue 17's measure),
# beside wall-clock client CPU per GET, for the three ways of sending:
#   async      the libevent face, 50 in flight
#   pipelined  the blocking face, 50 appended then 50 read (-P 50)
#   blocking   the blocking face, one at a time (-P 1)
# on a 3 primaries + 3 replicas Redis cluster on loopback, and libvalkey's
# async and blocking GET beside them when it is installed (see
# docs/benchmarks.md; left out, saying so, when absent).
#
# Instructions: valgrind --tool=callgrind on a run of 20,000 and one of
# 60,000 GETs; the difference divided by 40,000, so start-up, the map load
# and the keyspace fill cancel. Repeatable to a few instructions, unlike
# CPU time.
#
#   examples/bench/instructions.sh
#   Env: BUILD (/tmp/clusterc-instr-build), PORT (24060), N_CPU (1000000 GETs
#        for the CPU figure; a tenth of it one at a time), LIBVALKEY (an install prefix; default /tmp/libvalkey/inst),
#        LATENCY=1 (time every request and sort the times, as before f0ed34c:
#        by default --no-latency, like the peer, which times nothing)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-/tmp/clusterc-instr-build}
port=${PORT:-24060}
n_cpu=${N_CPU:-1000000}
peer_prefix=${LIBVALKEY:-/tmp/libvalkey/inst}
dir=$(mktemp -d /tmp/clusterc-instr-XXXXXX)
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is needed" >&2; exit 1; }

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCLUSTERC_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target clusterc-benchmark >/dev/null
B=$build/examples/clusterc-benchmark
# shellcheck source=examples/bench/peer.sh
. "$root/examples/bench/peer.sh"
clusterc_peer_build "$root" "$dir" "$peer_prefix"

clusterc_bench_cluster "$root" "$dir" "$port"
$B -p "$port" -t get -n 1000 -d 3 -r 10000 -q >/dev/null   # fills the keyspace
NL=--no-latency
[ "${LATENCY:-0}" = 1 ] && NL=""

instr() {   # instr <cmd...>: total Ir of one run
  local out=$dir/cg.$RANDOM
  valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >/dev/null 2>&1
  callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'
  rm -f "$out"
}
ours_i() {   # ours_i <flags...>: instructions per GET
  local a b
  a=$(instr $B -p "$port" -t get -d 3 -r 10000 -q $NL "$@" -n 20000)
  b=$(instr $B -p "$port" -t get -d 3 -r 10000 -q $NL "$@" -n 60000)
  awk -v a="$a" -v b="$b" 'BEGIN{printf "%.0f", (b - a) / 40000}'
}
ours_c() {   # ours_c <n> <flags...>: client CPU µs per GET (CSV column 11)
  local n=$1; shift
  $B -p "$port" -t get -d 3 -r 10000 --csv $NL "$@" -n "$n" | tail -1 | cut -d, -f11
}
peer_i() {   # peer_i <inflight>: 0 = blocking
  local a b
  a=$(instr "$peer" "$port" 20000 "$1" 10000); b=$(instr "$peer" "$port" 60000 "$1" 10000)
  awk -v a="$a" -v b="$b" 'BEGIN{printf "%.0f", (b - a) / 40000}'
}
peer_c() { "$peer" "$port" "$2" "$1" 10000 | cut -d, -f5; }   # <inflight> <n>

printf '%-30s %14s %12s %14s %12s\n' "GET" "instr clusterc" "cpu µs" "instr libvalkey" "cpu µs"
row() {   # row <name> <our flags> <peer inflight or ""> <GETs for the CPU run>
  local name=$1 flags=$2 pin=$3 n=$4 pi="-" pc="-" oi oc
  # shellcheck disable=SC2086 # flags is a list of words
  oi=$(ours_i $flags); oc=$(ours_c "$n" $flags)
  if [ -n "$peer" ] && [ -n "$pin" ]; then pi=$(peer_i "$pin"); pc=$(peer_c "$pin" "$n"); fi
  printf '%-30s %14s %12s %14s %12s\n' "$name" "$oi" "$oc" "$pi" "$pc"
}
row "async, 50 in flight" "-c 50" 50 "$n_cpu"
row "pipelined, blocking face x50" "--face sync -P 50" -50 "$n_cpu"
row "blocking, one at a time" "--face sync -P 1" 0 "$((n_cpu / 10))"
