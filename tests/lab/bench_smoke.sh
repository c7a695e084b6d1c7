#!/usr/bin/env bash
# tests/lab/bench_smoke.sh -- smoke test of examples/benchmark.c
# (clusterc-benchmark), the program every fast-path figure in
# docs/benchmarks.md comes from: it must keep running every way the
# scripts drive it.
#
#   bench_smoke.sh CLUSTERC_BENCHMARK
#
# Starts a 3-primary cluster with one replica per primary
# (tests/cluster/harness.py; ports BENCH_SMOKE_BASE, default 21300, ..+5,
# bus ports +10000) and runs small loads: the async face, the blocking face
# one at a time and 50 appended at a time, with and without --no-latency,
# GET and SET, CSV and quiet output. Each must exit 0 with every request
# done and no failure; a timed run reports latencies, a --no-latency one
# reports 0; --max-seconds stops a --no-latency run early. Also: a bad flag
# (2) and an unreachable cluster (2). The cluster always stops (trap; the
# harness watchdog also ends it if this script dies).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
harness=$here/../cluster/harness.py
bench=${1:?usage: bench_smoke.sh CLUSTERC_BENCHMARK}
base=${BENCH_SMOKE_BASE:-21300}
dir=$(mktemp -d /tmp/clusterc-bench-smoke.XXXXXX)
failures=0

cleanup() {
  python3 "$harness" stop --dir "$dir" >/dev/null 2>&1
  rm -rf "$dir" "$dir.json"
}
trap cleanup EXIT

ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
fatal() { echo "FAIL: $*"; exit 1; }

"$bench" --no-such-flag >/dev/null 2>&1; rc=$?
if [ "$rc" = 2 ]; then ok "a bad flag exits 2"; else fail "a bad flag exited $rc"; fi
timeout 60 "$bench" -p $((base + 90)) -t get -n 10 -q >/dev/null 2>&1; rc=$?
if [ "$rc" = 2 ]; then ok "an unreachable cluster exits 2"
else fail "an unreachable cluster exited $rc"; fi

python3 "$harness" start --dir "$dir" --base "$base" --primaries 3 --replicas 1 \
  --owner-pid $$ --max-life 300 >"$dir.json" || fatal "harness start failed"
echo "cluster up on ports $base..$((base + 5))"

# run NAME WANT_LATENCY FLAGS...: one CSV test line; checks requests, failures
# and whether p50 is non-zero (timed) or zero (--no-latency).
run() {
  local name=$1 want=$2 line rc
  shift 2
  line=$(timeout 120 "$bench" -p "$base" -d 3 -r 1000 --csv "$@" | tail -1); rc=$?
  # test,face,depth,requests,seconds,ops,p50,p99,p999,max,cpu,user,sys,failures
  IFS=, read -r _ _ _ req _ _ p50 _ _ _ cpu _ _ fails <<<"$line"
  if [ "$rc" != 0 ] || [ "${req:-0}" != 20000 ] || [ "${fails:-1}" != 0 ] ||
     [ -z "$cpu" ]; then
    fail "$name: exit $rc, line '$line'"
  elif [ "$want" = timed ] && [ "$p50" = 0 ]; then
    fail "$name: a timed run reported p50 0 ('$line')"
  elif [ "$want" = untimed ] && [ "$p50" != 0 ]; then
    fail "$name: --no-latency reported p50 $p50 ('$line')"
  else
    ok "$name: 20000 requests, 0 failures, p50 $p50 µs, cpu $cpu µs/request"
  fi
}
run "async GET" timed -t get -n 20000 -c 50
run "async GET --no-latency" untimed -t get -n 20000 -c 50 --no-latency
run "async SET --no-latency" untimed -t set -n 20000 -c 50 --no-latency
run "blocking GET one at a time" timed --face sync -P 1 -t get -n 20000
run "blocking GET one at a time --no-latency" untimed --face sync -P 1 -t get -n 20000 --no-latency
run "blocking GET x50" timed --face sync -P 50 -t get -n 20000
run "blocking SET x50 --no-latency" untimed --face sync -P 50 -t set -n 20000 --no-latency

# --max-seconds still ends a --no-latency run (its clock is read every 1024).
for face in "-c 50" "--face sync -P 50" "--face sync -P 1"; do
  # shellcheck disable=SC2086 # face is a list of words
  line=$(timeout 60 "$bench" -p "$base" -d 3 -r 1000 --csv -t get -n 100000000 \
         --max-seconds 1 --no-latency $face | tail -1)
  IFS=, read -r _ _ _ req secs _ <<<"$line"
  if [ -n "$secs" ] && awk -v s="$secs" 'BEGIN { exit !(s < 10) }' && [ "${req:-0}" -gt 0 ]; then
    ok "--max-seconds 1 --no-latency ($face): stopped after $secs s, $req requests"
  else
    fail "--max-seconds 1 --no-latency ($face): '$line'"
  fi
done

if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
