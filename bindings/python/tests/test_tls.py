"""TLS in the Python binding.

TestTLSOptions runs offline: redis-py's ssl_* keywords and the library's
tls_* names become the right URL keys, redis-py's URL keys are translated,
and the error code -15 is a TLSError.

TestTLSCluster starts a TLS cluster of its own with tests/cluster/harness.py
(start --tls --tls-auth-clients: 3 primaries + 3 replicas on
127.0.0.1:23100-23105; 23149 stays closed; every port used lies in
23100-23149), when the harness has --tls and the library takes rediss://.
The certificates are the harness's (examples/lab/tls-certs.sh, in
<dir>/tls): ca.crt, client.crt/.key, other-ca.crt.
"""
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.abspath(os.path.join(HERE, "..")))

import clusterc  # noqa: E402
from clusterc.client import _with_tls  # noqa: E402
from clusterc.errors import error_for, ETLS  # noqa: E402

HARNESS = os.path.join(ROOT, "tests", "cluster", "harness.py")
BASE = 23100
CLOSED_PORT = 23149
HOST = "127.0.0.1"


def query(url):
    if isinstance(url, bytes):
        url = url.decode()
    u = urllib.parse.urlsplit(url)
    return u, dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))


def tls_keys(q):
    return {k: v for k, v in q.items() if k.startswith("tls")}


