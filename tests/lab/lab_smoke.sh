#!/usr/bin/env bash
# tests/lab/lab_smoke.sh -- smoke test of examples/lab/lab.sh: its main
# targets against a fresh lab on its own ports, checking exit statuses and
# the lines the lab is about.
#
#   lab_smoke.sh CLUSTERC_ADMIN [CLUSTERC_READ_ROUTING]
#
# With $CLUSTERC_LAB_LOAD (clusterc-lab-load) and CLUSTERC_READ_ROUTING, and
# not over TLS, also the data steps of `all` and the extra targets:
# load-data (before scale-add-replica, whose sync must then move the keys),
# read-from-replicas (each node's own GET count), stale-reads, the three
# trouble-* targets and scale-add-second-replica (a 9th port).
#
# Ports: LAB_SMOKE_BASE (default 21001) .. +8, bus ports +10000 (or -10000
# when +10000 is an ephemeral port, as lab.sh does).
# LAB_TLS=1 (LAB_TLS_MTLS=1): the same steps over TLS (mutual TLS), plus
# tests/lab/lab_tls_checks.sh (refusals, replica reads, a rediss:// URL);
# fails at once when redis-server or openssl cannot do TLS.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
lab=$here/../../examples/lab/lab.sh
export CLUSTERC_ADMIN=${1:?usage: lab_smoke.sh CLUSTERC_ADMIN [CLUSTERC_READ_ROUTING]}
export CLUSTERC_READ_ROUTING=${2:-}
export CLUSTERC_LAB_LOAD=${CLUSTERC_LAB_LOAD:-}
export LAB_BASE=${LAB_SMOKE_BASE:-21001}
export LAB_DIR
LAB_DIR=$(mktemp -d /tmp/clusterc-lab-smoke.XXXXXX)
rmdir "$LAB_DIR"          # lab.sh creates it (and removes it at cluster-down)
export LAB_MAX_LIFE=600   # the servers stop by themselves even if we are killed
P7=$((LAB_BASE + 6)) P8=$((LAB_BASE + 7)) P9=$((LAB_BASE + 8))
data=""   # the data steps: plain text, with the loader and clusterc-read-routing
if [ "${LAB_TLS:-}" != 1 ] && [ -n "$CLUSTERC_LAB_LOAD" ] && [ -n "$CLUSTERC_READ_ROUTING" ]; then
  data=1
fi
t_start=$(date +%s)
TLS=()   # clusterc-admin's TLS flags, as lab.sh passes them
if [ "${LAB_TLS:-}" = 1 ]; then
  # No grep -q here: it would quit early, ldd would get SIGPIPE, and
  # pipefail would call a TLS-capable server incapable.
  if ! command -v openssl >/dev/null ||
     ! ldd "$(command -v "${CLUSTERC_TEST_SERVER:-redis-server}")" 2>/dev/null | grep libssl >/dev/null; then
    echo "FAIL: no openssl, or redis-server built without TLS (tests/deps.sh installs both)"
    exit 1
  fi
  TLS=(--tls --cacert "$LAB_DIR/tls/ca.crt")
  if [ "${LAB_TLS_MTLS:-}" = 1 ]; then
    TLS+=(--cert "$LAB_DIR/tls/client.crt" --key "$LAB_DIR/tls/client.key")
  fi
fi
out=$(mktemp /tmp/clusterc-lab-smoke-out.XXXXXX)
failures=0

cleanup() { "$lab" cluster-down >/dev/null 2>&1; rm -f "$out"; }
trap cleanup EXIT

step() {  # step EXPECTED_STATUS TARGET...: run, show, check the status
  local want=$1 rc; shift
  echo "---- lab.sh $* (expect exit $want)"
  "$lab" "$@" >"$out" 2>&1
  rc=$?
  cat "$out"
  if [ "$rc" != "$want" ]; then
    echo "FAIL: lab.sh $* exited $rc, expected $want"
    failures=$((failures + 1))
    return 1
  fi
  return 0
}
expect() {  # expect REGEX: in the last step's output
  if grep -Eq -- "$1" "$out"; then echo "ok: /$1/"; else
    echo "FAIL: no line matching /$1/"; failures=$((failures + 1)); fi
}
fatal() { echo "FAIL: $*"; exit 1; }
check_that() {  # check_that DESCRIPTION COMMAND...: a condition on the last output
  local what=$1; shift
  if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; failures=$((failures + 1)); fi
}
# The read_only table's row of a node: "reads srv_GETs" (client, server).
policy_row() {  # POLICY PORT
  awk -v p="$1:" -v a="127.0.0.1:$2" '
    $1 == p { on = 1; next } /^[a-z_]+: / { on = 0 }
    on && $1 == a { print $4, $6; exit }' "$out"
}

