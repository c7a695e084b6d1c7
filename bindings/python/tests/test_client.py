"""Tests of the clusterc Python binding against a real cluster.

A 3 primary + 3 replica cluster is started with tests/cluster/harness.py on
ports 20800-20805 (20810 is the node add_node adds; 20848-20849 stay closed
for the seeds-down case). Every port used lies in 20800-20849. Needs
redis-server and redis-cli; CLUSTERC_LIBRARY should point at the library
just built (ctest sets it).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import weakref

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.abspath(os.path.join(HERE, "..")))

import clusterc  # noqa: E402

HARNESS = os.path.join(ROOT, "tests", "cluster", "harness.py")
BASE = 20800
NEW_NODE_PORT = 20810
DOWN_PORTS = (20848, 20849)
HOST = "127.0.0.1"

CLUSTER = {}     # filled by setUpModule: dir, nodes, primaries, replicas
EXTRA = {}       # processes / dirs started by the tests themselves


def redis_cli(port, *args, check=True):
    r = subprocess.run(["redis-cli", "-h", HOST, "-p", str(port)] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=30)
    if check and (r.returncode != 0 or r.stdout.startswith("ERR")
                  or r.stdout.startswith("(error)")):
        raise AssertionError("redis-cli -p %d %s: %s %s" % (port, " ".join(map(str, args)),
                                                            r.stdout, r.stderr))
    return r.stdout.strip()


def get_calls(port):
    """cmdstat_get calls on one node."""
    out = redis_cli(port, "INFO", "commandstats")
    for line in out.splitlines():
        if line.startswith("cmdstat_get:"):
            for field in line.split(":", 1)[1].split(","):
                k, v = field.split("=")
                if k == "calls":
                    return int(v)
    return 0


def reset_stats():
    for n in CLUSTER["nodes"]:
        redis_cli(n["port"], "CONFIG", "RESETSTAT")


def seeds():
    return ["%s:%d" % (HOST, p) for p in CLUSTER["primaries"][:2]]


def wait_for(fn, timeout, what):
    end = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > end:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


def wait_replicas_eligible(client, timeout=15):
    """Reads go to replicas only once the map shows them healthy (a replica
    is "loading" in CLUSTER SHARDS until its shard has seen a write)."""
    def ok():
        client.refresh()
        st = client.node_stats()
        reps = [n for n in st if n["role"] == "replica"]
        return len(reps) >= 3 and all(n["eligible"] for n in reps)
    wait_for(ok, timeout, "replicas to be eligible for reads")


def setUpModule():
    d = tempfile.mkdtemp(prefix="clusterc-py-", dir=os.environ.get("CLUSTERC_PY_TEST_TMP"))
    CLUSTER["dir"] = os.path.join(d, "cluster")
    EXTRA["tmp"] = d
    r = subprocess.run([sys.executable, HARNESS, "start", "--dir", CLUSTER["dir"],
                        "--base", str(BASE), "--primaries", "3", "--replicas", "1",
                        "--owner-pid", str(os.getpid()), "--max-life", "600"],
                       capture_output=True, text=True, timeout=90)
    if r.returncode != 0:
        raise RuntimeError("harness start failed: %s %s" % (r.stdout, r.stderr))
    st = json.loads(r.stdout.strip().splitlines()[-1])
    CLUSTER["nodes"] = st["nodes"]
    CLUSTER["primaries"] = [n["port"] for n in st["nodes"] if n["role"] == "master"]
    CLUSTER["replicas"] = [n["port"] for n in st["nodes"] if n["role"] == "slave"]
    CLUSTER["ids"] = {n["port"]: n["id"] for n in st["nodes"]}
    # A write to every shard, so no replica stays "loading" (offset 0).
    with clusterc.ClusterClient(addrs=seeds()) as c:
        for i in range(64):
            c.set("warm:%d" % i, i)


def tearDownModule():
    p = EXTRA.get("new_node")
    if p is not None:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if CLUSTER.get("dir"):
        subprocess.run([sys.executable, HARNESS, "stop", "--dir", CLUSTER["dir"]],
                       capture_output=True, timeout=60)
    if EXTRA.get("tmp"):
        shutil.rmtree(EXTRA["tmp"], ignore_errors=True)


class ClientTest(unittest.TestCase):
    def client(self, **kw):
        c = clusterc.ClusterClient(addrs=seeds(), **kw)
        self.addCleanup(c.close)
        return c


# ---------------------------------------------------------------- basics

class TestBasic(ClientTest):
    def test_get_set_delete(self):
        c = self.client()
        self.assertTrue(c.set("py:a", "1"))
        self.assertEqual(c.get("py:a"), b"1")
        self.assertIsNone(c.get("py:missing"))
        self.assertTrue(c.set("py:b", b"\x00\xff bin"))
        self.assertEqual(c.get("py:b"), b"\x00\xff bin")
        self.assertTrue(c.set("py:f", 1.5))
        self.assertEqual(c.get("py:f"), b"1.5")
        self.assertTrue(c.set("py:i", 42))
        self.assertEqual(c.get("py:i"), b"42")
        self.assertIsNone(c.set("py:a", "2", nx=True))
        self.assertTrue(c.set("py:a", "3", xx=True, ex=100))
        self.assertGreater(c.ttl("py:a"), 90)
        self.assertTrue(c.set("py:p", "x", px=50000))
        self.assertEqual(c.set("py:a", "4", get=True), b"3")
        # keys in different slots: one DEL per slot
        keys = ["py:a", "py:b", "py:f", "py:i", "py:p", "py:none"]
        self.assertGreater(len({c.keyslot(k) for k in keys}), 2)
        self.assertEqual(c.exists(*keys), 5)
        self.assertEqual(c.delete(*keys), 5)
        self.assertEqual(c.delete(*keys), 0)
        self.assertEqual(c.delete(), 0)

    def test_mget_across_slots(self):
        c = self.client()
        keys = ["mg:%d" % i for i in range(40)] + ["{mg}x", "{mg}y"]
        self.assertGreater(len({c.keyslot(k) for k in keys}), 10)
        self.assertTrue(c.mset({k: "v" + k for k in keys if k != "mg:7"}))
        c.delete("mg:7")
        vals = c.mget(*keys)
        self.assertEqual(len(vals), len(keys))
        for k, v in zip(keys, vals):
            self.assertEqual(v, None if k == "mg:7" else ("v" + k).encode(), k)
        self.assertEqual(c.mget(["mg:1", "mg:2"]), [b"vmg:1", b"vmg:2"])
        self.assertEqual(c.mget(keys[:1]), [b"vmg:0"])

    def test_keyslot(self):
        c = self.client()
        self.assertEqual(c.keyslot("foo"), 12182)
        self.assertEqual(c.keyslot("{user1000}.following"), c.keyslot("user1000"))
        self.assertEqual(c.keyslot(b"123456789"), 12739)

    def test_shared_between_threads(self):
        c = self.client()
        errors = []

        def work(t):
            try:
                for i in range(300):
                    k = "thr:%d:%d" % (t, i)
                    c.set(k, i)
                    if c.get(k) != str(i).encode():
                        errors.append("bad value for " + k)
            except Exception as e:   # pragma: no cover - reported below
                errors.append(repr(e))
        ts = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(errors, [])


# ---------------------------------------------------------------- types

class TestTypes(ClientTest):
    def test_reply_types(self):
        c = self.client()
        c.delete("ty:n", "ty:l", "ty:s")
        self.assertEqual(c.execute_command("SET", "ty:s", "x"), "OK")      # status
        self.assertEqual(c.execute_command("PING"), "PONG")
        self.assertIs(c.ping(), True)
        self.assertEqual(c.execute_command("INCR", "ty:n"), 1)             # integer
        self.assertEqual(c.incr("ty:n", 10), 11)
        self.assertEqual(c.execute_command("INCRBY", "ty:n", -100), -89)
        self.assertEqual(c.execute_command("RPUSH", "ty:l", "a", b"b", 3), 3)
        self.assertEqual(c.execute_command("LRANGE", "ty:l", 0, -1), [b"a", b"b", b"3"])
        self.assertEqual(c.execute_command("LRANGE", "ty:none", 0, -1), [])
        self.assertIsNone(c.execute_command("GET", "ty:none"))            # nil
        slots = c.execute_command("CLUSTER", "SLOTS")                      # nested
        self.assertEqual(sum(r[1] - r[0] + 1 for r in slots), 16384)
        self.assertIsInstance(slots[0][2][1], int)

    def test_error_replies(self):
        c = self.client()
        c.set("ty:str", "x")
        with self.assertRaises(clusterc.ResponseError) as cm:
            c.execute_command("LPUSH", "ty:str", "a")
        self.assertTrue(str(cm.exception).startswith("WRONGTYPE"), str(cm.exception))
        with self.assertRaises(clusterc.ResponseError) as cm:
            c.incr("ty:str")
        self.assertIn("not an integer", str(cm.exception))
        with self.assertRaises(clusterc.ResponseError):
            c.execute_command("NOSUCHCOMMAND", "k")
        self.assertIsInstance(cm.exception, clusterc.ClusterError)
        # the client is fine afterwards
        self.assertEqual(c.get("ty:str"), b"x")

    def test_decode_responses(self):
        c = self.client(decode_responses=True)
        c.set("ty:d", "héllo")
        self.assertEqual(c.get("ty:d"), "héllo")
        c.delete("ty:dl")
        c.execute_command("RPUSH", "ty:dl", "a", "b")
        self.assertEqual(c.execute_command("LRANGE", "ty:dl", 0, -1), ["a", "b"])
        self.assertEqual(c.mget("ty:d", "ty:nope"), ["héllo", None])

    def test_bad_arguments(self):
        c = self.client()
        for bad in (True, None, {"a": 1}, object()):
            with self.assertRaises(clusterc.DataError):
                c.set("ty:bad", bad)
        with self.assertRaises(clusterc.DataError):
            c.execute_command()
        self.assertEqual(c.execute_command("SET", "ty:bad", "ok"), "OK")


# ---------------------------------------------------------------- pipeline

class TestPipeline(ClientTest):
    def test_pipeline(self):
        c = self.client()
        c.delete("pl:a", "pl:b", "pl:c")
        with c.pipeline() as p:
            p.set("pl:a", 1).set("pl:b", "two").get("pl:a").execute_command("INCR", "pl:a")
            p.mget("pl:a", "pl:b", "pl:c").get("pl:c").delete("pl:a", "pl:b")
            self.assertEqual(len(p), 7)
            self.assertEqual(p.execute(), [True, True, b"1", 2, [b"2", b"two", None], None, 2])
            self.assertEqual(len(p), 0)
            self.assertEqual(p.execute(), [])

    def test_many_commands_across_slots(self):
        c = self.client()
        with c.pipeline() as p:
            for i in range(500):
                p.set("plm:%d" % i, i)
            self.assertEqual(p.execute(), [True] * 500)
            for i in range(500):
                p.get("plm:%d" % i)
            self.assertEqual(p.execute(), [str(i).encode() for i in range(500)])

    def test_errors(self):
        c = self.client()
        c.set("pl:str", "x")
        p = c.pipeline()
        p.set("pl:e", 1).execute_command("LPUSH", "pl:str", "a").get("pl:e")
        with self.assertRaises(clusterc.ResponseError):
            p.execute()
        p.set("pl:e", 2).execute_command("LPUSH", "pl:str", "a").get("pl:e")
        r = p.execute(raise_on_error=False)
        self.assertEqual(r[0], True)
        self.assertIsInstance(r[1], clusterc.ResponseError)
        self.assertEqual(r[2], b"2")
        # replies stay in step after errors
        self.assertEqual(c.get("pl:e"), b"2")
        with self.assertRaises(clusterc.DataError):
            p.set("pl:e", None)

    def test_context_manager_discards(self):
        c = self.client()
        c.delete("pl:gone")
        with c.pipeline() as p:
            p.set("pl:gone", 1)
        self.assertEqual(len(p), 0)
        self.assertIsNone(c.get("pl:gone"))


# ---------------------------------------------------------------- scan

class TestScan(ClientTest):
    """scan_iter: the cluster-wide SCAN (the cluster is stable here, so
    every key comes exactly once)."""

    N = 500

    def fill(self, c, prefix):
        keys = ["%s%d" % (prefix, i) for i in range(self.N)]
        self.assertTrue(c.mset({k: "v" for k in keys}))
        self.addCleanup(lambda: c.closed or c.delete(*keys))
        return keys

    def test_every_key_once(self):
        c = self.client()
        keys = self.fill(c, "scan:a:")
        self.assertGreater(len({c.keyslot(k) * 3 // 16384 for k in keys}), 2)
        got = list(c.scan_iter(match="scan:a:*", count=50))
        self.assertEqual(len(got), len(set(got)), "duplicates in a stable cluster")
        self.assertEqual(set(got), {k.encode() for k in keys})
        # a default count, and str keys with decode_responses
        d = self.client(decode_responses=True)
        got = list(d.scan_iter("scan:a:*"))
        self.assertEqual(len(got), len(set(got)))
        self.assertEqual(set(got), set(keys))
        self.assertEqual(list(c.scan_iter(match="scan:none:*")), [])

    def test_type_filter(self):
        c = self.client()
        strings = self.fill(c, "scan:t:")
        lists = ["scan:t:list%d" % i for i in range(20)]
        for k in lists:
            c.execute_command("RPUSH", k, "x")
        self.addCleanup(lambda: c.closed or c.delete(*lists))
        got = list(c.scan_iter(match="scan:t:*", count=100, _type="list"))
        self.assertEqual(sorted(got), sorted(k.encode() for k in lists))
        got = set(c.scan_iter(match="scan:t:*", _type="string"))
        self.assertEqual(got, {k.encode() for k in strings})

    def test_close_early_and_interleave(self):
        c = self.client()
        keys = self.fill(c, "scan:e:")
        g = c.scan_iter(match="scan:e:*", count=10)
        first = [next(g) for _ in range(5)]
        # other commands, and a second scan, run between batches
        self.assertEqual(c.get(keys[0]), b"v")
        self.assertEqual(len(set(c.scan_iter(match="scan:e:*"))), self.N)
        g.close()                       # frees the C scan
        self.assertEqual(c._open_scans(), set())
        self.assertTrue(set(first) <= {k.encode() for k in keys})
        with self.assertRaises(StopIteration):
            next(g)
        # dropped unfinished: freed by the garbage collector
        g = c.scan_iter(match="scan:e:*", count=10)
        next(g)
        self.assertEqual(len(c._open_scans()), 1)
        del g
        self.assertEqual(c._open_scans(), set())
        # left open over close(): close frees it, the generator then raises
        g = c.scan_iter(match="scan:e:*", count=10)
        next(g)
        c.close()
        with self.assertRaises(clusterc.ClientClosedError):
            list(g)
        # a generator never started sends nothing and needs no freeing
        d = self.client()
        d.scan_iter("x*").close()
        self.assertEqual(d._open_scans(), set())

    def test_bad_arguments(self):
        c = self.client()
        for bad in (0, -1, "10", True):
            with self.assertRaises(clusterc.InvalidOptionError):
                c.scan_iter(count=bad)
        with self.assertRaises(clusterc.DataError):
            c.scan_iter(match=b"a\0b")


# ---------------------------------------------------------------- routing

class TestRouting(ClientTest):
    KEYS = ["rt:%d" % i for i in range(300)]

    def setUp(self):
        w = self.client()
        w.mset({k: k for k in self.KEYS})

    def reads(self, c, n=300, route=None):
        for k in self.KEYS[:n]:
            v = c.get(k) if route is None else c.command_route(route, "GET", k)
            self.assertEqual(v, k.encode())

    def counts(self):
        return ({p: get_calls(p) for p in CLUSTER["primaries"]},
                {p: get_calls(p) for p in CLUSTER["replicas"]})

    def test_default_reads_primaries(self):
        c = self.client()
        reset_stats()
        self.reads(c)
        prim, rep = self.counts()
        self.assertEqual(sum(prim.values()), 300, (prim, rep))
        self.assertEqual(sum(rep.values()), 0, (prim, rep))

    def test_read_only_reads_replicas(self):
        c = self.client(read_only=True)
        wait_replicas_eligible(c)
        reset_stats()
        self.reads(c)
        prim, rep = self.counts()
        self.assertEqual(sum(prim.values()), 0, (prim, rep))
        self.assertEqual(sum(rep.values()), 300, (prim, rep))
        self.assertTrue(all(v > 0 for v in rep.values()), rep)
        st = {n["addr"]: n for n in c.node_stats()}
        self.assertTrue(all(st["%s:%d" % (HOST, p)]["reads"] > 0 for p in CLUSTER["replicas"]))

    def test_route_randomly_uses_both(self):
        c = self.client(route_randomly=True)
        wait_replicas_eligible(c)
        reset_stats()
        self.reads(c)
        prim, rep = self.counts()
        self.assertEqual(sum(prim.values()) + sum(rep.values()), 300)
        self.assertGreater(sum(prim.values()), 0, (prim, rep))
        self.assertGreater(sum(rep.values()), 0, (prim, rep))

    def test_route_by_latency(self):
        c = self.client(route_by_latency=True, latency_tolerance=0.0005)
        wait_replicas_eligible(c)
        reset_stats()
        self.reads(c)
        prim, rep = self.counts()
        self.assertEqual(sum(prim.values()) + sum(rep.values()), 300)

    def test_command_route(self):
        c = self.client(read_only=True)
        wait_replicas_eligible(c)
        reset_stats()
        self.reads(c, 100, clusterc.ROUTE_PRIMARY)
        prim, rep = self.counts()
        self.assertEqual((sum(prim.values()), sum(rep.values())), (100, 0))
        reset_stats()
        self.reads(c, 100, clusterc.ROUTE_REPLICA)
        self.reads(c, 50, "replica")
        prim, rep = self.counts()
        self.assertEqual((sum(prim.values()), sum(rep.values())), (0, 150))
        with self.assertRaises(clusterc.InvalidOptionError):
            c.command_route(7, "GET", "x")
        # a write goes to the primary whatever the route
        reset_stats()
        c.command_route(clusterc.ROUTE_REPLICA, "SET", "rt:w", "1")
        self.assertEqual(c.command_route(clusterc.ROUTE_PRIMARY, "GET", "rt:w"), b"1")

    def test_writes_go_to_primaries_in_read_only(self):
        c = self.client(read_only=True)
        wait_replicas_eligible(c)
        for i in range(50):
            self.assertTrue(c.set("rt:w%d" % i, i))
            self.assertEqual(c.command_route(clusterc.ROUTE_PRIMARY, "GET", "rt:w%d" % i),
                             str(i).encode())

    def test_node_stats(self):
        c = self.client(read_only=True)
        st = c.node_stats()
        self.assertEqual(len(st), 6)
        self.assertEqual(sorted(n["role"] for n in st), ["primary"] * 3 + ["replica"] * 3)
        for n in st:
            self.assertIn(":", n["addr"])
            self.assertEqual(len(n["id"]), 40)

    def test_poll(self):
        c = self.client(route_by_latency=True)
        c.poll(300)            # probes run: every node gets a latency
        self.assertTrue(all(n["latency_us"] >= 0 for n in c.node_stats()))
        c.poll(0)
        for bad in (-1, 1.5, True, None):
            with self.assertRaises(clusterc.InvalidOptionError):
                c.poll(bad)


# ---------------------------------------------------------------- redirects

class TestMigration(ClientTest):
    def test_redirects_during_slot_migration(self):
        infos = []
        c = self.client(on_command=infos.append)
        bg = self.client()
        slot = c.keyslot("{mig}")
        nodes = c.admin.nodes()
        owner = [n for n in nodes if any(a <= slot <= b for a, b in n["slots"])]
        self.assertEqual(len(owner), 1)
        src_port = owner[0]["port"]
        dst_port = [p for p in CLUSTER["primaries"] if p != src_port][0]
        src_id, dst_id = CLUSTER["ids"][src_port], CLUSTER["ids"][dst_port]
        keys = ["{mig}k%d" % i for i in range(60)]
        for k in keys:
            c.set(k, "old")

        stop = threading.Event()
        bg_errors, bg_ops = [], [0]

        def background():
            i = 0
            while not stop.is_set():
                k = "{mig}bg%d" % (i % 40)
                try:
                    bg.set(k, i)
                    if bg.get(k) != str(i).encode():
                        bg_errors.append("stale read of " + k)
                    bg_ops[0] += 1
                except Exception as e:
                    bg_errors.append(repr(e))
                i += 1
        t = threading.Thread(target=background)
        t.start()
        finished = False

        def finish():
            # move what is left and close the slot on every primary
            while True:
                left = redis_cli(src_port, "CLUSTER", "GETKEYSINSLOT", slot, 100).split()
                if not left:
                    break
                redis_cli(src_port, "MIGRATE", HOST, dst_port, "", 0, 5000, "KEYS", *left)
            for p in [dst_port, src_port] + [x for x in CLUSTER["primaries"]
                                             if x not in (src_port, dst_port)]:
                redis_cli(p, "CLUSTER", "SETSLOT", slot, "NODE", dst_id)
        try:
            time.sleep(0.1)
            redis_cli(dst_port, "CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
            redis_cli(src_port, "CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
            redis_cli(src_port, "MIGRATE", HOST, dst_port, "", 0, 5000, "KEYS", *keys[:30])
            time.sleep(0.1)
            # half the keys moved: reads of those follow ASK, the others are
            # served by the source. (A multi-key MGET of keys split between
            # the two nodes gets TRYAGAIN from the server until the move ends.)
            for k in keys:
                self.assertEqual(c.get(k), b"old", k)
                self.assertTrue(c.set(k, "mid"))
            with c.pipeline() as p:
                for k in keys:
                    p.get(k)
                p.set(keys[0], "mid")
                self.assertEqual(p.execute(), [b"mid"] * 60 + [True])
            # everything moved, slot still open: all keys by ASK, MGET too
            while True:
                left = redis_cli(src_port, "CLUSTER", "GETKEYSINSLOT", slot, 100).split()
                if not left:
                    break
                redis_cli(src_port, "MIGRATE", HOST, dst_port, "", 0, 5000, "KEYS", *left)
            self.assertEqual(c.mget(*keys), [b"mid"] * 60)
            finish()
            finished = True
            time.sleep(0.2)
            # MOVED now
            for k in keys:
                self.assertEqual(c.get(k), b"mid")
                self.assertTrue(c.set(k, "new"))
            self.assertEqual(c.mget(*keys), [b"new"] * 60)
        finally:
            stop.set()
            t.join()
            if not finished:
                finish()
        self.assertEqual(bg_errors, [])
        self.assertGreater(bg_ops[0], 10)
        owner = [n["port"] for n in c.admin.nodes() if any(a <= slot <= b for a, b in n["slots"])]
        self.assertEqual(owner, [dst_port])
        st = c.node_stats()
        self.assertGreater(sum(n["redirects"] for n in st), 0)
        # the command hook saw the redirects too; no command failed
        self.assertGreater(sum(i.redirects for i in infos), 0)
        self.assertEqual([i.code for i in infos if i.code != 0], [])


# ---------------------------------------------------------------- errors

class TestErrors(ClientTest):
    def test_bad_url(self):
        with self.assertRaises(clusterc.InvalidOptionError) as cm:
            clusterc.ClusterClient.from_url("redis://%s:%d?bogus_key=1" % (HOST, BASE))
        self.assertIn("bogus_key", str(cm.exception))
        self.assertIsInstance(cm.exception, ValueError)
        with self.assertRaises(ValueError) as cm:
            clusterc.ClusterClient(addrs=seeds(), dial_timeout="soon")
        self.assertIn("dial_timeout", str(cm.exception))
        with self.assertRaises(clusterc.InvalidOptionError) as cm:
            clusterc.ClusterClient(addrs=seeds(), url_options={"max_redirects": "many"})
        self.assertIn("max_redirects", str(cm.exception))
        # rediss:// to a plain-text port: a connection failure (the handshake
        # gets no answer; a library built without TLS refuses the scheme: an
        # InvalidOptionError). test_tls.py tests TLS against a TLS cluster.
        with self.assertRaises((clusterc.ConnectionError, clusterc.InvalidOptionError)):
            clusterc.ClusterClient.from_url("rediss://%s:%d?dial_timeout=500ms&read_timeout=1s"
                                            % (HOST, BASE))
        with self.assertRaises(ValueError):
            clusterc.ClusterClient(addrs=[])
        with self.assertRaises(TypeError):
            clusterc.ClusterClient.from_url("redis://%s:%d" % (HOST, BASE), read_only=True)

    def test_from_url(self):
        url = "redis://%s:%d?addr=%s:%d&read_only=true&route_randomly=false&dial_timeout=1s" % (
            HOST, CLUSTER["primaries"][0], HOST, CLUSTER["primaries"][1])
        with clusterc.ClusterClient.from_url(url, decode_responses=True) as c:
            c.set("err:url", "v")
            self.assertEqual(c.get("err:url"), "v")
        self.assertTrue(c.closed)

    def test_url_building(self):
        url = clusterc.build_url(["h1:1", ("::1", 2)], username="u ser", password="p@ss:w/rd%",
                                 read_only=True, dial_timeout=0.25, max_lag=2,
                                 latency_tolerance=0.0005, read_your_writes=True,
                                 client_az="us-east-1a", az_affinity="replicas_and_primary")
        self.assertTrue(url.startswith("redis://u%20ser:p%40ss%3Aw%2Frd%25@h1:1?"), url)
        self.assertIn("addr=%5B%3A%3A1%5D%3A2", url)
        for part in ("read_only=true", "dial_timeout=250ms", "max_lag=2000ms",
                     "latency_tolerance=500us", "read_your_writes=true",
                     "client_az=us-east-1a", "az_affinity=2"):
            self.assertIn(part, url)
        with self.assertRaises(clusterc.InvalidOptionError):
            clusterc.build_url(["h1:1"], az_affinity="nearest")

    def test_all_seeds_down(self):
        t = time.time()
        with self.assertRaises(clusterc.ConnectionError) as cm:
            clusterc.ClusterClient(addrs=["%s:%d" % (HOST, p) for p in DOWN_PORTS],
                                   dial_timeout=0.2)
        self.assertLess(time.time() - t, 5)
        self.assertIn(str(DOWN_PORTS[0]), str(cm.exception))
        self.assertLess(cm.exception.code, 0)
        c = clusterc.ClusterClient(addrs=["%s:%d" % (HOST, DOWN_PORTS[0])], dial_timeout=0.2,
                                   connect_lazily=True)
        self.addCleanup(c.close)
        with self.assertRaises(clusterc.ConnectionError):
            c.get("x")
        with self.assertRaises(clusterc.ConnectionError):
            c.pipeline().get("x").get("y").execute()
        self.assertIsInstance(c.pipeline().get("x").execute(raise_on_error=False)[0],
                              clusterc.ConnectionError)

    def test_closed_client(self):
        c = clusterc.ClusterClient(addrs=seeds())
        c.set("err:c", 1)
        p = c.pipeline().get("err:c")
        c.close()
        c.close()  # idempotent
        for call in (lambda: c.get("err:c"), lambda: c.execute_command("PING"),
                     lambda: c.mget("a", "b"), p.execute, c.node_stats, c.admin.check,
                     lambda: c.command_route(clusterc.ROUTE_PRIMARY, "GET", "x")):
            with self.assertRaises(clusterc.ClusterError) as cm:
                call()
            self.assertEqual(str(cm.exception), "client is closed")
            self.assertIsInstance(cm.exception, clusterc.ClientClosedError)
        with clusterc.ClusterClient(addrs=seeds()) as c2:
            self.assertEqual(c2.get("err:c"), b"1")
        with self.assertRaises(clusterc.ClientClosedError):
            c2.get("err:c")

    def test_timeout(self):
        c = self.client(read_timeout=0.3)
        node = "%s:%d" % (HOST, CLUSTER["primaries"][2])
        with self.assertRaises(clusterc.TimeoutError) as cm:
            c.execute_on_node(node, "DEBUG", "SLEEP", "0.8")
        self.assertIsInstance(cm.exception, clusterc.ConnectionError)
        time.sleep(0.7)
        self.assertEqual(c.execute_on_node(node, "PING"), "PONG")

    def test_auth(self):
        user, pw = "py@us:er", "p@ss:w/rd% x"
        for n in CLUSTER["nodes"]:
            redis_cli(n["port"], "ACL", "SETUSER", user, "reset", "on", ">" + pw, "~*", "&*",
                      "+@all")
        c = self.client(username=user, password=pw)
        c.set("auth:k", "v")
        self.assertEqual(c.get("auth:k"), b"v")
        whoami = c.execute_on_node("%s:%d" % (HOST, CLUSTER["primaries"][0]), "ACL", "WHOAMI")
        self.assertEqual(whoami, user.encode())
        with self.assertRaises(clusterc.ConnectionError) as cm:
            clusterc.ClusterClient(addrs=seeds(), username=user, password="wrong")
        self.assertIn("AUTH", str(cm.exception).upper())

    def test_library_path(self):
        p = clusterc.library_path()
        if os.environ.get("CLUSTERC_LIBRARY"):
            self.assertEqual(p, os.environ["CLUSTERC_LIBRARY"])
        # a wrong CLUSTERC_LIBRARY is an error naming it, not a crash
        code = ("import clusterc\n"
                "try:\n"
                "    clusterc.ClusterClient(addrs=['127.0.0.1:1'])\n"
                "except clusterc.LibraryNotFoundError as e:\n"
                "    print('LNF', isinstance(e, OSError), e)\n")
        env = dict(os.environ, CLUSTERC_LIBRARY="/nonexistent/libclusterc.so",
                   PYTHONPATH=os.path.abspath(os.path.join(HERE, "..")))
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=env, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("LNF True"), r.stdout)
        self.assertIn("/nonexistent/libclusterc.so", r.stdout)


# ---------------------------------------------------------------- hooks

class HookBoom(Exception):
    """Raised by the tests' hooks on purpose."""


