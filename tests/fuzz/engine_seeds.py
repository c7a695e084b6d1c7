#!/usr/bin/env python3
"""Seeds for fuzz_engine (tests/fuzz/corpus/engine/).

  python3 tests/fuzz/engine_seeds.py HARNESS [--out tests/fuzz/corpus/engine]

HARNESS is a built fuzz_engine (build-fuzz/tests/fuzz/fuzz_engine). Each
seed is an input in its format (tests/fuzz/fuzz_engine.c): an option byte,
a program byte, then server replies as [len][bytes] chunks, and [0][h]
where time passes. The replies are real ones where the captures have them
(tests/fuzz/corpus/: CLUSTER SHARDS and SLOTS, COMMAND INFO, INFO
replication, CLUSTER NODES, the redirect texts, fan-out replies, from
redis-server 7.0 and valkey 8; their ports 23400..23405 moved to the
harness's 24901..24906) and typical ones otherwise.

Which request the client sends next depends on the program, the options
and the replies so far, so the script asks the harness: it runs HARNESS on
the seed built so far with FUZZ_ENGINE_TRACE=1 and answers the request its
"[srv] next:" line names, by command name (reply_for) unless the seed's
script says what to answer. python3 stdlib only.
"""
import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

# byte 0 and byte 1 of an input (fuzz_engine.c)
READ_ONLY, RANDOMLY, LATENCY = 1, 2, 3
RYW, SPLIT, CANNED, VARIANT, SLOTS_ONLY, PASSWORD = 4, 8, 16, 32, 64, 128
RETRIES_0, RETRIES_1, RETRIES_3 = 0x10, 0x20, 0x30
NO_REDIRECTS, EVENTS = 0x40, 0x80
PROGS = ["basic", "pipeline", "multikey", "reads", "routes", "fanout", "tx", "blocking",
         "to-node", "chain", "free-in-callback", "scan", "pubsub", "scripts", "drain", "mix"]


def captured(path):
    """A captured reply, its cluster moved to the harness's ports."""
    with open(os.path.join(CORPUS, path), "rb") as f:
        data = f.read()
    return re.sub(rb"(?<![0-9])([12])34(0[0-5])(?![0-9])",
                  lambda m: b"%s49%02d" % (m.group(1), int(m.group(2)) + 1), data)


def bulk(s):
    s = s if isinstance(s, bytes) else s.encode()
    return b"$%d\r\n%s\r\n" % (len(s), s)


def arr(*items):
    return b"*%d\r\n" % len(items) + b"".join(items)


OK = b"+OK\r\n"
NIL = b"$-1\r\n"
SHA = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"


def err(text):
    return b"-" + (text if isinstance(text, bytes) else text.encode()) + b"\r\n"


def command_info(tag):
    """COMMAND's reply as the captured COMMAND INFO of four commands whose
    key rules differ (the whole table is 100+ KB, the 25-command capture
    14 KB: either would set libFuzzer's -max_len for every input)."""
    entries = [captured("cmdtable/%s-command-info-%s" % (tag, c))[len(b"*1\r\n"):]
               for c in ("get", "eval", "xreadgroup", "config")]
    return b"*%d\r\n" % len(entries) + b"".join(entries)


def cluster_nodes(port):
    """CLUSTER NODES as the node at port tells it (myself moved there)."""
    out = []
    for line in captured("cluster_nodes/redis7-cluster-nodes").split(b"\n"):
        f = line.split(b" ")
        if len(f) > 2:
            f[2] = f[2].replace(b"myself,", b"")
            if f[1].startswith(b"127.0.0.1:%d@" % port):
                f[2] = b"myself," + f[2]
        out.append(b" ".join(f))
    return bulk(b"\n".join(out))


