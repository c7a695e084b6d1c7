# shellcheck shell=bash disable=SC2154  # sourced by lab.sh: $HOST, $P7... are its
# examples/lab/lab_trouble.sh -- the lab's troubleshooting targets, sourced by
# examples/lab/lab.sh (they use its helpers: rcli, admin, info_field, ...).
# Each one reproduces a problem on the running lab, shows how it looks
# (clusterc-admin check / replication / watch, INFO replication), then fixes
# it and checks again; the exit status is the final check's. They act on
# B+6's shard: its primary (B+6, or B+7 after a failover) and that replica.
#
#   trouble-wrong-primary  the replica is made to follow another primary
#                          (CLUSTER REPLICATE with the wrong id); fixed with
#                          clusterc-admin replicate NODE RIGHT_ID
#   trouble-link-down      the primary is frozen (SIGSTOP) with the replica's
#                          failover off and repl-timeout 3: the replica shows
#                          master_link_status:down (and the cluster FAIL: its
#                          slots have no live owner); SIGCONT, then PSYNC
#                          continues where it stopped
#   trouble-slow-sync      the primary gets rdb-key-save-delay
#                          (LAB_SLOW_DELAY_US, 200 µs a key) and the replica is
#                          restarted without its data (its dump.rdb removed, as
#                          on a new disk: a full sync); watched with
#                          clusterc-admin watch (LAB_SLOW_WATCH refreshes, 4);
#                          fixed: the delay back to 0 and the transfer restarted

lab_pair() {  # sets PRI and REP: B+6's shard's primary and its replica B+7 (or B+6)
  PRI=$P7 REP=$P8
  if [ "$(info_field "$P7" replication role)" = slave ]; then PRI=$P8 REP=$P7; fi
  if ! extra_alive "$PRI" || ! extra_alive "$REP"; then
    die "$HOST:$P7 and $HOST:$P8 must both run (cluster-up, scale-add-replica; recover)"
  fi
  [ "$(info_field "$REP" replication master_port)" = "$PRI" ] ||
    die "$HOST:$REP does not replicate $HOST:$PRI (run scale-add-replica first)"
}

replica_ports() {  # PORT: the ports of its replicas (its slaveN lines)
  rcli "$1" info replication | tr -d '\r' | sed -n 's/^slave[0-9]*:.*,port=\([0-9]*\),.*/\1/p'
}

all_see_primary() {  # PORT ID: every lab node that answers lists PORT as a replica of ID
  local port seen
  for port in $(seq "$LAB_BASE" "$P9"); do
    seen=$(rcli "$port" cluster nodes 2>/dev/null |
           awk -v a="$HOST:$1@" 'index($2, a) == 1 { print $4 }') || continue
    [ -z "$seen" ] || [ "$seen" = "$2" ] || return 1
  done
}

wait_link() {  # PORT up|down SECONDS: until INFO replication says master_link_status:STATE
  for _ in $(seq $(($3 * 5))); do
    [ "$(info_field "$1" replication master_link_status)" = "$2" ] && return 0
    sleep 0.2
  done
  return 1
}

show_repl() {  # PORT FIELD...: those INFO replication lines, as redis-cli prints them
  local port=$1 re
  shift
  re=$(IFS='|'; echo "$*")
  echo "\$ redis-cli -p $port INFO replication"
  rcli "$port" info replication | tr -d '\r' | grep -E "^($re):" | sed 's/^/    /' || true
}