class TestTLSOptions(unittest.TestCase):
    def test_redis_py_keywords(self):
        _, q = query(clusterc.build_url(
            ["h1:1"], ssl=True, ssl_ca_certs="/c/ca b.crt", ssl_ca_path="/etc/ssl/certs",
            ssl_certfile="/c/client.crt", ssl_keyfile="/c/client.key",
            ssl_min_version=ssl.TLSVersion.TLSv1_3))
        self.assertEqual(tls_keys(q), {
            "tls": "true", "tls_ca_file": "/c/ca b.crt", "tls_ca_dir": "/etc/ssl/certs",
            "tls_cert_file": "/c/client.crt", "tls_key_file": "/c/client.key",
            "tls_min_version": "1.3"})

    def test_library_names(self):
        _, q = query(clusterc.build_url(
            ["h1:1"], tls=True, tls_ca_file="ca.crt", tls_ca_dir="d", tls_cert_file="c.crt",
            tls_key_file="c.key", tls_server_name="redis.example",
            tls_insecure_skip_verify=True, tls_min_version="1.2"))
        self.assertEqual(tls_keys(q), {
            "tls": "true", "tls_ca_file": "ca.crt", "tls_ca_dir": "d",
            "tls_cert_file": "c.crt", "tls_key_file": "c.key",
            "tls_server_name": "redis.example", "tls_insecure_skip_verify": "true",
            "tls_min_version": "1.2"})

    def test_defaults_add_nothing(self):
        _, q = query(clusterc.build_url(["h1:1"]))
        self.assertEqual(tls_keys(q), {})
        # redis-py's defaults, given explicitly, add nothing either
        _, q = query(clusterc.build_url(["h1:1"], ssl=False, ssl_cert_reqs="required",
                                        ssl_check_hostname=True, ssl_min_version=None))
        self.assertEqual(tls_keys(q), {})

    def test_cert_reqs(self):
        for reqs, skip in (("none", True), ("NONE", True), (None, True),
                           (ssl.CERT_NONE, True), ("optional", False), ("required", False),
                           (ssl.CERT_REQUIRED, False), (ssl.CERT_OPTIONAL, False)):
            _, q = query(clusterc.build_url(["h:1"], ssl=True, ssl_cert_reqs=reqs))
            self.assertEqual(q.get("tls_insecure_skip_verify"), "true" if skip else None, reqs)
        # ssl_check_hostname=False does not weaken the check (documented)
        _, q = query(clusterc.build_url(["h:1"], ssl=True, ssl_check_hostname=False))
        self.assertNotIn("tls_insecure_skip_verify", q)

    def test_min_version(self):
        for v, want in ((ssl.TLSVersion.TLSv1_2, "1.2"), (ssl.TLSVersion.TLSv1_3, "1.3"),
                        (ssl.TLSVersion.MAXIMUM_SUPPORTED, "1.3"),
                        (ssl.TLSVersion.MINIMUM_SUPPORTED, None), ("TLSv1_2", "1.2"),
                        ("TLSv1.3", "1.3"), ("1.3", "1.3")):
            _, q = query(clusterc.build_url(["h:1"], ssl=True, ssl_min_version=v))
            self.assertEqual(q.get("tls_min_version"), want, v)
        for bad in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1, "1.1", "2.0", 12):
            with self.assertRaises(clusterc.InvalidOptionError) as cm:
                clusterc.build_url(["h:1"], ssl=True, ssl_min_version=bad)
            self.assertIn("ssl_min_version", str(cm.exception))

    def test_refusals(self):
        cases = (
            (dict(ssl_ca_data="-----BEGIN CERTIFICATE-----"), ["ssl_ca_data", "ssl_ca_certs"]),
            (dict(ssl_password="pw"), ["ssl_password", "ssl_keyfile"]),
            (dict(ssl_ca_certs="a.crt", tls_ca_file="b.crt"), ["ssl_ca_certs", "tls_ca_file"]),
            (dict(ssl_cert_reqs="required", tls_insecure_skip_verify=True),
             ["ssl_cert_reqs", "tls_insecure_skip_verify"]),
            (dict(ssl_min_version="1.2", tls_min_version="1.3"),
             ["ssl_min_version", "tls_min_version"]),
            (dict(ssl_cert_reqs="sometimes"), ["ssl_cert_reqs"]),
            (dict(ssl="maybe"), ["ssl"]),
            (dict(tls_server_name=""), ["tls_server_name"]),
        )
        for kw, names in cases:
            with self.assertRaises(clusterc.InvalidOptionError, msg=kw) as cm:
                clusterc.build_url(["h:1"], **dict({"ssl": True}, **kw))
            for n in names:
                self.assertIn(n, str(cm.exception), kw)
        # the same value under both names is fine
        _, q = query(clusterc.build_url(["h:1"], ssl_ca_certs="a.crt", tls_ca_file="a.crt"))
        self.assertEqual(q["tls_ca_file"], "a.crt")
        with self.assertRaises(TypeError):
            clusterc.build_url(["h:1"], ssl_ciphers="HIGH")
        # the constructor refuses before loading anything
        with self.assertRaises(clusterc.InvalidOptionError):
            clusterc.ClusterClient(addrs=["h:1"], ssl=True, ssl_ca_data="x")

    def test_redis_py_url_keys_translated(self):
        url = _with_tls("rediss://u:p%40@h:1?ssl_cert_reqs=none&read_only=true"
                        "&ssl_ca_certs=%2Ftmp%2Fca.crt&ssl_check_hostname=false&addr=h:2", [])
        u, q = query(url)
        self.assertEqual(u.scheme, "rediss")
        self.assertEqual(u.netloc, "u:p%40@h:1")
        self.assertEqual(q, {"tls_insecure_skip_verify": "true", "tls_ca_file": "/tmp/ca.crt",
                             "read_only": "true", "addr": "h:2"})
        # untouched when there is nothing to translate or add
        self.assertEqual(_with_tls("redis://h:1?client_name=myssl", []),
                         b"redis://h:1?client_name=myssl")
        # non-UTF-8 bytes elsewhere in the query survive the rewrite
        self.assertEqual(_with_tls(b"redis://h:1?password=%FF%C3x+y&ssl=true", []),
                         b"redis://h:1?password=%FF%C3x%20y&tls=true")
        # keywords add keys to a URL with or without a query
        self.assertEqual(_with_tls("rediss://h:1", [("tls_ca_file", "/a b")]),
                         b"rediss://h:1?tls_ca_file=%2Fa%20b")
        self.assertEqual(_with_tls("rediss://h:1?addr=h:2", [("tls_ca_file", "c")]),
                         b"rediss://h:1?addr=h:2&tls_ca_file=c")
        with self.assertRaises(clusterc.InvalidOptionError):
            _with_tls("rediss://h:1?ssl_min_version=1.0", [])

    def test_tls_options_need_tls(self):
        # the library refuses TLS options with TLS off (a forgotten ssl=True)
        for kw in (dict(ssl_ca_certs="/nonexistent/ca.crt"), dict(ssl_cert_reqs="none"),
                   dict(tls_server_name="localhost")):
            with self.assertRaises(clusterc.InvalidOptionError, msg=kw) as cm:
                clusterc.ClusterClient(addrs=["%s:%d" % (HOST, CLOSED_PORT)], **kw)
            self.assertIn("tls", str(cm.exception))

    def test_from_url_keywords(self):
        with self.assertRaises(TypeError):
            clusterc.ClusterClient.from_url("rediss://h:1", read_only=True)
        with self.assertRaises(clusterc.InvalidOptionError):
            clusterc.ClusterClient.from_url("rediss://h:1", ssl_password="x")

    def test_error_class(self):
        self.assertEqual(ETLS, -15)
        e = error_for(-15, "127.0.0.1:7001: certificate verify failed (unknown CA)")
        self.assertIsInstance(e, clusterc.TLSError)
        self.assertIsInstance(e, clusterc.ConnectionError)
        self.assertIsInstance(e, clusterc.ClusterError)
        self.assertEqual(e.code, -15)
        self.assertIn("unknown CA", str(e))
        self.assertIs(clusterc.errors.TLSError, clusterc.TLSError)


