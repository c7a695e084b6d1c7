"""Tests of clusterc.asyncio (the asyncio client over libclusterc's
thread-safe face) against a real cluster, with asyncio.run (no
pytest-asyncio).

A 3 primary + 3 replica cluster is started with tests/cluster/harness.py on
ports 20830-20835 (inside the 20800-20849 range of the Python binding's
tests: test_client.py uses 20800-20810 and 20848-20849, test_pubsub.py
20820-20825); 20839 stays closed (the unreachable seed). Needs redis-server
and redis-cli; CLUSTERC_LIBRARY should point at the library just built
(ctest sets it). Skipped when the library has no thread-safe face.
"""
import asyncio
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.abspath(os.path.join(HERE, "..")))

import clusterc  # noqa: E402
from clusterc import errors, _threaded  # noqa: E402

try:
    _threaded.load()
    import clusterc.asyncio as ca  # noqa: E402
    HAVE_THREADED = True
except clusterc.ClusterError:
    HAVE_THREADED = False

HARNESS = os.path.join(ROOT, "tests", "cluster", "harness.py")
BASE = 20830
DOWN_PORT = 20839
HOST = "127.0.0.1"
CLUSTER = {}


def redis_cli(port, *args):
    r = subprocess.run(["redis-cli", "-h", HOST, "-p", str(port)] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=30)
    return r.stdout.strip()


def seeds():
    return ["%s:%d" % (HOST, p) for p in CLUSTER["ports"][:3]]


def setUpModule():
    if not HAVE_THREADED:
        raise unittest.SkipTest("libclusterc has no thread-safe face (threaded.h)")
    d = tempfile.mkdtemp(prefix="clusterc-pyaio-", dir=os.environ.get("CLUSTERC_PY_TEST_TMP"))
    CLUSTER["tmp"] = d
    CLUSTER["dir"] = os.path.join(d, "cluster")
    last = None
    for attempt in range(6):   # the ports may be held by a CI run for a while
        r = subprocess.run([sys.executable, HARNESS, "start", "--dir", CLUSTER["dir"],
                            "--base", str(BASE), "--primaries", "3", "--replicas", "1",
                            "--owner-pid", str(os.getpid()), "--max-life", "900"],
                           capture_output=True, text=True, timeout=120)
        if r.returncode == 0:
            break
        last = r.stdout + r.stderr
        if "listening" not in last and "in use" not in last:
            break
        time.sleep(10)
    else:
        r = None
    if r is None or r.returncode != 0:
        shutil.rmtree(d, ignore_errors=True)
        raise RuntimeError("harness start failed: %s" % last)
    st = json.loads(r.stdout.strip().splitlines()[-1])
    CLUSTER["ports"] = [n["port"] for n in st["nodes"]]
    CLUSTER["nodes"] = st["nodes"]
    with clusterc.ClusterClient(addrs=seeds()) as c:
        for i in range(64):
            c.set("warm:%d" % i, i)


def tearDownModule():
    if CLUSTER.get("dir"):
        subprocess.run([sys.executable, HARNESS, "stop", "--dir", CLUSTER["dir"]],
                       capture_output=True, timeout=60)
    if CLUSTER.get("tmp"):
        shutil.rmtree(CLUSTER["tmp"], ignore_errors=True)


def run(coro, timeout=60):
    """asyncio.run with an overall bound: a hang fails the test."""
    async def bounded():
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


class AioTest(unittest.TestCase):
    async def client(self, **kw):
        rc = ca.ClusterClient(addrs=seeds(), **kw)
        await rc.initialize()
        return rc


# ------------------------------------------------------------------ basics