t_trouble_wrong_primary() {
  local right wrong wport
  lab_pair
  right=$(primary_id "$PRI")
  read -r wrong wport < <(admin_quiet --json nodes "$SEED" | python3 -c '
import json, sys
skip = sys.argv[1]
for n in json.load(sys.stdin)["nodes"]:
    if n["role"] == "primary" and n["slots"] > 0 and n["addr"] != skip:
        print(n["id"], n["addr"].rsplit(":", 1)[1]); break' "$HOST:$PRI") || true
  [ -n "${wrong:-}" ] || die "no other primary found"
  say "reproduce: $HOST:$REP is told to follow $HOST:$wport (its id typed for $HOST:$PRI's)"
  echo "\$ redis-cli -p $REP CLUSTER REPLICATE $wrong"
  rcli "$REP" cluster replicate "$wrong"
  for _ in $(seq 150); do   # its full sync from the wrong primary, then gossip to every node
    [ "$(info_field "$REP" replication master_port)" = "$wport" ] &&
      [ "$(info_field "$REP" replication master_link_status)" = up ] &&
      all_see_primary "$REP" "$wrong" && break
    sleep 0.2
  done
  say "the symptom: $HOST:$REP replicates $HOST:$wport, and $HOST:$PRI lost its replica"
  admin check "$SEED" || echo "(check exit status: $?)"
  show_repl "$REP" role master_port master_link_status
  say "fix: clusterc-admin replicate, with $HOST:$PRI's id (CLUSTER REPLICATE, then wait for the link)"
  admin replicate "$HOST:$REP" "$right"
  say "check"
  check_settled
}

t_trouble_link_down() {
  local pid timeout port reps rc=0
  lab_pair
  pid=$(extra_pid "$PRI")
  is_our_server "$pid" "$(extra_dir "$PRI")" || die "$HOST:$PRI is not running"
  timeout=$(rcli "$REP" config get repl-timeout | tr -d '\r' | sed -n 2p)
  reps=$(replica_ports "$PRI")
  say "reproduce: freeze $HOST:$PRI (SIGSTOP); its replicas may not take over, and give up on a silent link after 3 s"
  for port in $reps; do   # B+8 too, after scale-add-second-replica
    echo "\$ redis-cli -p $port CONFIG SET cluster-replica-no-failover yes; CONFIG SET repl-timeout 3"
    rcli "$port" config set cluster-replica-no-failover yes >/dev/null
    rcli "$port" config set repl-timeout 3 >/dev/null
  done
  echo "\$ kill -STOP $pid   # $HOST:$PRI"
  # Whatever happens next, the primary is not left frozen.
  trap 'kill -CONT '"$pid"' 2>/dev/null || true' EXIT
  kill -STOP "$pid"
  wait_link "$REP" down 20 || { echo "    (the link still looks up after 20 s)"; rc=1; }
  say "the symptom: the replica's link is down; the primary's slots have no live owner"
  show_repl "$REP" role master_port master_link_status master_last_io_seconds_ago \
    master_link_down_since_seconds slave_repl_offset
  # The link drops after repl-timeout; the cluster marks the primary FAIL
  # only after the node timeout and a majority's reports: wait for that.
  for _ in $(seq 1 75); do
    rcli "$LAB_BASE" cluster info | tr -d '\r' | grep -q '^cluster_state:fail$' && break
    sleep 0.2
  done
  echo "\$ redis-cli -p $LAB_BASE CLUSTER INFO"
  rcli "$LAB_BASE" cluster info | tr -d '\r' | grep -E '^cluster_(state|slots_ok|slots_fail|slots_pfail):' | sed 's/^/    /'
  admin --timeout 1000 check "$SEED" | grep -E "^\\$|$HOST:($PRI|$REP)|covered|^check:" || true
  say "fix: SIGCONT; the replica reconnects and continues (PSYNC), its settings restored"
  echo "\$ kill -CONT $pid"
  kill -CONT "$pid"
  trap - EXIT
  wait_link "$REP" up 30 || { echo "    (the link is not up after 30 s)"; rc=1; }
  show_repl "$REP" master_link_status slave_repl_offset
  grep -E 'partial resynchronization|Partial Resynchronization|Full resync' \
    "$(extra_dir "$REP")/redis.log" | tail -2 | sed 's/^[0-9]*:S [0-9]* [A-Za-z]* [0-9]* /    /' || true
  # Failover back on only once every node has cleared the primary's FAIL
  # flag: a replica that still sees it failed would take over at once.
  wait_cluster_ok || { echo "    (the cluster is not ok after 30 s)"; rc=1; }
  for port in $reps; do
    rcli "$port" config set repl-timeout "${timeout:-60}" >/dev/null
    rcli "$port" config set cluster-replica-no-failover no >/dev/null
  done
  if [ "$(info_field "$PRI" replication role)" = master ]; then
    echo "    $HOST:$PRI is still the primary, $HOST:$REP its replica; failover settings restored"
  else
    echo "    $HOST:$PRI is no longer the primary (a failover happened)"; rc=1
  fi
  say "check"
  check_settled || rc=$?
  return "$rc"
}

t_trouble_slow_sync() {
  local delay=${LAB_SLOW_DELAY_US:-200} keys pid rc=0 t0
  lab_pair
  keys=$(rcli "$PRI" dbsize)
  say "reproduce: rdb-key-save-delay $delay µs a key on $HOST:$PRI ($keys keys: a full sync of $((keys * delay / 1000000))+ s)"
  echo "\$ redis-cli -p $PRI CONFIG SET rdb-key-save-delay $delay"
  rcli "$PRI" config set rdb-key-save-delay "$delay" >/dev/null
  trap 'rcli '"$PRI"' config set rdb-key-save-delay 0 >/dev/null 2>&1 || true' EXIT
  say "restart $HOST:$REP without its data (as on a new disk): it needs a full sync"
  pid=$(extra_pid "$REP")
  is_our_server "$pid" "$(extra_dir "$REP")" && stop_pid "$pid"
  # A replica keeps the RDB of its last full sync as dump.rdb; with it, it
  # would come back with its replication id and offset and continue (PSYNC).
  echo "\$ rm $(extra_dir "$REP")/dump.rdb"
  rm -f "$(extra_dir "$REP")/dump.rdb"
  start_extra "$REP"
  t0=$(date +%s)
  say "watch it: clusterc-admin watch (${LAB_SLOW_WATCH:-4} refreshes)"
  admin watch "$SEED" --count "${LAB_SLOW_WATCH:-4}" | cat   # | cat: a transcript, not a cleared screen
  show_repl "$REP" master_link_status master_sync_in_progress master_sync_read_bytes \
    master_sync_last_io_seconds_ago
  echo "\$ redis-cli -p $PRI INFO replication"
  rcli "$PRI" info replication | tr -d '\r' | grep -E "^slave[0-9]+:" | sed 's/^/    /' || true
  say "fix: the delay back to 0, then restart the transfer (the fork that sends it kept the old delay)"
  echo "\$ redis-cli -p $PRI CONFIG SET rdb-key-save-delay 0"
  rcli "$PRI" config set rdb-key-save-delay 0 >/dev/null
  trap - EXIT
  echo "\$ redis-cli -p $PRI CLIENT KILL TYPE replica   # its replicas reconnect at once"
  rcli "$PRI" client kill type replica
  wait_link "$REP" up 60 || { echo "    (the link is not up after 60 s)"; rc=1; }
  echo "    $HOST:$REP in sync $(($(date +%s) - t0)) s after its restart; keys: $HOST:$PRI $(rcli "$PRI" dbsize), $HOST:$REP $(rcli "$REP" dbsize)"
  grep -E 'Done loading RDB|sync: Finished' "$(extra_dir "$REP")/redis.log" | tail -2 |
    sed 's/^[0-9]*:S [0-9]* [A-Za-z]* [0-9]* /    /' || true
  say "check"
  check_settled || rc=$?
  return "$rc"
}
