#!/usr/bin/env bash
# examples/lab/lab.sh -- the "add a replica" lab's make-like targets, run
# through clusterc-admin against local redis-server processes on 127.0.0.1
# (no Docker). See docs/lab-add-replica.md.
#
#   examples/lab/lab.sh TARGET...
#
# Targets:
#   cluster-up          B..B+5 as 3 primaries + 3 replicas (tests/cluster/harness.py),
#                       then B+6 added as a 4th primary with 4096 slots (add-node +
#                       reshard) and B+7 started alone (B = LAB_BASE, default 7001)
#   load-data           clusterc-lab-load: LAB_KEYS keys (200000) of LAB_VALUE_SIZE
#                       bytes (150) over all slots, pipelined; each node's DBSIZE
#   cluster-info        clusterc-admin info
#   check               clusterc-admin check (exit 1 while a primary is unprotected)
#   scale-add-replica   find B+6's id, add B+7 as its replica, print the sync states;
#                       with data loaded, writes keep coming while it syncs
#                       (LAB_WRITE_KEYS keys rewritten at LAB_WRITE_RATE/s), then
#                       what the sync moved (bytes, keys, offsets, B+7's log)
#   replication         INFO replication from both sides of B+6 / B+7
#   lag                 per-replica lag, classified
#   read-from-replicas  clusterc-read-routing (if built): with data loaded, LAB_READS
#                       GETs of the loaded keys under read_only, random, latency,
#                       with each node's own count (INFO commandstats); without,
#                       its own keys under every policy (LAB_READ_ARGS overrides)
#   stale-reads         LAB_STALE_PAIRS (10000) SET+GET pairs with read_only, then
#                       with read_your_writes: the stale GETs of each, counted
#   scale-add-second-replica
#                       start B+8 and add it as a second replica of B+6
#   trouble-wrong-primary
#                       B+7 follows another primary by mistake (CLUSTER REPLICATE):
#                       seen with check and replication, fixed with clusterc-admin replicate
#   trouble-link-down   B+6 frozen (SIGSTOP; B+7 may not fail over): B+7 shows
#                       master_link_status:down, the cluster FAIL; SIGCONT restores
#   trouble-slow-sync   B+7 restarted without its data (a full sync) while B+6 has
#                       rdb-key-save-delay: watched with clusterc-admin watch, then
#                       fixed (delay 0, the transfer restarted)
#                       (the trouble-* targets: examples/lab/lab_trouble.sh)
#   failover            CLUSTER FAILOVER on B+7 (LAB_FAILOVER_NODE), B+7 becomes primary
#   kill-node PORT      SIGKILL one lab node (to try `recover`)
#   watch-cluster       clusterc-admin watch (LAB_WATCH_COUNT refreshes; default until Ctrl-C)
#   recover             restart dead nodes, give B+6 its primary role back, re-check
#   cluster-down        stop everything this lab started (by recorded pid only)
#   all                 cluster-up, load-data, check (before), scale-add-replica,
#                       check (after), replication, lag, read-from-replicas,
#                       stale-reads, cluster-down (what demo.sh runs)
#
# Env: LAB_BASE (7001), LAB_DIR (/tmp/clusterc-lab), LAB_PASSWORD (none),
#      LAB_MAX_LIFE (3600: seconds before the servers stop by themselves),
#      BUILD_DIR (build/), CLUSTERC_ADMIN (path of clusterc-admin),
#      CLUSTERC_READ_ROUTING (path of clusterc-read-routing),
#      CLUSTERC_LAB_LOAD (path of clusterc-lab-load),
#      LAB_KEYS, LAB_VALUE_SIZE, LAB_WRITE_KEYS (20000), LAB_WRITE_RATE (5000),
#      LAB_READS (20000), LAB_STALE_PAIRS (10000): the sizes above,
#      LAB_SLOW_DELAY_US (200), LAB_SLOW_WATCH (4): trouble-slow-sync's
#        rdb-key-save-delay and watch refreshes,
#      LAB_TLS (1: the whole lab over TLS: throw-away certificates from
#        examples/lab/tls-certs.sh in LAB_DIR/tls; every node has port 0,
#        tls-port B..B+7, tls-cluster and tls-replication yes, and is started
#        by this script (redis-cli --cluster create --tls, not harness.py);
#        redis-cli gets --tls --cacert, clusterc-admin and
#        clusterc-read-routing get the same flags),
#      LAB_TLS_MTLS (1, with LAB_TLS: mutual TLS, tls-auth-clients yes, and
#        every client also gets --cert/--key of the lab's client certificate).
#      cluster-up records LAB_TLS in LAB_DIR/lab.env; later targets on that
#      LAB_DIR use it unless LAB_TLS is set.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
self=$root/examples/lab/lab.sh
harness=$root/tests/cluster/harness.py
HOST=127.0.0.1
LAB_BASE=${LAB_BASE:-7001}
LAB_DIR=${LAB_DIR:-/tmp/clusterc-lab}
LAB_MAX_LIFE=${LAB_MAX_LIFE:-3600}
LAB_PASSWORD=${LAB_PASSWORD:-}
BUILD_DIR=${BUILD_DIR:-$root/build}
SERVER=${CLUSTERC_TEST_SERVER:-redis-server}
CLI=${CLUSTERC_TEST_CLI:-redis-cli}
export LAB_BASE LAB_DIR LAB_MAX_LIFE LAB_PASSWORD BUILD_DIR
if [ -n "$LAB_PASSWORD" ]; then export CLUSTERC_PASSWORD=$LAB_PASSWORD; fi

