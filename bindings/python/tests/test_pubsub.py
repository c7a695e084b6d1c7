"""Tests of the clusterc Python binding's Pub/Sub against a real cluster.

A 3 primary + 3 replica cluster of its own is started with
tests/cluster/harness.py on ports 20820-20825 (inside the 20800-20849 range
of the Python binding's tests; test_client.py uses 20800-20810 and
20848-20849), as test_client.py starts its own. Needs redis-server and
redis-cli; CLUSTERC_LIBRARY should point at the library just built.

Subscriptions are made in the background by the library, so each test
first publishes "sync" messages on every channel until each was seen: what
is published after that must arrive (the cluster is stable), exactly once.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.abspath(os.path.join(HERE, "..")))

import clusterc  # noqa: E402
from clusterc import errors  # noqa: E402

HARNESS = os.path.join(ROOT, "tests", "cluster", "harness.py")
BASE = 20820
HOST = "127.0.0.1"
SYNC = b"sync"
CLUSTER = {}


def setUpModule():
    d = tempfile.mkdtemp(prefix="clusterc-pyps-", dir=os.environ.get("CLUSTERC_PY_TEST_TMP"))
    CLUSTER["tmp"] = d
    CLUSTER["dir"] = os.path.join(d, "cluster")
    r = subprocess.run([sys.executable, HARNESS, "start", "--dir", CLUSTER["dir"],
                        "--base", str(BASE), "--primaries", "3", "--replicas", "1",
                        "--owner-pid", str(os.getpid()), "--max-life", "600"],
                       capture_output=True, text=True, timeout=90)
    if r.returncode != 0:
        raise RuntimeError("harness start failed: %s %s" % (r.stdout, r.stderr))
    st = json.loads(r.stdout.strip().splitlines()[-1])
    CLUSTER["primaries"] = [n["port"] for n in st["nodes"] if n["role"] == "master"]


def tearDownModule():
    if CLUSTER.get("dir"):
        subprocess.run([sys.executable, HARNESS, "stop", "--dir", CLUSTER["dir"]],
                       capture_output=True, timeout=60)
    if CLUSTER.get("tmp"):
        shutil.rmtree(CLUSTER["tmp"], ignore_errors=True)


def seeds():
    return ["%s:%d" % (HOST, p) for p in CLUSTER["primaries"][:2]]


def publish(client, kind, channel, data):
    """PUBLISH, or SPUBLISH for a shard channel; a str kind is a message type."""
    verb = "SPUBLISH" if kind == "smessage" else "PUBLISH"
    return client.execute_command(verb, channel, data)


def spread_names(client, prefix, n):
    """n names prefix0, prefix1, ... whose slots fall in min(n, 3) thirds of
    the slot space (the harness gives each primary one third)."""
    names, thirds = [], set()
    i = 0
    while len(names) < n or len(thirds) < min(n, 3):
        name = "%s%d" % (prefix, i)
        i += 1
        third = client.keyslot(name) * 3 // 16384
        if len(names) < n and (third not in thirds or len(names) >= 3):
            names.append(name)
            thirds.add(third)
        if i > 10000:
            raise AssertionError("no names spread over the slots")
    return names


class PubSubTest(unittest.TestCase):
    def client(self, **kw):
        c = clusterc.ClusterClient(addrs=seeds(), **kw)
        self.addCleanup(c.close)
        return c

    def wait_subscribed(self, sub, pub, targets, limit=20.0):
        """Publish "sync" on each (type, channel) of targets until sub saw one
        from each. Other messages seen meanwhile are returned."""
        pending = {(t, c.encode() if isinstance(c, str) else c) for t, c in targets}
        others = []
        end = time.monotonic() + limit
        while pending:
            self.assertLess(time.monotonic(), end, "still not subscribed: %r" % sorted(pending))
            for t, ch in sorted(pending):
                publish(pub, t, ch, SYNC)
            window = time.monotonic() + 0.3
            while True:
                m = sub.get_message(timeout=max(0.0, window - time.monotonic()))
                if m is None:
                    if time.monotonic() >= window:
                        break
                    continue
                ch = m["channel"]
                if m["data"] in (SYNC, SYNC.decode()):
                    pending.discard((m["type"], ch.encode() if isinstance(ch, str) else ch))
                else:
                    others.append(m)
        return others

    def collect(self, sub, want, limit=20.0):
        """Messages (not syncs) until want of them came or limit passed."""
        got = []
        end = time.monotonic() + limit
        while len(got) < want and time.monotonic() < end:
            m = sub.get_message(timeout=0.5)
            if m is not None and m["data"] not in (SYNC, SYNC.decode()):
                got.append(m)
        return got

    def assert_quiet(self, sub, seconds=0.5):
        """Nothing but late syncs for a while."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            m = sub.get_message(timeout=0.2)
            self.assertTrue(m is None or m["data"] in (SYNC, SYNC.decode()),
                            "unexpected message %r" % (m,))


# ---------------------------------------------------------------- delivery

