# tests/deps.sh -- sourced by tests/run.sh and examples/lab/demo.sh: install
# the Debian packages the build, the tests and the lab need, when missing
# (as root; apt-get update once, only if something is missing).
clusterc_packages=(libhiredis-dev libevent-dev libcmocka-dev libssl-dev openssl redis-server redis-tools cmake
                   pkg-config gcc clang valgrind python3 strace golang-go python3-redis
                   libclang-rt-14-dev libfuzzer-14-dev)

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

# The hiredis 1.x API without replacing Debian's hiredis 0.14: bookworm-backports
# has hiredict 1.3.1 (a hiredis 1.2 fork) with hiredis compatibility headers,
# which conflict with libhiredis-dev. So the packages are downloaded and
# unpacked under $1 (not installed), and a hiredis.pc pointing there is
# written to $1/pkgconfig. Prints that directory for PKG_CONFIG_PATH.
clusterc_hiredict_unpack() {
  local dir=$1 arch deb
  arch=$(gcc -print-multiarch 2>/dev/null)
  [ -n "$arch" ] || arch=x86_64-linux-gnu
  if [ ! -f "$dir/pkgconfig/hiredis.pc" ]; then
    mkdir -p "$dir/debs" "$dir/root" "$dir/pkgconfig"
    (cd "$dir/debs" && apt-get download -q -t bookworm-backports \
       libhiredict-shims-dev libhiredict-dev libhiredict1.3.1 >&2) || return 1
    for deb in "$dir"/debs/*.deb; do dpkg-deb -x "$deb" "$dir/root"; done
    cat > "$dir/pkgconfig/hiredis.pc" <<PC
prefix=$dir/root/usr
libdir=\${prefix}/lib/$arch
includedir=\${prefix}/include
Name: hiredis
Description: the hiredis 1.x API (hiredict compatibility headers), unpacked for the tests
Version: 1.3.1
Libs: -L\${libdir} -lhiredict
Cflags: -I\${includedir}/hiredis -I\${includedir} -D_FILE_OFFSET_BITS=64
PC
  fi
  echo "$dir/pkgconfig"
}