class TestBasic(AioTest):
    def test_commands(self):
        async def main():
            rc = await self.client()
            try:
                self.assertTrue(await rc.set("aio:a", "1"))
                self.assertEqual(await rc.get("aio:a"), b"1")
                self.assertIsNone(await rc.get("aio:missing"))
                self.assertIsNone(await rc.set("aio:a", "2", nx=True))
                self.assertEqual(await rc.incr("aio:n", 5), 5)
                self.assertTrue(await rc.expire("aio:n", 100))
                self.assertGreater(await rc.ttl("aio:n"), 0)
                self.assertTrue(await rc.ping())
                self.assertEqual(await rc.execute_command("HSET", "aio:h", "f", b"\x00v"), 1)
                self.assertEqual(await rc.execute_command("HGETALL", "aio:h"), [b"f", b"\x00v"])
                self.assertEqual(await rc.execute_command("SET", "aio:b", 1.5), "OK")
                keys = ["aio:k%d" % i for i in range(40)]       # many slots
                self.assertTrue(await rc.mset({k: k.upper() for k in keys}))
                self.assertEqual(await rc.mget(keys + ["aio:none"]),
                                 [k.upper().encode() for k in keys] + [None])
                self.assertEqual(await rc.exists(*keys), 40)
                self.assertEqual(await rc.delete(*keys), 40)
                self.assertEqual(await rc.command_route("primary", "GET", "aio:a"), b"1")
                self.assertEqual(rc.keyslot("foo"), 12182)
                port = CLUSTER["ports"][0]
                self.assertEqual(await rc.execute_on_node("%s:%d" % (HOST, port), "PING"), "PONG")
                with self.assertRaises(ca.ClusterError):
                    await rc.execute_on_node("no-such-node:1", "PING")
                stats = await rc.node_stats()
                self.assertEqual(len(stats), 6)
            finally:
                await rc.aclose()
        run(main())

    def test_errors(self):
        async def main():
            rc = await self.client()
            try:
                await rc.set("aio:str", "x")
                with self.assertRaises(ca.ResponseError) as cm:
                    await rc.execute_command("LPUSH", "aio:str", "y")
                self.assertIn("WRONGTYPE", str(cm.exception))
                with self.assertRaises(ca.DataError):
                    await rc.set("aio:x", None)
                with self.assertRaises(ca.DataError):
                    await rc.execute_command()
                # An error inside an array stays a value.
                r = await rc.execute_command("EVAL", "return {1, redis.error_reply('boom')}", 0)
                self.assertEqual(r[0], 1)
                self.assertIsInstance(r[1], ca.ResponseError)
                # The client still works after errors.
                self.assertEqual(await rc.get("aio:str"), b"x")
            finally:
                await rc.aclose()
        run(main())

    def test_decode_responses(self):
        async def main():
            rc = await self.client(decode_responses=True)
            try:
                await rc.set("aio:d", "é")
                self.assertEqual(await rc.get("aio:d"), "é")
            finally:
                await rc.aclose()
        run(main())

    def test_bad_options_and_unreachable(self):
        with self.assertRaises(ca.InvalidOptionError):
            ca.ClusterClient.from_url("redis://127.0.0.1:1?no_such_option=1")
        with self.assertRaises(TypeError):
            ca.ClusterClient(addrs=seeds(), on_event=print)

        async def main():
            rc = ca.ClusterClient(addrs=["%s:%d" % (HOST, DOWN_PORT)], dial_timeout=0.2,
                                  read_timeout=0.5)
            try:
                t0 = time.monotonic()
                with self.assertRaises(ca.ConnectionError):
                    await rc.initialize()
                self.assertLess(time.monotonic() - t0, 10)
            finally:
                await rc.aclose()
        run(main())

    def test_context_manager_and_host_port(self):
        async def main():
            async with ca.ClusterClient(host=HOST, port=CLUSTER["ports"][0]) as rc:
                await rc.set("aio:cm", "v")
                self.assertEqual(await rc.get("aio:cm"), b"v")
            self.assertTrue(rc.closed)
            with self.assertRaises(ca.ClientClosedError):
                await rc.get("aio:cm")
        run(main())

    def test_second_event_loop(self):
        rc = ca.ClusterClient(addrs=seeds())

        async def one(v):
            await rc.set("aio:loop", v)
            return await rc.get("aio:loop")
        self.assertEqual(run(one("1")), b"1")
        self.assertEqual(run(one("2")), b"2")      # rebinds: the first loop is closed
        run(rc.aclose())


