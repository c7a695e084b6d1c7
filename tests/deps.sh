# tests/deps.sh -- sourced by tests/run.sh and examples/lab/demo.sh: install
# the Debian packages the build, the tests and the lab need, when missing
# (as root; apt-get update once, only if something is missing).
clusterc_packages=(libhiredis-dev libevent-dev libcmocka-dev redis-server redis-tools cmake
                   pkg-config gcc clang valgrind python3 strace golang-go)

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

# Valkey 8 for the *_valkey tests: Debian 12 has it in bookworm-backports.
# Best effort: without it those tests are simply not registered.
clusterc_install_valkey() {
  command -v valkey-server >/dev/null && return 0
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || return 0
  grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/ ||
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      > /etc/apt/sources.list.d/clusterc-backports.sources
  echo "== apt-get install -t bookworm-backports valkey-server"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q || return 0
  apt-get install -y -q --no-install-recommends -t bookworm-backports valkey-server </dev/null ||
    echo "valkey-server could not be installed; the Valkey runs are skipped" >&2
}
