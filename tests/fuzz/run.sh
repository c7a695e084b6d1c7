#!/usr/bin/env bash
# tests/fuzz/run.sh SECONDS [HARNESS...] -- build the libFuzzer harnesses
# (clang, -fsanitize=fuzzer,address,undefined, in build-fuzz/) and run each
# for SECONDS on its seed corpus (tests/fuzz/corpus/<harness>/) and its
# regression inputs (tests/fuzz/regressions/<harness>/). Prints executions
# and executions per second per harness; exits non-zero when any harness
# crashes, leaks, hits undefined behaviour or breaks an invariant (the input
# is saved under <build>/fuzz-artifacts/).
# HARNESS: topology_shards topology_slots redirect info_repl cluster_nodes
# cluster_info url addr cmdtable cmd_inspect fanout_merge push encode engine (default: all).
#
# Env knobs:
#   FUZZ_BUILD_DIR  build directory (default build-fuzz/)
#   FUZZ_BIN_DIR    run the harnesses already built there; do not build
#                   (ctest fuzz_smoke passes its own build directory)
#   FUZZ_ARGS       extra libFuzzer flags, e.g. "-jobs=4 -workers=4"
# New inputs libFuzzer finds go to <build>/fuzz-corpus/<harness>/, never
# into the committed seeds.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:?usage: tests/fuzz/run.sh SECONDS [HARNESS...]}
shift
all=(topology_shards topology_slots redirect info_repl cluster_nodes cluster_info url addr
     cmdtable cmd_inspect fanout_merge push encode engine)
[ $# -gt 0 ] && harnesses=("$@") || harnesses=("${all[@]}")

if [ -n "${FUZZ_BIN_DIR:-}" ]; then
  bin=$FUZZ_BIN_DIR
  work=$bin
else
  build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
  case "$build" in /*) ;; *) build="$root/$build" ;; esac
  echo "== configure $build (clang, CLUSTERC_FUZZ=ON)"
  CC=clang cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLUSTERC_WERROR=ON \
    -DCLUSTERC_FUZZ=ON -DCLUSTERC_BUILD_EXAMPLES=OFF >/dev/null
  echo "== build fuzz_harnesses"
  cmake --build "$build" --target fuzz_harnesses -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
  bin=$build/tests/fuzz
  work=$build
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$work/fuzz-artifacts"
failed=0
summary=()
for h in "${harnesses[@]}"; do
  exe=$bin/fuzz_$h
  if [ ! -x "$exe" ]; then
    echo "no harness $exe" >&2
    failed=1
    summary+=("FAIL  $h (not built)")
    continue
  fi
  corp=$work/fuzz-corpus/$h
  mkdir -p "$corp"
  dirs=("$corp" "$root/tests/fuzz/corpus/$h")
  [ -d "$root/tests/fuzz/regressions/$h" ] && dirs+=("$root/tests/fuzz/regressions/$h")
  log=$work/fuzz-artifacts/$h.log
  rc=0
  # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags on purpose
  "$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/fuzz-artifacts/$h-" ${FUZZ_ARGS:-} "${dirs[@]}" >"$log" 2>&1 || rc=$?
  # A harness that died before its first status line leaves these empty:
  # || true keeps set -e from ending the run before its summary.
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1 || true)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1 || true)
  cov=$( (grep -o 'cov: [0-9]*' "$log" || true) | tail -1 | cut -d' ' -f2)
  line=$(printf '%-16s %12s execs %9s exec/s  cov %s' "$h" "${runs:-?}" "${rate:-?}" "${cov:-?}")
  if [ "$rc" = 0 ]; then
    summary+=("PASS  $line")
  else
    failed=1
    summary+=("FAIL  $line (exit $rc; $log)")
    echo "== $h failed (exit $rc); the end of $log:" >&2
    tail -40 "$log" >&2
  fi
done
echo "== fuzz ${secs}s per harness"
printf '  %s\n' "${summary[@]}"
exit "$failed"