def reply_for(cmd, port):
    """A typical reply to the command the trace shows ("GET foo")."""
    a = cmd.split()
    name = a[0].upper()
    sub = a[1].upper() if len(a) > 1 else ""
    nkeys = len(a) - 1
    if name == "CLUSTER" and sub == "SHARDS":
        return captured("topology_shards/redis7-cluster-shards")
    if name == "CLUSTER" and sub == "SLOTS":
        return captured("topology_slots/redis7-cluster-slots")
    if name == "CLUSTER" and sub == "NODES":
        return cluster_nodes(port)
    if name == "COMMAND":
        return err("ERR unknown command 'COMMAND', with args beginning with: ")
    if name == "INFO" and sub == "REPLICATION":
        return bulk(captured("info_repl/redis7-primary-info-replication"))
    if name == "INFO" and sub == "SERVER":
        return bulk("# Server\r\nvalkey_version:8.0.1\r\navailability_zone:az-%d\r\n"
                    % (1 if port <= 24904 else 2))
    if name == "INFO":
        return bulk("# Stats\r\ntotal_connections_received:7\r\n")
    if name in ("AUTH", "READONLY", "ASKING", "CLIENT", "SET", "MSET", "FLUSHALL", "MULTI",
                "DISCARD"):
        return OK
    if name == "PING":
        return b"+PONG\r\n"
    simple = {
        "GET": bulk("bar"), "INCR": b":1\r\n", "STRLEN": b":3\r\n", "DBSIZE": b":2\r\n",
        "ECHO": bulk(a[1] if nkeys else ""), "RANDOMKEY": bulk("k1"), "SCRIPT": bulk(SHA),
        "WAIT": b":1\r\n", "PUBLISH": b":1\r\n", "SPUBLISH": b":1\r\n", "EVAL": bulk("v"),
        "EVALSHA": err("NOSCRIPT No matching script. Please use EVAL."),
        "XADD": bulk("1700000000000-0"), "SORT": arr(bulk("a"), bulk("b")),
        "OBJECT": bulk("embstr"), "FCALL": err("ERR Function not found"),
        "HGETALL": arr(bulk("f"), bulk("v")), "LRANGE": arr(bulk("a"), bulk("b")),
        "ZRANGE": arr(bulk("m"), bulk("1")), "KEYS": arr(bulk("k1"), bulk("k2")),
        "BLPOP": arr(bulk("q1"), bulk("v")), "BRPOP": b"*-1\r\n",
        "EXEC": arr(OK, b":1\r\n"),
    }
    if name == "SCRIPT" and sub == "EXISTS":
        return arr(*[b":1\r\n"] * (nkeys - 1))
    if name in ("MGET",):
        return arr(*[bulk("v%d" % i) for i in range(nkeys)])
    if name in ("DEL", "EXISTS", "TOUCH"):
        return b":%d\r\n" % nkeys
    if name in ("XREAD",):
        return arr(arr(bulk("s1"), arr(arr(bulk("1-0"), arr(bulk("f"), bulk("v"))))))
    if name == "SCAN":
        return arr(bulk("0"), arr(bulk("k1"), bulk("k2")))
    if name in ("SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE"):
        return arr(bulk(name.lower()), bulk(a[1] if nkeys else ""), b":1\r\n")
    return simple.get(name, bulk("v"))


class Harness:
    def __init__(self, path):
        self.path = path
        self.failed = False
        self.log = ""

    def next_request(self, data):
        """(command, port) the next chunk would answer, or None."""
        tmp = os.path.join(os.environ.get("TMPDIR", "/tmp"), "engine-seed.%d" % os.getpid())
        with open(tmp, "wb") as f:
            f.write(data)
        env = dict(os.environ, FUZZ_ENGINE_TRACE="1")
        p = subprocess.run([self.path, tmp], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, check=False)
        os.unlink(tmp)
        self.failed = p.returncode != 0   # a finding; the trace still says what came next
        self.log = p.stderr.decode("latin-1")
        seen, nxt = {}, None
        for line in p.stderr.decode("latin-1").splitlines():
            m = re.match(r"\[srv\] conn \d+ \(:(\d+)\) <- #(\d+) (.*?)(  \(canned\))?$", line)
            if m:
                seen[m.group(2)] = (m.group(3), int(m.group(1)))
            m = re.match(r"\[srv\] next: #(\d+)$", line)
            if m:
                nxt = seen.get(m.group(1))
        return nxt