# ------------------------------------------------------------------ concurrency

class TestConcurrency(AioTest):
    def test_many_tasks_every_result_right(self):
        async def main():
            rc = await self.client()
            try:
                async def task(j):
                    wrong = 0
                    for i in range(100):
                        k = "aio:c:%d:%d" % (j, i)
                        v = "%d-%d" % (j * 7, i)
                        await rc.set(k, v)
                        if await rc.get(k) != v.encode():
                            wrong += 1
                    return wrong
                res = await asyncio.gather(*(task(j) for j in range(200)))
                self.assertEqual(sum(res), 0)
                # And through gather of bare commands.
                vals = await asyncio.gather(*(rc.get("aio:c:%d:5" % j) for j in range(200)))
                self.assertEqual(vals, [("%d-5" % (j * 7)).encode() for j in range(200)])
            finally:
                await rc.aclose()
        run(main(), 120)

    def test_pipeline(self):
        async def main():
            rc = await self.client()
            try:
                async with rc.pipeline() as p:
                    p.set("aio:p1", 5).incr("aio:p1").get("aio:p1")
                    p.mset({"aio:p%d" % i: i for i in range(20)})
                    p.mget(["aio:p%d" % i for i in range(2, 20)])
                    self.assertEqual(len(p), 5)
                    r = await p.execute()
                self.assertEqual(r[:4], [True, 6, b"6", True])
                self.assertEqual(r[4], [b"%d" % i for i in range(2, 20)])
                p = rc.pipeline()
                p.set("aio:pstr", "x").execute_command("LPUSH", "aio:pstr", "y").get("aio:pstr")
                r = await p.execute(raise_on_error=False)
                self.assertTrue(r[0])
                self.assertIsInstance(r[1], ca.ResponseError)
                self.assertEqual(r[2], b"x")
                p.execute_command("LPUSH", "aio:pstr", "y")
                with self.assertRaises(ca.ResponseError):
                    await p.execute()
                self.assertEqual(await rc.pipeline().execute(), [])
                # A large pipeline: one submission.
                p = rc.pipeline()
                for i in range(5000):
                    p.set("aio:big:%d" % i, i)
                self.assertEqual(await p.execute(), [True] * 5000)
                p = rc.pipeline()
                for i in range(5000):
                    p.get("aio:big:%d" % i)
                self.assertEqual(await p.execute(), [b"%d" % i for i in range(5000)])
            finally:
                await rc.aclose()
        run(main())


# ------------------------------------------------------------------ cancellation

class TestCancellation(AioTest):
    def test_cancelled_blpop_returns_promptly(self):
        async def main():
            rc = await self.client()
            try:
                await rc.delete("aio:list")
                t = asyncio.ensure_future(rc.execute_command("BLPOP", "aio:list", 5))
                await asyncio.sleep(0.2)          # sent and blocked in the server
                t0 = time.monotonic()
                t.cancel()
                with self.assertRaises(asyncio.CancelledError):
                    await t
                self.assertLess(time.monotonic() - t0, 0.1)
                # Its late completion (the push below serves it in the
                # library) is ignored; the client goes on.
                await rc.execute_command("RPUSH", "aio:list", "a")
                await asyncio.sleep(0.2)
                self.assertTrue(await rc.set("aio:after", "1"))
                self.assertEqual(await rc.get("aio:after"), b"1")
            finally:
                await rc.aclose()
        run(main())

    def test_cancel_before_sent_and_many(self):
        async def main():
            rc = await self.client()
            try:
                await rc.delete("aio:cnt")
                # Cancelled in the same loop turn: never handed to the library.
                t = asyncio.ensure_future(rc.incr("aio:cnt"))
                await asyncio.sleep(0)            # the task lists its command
                t.cancel()
                await asyncio.sleep(0.2)
                self.assertIsNone(await rc.get("aio:cnt"))
                # Many tasks, half cancelled at random points: the others right.
                tasks = [asyncio.ensure_future(rc.set("aio:x%d" % i, i)) for i in range(400)]
                await asyncio.sleep(0)
                for t in tasks[::2]:
                    t.cancel()
                res = await asyncio.gather(*tasks, return_exceptions=True)
                for i, r in enumerate(res):
                    if i % 2:
                        self.assertIs(r, True)
                    else:
                        self.assertTrue(r is True or isinstance(r, asyncio.CancelledError))
                # wait_for timing out cancels the command's await.
                with self.assertRaises(asyncio.TimeoutError):
                    await asyncio.wait_for(rc.execute_command("BLPOP", "aio:empty", 3), 0.2)
                self.assertEqual(await rc.get("aio:x1"), b"1")
            finally:
                await rc.aclose()
        run(main())