# ---------------------------------------------------------------- a TLS cluster

def _library_tls():
    """(True, "") when the library takes rediss://, else (False, why)."""
    try:
        c = clusterc.ClusterClient.from_url(
            "rediss://%s:%d?dial_timeout=200ms&read_timeout=500ms" % (HOST, CLOSED_PORT),
            connect_lazily=True)
    except clusterc.InvalidOptionError as e:
        return False, str(e)
    except clusterc.ClusterError:
        return True, ""
    c.close()
    return True, ""


def _harness_tls():
    try:
        with open(HARNESS) as f:
            return "--tls" in f.read()
    except OSError:
        return False


class TestTLSCluster(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("redis-server") or not shutil.which("redis-cli"):
            raise unittest.SkipTest("redis-server / redis-cli not found")
        if not _harness_tls():
            raise unittest.SkipTest("harness.py has no --tls")
        ok, why = _library_tls()
        if not ok:
            raise unittest.SkipTest("the library refuses TLS: " + why)
        cls.tmp = tempfile.mkdtemp(prefix="clusterc-py-tls-",
                                   dir=os.environ.get("CLUSTERC_PY_TEST_TMP"))
        cls.dir = os.path.join(cls.tmp, "cluster")
        r = subprocess.run([sys.executable, HARNESS, "start", "--dir", cls.dir,
                            "--base", str(BASE), "--primaries", "3", "--replicas", "1",
                            "--tls", "--tls-auth-clients", "--owner-pid", str(os.getpid()),
                            "--max-life", "600"],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise RuntimeError("harness start --tls failed: %s %s" % (r.stdout, r.stderr))
        st = json.loads(r.stdout.strip().splitlines()[-1])
        cls.tls_dir = st["tls_dir"]
        cls.seeds = ["%s:%d" % (HOST, BASE), "%s:%d" % (HOST, BASE + 1)]

    @classmethod
    def tearDownClass(cls):
        subprocess.run([sys.executable, HARNESS, "stop", "--dir", cls.dir],
                       capture_output=True, timeout=60)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def cert(self, name):
        return os.path.join(self.tls_dir, name)

    def good(self, **kw):
        opts = dict(addrs=self.seeds, ssl=True, ssl_ca_certs=self.cert("ca.crt"),
                    ssl_certfile=self.cert("client.crt"), ssl_keyfile=self.cert("client.key"),
                    dial_timeout=2.0, read_timeout=5.0)
        opts.update(kw)
        return opts

    def set_get(self, c, prefix, n):
        for i in range(n):
            self.assertTrue(c.set("%s:%d" % (prefix, i), "v%d" % i))
        self.assertEqual(c.mget(["%s:%d" % (prefix, i) for i in range(n)]),
                         [b"v%d" % i for i in range(n)])
        for i in range(0, n, 7):
            self.assertEqual(c.get("%s:%d" % (prefix, i)), b"v%d" % i)

    def test_set_get_redis_py_keywords(self):
        with clusterc.ClusterClient(**self.good()) as c:
            self.set_get(c, "tls:py", 300)
            ports = sorted(int(n["addr"].rsplit(":", 1)[1]) for n in c.node_stats())
            self.assertEqual(ports, list(range(BASE, BASE + 6)))

    def test_set_get_library_names_read_only(self):
        with clusterc.ClusterClient(addrs=self.seeds, tls=True, tls_ca_file=self.cert("ca.crt"),
                                    tls_cert_file=self.cert("client.crt"),
                                    tls_key_file=self.cert("client.key"),
                                    tls_server_name="localhost", tls_min_version="1.2",
                                    read_only=True, dial_timeout=2.0) as c:
            self.set_get(c, "tls:lib", 100)

    def test_pipeline_and_pubsub_client(self):
        with clusterc.ClusterClient(**self.good()) as c:
            with c.pipeline() as p:
                for i in range(50):
                    p.set("tls:pipe:%d" % i, i)
                self.assertEqual(p.execute(), [True] * 50)
            ps = c.pubsub()          # a second client from the same (TLS) URL
            try:
                self.assertEqual(ps.client.get("tls:pipe:3"), b"3")
            finally:
                ps.close()

    def test_from_url_rediss(self):
        q = urllib.parse.urlencode({"addr": self.seeds[1], "dial_timeout": "2s",
                                    "ssl_ca_certs": self.cert("ca.crt"),
                                    "tls_cert_file": self.cert("client.crt"),
                                    "tls_key_file": self.cert("client.key")})
        with clusterc.ClusterClient.from_url("rediss://%s?%s" % (self.seeds[0], q)) as c:
            self.set_get(c, "tls:url", 50)
        # files as keywords
        with clusterc.ClusterClient.from_url(
                "rediss://%s" % self.seeds[0], ssl_ca_certs=self.cert("ca.crt"),
                ssl_certfile=self.cert("client.crt"), ssl_keyfile=self.cert("client.key"),
                decode_responses=True) as c:
            c.set("tls:url:kw", "x")
            self.assertEqual(c.get("tls:url:kw"), "x")

    def test_wrong_ca(self):
        with self.assertRaises(clusterc.TLSError) as cm:
            clusterc.ClusterClient(**self.good(ssl_ca_certs=self.cert("other-ca.crt")))
        e = cm.exception
        self.assertEqual(e.code, clusterc.errors.ETLS)
        self.assertIsInstance(e, clusterc.ConnectionError)
        self.assertIn(str(BASE), str(e))
        # the same for a client that connects lazily, at its first command
        c = clusterc.ClusterClient(connect_lazily=True,
                                   **self.good(ssl_ca_certs=self.cert("other-ca.crt")))
        self.addCleanup(c.close)
        with self.assertRaises(clusterc.TLSError):
            c.get("tls:x")

    def test_insecure_skip_verify(self):
        with clusterc.ClusterClient(**self.good(ssl_ca_certs=self.cert("other-ca.crt"),
                                                ssl_cert_reqs="none")) as c:
            self.set_get(c, "tls:insecure", 20)

    def test_host_name_checked(self):
        # the certificate is for localhost / 127.0.0.1: another name fails,
        # even with redis-py's ssl_check_hostname=False (documented) ...
        for kw in (dict(tls_server_name="wrong.example"),
                   dict(tls_server_name="wrong.example", ssl_check_hostname=False)):
            with self.assertRaises(clusterc.TLSError, msg=kw) as cm:
                clusterc.ClusterClient(**self.good(**kw))
            self.assertIn("name", str(cm.exception))
        # ... and ssl_cert_reqs="none" turns every check off
        with clusterc.ClusterClient(**self.good(tls_server_name="wrong.example",
                                                ssl_cert_reqs="none")) as c:
            self.set_get(c, "tls:name", 10)

    def test_no_client_certificate(self):
        # tls-auth-clients yes: a client without a certificate is refused.
        # With TLS 1.3 the server refuses after the client's handshake is
        # done, so the library sees either the server's alert (a TLSError
        # naming tls_cert_file) or a reset on its first write (EIO).
        with self.assertRaises(clusterc.ConnectionError) as cm:
            clusterc.ClusterClient(addrs=self.seeds, ssl=True,
                                   ssl_ca_certs=self.cert("ca.crt"), dial_timeout=1.0,
                                   read_timeout=2.0)
        self.assertIn(cm.exception.code, (clusterc.errors.ETLS, clusterc.errors.EIO))
        if isinstance(cm.exception, clusterc.TLSError):
            self.assertIn("tls_cert_file", str(cm.exception))

    def test_missing_file(self):
        with self.assertRaises(clusterc.InvalidOptionError) as cm:
            clusterc.ClusterClient(**self.good(ssl_ca_certs=self.cert("no-such.crt")))
        self.assertIn("no-such.crt", str(cm.exception))

    def test_plain_client_on_tls_port(self):
        with self.assertRaises(clusterc.ConnectionError):
            clusterc.ClusterClient(addrs=self.seeds, dial_timeout=0.5, read_timeout=1.0)


if __name__ == "__main__":
    unittest.main()