# TLS: off unless LAB_TLS=1, or unless the running lab was started with it.
lab_env_value() {
  if [ -f "$LAB_DIR/lab.env" ]; then sed -n "s/^$1=//p" "$LAB_DIR/lab.env" | tail -1; fi
}
if [ -z "${LAB_TLS+set}" ]; then LAB_TLS=$(lab_env_value LAB_TLS); fi
if [ -z "${LAB_TLS_MTLS+set}" ]; then LAB_TLS_MTLS=$(lab_env_value LAB_TLS_MTLS); fi
[ "$LAB_TLS" = 1 ] || LAB_TLS=""
[ -n "$LAB_TLS" ] && [ "$LAB_TLS_MTLS" = 1 ] || LAB_TLS_MTLS=""
export LAB_TLS LAB_TLS_MTLS
TLS_DIR=$LAB_DIR/tls
TLS_ARGS=()   # for redis-cli, clusterc-admin and clusterc-read-routing alike
if [ -n "$LAB_TLS" ]; then
  TLS_ARGS=(--tls --cacert "$TLS_DIR/ca.crt")
  if [ -n "$LAB_TLS_MTLS" ]; then
    TLS_ARGS+=(--cert "$TLS_DIR/client.crt" --key "$TLS_DIR/client.key")
  fi
fi

P7=$((LAB_BASE + 6))   # the 4th primary ("7007")
P8=$((LAB_BASE + 7))   # the node that becomes its replica ("7008")
P9=$((LAB_BASE + 8))   # scale-add-second-replica's node ("7009")
SEED=$HOST:$LAB_BASE

die() { echo "lab: $*" >&2; exit 2; }
say() { printf '\n== %s\n' "$*"; }

find_tool() {  # find_tool ENV_VALUE NAME
  if [ -n "$1" ]; then echo "$1"; return; fi
  for p in "$BUILD_DIR/examples/$2" "$(command -v "$2" 2>/dev/null || true)"; do
    if [ -n "$p" ] && [ -x "$p" ]; then echo "$p"; return 0; fi
  done
  return 0
}
ADMIN=$(find_tool "${CLUSTERC_ADMIN:-}" clusterc-admin)
READ_ROUTING=$(find_tool "${CLUSTERC_READ_ROUTING:-}" clusterc-read-routing)
LOADER=$(find_tool "${CLUSTERC_LAB_LOAD:-}" clusterc-lab-load)
LAB_PREFIX=lab:   # the loaded keys: lab:00000000..

admin() {  # show the command as the lab reader would type it, then run it
  [ -n "$ADMIN" ] || die "clusterc-admin not found (build it: cmake --build $BUILD_DIR --target clusterc-admin, or set CLUSTERC_ADMIN)"
  echo "\$ clusterc-admin ${TLS_ARGS[*]+${TLS_ARGS[*]} }$*"
  "$ADMIN" ${TLS_ARGS[@]+"${TLS_ARGS[@]}"} "$@"
}
admin_quiet() { "$ADMIN" ${TLS_ARGS[@]+"${TLS_ARGS[@]}"} "$@"; }
rcli() {  # rcli PORT ARGS...
  local port=$1; shift
  if [ -n "$LAB_PASSWORD" ]; then
    "$CLI" -h "$HOST" -p "$port" ${TLS_ARGS[@]+"${TLS_ARGS[@]}"} -a "$LAB_PASSWORD" --no-auth-warning "$@"
  else
    "$CLI" -h "$HOST" -p "$port" ${TLS_ARGS[@]+"${TLS_ARGS[@]}"} "$@"
  fi
}
node_id() { rcli "$1" cluster myid | tr -d '\r'; }
info_field() {  # PORT SECTION FIELD: one INFO field's value ("" if absent)
  rcli "$1" info "$2" 2>/dev/null | tr -d '\r' | sed -n "s/^$3://p"
}