class TestHooks(ClientTest):
    def test_one_ready_on_connect(self):
        events = []
        c = self.client(on_event=events.append)
        ready = [e for e in events if e.type == "READY"]
        self.assertEqual(len(ready), 1, events)
        self.assertIsInstance(ready[0], clusterc.Event)
        self.assertIsNone(ready[0].node)
        self.assertEqual(ready[0].code, 0)
        self.assertIsInstance(ready[0].detail, str)
        # commands and later map loads bring no second READY
        for i in range(20):
            c.set("hk:r%d" % i, i)
        c.refresh()
        self.assertEqual([e.type for e in events].count("READY"), 1, events)
        known = {"READY", "MAP_UPDATED", "NODE_CONNECTED", "NODE_DISCONNECTED",
                 "NODE_FAILING", "NODE_RECOVERED", "DRAINED", "SUBSCRIBE_REFUSED"}
        self.assertTrue(all(e.type in known for e in events), events)

    def test_from_url_hooks(self):
        events, infos = [], []
        url = "redis://%s:%d" % (HOST, CLUSTER["primaries"][0])
        with clusterc.ClusterClient.from_url(url, on_event=events.append,
                                             on_command=infos.append) as c:
            self.assertEqual(c.get("hk:none"), None)
        self.assertEqual([e.type for e in events].count("READY"), 1, events)
        self.assertEqual([(i.name, i.code) for i in infos], [("GET", 0)])

    def test_drained_last_on_close(self):
        events = []
        c = clusterc.ClusterClient(addrs=seeds(), on_event=events.append)
        c.set("hk:d", 1)
        c.close()
        self.assertTrue(events, "no event at all")
        self.assertEqual(events[-1].type, "DRAINED", events)
        self.assertEqual([e.type for e in events].count("DRAINED"), 1, events)

    def test_on_command_once_per_command(self):
        infos = []
        c = self.client(on_command=infos.append)
        self.assertEqual(infos, [], "the library's own commands are not reported")
        c.delete("hk:s", "hk:n")
        del infos[:]
        self.assertTrue(c.set("hk:s", "v"))
        self.assertEqual(c.get("hk:s"), b"v")
        self.assertEqual(c.execute_command("INCR", "hk:n"), 1)
        self.assertEqual([(i.name, i.code) for i in infos], [("SET", 0), ("GET", 0), ("INCR", 0)])
        addrs = {"%s:%d" % (HOST, p) for p in CLUSTER["primaries"]}
        for i in infos:
            self.assertIsInstance(i, clusterc.CommandInfo)
            self.assertIn(i.node, addrs, i)
            self.assertEqual((i.route, i.redirects, i.retries), (clusterc.ROUTE_DEFAULT, 0, 0))
            self.assertGreaterEqual(i.duration_us, 0)
        # an error reply is a reply: code 0
        del infos[:]
        with self.assertRaises(clusterc.ResponseError):
            c.execute_command("LPUSH", "hk:s", "x")
        self.assertEqual([(i.name, i.code) for i in infos], [("LPUSH", 0)])
        # a per-command route is reported as sent
        del infos[:]
        c.command_route(clusterc.ROUTE_PRIMARY, "GET", "hk:s")
        self.assertEqual([(i.name, i.route, i.code) for i in infos],
                         [("GET", clusterc.ROUTE_PRIMARY, 0)])
        # pipelined: once each
        del infos[:]
        self.assertEqual(c.pipeline().get("hk:s").set("hk:s", "w").get("hk:s").execute(),
                         [b"v", True, b"w"])
        self.assertEqual([(i.name, i.code) for i in infos], [("GET", 0), ("SET", 0), ("GET", 0)])

    def test_on_command_failure_code(self):
        infos = []
        c = self.client(on_command=infos.append, dial_timeout=0.2)
        with self.assertRaises(clusterc.ConnectionError) as cm:
            c.execute_on_node("%s:%d" % (HOST, DOWN_PORTS[0]), "PING")
        self.assertEqual(len(infos), 1, infos)
        self.assertEqual(infos[0].name, "PING")
        self.assertNotEqual(infos[0].code, 0)
        self.assertEqual(infos[0].code, cm.exception.code)

    def test_hook_exception_raised_by_the_call(self):
        seen = []

        def on_command(ci):
            seen.append(ci.name)
            if ci.name == "GET":
                raise HookBoom("from on_command")
        c = self.client(on_command=on_command)
        self.assertTrue(c.set("hk:x", "1"))
        with self.assertRaises(HookBoom):
            c.get("hk:x")
        # the client is consistent and usable; the command did run
        self.assertEqual(c.execute_command("INCRBY", "hk:x", 1), 2)
        # pipelined: raised once every reply is collected, replies stay in step
        with self.assertRaises(HookBoom):
            c.pipeline().get("hk:x").set("hk:x", "5").get("hk:x").execute()
        self.assertEqual(c.execute_command("INCRBY", "hk:x", 1), 6)
        self.assertEqual(seen, ["SET", "GET", "INCRBY", "GET", "SET", "GET", "INCRBY"])

    def test_hook_exception_in_connect(self):
        def on_event(ev):
            if ev.type == "READY":
                raise HookBoom("from on_event")
        with self.assertRaises(HookBoom):
            clusterc.ClusterClient(addrs=seeds(), on_event=on_event)

    def test_hook_may_not_call_its_client(self):
        box = {}

        def on_command(ci):
            box["c"].get("hk:y")
        c = box["c"] = self.client(on_command=on_command)
        with self.assertRaises(clusterc.ClusterError) as cm:
            c.set("hk:y", "1")
        self.assertEqual(cm.exception.code, clusterc.errors.EUSAGE)
        self.assertIn("hook", str(cm.exception))
        del box["c"]

    def test_bad_hooks(self):
        for kw in ({"on_event": 42}, {"on_command": "print"}):
            with self.assertRaises(clusterc.InvalidOptionError):
                clusterc.ClusterClient(addrs=seeds(), **kw)

    def test_no_reference_cycle(self):
        # the ctypes callbacks live with the client, yet refer not to it: an
        # unclosed client goes away when its last reference does
        events = []
        c = clusterc.ClusterClient(addrs=seeds(), on_event=events.append,
                                   on_command=lambda ci: None)
        c.get("hk:z")
        ref = weakref.ref(c)
        del c
        self.assertIsNone(ref())
        self.assertEqual([e.type for e in events].count("READY"), 1, events)


