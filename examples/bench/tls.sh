#!/usr/bin/env bash
# tls.sh -- the TLS figures of docs/benchmarks.md, all in one run, rounds
# interleaved (medians printed):
#   1. async GET client CPU per request and ops/s, 50 in flight (pipelined)
#      and one at a time (blocking face), plain 3+3 cluster beside a TLS 3+3
#      cluster (TLS 1.3, P-256 certificates from examples/lab/tls-certs.sh);
#   2. a new connection: clusterc_connect with one seed until the seed is up
#      (TCP [+ TLS handshake]) and until READY, then clusterc_free, N times,
#      plain and TLS (clusterc-tls-connect); TLS minus plain = the handshake
#      (and, in CPU, the per-client TLS context, measured apart: --ctx-only);
#   3. the transport choice: one TLS connection to one standalone
#      redis-server, pipelined GET of a 3-byte value, 50 in flight, through
#      the thin layer the library uses (read_ahead on, as the library; and
#      off, like for like) and through libevent's OpenSSL bufferevents
#      (read_ahead off: see tls_transport.c), one bufferevent_write per
#      command or per batch (clusterc-tls-transport; plain TCP as reference).
#
#   examples/bench/tls.sh [ROUNDS]             (default 3)
# Env: BUILD (default /tmp/clusterc-tls-build), PORT (plain cluster, 24100),
#      TLS_PORT (TLS cluster, 24200); the standalone redis-server listens on
#      PORT+50 (plain) and TLS_PORT+50 (TLS). N_ASYNC (1000000), N_SYNC
#      (100000), N_TRANSPORT (200000), N_CONNECT (200),
#      CALLGRIND=1 (also instructions per request with valgrind
#      --tool=callgrind: runs of 20,000 and 60,000 requests, difference /
#      40,000, so start-up and the handshake cancel),
#      STRACE=1 (also system calls per request of each transport, strace -c).
# Every step is bounded (timeout); the clusters, the standalone server and
# the owner process are stopped on exit, whatever happens.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
rounds=${1:-3}
build=${BUILD:-/tmp/clusterc-tls-build}
port=${PORT:-24100}
tport=${TLS_PORT:-24200}
sport=$((port + 50)) stport=$((tport + 50))
n_async=${N_ASYNC:-1000000}
n_sync=${N_SYNC:-100000}
n_tr=${N_TRANSPORT:-200000}
n_conn=${N_CONNECT:-200}
dir=$(mktemp -d /tmp/clusterc-tls-XXXXXX)
H="python3 $root/tests/cluster/harness.py"

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCLUSTERC_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target clusterc-benchmark clusterc-tls-connect \
  clusterc-tls-transport >/dev/null
B=$build/examples

