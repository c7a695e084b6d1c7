#!/usr/bin/env bash
# tests/lab/events_smoke.sh -- smoke test of examples/events.c
# (clusterc-events): a manual failover seen live through the lifecycle
# events and the command hook.
#
#   events_smoke.sh CLUSTERC_EVENTS
#
# Starts a 3-primary cluster with one replica per primary
# (tests/cluster/harness.py; ports EVENTS_SMOKE_BASE, default 21200, ..+5,
# bus ports +10000), runs `clusterc-events --failover --seconds 8` and
# checks its output: exactly one READY, a MAP_UPDATED naming the promoted
# replica, DRAINED as the last line, the summary, exit status 0; then that
# the replica really is a primary now. Also: --help (0), a bad flag (2) and
# an unreachable cluster (2). The cluster always stops (trap; the harness
# watchdog also ends it if this script dies).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
harness=$here/../cluster/harness.py
events=${1:?usage: events_smoke.sh CLUSTERC_EVENTS}
base=${EVENTS_SMOKE_BASE:-21200}
dir=$(mktemp -d /tmp/clusterc-events-smoke.XXXXXX)
out=$dir.out
failures=0

cleanup() {
  python3 "$harness" stop --dir "$dir" >/dev/null 2>&1
  rm -rf "$dir" "$out" "$out.err" "$dir.json"
}
trap cleanup EXIT

ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
fatal() { echo "FAIL: $*"; exit 1; }
check() {  # check DESCRIPTION COMMAND...: ok when COMMAND succeeds
  local what=$1; shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}

# ---- flags and an unreachable cluster: no servers needed
if "$events" --help | grep -q '^usage: clusterc-events'; then ok "--help prints the usage"
else fail "--help: no usage text"; fi
"$events" --no-such-flag >/dev/null 2>&1; rc=$?
check "a bad flag exits 2 (got $rc)" test "$rc" = 2
"$events" --seconds 0 >/dev/null 2>&1; rc=$?
check "--seconds 0 exits 2 (got $rc)" test "$rc" = 2
# A port of our range where nothing listens (the cluster is not up yet).
timeout 60 "$events" --seeds "127.0.0.1:$((base + 90))" --seconds 5 >"$out" 2>&1; rc=$?
check "an unreachable cluster exits 2 (got $rc)" test "$rc" = 2

# ---- the cluster
python3 "$harness" start --dir "$dir" --base "$base" --primaries 3 --replicas 1 \
  --owner-pid $$ --max-life 300 >"$dir.json" || fatal "harness start failed"
echo "cluster up on ports $base..$((base + 5))"

echo "---- clusterc-events --failover --seconds 8"
# stdout alone in $out: DRAINED must be its last line; stderr shown apart.
timeout 60 "$events" --seeds "127.0.0.1:$base,127.0.0.1:$((base + 1))" --failover \
  --seconds 8 >"$out" 2>"$out.err"
rc=$?
cat "$out"
[ -s "$out.err" ] && { echo "---- stderr"; cat "$out.err"; }
echo "----"
check "exit status 0 (got $rc)" test "$rc" = 0

ev() { grep -E "^ *[0-9]+ ms  $1 " "$out"; }  # the event lines of one type
n=$(ev READY | wc -l)
check "exactly one READY (got $n)" test "$n" = 1

# The replica the program chose, from its "* failover: replica ADDR (ID)" line.
replica=$(sed -nE 's/^ *[0-9]+ ms  \* failover: replica ([^ ]+) \(.*/\1/p' "$out" | head -1)
if [ -z "$replica" ]; then
  fail "no '* failover: replica ...' line"
else
  role=$(python3 -c '
import json, sys
st = json.load(open(sys.argv[1]))
port = int(sys.argv[2].rsplit(":", 1)[1])
print(next((n["role"] for n in st["nodes"] if n["port"] == port), "none"))' "$dir.json" "$replica")
  check "the chosen node $replica was a replica at start (harness says $role)" \
    test "$role" = slave
  check "CLUSTER FAILOVER answered OK" \
    grep -qE "^ *[0-9]+ ms  \* failover: $replica answered CLUSTER FAILOVER: OK" "$out"
  if ev MAP_UPDATED | grep -qF -- "$replica"; then
    ok "a MAP_UPDATED names the new primary $replica"
  else fail "no MAP_UPDATED whose detail names $replica"; fi
  # Every slot of the shard changed primary, whether or not a MOVED for one
  # of them came first: the MAP_UPDATED that names the new primary says so.
  shard=$(sed -nE 's/^ *[0-9]+ ms  \* failover: replica .*\(its shard: ([0-9]+) slots\)$/\1/p' "$out")
  moved=$(ev MAP_UPDATED | grep -F -- "$replica" | sed -nE 's/.*slots moved: ([0-9]+).*/\1/p' |
          head -1)
  check "MAP_UPDATED counts the shard's ${shard:-?} slots as moved (says ${moved:-nothing})" \
    test -n "$shard" -a "$moved" = "$shard"
fi

last=$(tail -n 1 "$out")
check "DRAINED is the last line ($last)" grep -qE '^ *[0-9]+ ms  DRAINED ' <<<"$last"
n=$(ev DRAINED | wc -l)
check "exactly one DRAINED (got $n)" test "$n" = 1

# "* summary: commands C (sent S), failures 0, ...": the hook saw every command.
summary=$(grep -E '^ *[0-9]+ ms  \* summary: ' "$out" | tail -1)
if [[ $summary =~ commands\ ([0-9]+)\ \(sent\ ([0-9]+)\),\ failures\ ([0-9]+) ]]; then
  c=${BASH_REMATCH[1]} s=${BASH_REMATCH[2]} f=${BASH_REMATCH[3]}
  check "on_command saw every command sent ($c of $s)" test "$c" = "$s"
  check "a steady stream ran ($s commands sent, more than 100)" test "$s" -gt 100
  check "no command failed ($f)" test "$f" = 0
else
  fail "no summary line"
fi

# The servers agree: the chosen replica is a primary now.
if [ -n "$replica" ]; then
  python3 "$harness" wait-ok --dir "$dir" --timeout 30 >"$dir.json" 2>/dev/null \
    || fail "the cluster is not healthy after the failover"
  role=$(python3 -c '
import json, sys
st = json.load(open(sys.argv[1]))
port = int(sys.argv[2].rsplit(":", 1)[1])
print(next((n["role"] for n in st["nodes"] if n["port"] == port), "none"))' "$dir.json" "$replica")
  check "$replica is a primary after the run (harness says $role)" test "$role" = master
fi

if [ "$failures" -gt 0 ]; then
  echo "events smoke test: $failures failure(s)"
  exit 1
fi
echo "events smoke test: passed"