# ---------------------------------------------------------------- leaks

def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class TestLeaks(ClientTest):
    def test_no_leak_over_100k_calls(self):
        c = self.client()
        c.set("lk:s", "x" * 100)
        c.delete("lk:l")
        c.execute_command("RPUSH", "lk:l", *range(10))
        keys = ["lk:%d" % i for i in range(8)]
        for k in keys:
            c.set(k, k)

        def batch(n):
            calls = 0
            for i in range(n):
                m = i % 10
                if m < 5:
                    c.get("lk:s")
                elif m == 5:
                    c.set("lk:s", "x" * 100)
                elif m == 6:
                    c.execute_command("LRANGE", "lk:l", 0, -1)
                elif m == 7:
                    try:
                        c.execute_command("LPUSH", "lk:s", "a")
                    except clusterc.ResponseError:
                        pass
                elif m == 8:
                    c.mget(*keys)
                else:
                    c.get("lk:missing")
                calls += 1
            return calls

        def pipes(n):
            for _ in range(n):
                with c.pipeline() as p:
                    for k in keys:
                        p.get(k)
                    p.execute()
            c.node_stats()

        batch(10000)
        pipes(200)
        before = rss_bytes()
        t = time.time()
        self.assertEqual(batch(100000), 100000)
        pipes(1000)
        after = rss_bytes()
        growth = after - before
        sys.stderr.write("\n  100k calls in %.1f s, RSS %d -> %d KiB (%+d KiB)\n"
                         % (time.time() - t, before // 1024, after // 1024, growth // 1024))
        self.assertLess(growth, 5 * 1024 * 1024)


# ---------------------------------------------------------------- admin (last: it
# changes the cluster)

class TestZAdmin(ClientTest):
    def test_views(self):
        c = self.client()
        nodes = c.admin.nodes()
        self.assertEqual(len(nodes), 6)
        self.assertEqual(sum(n["slot_count"] for n in nodes), 16384)
        one = c.admin.nodes("%s:%d" % (HOST, CLUSTER["replicas"][0]))
        self.assertEqual(len(one), 6)
        rep = c.admin.replication("%s:%d" % (HOST, CLUSTER["primaries"][0]))
        self.assertEqual(rep["role"], "primary")
        self.assertEqual(len(rep["replicas"]), 1)
        rep = c.admin.replication("%s:%d" % (HOST, CLUSTER["replicas"][0]))
        self.assertEqual(rep["role"], "replica")
        self.assertTrue(rep["master_link_up"])
        chk = c.admin.check()
        self.assertTrue(chk["ok"], chk.get("report"))
        self.assertEqual(chk["slots_covered"], 16384)
        with self.assertRaises(clusterc.ClusterError):
            c.admin.replication("%s:%d" % (HOST, DOWN_PORTS[0]))
        with self.assertRaises(ValueError):
            c.admin.replication("")

    def test_z_add_node(self):   # last: it adds a node
        c = self.client()
        d = os.path.join(EXTRA["tmp"], "new-node")
        os.makedirs(d, exist_ok=True)
        conf = os.path.join(d, "redis.conf")
        with open(conf, "w") as f:
            f.write("\n".join([
                "port %d" % NEW_NODE_PORT, "bind %s" % HOST, "protected-mode no",
                "daemonize no", "dir %s" % d, "logfile %s" % os.path.join(d, "redis.log"),
                "cluster-enabled yes", "cluster-config-file nodes.conf",
                "cluster-node-timeout 2000", "appendonly no", 'save ""',
                "repl-diskless-sync-delay 0"]) + "\n")
        EXTRA["new_node"] = subprocess.Popen(["redis-server", conf], cwd=d,
                                             stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL)
        wait_for(lambda: subprocess.run(["redis-cli", "-p", str(NEW_NODE_PORT), "PING"],
                                        capture_output=True, text=True).stdout.strip()
                 == "PONG", 10, "the new node to answer")
        addr = "%s:%d" % (HOST, NEW_NODE_PORT)
        target = CLUSTER["ids"][CLUSTER["primaries"][0]]
        chosen = c.admin.add_node(addr, replica=True, primary_id=target, timeout=30)
        self.assertEqual(chosen, target)
        rep = c.admin.replication(addr)
        self.assertEqual(rep["role"], "replica")
        self.assertTrue(rep["master_link_up"])
        chk = wait_for(lambda: (lambda r: r if r["ok"] else None)(c.admin.check()), 15,
                       "check() ok after add_node")
        self.assertTrue(chk["ok"])
        self.assertEqual(len(c.admin.nodes()), 7)
        # adding it again is refused, and says why
        with self.assertRaises(clusterc.ClusterError) as cm:
            c.admin.add_node(addr, timeout=5)
        self.assertIn(str(NEW_NODE_PORT), str(cm.exception))
        self.assertEqual(c.set("adm:k", "v"), True)


if __name__ == "__main__":
    unittest.main()