# ------------------------------------------------------------------ close

class TestClose(AioTest):
    def test_close_with_commands_in_flight(self):
        async def main():
            rc = await self.client()
            await rc.delete("aio:blk")
            futs = [asyncio.ensure_future(rc.set("aio:f%d" % i, i)) for i in range(500)]
            blk = asyncio.ensure_future(rc.execute_command("BLPOP", "aio:blk", 1))
            await asyncio.sleep(0)                # every task listed its command
            t0 = time.monotonic()
            await rc.aclose()
            took = time.monotonic() - t0
            res = await asyncio.gather(*futs, return_exceptions=True)
            # Every command accepted before close completed: a result.
            self.assertEqual(res, [True] * 500)
            self.assertIsNone(await blk)          # BLPOP timed out in the server
            self.assertLess(took, 5)
            self.assertTrue(rc.closed)
            with self.assertRaises(ca.ClientClosedError):
                await rc.get("aio:f1")
            await rc.aclose()                     # idempotent
        run(main())

    def test_close_concurrent_callers_and_unclosed_client(self):
        async def main():
            rc = await self.client()
            await asyncio.gather(rc.aclose(), rc.close(), rc.aclose())
            self.assertTrue(rc.closed)
            # A client dropped without close: freed by the garbage collector.
            rc2 = await self.client()
            await rc2.get("aio:x")
            del rc2
            gc.collect()
        run(main())


# ------------------------------------------------------------------ pubsub