sleep 7200 & owner=$!
spid=""
cleanup() {
  $H stop --dir "$dir/plain" >/dev/null 2>&1 || true
  $H stop --dir "$dir/tls" >/dev/null 2>&1 || true
  if [ -n "$spid" ]; then kill "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true; fi
  kill $owner 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
$H start --dir "$dir/plain" --base "$port" --primaries 3 --replicas 1 \
  --owner-pid $owner --max-life 7000 >/dev/null
$H start --dir "$dir/tls" --base "$tport" --primaries 3 --replicas 1 --tls \
  --owner-pid $owner --max-life 7000 >/dev/null
ca=$dir/tls/tls/ca.crt
t=$dir/tls/tls
# One standalone node (not cluster mode), plain and TLS ports, for 3.
timeout 7200 redis-server --port "$sport" --tls-port "$stport" --tls-cert-file "$t/server.crt" \
  --tls-key-file "$t/server.key" --tls-ca-cert-file "$ca" --tls-auth-clients no \
  --save '' --appendonly no --dir "$dir" --logfile "$dir/standalone.log" &
spid=$!
for _ in $(seq 50); do
  redis-cli -p "$sport" ping >/dev/null 2>&1 && break
  sleep 0.1
done
sleep 2   # every node's CLUSTER SHARDS lists the replicas (docs/benchmarks.md)

T="timeout 600"
plain=(-p "$port")
tls=(-p "$tport" --tls-ca "$ca")
# CSV columns of clusterc-benchmark: 6 ops_per_sec, 11 cpu_us_per_req.
bench() { $T "$B/clusterc-benchmark" "$@" -t get -d 3 -r 10000 --max-seconds 300 --csv | tail -1; }
transport() { $T "$B/clusterc-tls-transport" -p "$@" -n "$n_tr"; }
conn() { $T "$B/clusterc-tls-connect" -n "$n_conn" "$@"; }

bench "${plain[@]}" -n 1000 >/dev/null   # fills the keyspaces
bench "${tls[@]}" -n 1000 >/dev/null
declare -a pa ta ps ts tt t0 tb tB tp cp ct cx
for ((i = 0; i < rounds; i++)); do
  pa+=("$(bench "${plain[@]}" -n "$n_async" -c 50)")
  ta+=("$(bench "${tls[@]}" -n "$n_async" -c 50)")
  ps+=("$(bench "${plain[@]}" --face sync -P 1 -n "$n_sync")")
  ts+=("$(bench "${tls[@]}" --face sync -P 1 -n "$n_sync")")
  tt+=("$(transport "$stport" -t thin --ca "$ca")")
  t0+=("$(transport "$stport" -t thin --ca "$ca" --read-ahead 0)")
  tb+=("$(transport "$stport" -t bufferevent --ca "$ca")")
  tB+=("$(transport "$stport" -t bufferevent-batched --ca "$ca")")
  tp+=("$(transport "$sport" -t plain)")
  cp+=("$(conn --seed "127.0.0.1:$port")")
  ct+=("$(conn --seed "127.0.0.1:$tport" --tls-ca "$ca")")
  cx+=("$(conn --ctx-only --tls-ca "$ca")")
done

col() { local f=$1; shift; printf '%s\n' "$@" | cut -d, -f"$f"; }
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
med() { col "$@" | median; }   # med FIELD ROWS...
runs() { echo "$(col "$@" | tr '\n' ' ')"; }
echo "# $rounds rounds; every run, in order:"
echo "#  cpu µs/req async plain: $(runs 11 "${pa[@]}")| TLS: $(runs 11 "${ta[@]}")"
echo "#  cpu µs/req sync plain: $(runs 11 "${ps[@]}")| TLS: $(runs 11 "${ts[@]}")"
echo "#  transport cpu µs/req thin: $(runs 5 "${tt[@]}")| thin, no read-ahead: $(runs 5 "${t0[@]}")"
echo "#    bufferevent: $(runs 5 "${tb[@]}")| batched: $(runs 5 "${tB[@]}")| plain: $(runs 5 "${tp[@]}")"
echo "#  connect cpu µs to READY plain: $(runs 6 "${cp[@]}")| TLS: $(runs 6 "${ct[@]}")"
echo "#    TLS context alone: $(runs 6 "${cx[@]}")"
echo "#  connections up per connect+free cycle: plain $(runs 8 "${cp[@]}")| TLS $(runs 8 "${ct[@]}")"

row() {   # row NAME PLAIN TLS: TLS/plain ratio and difference
  printf '%-46s %11s %11s %7s %10s\n' "$1" "$2" "$3" \
    "$(awk -v a="$2" -v b="$3" 'BEGIN{printf "%.2f", b/a}')" \
    "$(awk -v a="$2" -v b="$3" 'BEGIN{printf "%+.3f", b-a}')"
}
printf '%-46s %11s %11s %7s %10s\n' "median of $rounds" plain TLS ratio TLS-plain
row "async GET, 50 in flight: cpu µs/request" "$(med 11 "${pa[@]}")" "$(med 11 "${ta[@]}")"
row "async GET, 50 in flight: ops/s" "$(med 6 "${pa[@]}")" "$(med 6 "${ta[@]}")"
row "one at a time (blocking): cpu µs/request" "$(med 11 "${ps[@]}")" "$(med 11 "${ts[@]}")"
row "one at a time (blocking): ops/s" "$(med 6 "${ps[@]}")" "$(med 6 "${ts[@]}")"
row "new connection: ms to seed up (TCP [+TLS])" "$(med 3 "${cp[@]}")" "$(med 3 "${ct[@]}")"
row "new connection: ms to READY" "$(med 4 "${cp[@]}")" "$(med 4 "${ct[@]}")"
row "new connection: client cpu µs to READY" "$(med 6 "${cp[@]}")" "$(med 6 "${ct[@]}")"
ctx_us=$(med 6 "${cx[@]}")
printf '%-46s %11s %11s\n' "  TLS context per client (SSL_CTX + CA file)" - "$ctx_us"
printf '%-46s %11s %11s\n' "  => client cpu µs per TLS handshake" - "$(awk -v p="$(med 6 "${cp[@]}")" \
  -v t="$(med 6 "${ct[@]}")" -v c="$ctx_us" 'BEGIN{printf "%.1f", t - p - c}')"
row "connect+free cycle: ms" "$(med 5 "${cp[@]}")" "$(med 5 "${ct[@]}")"
row "connect+free cycle: client cpu µs" "$(med 7 "${cp[@]}")" "$(med 7 "${ct[@]}")"
row "connect+free cycle: connections up" "$(med 8 "${cp[@]}")" "$(med 8 "${ct[@]}")"
echo
w5='%-46s %11s %11s %11s %11s %11s\n'
printf "$w5" "one connection, 50 in flight (median)" thin "thin, no RA" bufferevent "bev batched" \
  "plain TCP"
printf "$w5" "transport: cpu µs/request" "$(med 5 "${tt[@]}")" "$(med 5 "${t0[@]}")" \
  "$(med 5 "${tb[@]}")" "$(med 5 "${tB[@]}")" "$(med 5 "${tp[@]}")"
printf "$w5" "transport: ops/s" "$(med 4 "${tt[@]}")" "$(med 4 "${t0[@]}")" \
  "$(med 4 "${tb[@]}")" "$(med 4 "${tB[@]}")" "$(med 4 "${tp[@]}")"

# Instructions per request: the difference of two runs, so set-up cancels.
instr() {   # instr <binary> <args...>: total Ir of one run
  local out=$dir/cg.$RANDOM
  timeout 1800 valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >/dev/null 2>&1
  callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'
  rm -f "$out"
}
per_req() {   # per_req <cmd...> (the request count is appended)
  local a b
  a=$(instr "$@" 20000); b=$(instr "$@" 60000)
  awk -v a="$a" -v b="$b" 'BEGIN{printf "%.0f", (b - a) / 40000}'
}
# Instructions per connect cycle, and inside it: runs of 5 and 15 cycles,
# difference / 10 (one-time OpenSSL set-up cancels). A long timeout: under
# valgrind a handshake can outlast the default 1 s and be retried. The
# handshake's share is divided by the connections that came up per cycle.
conn_cg() {   # conn_cg NAME <clusterc-tls-connect args...>: $dir/cg.NAME.{5,15}[.csv]
  local name=$1 n; shift
  for n in 5 15; do
    timeout 1800 valgrind --tool=callgrind --callgrind-out-file="$dir/cg.$name.$n" \
      "$B/clusterc-tls-connect" -n $n --timeout-ms 30000 "$@" 2>/dev/null >"$dir/cg.$name.$n.csv"
  done
}
cg_total() { callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'; }
cg_incl() {   # cg_incl FILE FUNCTION: its inclusive Ir (0 if absent)
  callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
    awk -v f=":$2 " 'index($0, f) {gsub(",", "", $1); v = $1; exit} END {print v + 0}'
}
per_cycle() {   # per_cycle NAME [FUNCTION]: Ir per cycle (in FUNCTION)
  local a b
  if [ -n "${2:-}" ]; then
    a=$(cg_incl "$dir/cg.$1.5" "$2"); b=$(cg_incl "$dir/cg.$1.15" "$2")
  else
    a=$(cg_total "$dir/cg.$1.5"); b=$(cg_total "$dir/cg.$1.15")
  fi
  awk -v a="$a" -v b="$b" 'BEGIN{printf "%.0f", (b - a) / 10}'
}
if [ "${CALLGRIND:-0}" = 1 ]; then
  echo
  printf "$w5" "instructions/request (callgrind)" thin "thin, no RA" bufferevent "bev batched" \
    "plain TCP"
  printf "$w5" "transport" \
    "$(per_req "$B/clusterc-tls-transport" -p "$stport" -t thin --ca "$ca" -n)" \
    "$(per_req "$B/clusterc-tls-transport" -p "$stport" -t thin --ca "$ca" --read-ahead 0 -n)" \
    "$(per_req "$B/clusterc-tls-transport" -p "$stport" -t bufferevent --ca "$ca" -n)" \
    "$(per_req "$B/clusterc-tls-transport" -p "$stport" -t bufferevent-batched --ca "$ca" -n)" \
    "$(per_req "$B/clusterc-tls-transport" -p "$sport" -t plain -n)"
  printf '%-46s %11s %11s\n' "instructions (callgrind)" plain TLS
  printf '%-46s %11s %11s\n' "library, async GET, 50 in flight, per request" \
    "$(per_req "$B/clusterc-benchmark" "${plain[@]}" -t get -d 3 -r 10000 -c 50 -q -n)" \
    "$(per_req "$B/clusterc-benchmark" "${tls[@]}" -t get -d 3 -r 10000 -c 50 -q -n)"
  conn_cg plain --seed "127.0.0.1:$port"
  conn_cg tls --seed "127.0.0.1:$tport" --tls-ca "$ca"
  printf '%-46s %11s %11s\n' "connect+free cycle" "$(per_cycle plain)" "$(per_cycle tls)"
  ups=$(cut -d, -f8 "$dir/cg.tls.15.csv")
  printf '%-46s %11s %11s\n' "  connections up per cycle" "$(cut -d, -f8 "$dir/cg.plain.15.csv")" "$ups"
  printf '%-46s %11s %11s\n' "  in SSL_do_handshake, per handshake" - \
    "$(awk -v i="$(per_cycle tls SSL_do_handshake)" -v u="$ups" 'BEGIN{printf "%.0f", i / u}')"
  printf '%-46s %11s %11s\n' "  in clusterc__tls_new (context, CA file)" - "$(per_cycle tls clusterc__tls_new)"
  printf '%-46s %11s %11s\n' "  in SSL_read (replies, session tickets)" - "$(per_cycle tls SSL_read)"
  printf '%-46s %11s %11s\n' "  in SSL_shutdown (close_notify)" - "$(per_cycle tls SSL_shutdown)"
fi

if [ "${STRACE:-0}" = 1 ]; then
  calls() {   # system calls per request of one transport run
    $T strace -c -o "$dir/st" "$B/clusterc-tls-transport" -n "$n_tr" "$@" >/dev/null
    awk -v n="$n_tr" '$NF == "total" {printf "%.3f", $4 / n}' "$dir/st"
  }
  echo
  printf "$w5" "system calls/request (strace -c)" thin "thin, no RA" bufferevent "bev batched" \
    "plain TCP"
  printf "$w5" "transport" "$(calls -p "$stport" -t thin --ca "$ca")" \
    "$(calls -p "$stport" -t thin --ca "$ca" --read-ahead 0)" \
    "$(calls -p "$stport" -t bufferevent --ca "$ca")" \
    "$(calls -p "$stport" -t bufferevent-batched --ca "$ca")" "$(calls -p "$sport" -t plain)"
fi
