# tests/deps.sh -- sourced by tests/run.sh and examples/lab/demo.sh: install
# the Debian packages the build, the tests and the lab need, when missing
# (as root; apt-get update once, only if something is missing).
clusterc_packages=(libhiredis-dev libevent-dev libcmocka-dev redis-server redis-tools cmake
                   pkg-config gcc clang valgrind python3 strace)

clusterc_install_deps() {
  command -v dpkg >/dev/null || return 0
  local missing=() p
  for p in "${clusterc_packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "missing packages (need root to install): ${missing[*]}" >&2
    return 1
  fi
  echo "== apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
}
