#!/usr/bin/env python3
"""Capture seed corpora for the fuzz harnesses from a running cluster.

  tests/fuzz/capture.py --port P --tag NAME [--out tests/fuzz/corpus]

Talks RESP over a plain socket (python3 stdlib only) to the cluster node at
127.0.0.1:P (a primary, with at least one other primary and a replica) and
writes one small file per reply under OUT/<harness>/<tag>-<what>:
raw RESP bytes for the harnesses that read RESP, the bulk string's text for
the text parsers, the error text without '-' for the redirect classifier.
Used with tests/cluster/harness.py start (redis-server 7, valkey-server 8).
"""
import argparse
import os
import socket

HOST = "127.0.0.1"


def enc(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def read_raw(f):
    """One reply's raw bytes."""
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("closed")
    t, body = line[:1], line[1:-2]
    if t in (b"+", b"-", b":", b"_", b",", b"#", b"("):
        return line
    if t in (b"$", b"=", b"!"):
        n = int(body)
        return line if n < 0 else line + f.read(n + 2)
    if t in (b"*", b"%", b"~", b">", b"|"):
        n = int(body)
        if n < 0:
            return line
        if t in (b"%", b"|"):
            n *= 2
        return line + b"".join(read_raw(f) for _ in range(n))
    raise ValueError("bad RESP type %r" % t)


def bulk_text(raw):
    """The payload of a $ (or = verbatim) reply."""
    hdr, rest = raw.split(b"\r\n", 1)
    n = int(hdr[1:])
    body = rest[:n]
    return body[4:] if raw[:1] == b"=" else body


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection((HOST, port), timeout=5)
        self.f = self.s.makefile("rb")

    def raw(self, *args):
        self.s.sendall(enc(*args))
        return read_raw(self.f)

    def close(self):
        self.f.close()
        self.s.close()


def put(out, harness, name, data):
    d = os.path.join(out, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as fh:
        fh.write(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "corpus"))
    a = ap.parse_args()
    t, out = a.tag, a.out
    c = Conn(a.port)
    put(out, "topology_shards", t + "-cluster-shards", c.raw("CLUSTER", "SHARDS"))
    put(out, "topology_slots", t + "-cluster-slots", c.raw("CLUSTER", "SLOTS"))
    nodes = bulk_text(c.raw("CLUSTER", "NODES"))
    put(out, "cluster_nodes", t + "-cluster-nodes", nodes)
    put(out, "cluster_info", t + "-cluster-info", bulk_text(c.raw("CLUSTER", "INFO")))
    put(out, "info_repl", t + "-primary-info-replication",
        bulk_text(c.raw("INFO", "replication")))
    # A replica's view, and its INFO replication.
    lines = [l.split() for l in nodes.decode().splitlines() if l.strip()]
    me = next(l for l in lines if "myself" in l[2])
    others = [l for l in lines if "myself" not in l[2]]
    replica = next(l for l in lines if "slave" in l[2])
    rport = int(replica[1].split("@")[0].rsplit(":", 1)[1])
    rc = Conn(rport)
    put(out, "info_repl", t + "-replica-info-replication",
        bulk_text(rc.raw("INFO", "replication")))
    put(out, "cluster_nodes", t + "-replica-cluster-nodes",
        bulk_text(rc.raw("CLUSTER", "NODES")))
    # Redirects: a key this node does not serve (MOVED), a write on a
    # replica, and ASK on a slot set MIGRATING to another primary.
    for i in range(200):
        r = c.raw("GET", "fuzzkey%d" % i)
        if r.startswith(b"-MOVED"):
            put(out, "redirect", t + "-moved", r[1:-2])
            break
    r = rc.raw("SET", "fuzzkey", "v")
    if r.startswith(b"-"):
        put(out, "redirect", t + "-replica-write", r[1:-2])
    slot = int(me[8].split("-")[0])
    target = next(l for l in others if "master" in l[2])
    c.raw("CLUSTER", "SETSLOT", slot, "MIGRATING", target[0])
    try:
        key = next("k%d" % i for i in range(100000)
                   if int(c.raw("CLUSTER", "KEYSLOT", "k%d" % i)[1:-2]) == slot)
        r = c.raw("GET", key)
        if r.startswith(b"-ASK"):
            put(out, "redirect", t + "-ask", r[1:-2])
        r = c.raw("MGET", key, "{%s}x" % key)
        if r.startswith(b"-"):
            put(out, "redirect", t + "-multi-migrating", r[1:-2])
    finally:
        c.raw("CLUSTER", "SETSLOT", slot, "STABLE")
    r = c.raw("CLUSTER", "SETSLOT", "99999", "STABLE")
    put(out, "redirect", t + "-bad-slot", r[1:-2])
    r = c.raw("NOSUCHCOMMAND")
    put(out, "redirect", t + "-unknown-command", r[1:-2])
    # COMMAND INFO for the commands whose key rules differ (a whole COMMAND
    # reply is 100+ KB: too big for a seed), and COMMAND DOCS-free shapes.
    cmds = ["get", "set", "mget", "mset", "del", "eval", "evalsha", "fcall", "xread",
            "xreadgroup", "blpop", "config", "script", "sort", "object", "georadius",
            "zunionstore", "migrate", "multi", "exec", "ping", "cluster", "lmpop", "keys",
            "dbsize"]
    put(out, "cmdtable", t + "-command-info", c.raw("COMMAND", "INFO", *cmds))
    for name in ["get", "eval", "xreadgroup", "config"]:
        put(out, "cmdtable", t + "-command-info-" + name, c.raw("COMMAND", "INFO", name))
    # Fan-out replies: the same command on every primary, concatenated after
    # the harness's policy byte (0x0f: every merge policy).
    prim = [int(l[1].split("@")[0].rsplit(":", 1)[1]) for l in lines if "master" in l[2]]
    conns = [Conn(p) for p in prim]
    for what, args in [("dbsize", ["DBSIZE"]), ("keys", ["KEYS", "*"]),
                       ("script-exists", ["SCRIPT", "EXISTS", "a" * 40, "b" * 40]),
                       ("ping", ["PING"]), ("mget", ["MGET", "a", "b"])]:
        put(out, "fanout_merge", t + "-" + what,
            b"\x0f" + b"".join(x.raw(*args) for x in conns))
    for x in conns:
        x.close()
    rc.close()
    c.close()


if __name__ == "__main__":
    main()