class TestDelivery(PubSubTest):
    def test_all_kinds_exactly_once(self):
        sub, pub = self.client(), self.client()
        chans = spread_names(pub, "py:c:", 6)
        shards = spread_names(pub, "py:s:", 9)
        pchans = spread_names(pub, "py:p:", 6)
        sub.subscribe(*chans)
        sub.ssubscribe(shards)            # a list works too, as in redis-py
        sub.psubscribe("py:p:*")
        targets = ([("message", c) for c in chans] + [("smessage", c) for c in shards]
                   + [("pmessage", c) for c in pchans])
        self.assertEqual(self.wait_subscribed(sub, pub, targets), [])
        sent = {}
        for i in range(150):
            t, ch = targets[i % len(targets)]
            data = b"m:%d" % i
            publish(pub, t, ch, data)
            sent[data] = (t, ch.encode())
        got = self.collect(sub, len(sent))
        datas = [m["data"] for m in got]
        self.assertEqual(len(datas), len(set(datas)), "a message came twice")
        self.assertEqual(set(datas), set(sent), "messages lost")
        for m in got:
            t, ch = sent[m["data"]]
            self.assertEqual((m["type"], m["channel"]), (t, ch))
            self.assertEqual(m["pattern"], b"py:p:*" if t == "pmessage" else None)
        self.assert_quiet(sub)

    def test_nothing_published_gives_none(self):
        c = self.client()
        c.subscribe("py:quiet")
        t0 = time.monotonic()
        self.assertIsNone(c.get_message(timeout=0.2))
        self.assertGreaterEqual(time.monotonic() - t0, 0.15)
        self.assertIsNone(c.get_message())          # timeout 0: no wait
        plain = self.client()                       # never subscribed
        self.assertIsNone(plain.get_message(timeout=0.2))

    def test_binary_payload_and_decode_responses(self):
        sub, pub = self.client(decode_responses=True), self.client()
        sub.subscribe("py:txt")
        sub.ssubscribe("py:stxt")
        self.wait_subscribed(sub, pub, [("message", "py:txt"), ("smessage", "py:stxt")])
        publish(pub, "message", "py:txt", "héllo")
        publish(pub, "smessage", "py:stxt", "wörld")
        got = {m["type"]: m for m in self.collect(sub, 2)}
        self.assertEqual(got["message"], {"type": "message", "pattern": None,
                                          "channel": "py:txt", "data": "héllo"})
        self.assertEqual(got["smessage"]["data"], "wörld")
        self.assertEqual(sub.channels, {"py:txt": None})

        raw = self.client()
        raw.subscribe(b"py:bin")
        self.wait_subscribed(raw, pub, [("message", b"py:bin")])
        payload = bytes(range(256)) + b"\0tail"
        publish(pub, "message", b"py:bin", payload)
        (m,) = self.collect(raw, 1)
        self.assertEqual(m["data"], payload)
        self.assertEqual(m["channel"], b"py:bin")

    def test_handler_gets_the_message(self):
        sub, pub = self.client(), self.client()
        seen = []
        sub.subscribe(**{"py:h": seen.append})
        sub.subscribe("py:noh")
        self.wait_subscribed(sub, pub, [("message", "py:noh")])
        deadline = time.monotonic() + 20
        while not seen and time.monotonic() < deadline:
            publish(pub, "message", "py:h", b"x")
            self.assertIsNone(sub.get_message(timeout=0.3))   # handled, not returned
        self.assertTrue(seen, "the handler was never called")
        self.assertEqual(seen[0]["channel"], b"py:h")
        self.assertEqual(seen[0]["data"], b"x")


# ---------------------------------------------------------------- unsubscribe

class TestUnsubscribe(PubSubTest):
    def run_kind(self, sub_fn, unsub_fn, kind, names, wait_names):
        sub, pub = self.client(), self.client()
        getattr(sub, sub_fn)(*names)
        self.wait_subscribed(sub, pub, [(kind, n) for n in wait_names])
        getattr(sub, unsub_fn)(names[0])
        if kind == "smessage":
            # A shard channel's node reports the server's side: no receiver.
            end = time.monotonic() + 10
            while publish(pub, kind, wait_names[0], b"probe") != 0:
                self.assertLess(time.monotonic(), end, "SUNSUBSCRIBE never reached the node")
                time.sleep(0.05)
        for i in range(20):
            publish(pub, kind, wait_names[0], b"gone:%d" % i)
            publish(pub, kind, wait_names[1], b"kept:%d" % i)
        got = self.collect(sub, 20, limit=10)
        self.assertEqual(sorted(m["data"] for m in got), sorted(b"kept:%d" % i for i in range(20)))
        self.assertTrue(all(m["channel"] == wait_names[1].encode() for m in got))
        self.assert_quiet(sub)
        getattr(sub, unsub_fn)()      # no names: all of that kind
        self.assertFalse(sub.subscribed)
        for i in range(5):
            publish(pub, kind, wait_names[1], b"late:%d" % i)
        self.assert_quiet(sub)

    def test_unsubscribe(self):
        self.run_kind("subscribe", "unsubscribe", "message", ["py:u1", "py:u2"],
                      ["py:u1", "py:u2"])

    def test_sunsubscribe(self):
        names = spread_names(self.client(), "py:su:", 2)
        self.run_kind("ssubscribe", "sunsubscribe", "smessage", names, names)

    def test_punsubscribe(self):
        self.run_kind("psubscribe", "punsubscribe", "pmessage", ["py:pa:*", "py:pb:*"],
                      ["py:pa:x", "py:pb:x"])

    def test_unsubscribe_unknown_is_harmless(self):
        c = self.client()
        c.unsubscribe("py:never")
        c.punsubscribe()
        c.subscribe("py:once")
        c.subscribe("py:once")                      # twice: still one
        self.assertEqual(c.channels, {b"py:once": None})
        self.assertTrue(c.subscribed)
        c.unsubscribe("py:once")
        self.assertFalse(c.subscribed)