step 0 cluster-up || fatal "cluster-up failed; nothing else can run"
if [ ${#TLS[@]} -gt 0 ]; then
  expect "^== start 127\.0\.0\.1:$LAB_BASE\.\.[0-9]+ over TLS only"
fi
expect "^127\.0\.0\.1:$P7 +primary +4096 "
expect "^added 127\.0\.0\.1:$P7 as a primary"

if [ -n "$data" ]; then
  step 0 load-data
  expect "^wrote 200000 keys .* 0 failed$"
  # B+6 got its share: a quarter of the keys, give or take.
  expect "^  127\.0\.0\.1:$P7 +primary +[0-9]+ +(4[5-9]|5[0-5])[0-9]{3} "
fi

step 1 check
expect "127\.0\.0\.1:$P7: no replica - 4096 slots at risk"
expect "^check: [0-9]+ problems? found"

step 0 scale-add-replica
expect "^added 127\.0\.0\.1:$P8 as a replica of [0-9a-f]{40}"
expect "sync +127\.0\.0\.1:$P8 +connected"
if [ -n "$data" ]; then
  # The sync moved the data: bytes, keys on both sides, offsets, the log.
  sent=$(sed -n 's/^    127\.0\.0\.1:[0-9]* sent \([0-9]*\) bytes.*/\1/p' "$out")
  check_that "the sync sent ${sent:-?} bytes (> 5 MB)" [ "${sent:-0}" -gt 5000000 ]
  expect "^    keys: 127\.0\.0\.1:$P7 ([1-9][0-9]{4}), 127\.0\.0\.1:$P8 \1\$"
  expect "^    offsets: 127\.0\.0\.1:$P7 master_repl_offset:([1-9][0-9]*), 127\.0\.0\.1:$P8 slave_repl_offset:\1\$"
  expect "Done loading RDB, keys loaded: [1-9][0-9]{4}"
  expect "^    background writer: wrote 20000 keys .* 0 failed"
fi

# The replica is up when add-node returns; give gossip a few seconds to
# reach every node before the clean check.
for i in $(seq 10); do
  "$lab" check >/dev/null 2>&1 && break
  sleep 1
done
step 0 check
expect "^check: healthy - all 4 primaries protected"

step 0 replication
expect "^master_port:$P8\$|^master_port:$P7\$"
expect "^master_link_status:up\$"
expect "^master_sync_in_progress:0\$"
expect "^connected_slaves:1\$"
expect "^slave0:ip=127\.0\.0\.1,port=$P8,state=online,offset=[0-9]+,lag=[0-9]+"
[ -n "$data" ] && expect "^slave_repl_offset:[1-9][0-9]{5,}\$"

step 0 lag
expect "^127\.0\.0\.1:$P8 +127\.0\.0\.1:$P7 +online +[0-9]+ +[0-9]+ +(perfect|good)"

echo "---- clusterc-admin --json check"
if "$CLUSTERC_ADMIN" ${TLS[@]+"${TLS[@]}"} --json check "127.0.0.1:$LAB_BASE" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["ok"] and r["healthy"] and r["unprotected"] == 0, r
assert len(r["primaries"]) == 4 and all(p["replicas"] >= 1 for p in r["primaries"]), r
print("ok: json check healthy, 4 primaries protected")'; then :; else failures=$((failures + 1)); fi

if [ -n "$data" ]; then
  step 0 read-from-replicas
  for policy in read_only random latency; do
    expect "^$policy: 20000 reads in [0-9.]+ s, 0 failed"
  done
  # The servers' own counts: under read_only the new replica serves its
  # shard's reads (about a quarter) and B+6 none.
  read -r reads srv < <(policy_row read_only "$P8") || true
  check_that "read_only: 127.0.0.1:$P8 served ${srv:-?} GETs (INFO commandstats) = ${reads:-?} routed, > 3000" \
    [ "${srv:-0}" -gt 3000 -a "${srv:-0}" = "${reads:-}" ]
  read -r reads srv < <(policy_row read_only "$P7") || true
  check_that "read_only: 127.0.0.1:$P7 served ${srv:-?} GETs" [ "${srv:-x}" = 0 ]
  read -r reads srv < <(policy_row random "$P8") || true
  check_that "random: 127.0.0.1:$P8 served ${srv:-?} GETs (> 0)" [ "${srv:-0}" -gt 0 ]
  if grep -q "mismatch" "$out"; then echo "FAIL: a server count differs from the client's"; failures=$((failures + 1)); fi

  step 0 stale-reads
  expect "^  read_only +[0-9]+ stale of 10000 GETs"
  expect "^  read_only \+ read_your_writes +0 stale of 10000 GETs"

  step 0 trouble-wrong-primary
  expect "^    master_port:$LAB_BASE\$|^    master_port:$((LAB_BASE + 1))\$|^    master_port:$((LAB_BASE + 2))\$"
  expect "127\.0\.0\.1:$P7: no replica - 4096 slots at risk"
  expect "now replicates [0-9a-f]{40}, link up"
  expect "^check: healthy - all 4 primaries protected"

  step 0 trouble-link-down
  expect "^    master_link_status:down\$"
  expect "^    cluster_state:fail\$"
  expect "^    master_link_status:up\$"
  expect "is still the primary"
  expect "^check: healthy - all 4 primaries protected"

  step 0 trouble-slow-sync
  expect "replica +- +127\.0\.0\.1:$P7 +connected +wait_bgsave"
  expect "^    master_sync_in_progress:1\$"
  expect "127\.0\.0\.1:$P8 in sync [0-9]+ s after its restart"
  expect "^check: healthy - all 4 primaries protected"

  step 0 scale-add-second-replica
  expect "^added 127\.0\.0\.1:$P9 as a replica of [0-9a-f]{40}"
  expect "^connected_slaves:2\$"
  expect "^127\.0\.0\.1:$P7 \(.*\) -> 4096 slots \| 2 replicas"
  expect "^check: healthy - all 4 primaries protected"
fi

if [ ${#TLS[@]} -gt 0 ]; then
  # shellcheck source=tests/lab/lab_tls_checks.sh
  . "$here/lab_tls_checks.sh"
fi

step 0 cluster-down
for p in $(seq "$LAB_BASE" "$P9"); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "FAIL: port $p still listening after cluster-down"; failures=$((failures + 1))
  fi
done
[ -e "$LAB_DIR" ] && { echo "FAIL: $LAB_DIR left behind"; failures=$((failures + 1)); }

if [ "$failures" -gt 0 ]; then
  echo "lab smoke test: $failures failure(s)"
  exit 1
fi
echo "lab smoke test: passed in $(($(date +%s) - t_start)) s"