class TestPubSub(AioTest):
    def test_iterator_and_kinds(self):
        async def main():
            rc = await self.client()
            ps = rc.pubsub()
            ps2 = rc.pubsub()
            try:
                await ps.subscribe("aio:news")
                await ps2.subscribe("aio:news")
                await ps.psubscribe("aio:pat.*")
                await ps.ssubscribe("aio:orders{eu}")
                self.assertTrue(ps.subscribed)
                self.assertEqual(set(ps.channels), {b"aio:news"})

                async def publish_until(cmd, ch, data, pubsubs):
                    # SUBSCRIBE is made in the background: publish until seen.
                    for _ in range(100):
                        await rc.execute_command(cmd, ch, data)
                        got = [await p.get_message(timeout=0.05) for p in pubsubs]
                        if all(got):
                            return got
                    self.fail("no message on %s" % ch)
                got = await publish_until("PUBLISH", "aio:news", "n1", [ps, ps2])
                for m in got:
                    self.assertEqual(m, {"type": "message", "pattern": None,
                                         "channel": b"aio:news", "data": b"n1"})
                m, = await publish_until("PUBLISH", "aio:pat.x", "p1", [ps])
                self.assertEqual((m["type"], m["pattern"], m["channel"], m["data"]),
                                 ("pmessage", b"aio:pat.*", b"aio:pat.x", b"p1"))
                m, = await publish_until("SPUBLISH", "aio:orders{eu}", "o1", [ps])
                self.assertEqual((m["type"], m["channel"], m["data"]),
                                 ("smessage", b"aio:orders{eu}", b"o1"))
                while await ps.get_message(timeout=0.1):   # drop the repeats
                    pass

                # The async iterator, ending on unsubscribe. A shard channel
                # keeps order (SPUBLISH and the subscriber are on the slot's
                # node); plain PUBLISH may reach the subscriber's node through
                # the cluster bus from another node, so it is checked as a set.
                async def reader():
                    out = []
                    async for msg in ps:
                        out.append((msg["type"], msg["data"]))
                        if sum(1 for t, d in out if d.startswith(b"last")) == 2:
                            await ps.unsubscribe()
                            await ps.punsubscribe()
                            await ps.sunsubscribe()
                    return out
                rt = asyncio.ensure_future(reader())
                for i in range(50):
                    await rc.execute_command("SPUBLISH", "aio:orders{eu}", "s%d" % i)
                await rc.execute_command("SPUBLISH", "aio:orders{eu}", "last-s")
                for i in range(50):
                    await rc.execute_command("PUBLISH", "aio:news", "m%d" % i)
                await asyncio.sleep(0.3)         # the bus delivers the PUBLISHes
                await rc.execute_command("PUBLISH", "aio:news", "last-m")
                out = await asyncio.wait_for(rt, 10)
                self.assertEqual([d for t, d in out if t == "smessage"],
                                 [b"s%d" % i for i in range(50)] + [b"last-s"])
                self.assertEqual(sorted(d for t, d in out if t == "message"),
                                 sorted([b"m%d" % i for i in range(50)] + [b"last-m"]))
                self.assertFalse(ps.subscribed)
                # ps2 is still subscribed to the shared channel.
                seen = set()
                while True:
                    m = await ps2.get_message(timeout=0.5)
                    if m is None:
                        break
                    seen.add(m["data"])
                self.assertTrue({b"m%d" % i for i in range(50)} <= seen)
            finally:
                await ps.aclose()
                await ps2.aclose()
                await rc.aclose()
        run(main())

    def test_handler_and_close_ends_iteration(self):
        async def main():
            rc = await self.client(decode_responses=True)
            ps = rc.pubsub()
            got = []
            try:
                await ps.subscribe(**{"aio:h": got.append})
                await ps.subscribe("aio:q")
                for _ in range(100):
                    await rc.execute_command("PUBLISH", "aio:h", "x")
                    if got:
                        break
                    await asyncio.sleep(0.02)
                self.assertEqual(got[0]["data"], "x")
                self.assertEqual(got[0]["channel"], "aio:h")

                async def it():
                    async for _ in ps:
                        pass
                    return "ended"
                t = asyncio.ensure_future(it())
                await asyncio.sleep(0.1)
                await ps.aclose()
                self.assertEqual(await asyncio.wait_for(t, 5), "ended")
            finally:
                await ps.aclose()
                await rc.aclose()
        run(main())


# ------------------------------------------------------------------ failover (last)