def chunks(reply):
    out = b""
    for i in range(0, len(reply), 255):
        part = reply[i:i + 255]
        out += bytes([len(part)]) + part
    return out


def build(h, b0, b1, script, limit=48):
    """script: replies for the next requests in turn (None: the typical
    one), ("tick", h): time passes; then typical replies to whatever the
    client still asks, up to limit replies."""
    data = bytes([b0, b1])
    script = list(script)
    answered = 0
    while answered < limit:
        step = script.pop(0) if script else None
        if isinstance(step, tuple):
            data += bytes([0, step[1]])
            continue
        nxt = h.next_request(data)
        if nxt is None:
            if script:
                continue
            break
        data += chunks(step if step is not None else reply_for(*nxt))
        answered += 1
    h.next_request(data)
    if h.failed:   # a seed must pass: a failing input belongs in regressions/
        sys.exit("the harness fails on this seed:\n" + h.log[-3000:])
    return data


MOVED = err("MOVED 3999 127.0.0.1:24902")
MOVED_NEW = err("MOVED 12182 127.0.0.1:24907")
MOVED_NAME = err("MOVED 12182 node-1.example:24901")
ASK = err("ASK 12182 127.0.0.1:24901")
TRYAGAIN = err(captured("redirect/static-tryagain"))
CLUSTERDOWN = err(captured("redirect/static-clusterdown"))
LOADING = err(captured("redirect/static-loading"))
MASTERDOWN = err(captured("redirect/static-masterdown"))
READONLY_ERR = err(captured("redirect/static-readonly"))
CROSSSLOT = err(captured("redirect/static-crossslot"))
UNKNOWN = err(captured("redirect/redis7-unknown-command"))
SHARDS_UNKNOWN = err("ERR unknown subcommand 'SHARDS'. Try CLUSTER HELP.")



def TICK(h):
    """Time passes: timers due within fuzz_engine.c's horizon_ms[h] fire
    (0: 0.5 s, 1: 2.5 s, 2: 5.5 s, 3: 17 s, 4: 31 s ... 7: 30 days)."""
    return ("tick", h)