# ---------------------------------------------------------------- the rest

class TestApi(PubSubTest):
    def test_subscribe_command_refused(self):
        c = self.client()
        c.set("py:ps:k", "v")
        for verb in ("SUBSCRIBE", "SSUBSCRIBE", "PSUBSCRIBE"):
            with self.assertRaises(clusterc.ClusterError) as cm:
                c.execute_command(verb, "py:ps:k")
            self.assertEqual(cm.exception.code, errors.EUSAGE)
        self.assertEqual(c.get("py:ps:k"), b"v")     # the connection is untouched

    def test_bad_arguments(self):
        c = self.client()
        with self.assertRaises(clusterc.DataError):
            c.subscribe("")
        with self.assertRaises(clusterc.DataError):
            c.ssubscribe("a\0b")
        with self.assertRaises(clusterc.DataError):
            c.psubscribe(True)
        with self.assertRaises(clusterc.InvalidOptionError):
            c.get_message(timeout=-1)
        with self.assertRaises(clusterc.InvalidOptionError):
            c.subscribe(**{"py:x": "not callable"})
        self.assertFalse(c.subscribed)
        c.close()
        with self.assertRaises(clusterc.ClientClosedError):
            c.subscribe("py:x")
        with self.assertRaises(clusterc.ClientClosedError):
            c.get_message(timeout=0.1)

    def test_pubsub_object_and_listen(self):
        r = self.client(decode_responses=True)
        with r.pubsub() as p:
            self.assertIsNot(p.client, r)
            p.ssubscribe("py:l1")
            p.subscribe("py:l2")
            stop = threading.Event()

            def publisher():
                # Until the listener has both (the library subscribes in the
                # background, so the first ones may be lost); then, or after
                # 100 rounds, unsubscribing everything ends listen().
                try:
                    for _ in range(100):
                        if stop.wait(0.1):
                            break
                        publish(r, "smessage", "py:l1", "a")
                        publish(r, "message", "py:l2", "b")
                finally:
                    p.unsubscribe()
                    p.sunsubscribe()
            t = threading.Thread(target=publisher, daemon=True)
            t.start()
            got = {}
            for m in p.listen():
                got.setdefault(m["data"], m)
                if len(got) == 2:
                    stop.set()
            t.join(30)
            got = list(got.values())
            self.assertEqual(sorted((m["type"], m["channel"]) for m in got),
                             [("message", "py:l2"), ("smessage", "py:l1")])
            self.assertFalse(p.subscribed)
            self.assertEqual(list(p.listen()), [])   # nothing subscribed: ends
        self.assertTrue(p.client.closed)
        self.assertEqual(r.get("py:nokey"), None)     # the parent is still open

    def test_wait_forever_shares_the_client(self):
        """get_message(timeout=None) in one thread lets another thread's
        commands on the same client through (the lock is let go between
        its slices)."""
        c = self.client()
        c.subscribe("py:fv")
        box = {}

        def waiter():
            try:
                box["msg"] = c.get_message(timeout=None)
            except Exception as e:      # the client closed under it: reported below
                box["err"] = e
        t = threading.Thread(target=waiter, daemon=True)
        t.start()
        time.sleep(0.3)                 # the waiter is inside its slices now
        for _ in range(100):            # commands from this thread get in
            if not t.is_alive():
                break
            publish(c, "message", "py:fv", b"hi")
            t.join(0.2)
        c.close()
        t.join(5)
        self.assertNotIn("err", box)
        self.assertEqual(box["msg"]["data"], b"hi")

    def test_hook_may_not_subscribe(self):
        box = {"codes": []}

        def on_command(ci):
            try:
                box["c"].subscribe("py:fromhook")
            except clusterc.ClusterError as e:
                box["codes"].append(e.code)
        c = self.client(on_command=on_command)
        box["c"] = c
        c.get("py:hookkey")
        self.assertEqual(box["codes"], [errors.EUSAGE])
        c.subscribe("py:hooked")
        self.assertEqual(c.channels, {b"py:hooked": None})

if __name__ == "__main__":
    unittest.main()