class TestZFailover(AioTest):
    def test_failover_under_load(self):
        """A manual failover of one shard while 50 tasks SET and GET: every
        await returns or raises (nothing hangs, nothing is lost), most
        succeed, and the client works on the new primary afterwards."""
        async def main():
            rc = await self.client(read_timeout=3.0)
            stop = [False]
            counts = {"ok": 0, "err": 0, "issued": 0}
            errs = []

            async def worker(j):
                i = 0
                while not stop[0] and i < 20000:
                    k = "aio:fo:%d:%d" % (j, i % 50)
                    counts["issued"] += 1
                    try:
                        await rc.set(k, i)
                        v = await rc.get(k)
                        if v != b"%d" % i:
                            errs.append("%s: %r != %d" % (k, v, i))
                        counts["ok"] += 1
                    except ca.ClusterError as e:
                        counts["err"] += 1
                        errs.append(repr(e))
                    i += 1
            workers = [asyncio.ensure_future(worker(j)) for j in range(50)]
            await asyncio.sleep(0.5)
            replica = next(n for n in CLUSTER["nodes"] if n["role"] == "slave")
            before = counts["ok"]
            out = await asyncio.get_running_loop().run_in_executor(
                None, redis_cli, replica["port"], "CLUSTER", "FAILOVER")
            self.assertEqual(out, "OK")
            # Wait until the replica is a primary, with load running.
            for _ in range(100):
                role = await asyncio.get_running_loop().run_in_executor(
                    None, redis_cli, replica["port"], "ROLE")
                if role.startswith("master"):
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)
            stop[0] = True
            await asyncio.wait_for(asyncio.gather(*workers), 30)
            self.assertEqual(counts["ok"] + counts["err"], counts["issued"])
            self.assertGreater(counts["ok"], before)
            wrong = [e for e in errs if "!=" in e]
            self.assertEqual(wrong, [])
            self.assertLess(counts["err"], counts["issued"] // 10, errs[:5])
            await rc.set("aio:fo:after", "x")
            self.assertEqual(await rc.get("aio:fo:after"), b"x")
            await rc.aclose()
        run(main(), 90)

    def test_kill_primary_under_load(self):
        """SIGKILL of a primary while 50 tasks SET and GET: the cluster
        elects its replica (node timeout 2 s); every await returns or raises
        within its deadline, and the shard is served again afterwards."""
        async def main():
            loop = asyncio.get_running_loop()
            rc = await self.client(read_timeout=3.0)
            nodes = await loop.run_in_executor(None, redis_cli, CLUSTER["ports"][0],
                                               "CLUSTER", "NODES")
            victim = None
            for line in nodes.splitlines():
                f = line.split()
                if "master" in f[2] and "fail" not in f[2] and len(f) > 8:
                    p = int(f[1].split("@")[0].rsplit(":", 1)[1])
                    if p != CLUSTER["ports"][0]:
                        victim = p
                        break
            self.assertIsNotNone(victim, nodes)
            stop = [False]
            counts = {"ok": 0, "err": 0, "issued": 0}
            slow = []

            async def worker(j):
                i = 0
                while not stop[0] and i < 20000:
                    counts["issued"] += 1
                    t0 = loop.time()
                    try:
                        k = "aio:kill:%d:%d" % (j, i % 20)
                        await rc.set(k, i)
                        self.assertEqual(await rc.get(k), b"%d" % i)
                        counts["ok"] += 1
                    except ca.ClusterError:
                        counts["err"] += 1
                        await asyncio.sleep(0.05)
                    if loop.time() - t0 > 8:
                        slow.append(loop.time() - t0)
                    i += 1
            workers = [asyncio.ensure_future(worker(j)) for j in range(50)]
            await asyncio.sleep(0.5)
            r = await loop.run_in_executor(None, lambda: subprocess.run(
                [sys.executable, HARNESS, "kill", "--dir", CLUSTER["dir"], "--port", str(victim),
                 "--signal", "KILL"], capture_output=True, text=True, timeout=30))
            self.assertEqual(r.returncode, 0, r.stderr)
            killed_at = counts["ok"]
            # Load runs until the shard answers again for a while.
            t_end = loop.time() + 25
            while loop.time() < t_end:
                ok0 = counts["ok"]
                await asyncio.sleep(1.0)
                if counts["ok"] - ok0 > 200 and counts["ok"] > killed_at + 2000:
                    break
            stop[0] = True
            await asyncio.wait_for(asyncio.gather(*workers), 30)
            self.assertEqual(counts["ok"] + counts["err"], counts["issued"])
            self.assertEqual(slow, [])             # (set + get) each within its deadlines
            self.assertGreater(counts["ok"], killed_at + 2000)
            for i in range(200):                    # every shard served again
                await rc.set("aio:kill:after:%d" % i, i)
            await rc.aclose()
        run(main(), 90)


if __name__ == "__main__":
    unittest.main()
