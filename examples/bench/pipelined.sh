#!/usr/bin/env bash
# pipelined.sh -- pipelined GET (the blocking face, P appended then P read)
# client CPU per GET, in interleaved rounds: this library, libvalkey's peer
# when installed, and clusterc-floor-bench, the same load with no client
# library (only its system calls): the floor any client has on this host.
# Each figure is getrusage of the whole child process (user, system,
# voluntary context switches), beside the CPU each program measures around
# its own loop; medians and ratios to libvalkey at the end.
#
#   examples/bench/pipelined.sh [ROUNDS]      (default 5)
#   Env: BUILD (/tmp/clusterc-pipelined-build), PORT (24080), N (1000000 GETs
#        per run), P (50), LIBVALKEY (an install prefix; default
#        /tmp/libvalkey/inst; its column is left out, saying so, when absent)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
rounds=${1:-5}
build=${BUILD:-/tmp/clusterc-pipelined-build}
port=${PORT:-24080}
n=${N:-1000000}
p=${P:-50}
peer_prefix=${LIBVALKEY:-/tmp/libvalkey/inst}
dir=$(mktemp -d /tmp/clusterc-pipelined-XXXXXX)

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCLUSTERC_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target clusterc-benchmark clusterc-floor-bench >/dev/null
# shellcheck source=examples/bench/peer.sh
. "$root/examples/bench/peer.sh"
clusterc_peer_build "$root" "$dir" "$peer_prefix"

clusterc_bench_cluster "$root" "$dir" "$port"
"$build/examples/clusterc-benchmark" -p "$port" -t get -n 1000 -d 3 -r 10000 -q >/dev/null

python3 - "$rounds" "$port" "$n" "$p" "$build/examples" "$peer" <<'EOF'
import resource, statistics, subprocess, sys
rounds, port, n, p, bindir, peer = sys.argv[1:7]
runs = {  # name: (command, CSV column of its own CPU µs per GET)
    "clusterc": ([bindir + "/clusterc-benchmark", "-p", port, "-t", "get", "-d", "3",
                  "-r", "10000", "--csv", "--no-latency", "--face", "sync", "-P", p,
                  "-n", n], 10),
    "libvalkey": ([peer, port, n, "-" + p, "10000"], 4),
    "floor": ([bindir + "/clusterc-floor-bench", port, n, p, "10000"], 4),
}
if not peer:
    del runs["libvalkey"]
got = {k: [] for k in runs}
print("%-10s %5s %8s %8s %8s %8s %9s" % ("", "round", "user µs", "sys µs", "total", "own", "vcsw/1k"))
for rnd in range(int(rounds)):
    for name, (cmd, col) in runs.items():
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        per = 1e6 / int(n)
        u = (after.ru_utime - before.ru_utime) * per
        s = (after.ru_stime - before.ru_stime) * per
        own = float(out.strip().splitlines()[-1].split(",")[col])
        vcsw = (after.ru_nvcsw - before.ru_nvcsw) * 1000 / int(n)
        got[name].append((u + s, own))
        print("%-10s %5d %8.3f %8.3f %8.3f %8.3f %9.1f" % (name, rnd + 1, u, s, u + s, own, vcsw))
print()
for name in runs:
    tot = statistics.median(t for t, _ in got[name])
    own = statistics.median(o for _, o in got[name])
    line = "%-10s median total %.3f µs, own %.3f" % (name, tot, own)
    if "libvalkey" in got and name != "libvalkey":
        r = [a[0] / b[0] for a, b in zip(got[name], got["libvalkey"])]
        line += "; to libvalkey, round by round %s, median %.2f" % (
            " ".join("%.2f" % x for x in r), statistics.median(r))
    print(line)
EOF
