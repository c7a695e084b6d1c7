# shellcheck shell=bash disable=SC2154  # sourced: $out, $failures, $TLS... are lab_smoke.sh's
# tests/lab/lab_tls_checks.sh -- sourced by lab_smoke.sh when LAB_TLS=1,
# while the lab runs over TLS: the servers refuse plain text, the lab's C
# programs refuse what they should with a reason in words, and replica
# reads work over TLS, with the flags and with a rediss:// URL.
# Uses lab_smoke.sh's step, expect, $out, $failures, $TLS, $LAB_DIR.

tls_dir=$LAB_DIR/tls
seed=127.0.0.1:$LAB_BASE
cli=${CLUSTERC_TEST_CLI:-redis-cli}

refused() {  # refused DESCRIPTION REGEX ARGS...: clusterc-admin exits 2 quickly, says why
  local what=$1 re=$2 rc t0 t1; shift 2
  echo "---- clusterc-admin ${*:-(no TLS flags)} (expect exit 2: $what)"
  t0=$(date +%s)
  timeout 60 "$CLUSTERC_ADMIN" --timeout 2000 "$@" info "$seed" >"$out" 2>&1
  rc=$?
  t1=$(date +%s)
  cat "$out"
  if [ "$rc" != 2 ]; then
    echo "FAIL: $what: exit $rc, expected 2"; failures=$((failures + 1))
  elif [ $((t1 - t0)) -gt 20 ]; then
    echo "FAIL: $what: took $((t1 - t0)) s"; failures=$((failures + 1))
  fi
  expect "$re"
}

echo "---- the nodes speak TLS only (port 0)"
if [ "$("$cli" -h 127.0.0.1 -p "$LAB_BASE" ping 2>/dev/null)" = PONG ]; then
  echo "FAIL: a plain-text PING got PONG"; failures=$((failures + 1))
else
  echo "ok: plain-text redis-cli gets no PONG"
fi
if [ "$("$cli" -h 127.0.0.1 -p "$LAB_BASE" "${TLS[@]}" ping 2>/dev/null)" = PONG ]; then
  echo "ok: redis-cli ${TLS[*]} ping: PONG"
else
  echo "FAIL: redis-cli over TLS got no PONG"; failures=$((failures + 1))
fi
if "$cli" -h 127.0.0.1 -p "$LAB_BASE" "${TLS[@]}" config get tls-cluster | grep -qx yes; then
  echo "ok: tls-cluster yes"
else
  echo "FAIL: tls-cluster is not on"; failures=$((failures + 1))
fi

# The reasons are the library's words: each must name the node and, where
# TLS says why, the reason.
refused "no TLS against a TLS port" '127\.0\.0\.1:[0-9]+' ${LAB_PASSWORD:+--password "$LAB_PASSWORD"}
refused "an unknown CA" '(unknown CA|certificate verify failed)' --tls --cacert "$tls_dir/other-ca.crt"
refused "a host name mismatch" '(host ?name mismatch)' \
  "${TLS[@]}" --sni wrong.example
if [ "${LAB_TLS_MTLS:-}" = 1 ]; then
  refused "mutual TLS without a client certificate" '127\.0\.0\.1:[0-9]+' \
    --tls --cacert "$tls_dir/ca.crt"
fi

echo "---- clusterc-admin --insecure (no verification) still connects"
insecure=(--tls --insecure)
[ "${LAB_TLS_MTLS:-}" = 1 ] && insecure+=(--cert "$tls_dir/client.crt" --key "$tls_dir/client.key")
if "$CLUSTERC_ADMIN" "${insecure[@]}" info "$seed" >"$out" 2>&1; then
  echo "ok: exit 0"
else
  cat "$out"; echo "FAIL: --insecure info failed"; failures=$((failures + 1))
fi

if [ -n "${CLUSTERC_READ_ROUTING:-}" ]; then
  export LAB_READ_ARGS="-n 2000 --keys 200"
  step 0 read-from-replicas
  expect "^\\\$ clusterc-read-routing --tls --cacert "
  for policy in master read_only random latency; do
    expect "^$policy: 2000 reads in [0-9.]+ s, 0 failed"
  done
  # A replica served reads under read_only: a replica row with reads > 0.
  expect "^  127\\.0\\.0\\.1:[0-9]+ +replica +[0-9]+ +[1-9][0-9]* "

  url="rediss://127.0.0.1:$LAB_BASE?tls_ca_file=$tls_dir/ca.crt&read_only=true"
  [ "${LAB_TLS_MTLS:-}" = 1 ] &&
    url="$url&tls_cert_file=$tls_dir/client.crt&tls_key_file=$tls_dir/client.key"
  [ -n "${LAB_PASSWORD:-}" ] && url="rediss://:$LAB_PASSWORD@${url#rediss://}"
  echo "---- clusterc-read-routing --seeds rediss://... --policy read_only"
  if timeout 120 "$CLUSTERC_READ_ROUTING" --seeds "$url" --policy read_only -n 500 --keys 50 \
       >"$out" 2>&1; then
    cat "$out"
    expect "^read_only: 500 reads in [0-9.]+ s, 0 failed"
  else
    cat "$out"; echo "FAIL: clusterc-read-routing with a rediss:// URL failed"
    failures=$((failures + 1))
  fi
fi