# ------------------------------------------------------------ pids, processes

# A recorded pid is only signalled if it is still that process: a redis
# server whose working directory is the node's directory, or our keeper.
is_our_server() {  # PID DIR
  local pid=$1 dir=$2
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- '-server' || return 1
  [ "$(readlink -f "/proc/$pid/cwd" 2>/dev/null)" = "$(readlink -f "$dir")" ]
}
is_our_keeper() {
  local pid=$1
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] &&
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "clusterc-lab-keeper $LAB_DIR"
}
stop_pid() {  # PID: TERM, then KILL after 5 s
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

bus_port() {  # as harness.py: port+10000 unless that is an ephemeral port
  local port=$1 lo hi
  read -r lo hi </proc/sys/net/ipv4/ip_local_port_range || { lo=32768; hi=60999; }
  if [ $((port + 10000)) -ge "$lo" ] && [ $((port + 10000)) -le "$hi" ] &&
     [ $((port - 10000)) -ge 1024 ] && [ $((port - 10000)) -lt "$lo" ]; then
    echo $((port - 10000))
  else
    echo $((port + 10000))
  fi
}

extra_dir() { echo "$LAB_DIR/nodes/$1"; }
extra_pid() { cat "$(extra_dir "$1")/redis.pid" 2>/dev/null || true; }
extra_alive() { is_our_server "$(extra_pid "$1")" "$(extra_dir "$1")"; }

# The listening lines of a node's config: plain, or (LAB_TLS) TLS only.
listen_conf() {  # PORT
  if [ -z "$LAB_TLS" ]; then echo "port $1"; return; fi
  cat <<EOF
port 0
tls-port $1
tls-cert-file $TLS_DIR/server.crt
tls-key-file $TLS_DIR/server.key
tls-ca-cert-file $TLS_DIR/ca.crt
tls-auth-clients $([ -n "$LAB_TLS_MTLS" ] && echo yes || echo no)
tls-cluster yes
tls-replication yes
EOF
}

# A standalone cluster-enabled server (the lab's 7007 / 7008; with LAB_TLS,
# every node): daemonized, its pid in its pidfile, its files in its own
# directory.
start_extra() {  # PORT [quiet]
  local port=$1 dir i
  dir=$(extra_dir "$port")
  mkdir -p "$dir"
  if [ ! -f "$dir/redis.conf" ]; then
    cat >"$dir/redis.conf" <<EOF
$(listen_conf "$port")
bind $HOST
protected-mode no
daemonize yes
pidfile $dir/redis.pid
dir $dir
logfile $dir/redis.log
cluster-enabled yes
cluster-config-file nodes.conf
cluster-port $(bus_port "$port")
cluster-node-timeout 2000
cluster-replica-validity-factor 0
appendonly no
save ""
repl-diskless-sync-delay 0
repl-ping-replica-period 1
EOF
    if [ -n "$LAB_PASSWORD" ]; then
      printf 'requirepass %s\nmasterauth %s\n' "$LAB_PASSWORD" "$LAB_PASSWORD" >>"$dir/redis.conf"
    fi
  fi
  rm -f "$dir/redis.pid"
  (cd "$dir" && "$SERVER" "$dir/redis.conf" >"$dir/stdout.log" 2>&1) ||
    die "$SERVER on port $port did not start: $(tail -3 "$dir/stdout.log" "$dir/redis.log" 2>/dev/null)"
  for i in $(seq 100); do
    if extra_alive "$port" && [ "$(rcli "$port" ping 2>/dev/null)" = PONG ]; then
      [ -n "${2:-}" ] || echo "    $HOST:$port pid $(extra_pid "$port") ($dir)"
      return 0
    fi
    sleep 0.1
  done
  die "$HOST:$port did not answer PING; see $dir/redis.log"
}

stop_extras() {  # every node this script started (B+6..B+8; all with LAB_TLS)
  local port pid pids=() waits=()
  for port in $(seq "$LAB_BASE" "$P9"); do
    pid=$(extra_pid "$port")
    if is_our_server "$pid" "$(extra_dir "$port")"; then pids+=("$pid"); fi
  done
  # All at once, as harness.py stops its nodes: one by one, a primary whose
  # replicas are still up waits for them (shutdown-timeout) on each TERM.
  for pid in ${pids[@]+"${pids[@]}"}; do stop_pid "$pid" & waits+=($!); done
  for pid in ${waits[@]+"${waits[@]}"}; do wait "$pid" || true; done
}

# The keeper: a long-lived process whose exit ends the lab (harness.py's
# watchdog watches it for B..B+5; it stops B+6..B+8 itself). It lives
# LAB_MAX_LIFE seconds at most, so a forgotten lab does not run forever.
start_keeper() {
  local i
  rm -f "$LAB_DIR/keeper.pid"
  setsid bash -c '
    echo $$ >"$LAB_DIR/keeper.pid"
    sleep "$1" & s=$!
    trap "kill \$s 2>/dev/null; \"$2\" _reap; exit 0" TERM INT HUP
    wait $s; "$2" _reap' "clusterc-lab-keeper $LAB_DIR" "$LAB_MAX_LIFE" "$self" \
    </dev/null >/dev/null 2>&1 &
  for i in $(seq 50); do [ -s "$LAB_DIR/keeper.pid" ] && break; sleep 0.1; done
  KEEPER=$(cat "$LAB_DIR/keeper.pid" 2>/dev/null) || die "the lab keeper did not start"
}

start_harness_cluster() {  # B..B+5, plain TCP
  say "start $HOST:$LAB_BASE..$((LAB_BASE + 5)): 3 primaries + 3 replicas (tests/cluster/harness.py)"
  python3 "$harness" start --dir "$LAB_DIR/cluster" --base "$LAB_BASE" --primaries 3 \
    --replicas 1 --owner-pid "$KEEPER" --max-life "$LAB_MAX_LIFE" \
    ${LAB_PASSWORD:+--password "$LAB_PASSWORD"} >"$LAB_DIR/harness.json"
  python3 -c '
import json, sys
for n in json.load(open(sys.argv[1]))["nodes"]:
    print("    127.0.0.1:%d pid %d %s%s" % (n["port"], n["pid"], "primary" if n["role"] == "master"
          else "replica", "" if n["role"] == "master" else " of 127.0.0.1:%s" % n["master_port"]))
' "$LAB_DIR/harness.json"
}

# LAB_TLS: harness.py speaks plain RESP only, so this script starts B..B+5
# itself (as it starts B+6 and B+7) and lets redis-cli create the cluster.
start_tls_cluster() {
  local port r addrs=()
  say "make throw-away TLS certificates in $TLS_DIR (examples/lab/tls-certs.sh)"
  "$root/examples/lab/tls-certs.sh" "$TLS_DIR" || die "tls-certs.sh failed (is openssl installed?)"
  echo "    CA ca.crt; server.crt for DNS:localhost, IP:127.0.0.1${LAB_TLS_MTLS:+; client.crt (mutual TLS)}"
  say "start $HOST:$LAB_BASE..$((LAB_BASE + 5)) over TLS only (port 0, tls-port, tls-cluster, tls-replication)"
  for port in $(seq "$LAB_BASE" $((LAB_BASE + 5))); do
    start_extra "$port" quiet
    addrs+=("$HOST:$port")
  done
  say "redis-cli --cluster create ${TLS_ARGS[*]} ${addrs[*]} --cluster-replicas 1"
  timeout 120 "$CLI" ${LAB_PASSWORD:+-a "$LAB_PASSWORD" --no-auth-warning} "${TLS_ARGS[@]}" \
    --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes \
    </dev/null >"$LAB_DIR/create.log" 2>&1 ||
    die "redis-cli --cluster create failed: $(tail -5 "$LAB_DIR/create.log")"
  wait_cluster_ok || die "the TLS cluster did not reach cluster_state:ok in 30 s"
  for port in "${addrs[@]##*:}"; do
    mapfile -t r < <(rcli "$port" role | tr -d '\r')   # master ... / slave HOST PORT ...
    if [ "${r[0]:-}" = master ]; then
      echo "    $HOST:$port pid $(extra_pid "$port") primary"
    else
      echo "    $HOST:$port pid $(extra_pid "$port") replica of $HOST:${r[2]:-?}"
    fi
  done
}

# -------------------------------------------------------------------- targets

t_cluster_up() {
  [ -f "$LAB_DIR/lab.env" ] && die "a lab is already recorded in $LAB_DIR (run cluster-down first)"
  [ -n "$ADMIN" ] || die "clusterc-admin not found (build it, or set CLUSTERC_ADMIN)"
  mkdir -p "$LAB_DIR"
  # A failure half-way stops whatever was started (`all` keeps its own trap).
  [ -n "${IN_ALL:-}" ] || trap 'echo "lab: cluster-up failed; stopping what it started" >&2; t_cluster_down >/dev/null 2>&1 || true' EXIT
  start_keeper
  printf 'LAB_BASE=%s\nKEEPER=%s\n' "$LAB_BASE" "$KEEPER" >"$LAB_DIR/lab.env"
  [ -z "$LAB_TLS" ] || printf 'LAB_TLS=1\nLAB_TLS_MTLS=%s\n' "${LAB_TLS_MTLS:-0}" >>"$LAB_DIR/lab.env"

  if [ -n "$LAB_TLS" ]; then start_tls_cluster; else start_harness_cluster; fi

  say "start $HOST:$P7 and $HOST:$P8: empty cluster-enabled servers, alone"
  start_extra "$P7"
  start_extra "$P8"

  say "add $HOST:$P7 to the cluster as a 4th primary (no slots yet)"
  admin add-node "$HOST:$P7" "$SEED"
  local new from count
  new=$(node_id "$P7")
  say "give $HOST:$P7 4096 slots: from each primary, what it holds beyond 4096"
  # 3 primaries with 5461/5462/5461 slots give 1365/1366/1365: 4096 in all.
  while read -r from count; do
    admin reshard "$SEED" --from "$from" --to "$new" --slots "$count"
  done < <(admin_quiet --json nodes "$SEED" | python3 -c '
import json, sys
for n in json.load(sys.stdin)["nodes"]:
    if n["role"] == "primary" and n["slots"] > 4096:
        print(n["id"], n["slots"] - 4096)')
  # Every node learns the new owners by gossip; wait until they agree so the
  # first check shows the one real problem (the unprotected primary).
  wait_config_agrees || echo "    (nodes still disagree on the slot map after 15 s)"
  say "the cluster now"
  admin info "$SEED"
  echo "($HOST:$P7 serves 4096 slots with no replica; $HOST:$P8 runs alone)"
  [ -n "${IN_ALL:-}" ] || trap - EXIT
}

t_cluster_info() { admin info "$SEED"; }

t_check() { admin check "$SEED"; }

# check, allowing the cluster a few seconds to settle first: right after an
# add-node or a failover the nodes may need a gossip round or two to agree.
# Quiet retries, then the last attempt printed. Returns check's status.
check_settled() {
  local i rc=0
  for i in $(seq "${LAB_SETTLE_S:-10}"); do
    rc=0
    admin_quiet check "$SEED" >/dev/null 2>&1 || rc=$?
    [ "$rc" = 0 ] && break
    sleep 1
  done
  rc=0
  t_check || rc=$?
  return "$rc"
}

primary_id() {  # PORT: its node id as clusterc-admin --json nodes lists it
  local id
  id=$(admin_quiet --json nodes "$SEED" | python3 -c '
import json, sys
want = sys.argv[1]
for n in json.load(sys.stdin)["nodes"]:
    if n["addr"] == want:
        print(n["id"])' "$HOST:$1")
  [ -n "$id" ] || id=$(node_id "$1")
  echo "$id"
}

t_load_data() {
  local keys=${LAB_KEYS:-200000} size=${LAB_VALUE_SIZE:-150}
  [ -n "$LOADER" ] || die "clusterc-lab-load not found (build it: cmake --build $BUILD_DIR --target clusterc-lab-load, or set CLUSTERC_LAB_LOAD)"
  say "load $keys keys of $size bytes over all 16384 slots: pipelined SETs through the library"
  echo "\$ clusterc-lab-load ${TLS_ARGS[*]+${TLS_ARGS[*]} }--seeds $SEED --keys $keys --value-size $size"
  "$LOADER" ${TLS_ARGS[@]+"${TLS_ARGS[@]}"} --seeds "$SEED" --keys "$keys" --value-size "$size" \
    --prefix "$LAB_PREFIX" --max-seconds 60
  if [ -f "$LAB_DIR/lab.env" ]; then printf 'LAB_KEYS=%s\n' "$keys" >>"$LAB_DIR/lab.env"; fi
}

# What a replica's initial sync moved: bytes the primary sent (RDB + the
# write stream), keys on both sides, offsets, and the replica's log lines.
sync_report() {  # PRIMARY_PORT REPLICA_PORT BYTES_SENT_BEFORE
  local pri=$1 rep=$2 sent log
  sent=$(( $(info_field "$pri" stats total_net_repl_output_bytes) - $3 ))
  say "what the initial sync moved"
  awk -v h="$HOST:$pri" -v b="$sent" 'BEGIN { printf "    %s sent %d bytes (%.1f MB) to its replicas in this step: INFO stats total_net_repl_output_bytes, the RDB, then the writes\n", h, b, b / 1e6 }'
  echo "    keys: $HOST:$pri $(rcli "$pri" dbsize), $HOST:$rep $(rcli "$rep" dbsize)"
  echo "    offsets: $HOST:$pri master_repl_offset:$(info_field "$pri" replication master_repl_offset)," \
       "$HOST:$rep slave_repl_offset:$(info_field "$rep" replication slave_repl_offset)"
  log=$(extra_dir "$rep")/redis.log
  if [ -f "$log" ]; then
    echo "    $HOST:$rep's log (redis.log):"
    { grep -E 'Full resync from master|receiving|Done loading RDB|sync: Finished|partial resynchronization with' "$log" || true; } |
      tail -4 | sed 's/^[0-9]*:S [0-9]* [A-Za-z]* [0-9]* /      /'
  fi
}

# With data loaded, a paced writer (clusterc-lab-load --rate) runs in the
# background while a replica joins: the sync moves the RDB and the writes.
start_writer() {  # sets WRITER (pid) and WRITER_LOG; nothing without data
  local keys=${LAB_WRITE_KEYS:-20000} rate=${LAB_WRITE_RATE:-5000}
  WRITER="" WRITER_LOG=$LAB_DIR/writer.log
  [ -n "$(lab_env_value LAB_KEYS)" ] && [ -n "$LOADER" ] && [ "$keys" -gt 0 ] || return 0
  say "meanwhile, writes keep coming: $keys keys rewritten at $rate/s in the background"
  echo "\$ clusterc-lab-load ${TLS_ARGS[*]+${TLS_ARGS[*]} }--seeds $SEED --keys $keys --rate $rate --round 1 --no-table &"
  "$LOADER" ${TLS_ARGS[@]+"${TLS_ARGS[@]}"} --seeds "$SEED" --keys "$keys" --rate "$rate" \
    --round 1 --prefix "$LAB_PREFIX" --no-table --max-seconds 30 >"$WRITER_LOG" 2>&1 &
  WRITER=$!
}
wait_writer() {
  [ -n "${WRITER:-}" ] || return 0
  wait "$WRITER" || echo "    (the background writer exited $?)"
  echo "    background writer: $(cat "$WRITER_LOG")"
  WRITER=""
}

t_scale_add_replica() {
  local id before rc=0
  say "find $HOST:$P7's node id (clusterc-admin --json nodes)"
  id=$(primary_id "$P7")
  echo "    $HOST:$P7 is $id"
  before=$(info_field "$P7" stats total_net_repl_output_bytes)
  start_writer
  say "add $HOST:$P8 as its replica: MEET, wait for the join, REPLICATE, initial sync"
  admin add-node "$HOST:$P8" "$SEED" --replica --master-id "$id" || rc=$?
  wait_writer
  [ "$rc" = 0 ] || return "$rc"
  sync_report "$P7" "$P8" "${before:-0}"
}

t_scale_add_second_replica() {
  local pri id before
  pri=$P7
  if [ "$(info_field "$P7" replication role)" = slave ]; then pri=$P8; fi   # after a failover
  say "start $HOST:$P9, an empty cluster-enabled server"
  extra_alive "$P9" && die "$HOST:$P9 is running already (cluster-down, or remove-node it first)"
  start_extra "$P9"
  id=$(primary_id "$pri")
  before=$(info_field "$pri" stats total_net_repl_output_bytes)
  say "add $HOST:$P9 as a second replica of $HOST:$pri ($id)"
  admin add-node "$HOST:$P9" "$SEED" --replica --master-id "$id"
  sync_report "$pri" "$P9" "${before:-0}"
  say "$HOST:$pri now has two replicas"
  admin replication "$HOST:$pri"
  say "check"
  check_settled
}

t_replication() {
  say "replication seen from the new replica (and its primary's slave line)"
  admin replication "$HOST:$P8"
  say "replication seen from the primary (and each replica's link)"
  admin replication "$HOST:$P7"
}

t_lag() { admin lag "$SEED"; }

t_read_from_replicas() {
  local keys args
  if [ -z "$READ_ROUTING" ]; then
    echo "clusterc-read-routing is not built; skipping (cmake --build $BUILD_DIR --target clusterc-read-routing)"
    return 0
  fi
  keys=$(lab_env_value LAB_KEYS)
  if [ -n "${LAB_READ_ARGS:-}" ]; then
    args=$LAB_READ_ARGS
  elif [ -n "$keys" ]; then   # the loaded keys; each node's own GET count (CONFIG RESETSTAT first)
    args="--prefix $LAB_PREFIX --keys $keys --no-write -n ${LAB_READS:-20000} --policy read_only,random,latency --verify"
  else
    args="-n 2000 --keys 200"
  fi
  echo "\$ clusterc-read-routing ${TLS_ARGS[*]+${TLS_ARGS[*]} }--seeds $SEED $args"
  # shellcheck disable=SC2086
  "$READ_ROUTING" ${TLS_ARGS[@]+"${TLS_ARGS[@]}"} --seeds "$SEED" $args
}

t_stale_reads() {
  local pairs=${LAB_STALE_PAIRS:-10000}
  if [ -z "$READ_ROUTING" ]; then
    echo "clusterc-read-routing is not built; skipping (cmake --build $BUILD_DIR --target clusterc-read-routing)"
    return 0
  fi
  echo "\$ clusterc-read-routing ${TLS_ARGS[*]+${TLS_ARGS[*]} }--seeds $SEED --policy none --stale $pairs --prefix $LAB_PREFIX"
  "$READ_ROUTING" ${TLS_ARGS[@]+"${TLS_ARGS[@]}"} --seeds "$SEED" --policy none --stale "$pairs" \
    --prefix "$LAB_PREFIX"
}

t_failover() {
  local node=${LAB_FAILOVER_NODE:-$HOST:$P8}
  admin failover "$node" ${LAB_FAILOVER_MODE:+"--$LAB_FAILOVER_MODE"}
  admin info "$SEED"
}

t_watch_cluster() {
  admin watch "$SEED" ${LAB_WATCH_COUNT:+--count "$LAB_WATCH_COUNT"}
}

t_kill_node() {
  local port=${1:-} pid
  [ -n "$port" ] || die "kill-node needs a PORT"
  if [ -f "$(extra_dir "$port")/redis.conf" ]; then   # B+6, B+7 (all with LAB_TLS)
    pid=$(extra_pid "$port")
    is_our_server "$pid" "$(extra_dir "$port")" || die "$HOST:$port is not running"
    kill -KILL "$pid"
  else
    python3 "$harness" kill --dir "$LAB_DIR/cluster" --port "$port"
  fi
  echo "killed $HOST:$port"
}

wait_config_agrees() {  # clusterc-admin check: config agrees, no open slots, state ok
  local i out
  for i in $(seq 75); do
    # check exits 1 while 7007 is unprotected, which is expected here: with
    # pipefail, piping it straight into python would never succeed.
    out=$(admin_quiet --json check "$SEED" 2>/dev/null || true)
    if printf '%s' "$out" | python3 -c '
import json, sys
r = json.load(sys.stdin)
sys.exit(0 if r.get("config_agrees") and r.get("cluster_state_ok") and not r.get("open_slots") else 1)' 2>/dev/null
    then return 0; fi
    sleep 0.2
  done
  return 1
}

wait_cluster_ok() {  # every live node says cluster_state:ok and replicas are linked
  local i port ok
  for i in $(seq 150); do
    ok=1
    for port in $(seq "$LAB_BASE" "$P9"); do
      rcli "$port" ping >/dev/null 2>&1 || continue
      rcli "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || { ok=0; break; }
      if rcli "$port" role 2>/dev/null | head -1 | grep -q slave; then
        rcli "$port" info replication 2>/dev/null | grep -q '^master_link_status:up' || { ok=0; break; }
      fi
    done
    [ "$ok" = 1 ] && return 0
    sleep 0.2
  done
  return 1
}

harness_down_ports() {  # the dead nodes of B..B+5 when harness.py runs them
  [ -f "$LAB_DIR/cluster/state.json" ] || return 0
  python3 -c '
import json, sys
print(" ".join(str(n["port"]) for n in json.load(sys.stdin)["nodes"] if n["role"] == "down"))' \
    < <(python3 "$harness" info --dir "$LAB_DIR/cluster")
}

t_recover() {
  local port
  [ -f "$LAB_DIR/lab.env" ] || die "no lab in $LAB_DIR"
  say "restart the lab's dead nodes"
  for port in $(harness_down_ports); do
    python3 "$harness" restart --dir "$LAB_DIR/cluster" --port "$port" >/dev/null
    echo "    restarted $HOST:$port"
  done
  for port in $(seq "$LAB_BASE" "$P9"); do
    if [ -f "$(extra_dir "$port")/redis.conf" ] && ! extra_alive "$port"; then
      start_extra "$port"
    fi
  done
  say "wait until every node says cluster_state:ok and replicas are linked"
  wait_cluster_ok || echo "    (still not ok after 30 s; the check below says why)"
  if rcli "$P7" role 2>/dev/null | head -1 | grep -q slave; then
    say "$HOST:$P7 came back as a replica: fail back so it is the primary again"
    admin failover "$HOST:$P7"
    wait_cluster_ok || true
  fi
  say "re-check"
  check_settled
}

t_reap() {  # the keeper's exit: stop B+6..B+8 (the harness stops the rest; with LAB_TLS, all)
  stop_extras
}

t_cluster_down() {
  local keeper=""
  say "stop the lab in $LAB_DIR"
  stop_extras
  if [ -f "$LAB_DIR/cluster/state.json" ]; then
    python3 "$harness" stop --dir "$LAB_DIR/cluster" || true
  fi
  [ -f "$LAB_DIR/keeper.pid" ] && keeper=$(cat "$LAB_DIR/keeper.pid")
  if is_our_keeper "$keeper"; then stop_pid "$keeper"; fi
  if [ -f "$LAB_DIR/lab.env" ] || [ -f "$LAB_DIR/keeper.pid" ]; then
    rm -rf "$LAB_DIR"
  fi
  echo "    stopped"
}

t_all() {
  local before=0 after=0
  IN_ALL=1
  trap 't_cluster_down >/dev/null 2>&1 || true' EXIT
  t_cluster_up
  t_load_data
  say "check (before): $HOST:$P7 serves 4096 slots with no replica"
  t_check || before=$?
  echo "(check exit status: $before)"
  t_scale_add_replica
  say "check (after)"
  # The replica's link is up when add-node returns; the other nodes may
  # need a gossip round to list it: check_settled allows a few seconds.
  check_settled || after=$?
  echo "(check exit status: $after)"
  t_replication
  say "lag"
  t_lag
  say "read from the replicas: the loaded keys, under read_only, route_randomly, route_by_latency"
  t_read_from_replicas
  say "the read_only caution: a read right after a write may be stale; read_your_writes"
  t_stale_reads
  t_cluster_down
  trap - EXIT
  if [ "$before" != 1 ] || [ "$after" != 0 ]; then
    echo "lab: expected check to exit 1 before and 0 after; got $before and $after" >&2
    return 1
  fi
  echo
  echo "lab complete: $HOST:$P7 went from unprotected to protected by $HOST:$P8"
}

# The trouble-* targets (examples/lab/lab_trouble.sh) use the helpers above.
# shellcheck source=examples/lab/lab_trouble.sh
. "$root/examples/lab/lab_trouble.sh"

usage() { sed -n '2,/^set -euo/p' "$self" | sed '$d; s/^# \{0,1\}//'; }

[ $# -gt 0 ] || { usage; exit 2; }
while [ $# -gt 0 ]; do
  target=$1; shift
  case $target in
    cluster-up) t_cluster_up ;;
    cluster-info|info) t_cluster_info ;;
    check) t_check ;;
    scale-add-replica) t_scale_add_replica ;;
    replication) t_replication ;;
    lag) t_lag ;;
    load-data) t_load_data ;;
    read-from-replicas) t_read_from_replicas ;;
    stale-reads) t_stale_reads ;;
    scale-add-second-replica) t_scale_add_second_replica ;;
    trouble-wrong-primary) t_trouble_wrong_primary ;;
    trouble-link-down) t_trouble_link_down ;;
    trouble-slow-sync) t_trouble_slow_sync ;;
    failover) t_failover ;;
    watch-cluster|watch) t_watch_cluster ;;
    kill-node) t_kill_node "${1:-}"; if [ $# -gt 0 ]; then shift; fi ;;
    recover) t_recover ;;
    cluster-down) t_cluster_down ;;
    all) t_all ;;
    _reap) t_reap ;;
    -h|--help|help) usage; exit 0 ;;
    *) echo "lab: unknown target '$target'" >&2; usage >&2; exit 2 ;;
  esac
done