C = CANNED | SPLIT
SEEDS = [
    # canned map: every program with typical replies
    *[("canned-p%02d-%s" % (p, PROGS[p]), C, p, [None, TICK(1)] if p == 11 else [], 24)
      for p in range(16)],
    # canned: options
    ("canned-reads-read-only", C | READ_ONLY, 3, []),
    ("canned-reads-randomly", C | RANDOMLY, 3, []),
    ("canned-reads-latency-probes", C | LATENCY, 3, [None, TICK(2), None, TICK(2)]),
    ("canned-reads-ryw-lag", C | READ_ONLY | RYW, 3, [None, TICK(2), None, None, TICK(2)]),
    ("canned-routes-read-only", C | READ_ONLY, 4, []),
    ("canned-basic-password-name", C | PASSWORD | VARIANT, 0, []),
    ("canned-reads-zones", C | READ_ONLY | VARIANT, 3, []),
    ("canned-basic-slots", C | SLOTS_ONLY, 0 | EVENTS, []),
    ("canned-multikey-nosplit", CANNED, 2, [CROSSSLOT, CROSSSLOT, CROSSSLOT]),
    # canned: redirects and retries
    ("canned-moved", C, 0 | EVENTS, [MOVED]),
    ("canned-moved-new-node", C, 0, [MOVED_NEW]),
    ("canned-moved-hostname", C, 0, [MOVED_NAME]),
    ("canned-ask", C, 0, [ASK]),
    ("canned-moved-no-redirects", C, 0 | NO_REDIRECTS, [MOVED]),
    ("canned-tryagain", C, 2, [TRYAGAIN, TICK(1)]),
    ("canned-clusterdown", C, 0, [CLUSTERDOWN, TICK(1), CLUSTERDOWN, TICK(2)]),
    ("canned-loading-replica", C | READ_ONLY, 3, [LOADING, MASTERDOWN, TICK(1)]),
    ("canned-readonly-error", C, 0, [None, READONLY_ERR, TICK(1)]),
    ("canned-retries-exhausted", C, 0 | RETRIES_1, [TRYAGAIN, TICK(2), TRYAGAIN]),
    ("canned-errors", C, 13, [UNKNOWN, err("WRONGTYPE Operation against a key holding "
                                            "the wrong kind of value")]),
    ("canned-pipeline-moved", C, 1, [MOVED, None, None, ASK]),
    ("canned-fanout-moved", C, 5, [MOVED, TRYAGAIN, TICK(1)]),
    ("canned-tx-moved", C, 6, [None, None, OK, b"+QUEUED\r\n", MOVED]),
    # canned: odd replies
    ("canned-scan-steps", C, 11, [None, TICK(1), None, None, TICK(1), None, None, TICK(1)], 12),
    ("canned-shapes", C, 0, [arr(arr(bulk("a"), b":1\r\n"), NIL, b"*-1\r\n", b"*0\r\n"),
                             bulk(b"\x00\r\n\xff" * 20), b":-9223372036854775808\r\n"]),
    ("canned-huge-bulk", C, 0, [b"$2147483647\r\nabc"], 1),
    ("canned-garbage", C, 0, [b"!garbage\r\n"], 1),
    ("canned-pubsub-messages", C, 12, [None, None, None,
                                       arr(bulk("message"), bulk("ch"), bulk("hello")),
                                       arr(bulk("pmessage"), bulk("p*"), bulk("px"),
                                           bulk("m")),
                                       arr(bulk("smessage"), bulk("sch"), bulk("s"))]),
    ("canned-timeouts", C, 7, [None, TICK(4)]),
    ("canned-long-wait", C, 15, [TICK(7)]),
    ("canned-chain-drain", C, 9, [None] * 14 + [TICK(4)]),
    # every request fuzzed: real maps and tables through the engine
    ("redis7-basic", SPLIT, 0, []),
    ("redis7-pipeline", SPLIT, 1, []),
    ("redis7-reads-read-only", SPLIT | READ_ONLY, 3, []),
    ("redis7-reads-ryw", SPLIT | READ_ONLY | RYW, 3,
     [None, None, None, TICK(2)]),
    ("redis7-slots-fallback", SPLIT, 0, [SHARDS_UNKNOWN,
                                         captured("topology_slots/redis7-cluster-slots")]),
    ("redis7-command-info", SPLIT, 5, [None, command_info("redis7")]),
    ("redis7-scan", SPLIT, 11, [None, None, None, TICK(1)], 12),
    ("redis7-blocking", SPLIT, 7, []),
    ("valkey8-zones", SPLIT | RANDOMLY | VARIANT, 3,
     [captured("topology_shards/valkey8-cluster-shards")]),
    ("valkey8-basic", SPLIT, 0, [captured("topology_shards/valkey8-cluster-shards")]),
    ("valkey8-routes", SPLIT | READ_ONLY, 4,
     [captured("topology_shards/valkey8-cluster-shards"),
      captured("cmdtable/valkey8-command-info-get")]),
    ("valkey8-slots", SPLIT, 2, [captured("topology_slots/valkey8-cluster-slots")]),
    ("redis7-map-truncated", SPLIT, 0,
     [captured("topology_shards/redis7-cluster-shards")[:600]], 1),
    ("redis7-map-empty", SPLIT, 0, [b"*0\r\n", TICK(1)]),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("harness")
    ap.add_argument("--out", default=os.path.join(CORPUS, "engine"))
    args = ap.parse_args()
    h = Harness(args.harness)
    os.makedirs(args.out, exist_ok=True)
    total = 0
    for name, b0, b1, script, *limit in SEEDS:
        data = build(h, b0, b1, script, *limit)
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(data)
        total += len(data)
        print("%-32s %6d bytes" % (name, len(data)))
    print("%d seeds, %d bytes" % (len(SEEDS), total))


if __name__ == "__main__":
    main()
