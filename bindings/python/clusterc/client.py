"""ClusterClient: a Redis Cluster client over libclusterc (ctypes).

The C library does the cluster work (slot map, MOVED/ASK, retries, replica
reads); this module turns Python arguments into argument vectors, calls the
library and walks replies with its accessor functions.

A client is safe to share between Python threads: every call into the
library holds the client's lock (libclusterc clients are single-threaded).

Hooks: on_event and on_command (see ClusterClient) are called by the library
on the thread that holds the client's lock, from inside the client's calls.
Pub/Sub (subscribe, get_message, pubsub()) is pubsub.py's PubSubMixin;
cluster-wide SCAN (scan_iter) is scan.py's ScanMixin.
"""
import ctypes
import datetime
import json
import threading
import urllib.parse

from . import _lib
from .hooks import Hooks
from .pubsub import PubSubMixin
from .scan import ScanMixin
from .tls import SSL_KEYWORDS, UNSET, tls_params, translate_query
from .errors import (ClientClosedError, ClusterError, ConnectionError, DataError,
                     InvalidOptionError, ResponseError, EINVAL, ENOMEM, EUSAGE, error_for)

# Per-command routes (clusterc.h CLUSTERC_ROUTE_*).
ROUTE_DEFAULT = 0
ROUTE_PRIMARY = 1
ROUTE_REPLICA = 2
ROUTE_ANY = 3
_ROUTE_NAMES = {"default": ROUTE_DEFAULT, "primary": ROUTE_PRIMARY,
                "replica": ROUTE_REPLICA, "any": ROUTE_ANY}

# Reply types (hiredis REDIS_REPLY_*; 7.. are RESP3, hiredis 1.x).
_STRING, _ARRAY, _INTEGER, _NIL, _STATUS, _ERROR = 1, 2, 3, 4, 5, 6
_DOUBLE, _BOOL, _MAP, _SET, _ATTR, _PUSH, _BIGNUM, _VERB = 7, 8, 9, 10, 11, 12, 13, 14

_MAX_DEPTH = 64   # nested arrays deeper than this are refused, not recursed


# ------------------------------------------------------------------ options

def _duration(name, value):
    """Seconds (int/float) or a timedelta -> a Go duration string."""
    if isinstance(value, datetime.timedelta):
        secs = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        secs = float(value)
    elif isinstance(value, str):
        return value          # already a duration ("500ms"); the library checks it
    else:
        raise InvalidOptionError("%s: expected seconds (a number) or a timedelta, got %r"
                                 % (name, value), EINVAL)
    if secs < 0:
        raise InvalidOptionError("%s: must not be negative, got %r" % (name, value), EINVAL)
    us = round(secs * 1_000_000)
    if us % 1000 == 0:
        return "%dms" % (us // 1000)
    return "%dus" % us


def _bool(value):
    return "true" if value else "false"


def _format_addr(addr):
    if isinstance(addr, (tuple, list)) and len(addr) == 2:
        host, port = addr
        host = str(host)
        if ":" in host and not host.startswith("["):
            host = "[%s]" % host
        return "%s:%d" % (host, int(port))
    if isinstance(addr, bytes):
        addr = addr.decode()
    if not isinstance(addr, str) or not addr:
        raise InvalidOptionError("addrs: bad address %r (want \"host:port\" or (host, port))"
                                 % (addr,), EINVAL)
    return addr


def _quote(s):
    return urllib.parse.quote(str(s), safe="")


def build_url(addrs, password=None, username=None, read_only=False, route_by_latency=False,
              route_randomly=False, max_redirects=None, dial_timeout=None, read_timeout=None,
              write_timeout=None, max_retries=None, min_retry_backoff=None,
              max_retry_backoff=None, client_name=None, latency_tolerance=None,
              latency_replicas_only=None, latency_probe=None, failing_timeout=None,
              max_lag=None, max_lag_bytes=None, lag_probe=None, read_your_writes=None,
              refresh_interval=None, refresh_min_interval=None, node_address_map=None,
              client_az=None, az_affinity=None, url_options=None, **tls):
    """The redis:// URL (the keys of clusterc_options_parse_url) for these options.
    Durations are seconds (int/float) or timedeltas; None leaves the library's
    default. TLS: redis-py's ssl, ssl_ca_certs, ssl_ca_path, ssl_certfile,
    ssl_keyfile, ssl_cert_reqs, ssl_check_hostname, ssl_min_version and/or
    the library's tls, tls_ca_file, tls_ca_dir, tls_cert_file, tls_key_file,
    tls_server_name, tls_insecure_skip_verify, tls_min_version (tls.py has
    the mapping); they become the tls* URL keys."""
    bad = sorted(set(tls) - set(SSL_KEYWORDS))
    if bad:
        raise TypeError("build_url() got unexpected keyword arguments %s" % bad)
    tls_q = tls_params(**tls)
    if isinstance(addrs, (str, bytes)):
        addrs = (addrs.decode() if isinstance(addrs, bytes) else addrs).split(",")
    addrs = [_format_addr(a) for a in (addrs or [])]
    if not addrs:
        raise InvalidOptionError("addrs: at least one seed address is needed", EINVAL)
    userinfo = ""
    if username is not None or password is not None:
        userinfo = _quote(username or "")
        if password is not None:
            userinfo += ":" + _quote(password)
        userinfo += "@"
    q = [("addr", a) for a in addrs[1:]]
    q += [("read_only", _bool(read_only)), ("route_by_latency", _bool(route_by_latency)),
          ("route_randomly", _bool(route_randomly))]
    ints = (("max_redirects", max_redirects), ("max_retries", max_retries),
            ("max_lag_bytes", max_lag_bytes))
    durations = (("dial_timeout", dial_timeout), ("read_timeout", read_timeout),
                 ("write_timeout", write_timeout), ("min_retry_backoff", min_retry_backoff),
                 ("max_retry_backoff", max_retry_backoff),
                 ("latency_tolerance", latency_tolerance), ("latency_probe", latency_probe),
                 ("failing_timeout", failing_timeout), ("max_lag", max_lag),
                 ("lag_probe", lag_probe), ("refresh_interval", refresh_interval),
                 ("refresh_min_interval", refresh_min_interval))
    bools = (("latency_replicas_only", latency_replicas_only),
             ("read_your_writes", read_your_writes))
    for k, v in ints:
        if v is not None:
            if isinstance(v, bool) or not isinstance(v, int):
                raise InvalidOptionError("%s: expected an integer, got %r" % (k, v), EINVAL)
            q.append((k, str(v)))
    for k, v in durations:
        if v is not None:
            q.append((k, _duration(k, v)))
    for k, v in bools:
        if v is not None:
            q.append((k, _bool(v)))
    if client_name is not None:
        q.append(("client_name", client_name))
    if client_az is not None:
        q.append(("client_az", client_az))
    if az_affinity is not None:
        # True/1: replicas in client_az first; 2 (or "replicas_and_primary",
        # GLIDE's AZAffinityReplicasAndPrimary): then the primary in it.
        levels = {False: 0, True: 1, 0: 0, 1: 1, 2: 2, "replicas": 1,
                  "replicas_and_primary": 2}
        if az_affinity not in levels:
            raise InvalidOptionError("az_affinity: want False, True, 2 or "
                                     "'replicas_and_primary', got %r" % (az_affinity,), EINVAL)
        q.append(("az_affinity", str(levels[az_affinity])))
    if node_address_map is not None:
        if isinstance(node_address_map, dict):
            node_address_map = ",".join("%s=%s" % kv for kv in node_address_map.items())
        q.append(("node_address_map", node_address_map))
    q += tls_q
    for k, v in (url_options or {}).items():
        if isinstance(v, bool):
            v = _bool(v)
        elif isinstance(v, datetime.timedelta):
            v = _duration(k, v)
        q.append((k, str(v)))
    query = "&".join("%s=%s" % (_quote(k), _quote(v)) for k, v in q)
    return "redis://%s%s?%s" % (userinfo, addrs[0], query)


def _with_tls(url, tls_q):
    """url with redis-py's ssl_* query keys turned into tls_* keys and the
    keys tls_q appended. Returned as it came when there is nothing to do."""
    if isinstance(url, str):
        url = url.encode()
    if not isinstance(url, bytes):
        return url               # refused by the caller
    # Worked on as latin-1 text: every byte of the URL comes back as it was.
    raw = url.decode("latin-1")
    base, sep, query = raw.partition("?")
    extra = "&".join("%s=%s" % (_quote(k), _quote(v)) for k, v in tls_q)
    if sep and "ssl" in query:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True, encoding="latin-1")
        if any(k.startswith("ssl") for k, _ in pairs):
            query = "&".join("%s=%s" % (urllib.parse.quote(k, safe="", encoding="latin-1"),
                                        urllib.parse.quote(v, safe="", encoding="latin-1"))
                             for k, v in translate_query(pairs))
        elif not tls_q:
            return url
    elif not tls_q:
        return url
    return (base + "?" + "&".join(part for part in (query, extra) if part)).encode("latin-1")


# ------------------------------------------------------------------ encoding

def _encoder(encoding, errors):
    def encode(value):
        # As redis-py's Encoder: bytes as is, str encoded, numbers as text;
        # bools and anything else refused.
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        if isinstance(value, str):
            return value.encode(encoding, errors)
        if isinstance(value, bool):
            raise DataError("Invalid input of type: 'bool'. Convert to a bytes, string, "
                            "int or float first.")
        if isinstance(value, int):
            return b"%d" % value
        if isinstance(value, float):
            return repr(value).encode()
        raise DataError("Invalid input of type: '%s'. Convert to a bytes, string, int or "
                        "float first." % type(value).__name__)
    return encode


class _Argv:
    """One command as C arrays; keeps the bytes alive while the call runs."""
    __slots__ = ("n", "argv", "lens", "args")

    def __init__(self, args):
        n = len(args)
        if n == 0:
            raise DataError("empty command")
        self.args = args
        self.n = n
        self.argv = (ctypes.c_char_p * n)(*args)
        self.lens = (ctypes.c_size_t * n)(*[len(a) for a in args])


# ------------------------------------------------------------------ commands

def _whole(v, name, per_second):
    """An int, or a timedelta in seconds (per_second 1) or ms (1000)."""
    if isinstance(v, datetime.timedelta):
        return int(v.total_seconds() * per_second)
    if isinstance(v, bool) or not isinstance(v, int):
        raise DataError("%s must be an int or a timedelta" % name)
    return v


def _keys_arg(keys, args):
    # mget(["a", "b"]) and mget("a", "b") both work, as in redis-py.
    if isinstance(keys, (list, tuple)):
        return list(keys) + list(args)
    return [keys] + list(args)


class _Commands:
    """Convenience commands, shared by ClusterClient (run now) and Pipeline
    (queued). Each builds one or more commands and a function combining
    their results; self._run does the rest."""

    def execute_command(self, *args):
        return self._run([args], None)

    def get(self, name):
        return self._run([("GET", name)], None)

    def set(self, name, value, ex=None, px=None, nx=False, xx=False, keepttl=False,
            get=False, exat=None, pxat=None):
        """SET; True when done, None when NX/XX prevented it (redis-py's
        convention); with get=True the old value."""
        args = ["SET", name, value]
        if ex is not None:
            args += ["EX", _whole(ex, "ex", 1)]
        if px is not None:
            args += ["PX", _whole(px, "px", 1000)]
        if exat is not None:
            args += ["EXAT", exat]
        if pxat is not None:
            args += ["PXAT", pxat]
        if keepttl:
            args.append("KEEPTTL")
        if nx:
            args.append("NX")
        if xx:
            args.append("XX")
        if get:
            args.append("GET")
            return self._run([tuple(args)], None)
        return self._run([tuple(args)], lambda rs: True if rs[0] == "OK" else None)

    def delete(self, *names):
        """DEL; keys in different slots are grouped per slot (one DEL per
        slot, pipelined) and the counts summed."""
        if not names:
            return self._run([], lambda rs: 0)
        groups = self._client_ref()._group_by_slot(names)
        return self._run([("DEL",) + tuple(names[i] for i in idx) for idx in groups.values()],
                         sum)

    def exists(self, *names):
        if not names:
            return self._run([], lambda rs: 0)
        groups = self._client_ref()._group_by_slot(names)
        return self._run([("EXISTS",) + tuple(names[i] for i in idx)
                          for idx in groups.values()], sum)

    def mget(self, keys, *args):
        """MGET across slots: one MGET per slot (pipelined), values returned
        in the order of the keys."""
        keys = _keys_arg(keys, args)
        if not keys:
            return self._run([], lambda rs: [])
        groups = list(self._client_ref()._group_by_slot(keys).values())

        def combine(rs):
            out = [None] * len(keys)
            for idx, vals in zip(groups, rs):
                for i, v in zip(idx, vals):
                    out[i] = v
            return out
        return self._run([("MGET",) + tuple(keys[i] for i in idx) for idx in groups], combine)

    def mset(self, mapping):
        """MSET across slots: one MSET per slot (pipelined; not atomic
        across slots). True."""
        items = list(mapping.items())
        if not items:
            return self._run([], lambda rs: True)
        groups = self._client_ref()._group_by_slot([k for k, _ in items])
        cmds = []
        for idx in groups.values():
            args = ["MSET"]
            for i in idx:
                args += [items[i][0], items[i][1]]
            cmds.append(tuple(args))
        return self._run(cmds, lambda rs: True)

    def incr(self, name, amount=1):
        return self._run([("INCRBY", name, amount)], None)

    def expire(self, name, seconds):
        return self._run([("EXPIRE", name, seconds)], lambda rs: bool(rs[0]))

    def ttl(self, name):
        return self._run([("TTL", name)], None)

    def ping(self):
        return self._run([("PING",)], lambda rs: rs[0] == "PONG")


# ------------------------------------------------------------------ client

class ClusterClient(_Commands, PubSubMixin, ScanMixin):
    """A Redis Cluster client.

    ClusterClient(addrs=["localhost:7001", ...], read_only=False,
                  route_by_latency=False, route_randomly=False, password=None, ...)

    Options are go-redis's ClusterOptions in snake case (durations in
    seconds), plus libclusterc's own (latency_tolerance, max_lag,
    read_your_writes, ...); see build_url for the full list. Python-side:
    decode_responses (str instead of bytes for string replies), encoding,
    encoding_errors, connect_lazily (do not raise when the first slot-map
    load fails; commands retry the seeds).

    TLS, with redis-py's keywords: ssl=True, ssl_ca_certs (CA bundle file),
    ssl_ca_path (hashed CA directory), ssl_certfile + ssl_keyfile (client
    certificate), ssl_cert_reqs ("required", the default; "none" or None:
    no certificate check at all), ssl_min_version (ssl.TLSVersion.TLSv1_2 /
    TLSv1_3, or "1.2" / "1.3"); or the library's names, which are the URL
    keys: tls, tls_ca_file, tls_ca_dir, tls_cert_file, tls_key_file,
    tls_server_name (SNI and the name checked), tls_insecure_skip_verify,
    tls_min_version. Certificates and host names are checked by default;
    ssl_check_hostname=False does not turn the name check off (see
    clusterc/tls.py). A failed handshake or check raises TLSError.

    Hooks (set at construction, so the events of connecting are seen):
    on_event(Event) for lifecycle events (READY once the first slot map is
    in, MAP_UPDATED, NODE_CONNECTED, NODE_DISCONNECTED, NODE_FAILING,
    NODE_RECOVERED, DRAINED last, from close()); on_command(CommandInfo)
    once per command, when it completes (code 0 when a reply came, error
    replies included). They run on the calling thread, from inside the
    client's calls (the constructor, commands, refresh, poll, close), with
    the client's lock held: keep them short, and do not call the client
    from them (that raises ClusterError, code EUSAGE). An exception a hook
    raises is kept and raised by the client call that ran the hook, once
    the library has returned (the client is still consistent and usable;
    that call's own result is discarded, and its own error, if any, is the
    hook exception's __context__). From the constructor, the client is closed
    first; from a close() run by the garbage collector, Python reports it
    as an unraisable exception.
    """

    def __init__(self, addrs=None, read_only=False, route_by_latency=False,
                 route_randomly=False, password=None, username=None, max_redirects=3,
                 dial_timeout=1.0, read_timeout=2.0, latency_tolerance=None, max_lag=None,
                 read_your_writes=False, client_name=None, write_timeout=None,
                 max_retries=None, min_retry_backoff=None, max_retry_backoff=None,
                 latency_replicas_only=None, latency_probe=None, failing_timeout=None,
                 max_lag_bytes=None, lag_probe=None, refresh_interval=None,
                 refresh_min_interval=None, node_address_map=None, url_options=None,
                 client_az=None, az_affinity=None, decode_responses=False, encoding="utf-8", encoding_errors="strict",
                 connect_lazily=False, on_event=None, on_command=None,
                 ssl=False, ssl_ca_certs=None, ssl_ca_path=None, ssl_certfile=None,
                 ssl_keyfile=None, ssl_cert_reqs=UNSET, ssl_check_hostname=None,
                 ssl_min_version=None, ssl_ca_data=None, ssl_password=None,
                 tls=None, tls_ca_file=None, tls_ca_dir=None, tls_cert_file=None,
                 tls_key_file=None, tls_server_name=None, tls_insecure_skip_verify=None,
                 tls_min_version=None, _url=None):
        self._c = None                      # first, so __del__ always works
        self._hooks = None
        self._lock = threading.RLock()
        self.decode_responses = decode_responses
        self.encoding = encoding
        self.encoding_errors = encoding_errors
        self._encode = _encoder(encoding, encoding_errors)
        tls_kw = dict(ssl=ssl, ssl_ca_certs=ssl_ca_certs, ssl_ca_path=ssl_ca_path,
                      ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile,
                      ssl_cert_reqs=ssl_cert_reqs, ssl_check_hostname=ssl_check_hostname,
                      ssl_min_version=ssl_min_version, ssl_ca_data=ssl_ca_data,
                      ssl_password=ssl_password, tls=tls, tls_ca_file=tls_ca_file,
                      tls_ca_dir=tls_ca_dir, tls_cert_file=tls_cert_file,
                      tls_key_file=tls_key_file, tls_server_name=tls_server_name,
                      tls_insecure_skip_verify=tls_insecure_skip_verify,
                      tls_min_version=tls_min_version)
        if _url is not None:
            _url = _with_tls(_url, tls_params(**tls_kw))
        else:
            _url = build_url(addrs, password=password, username=username,
                             read_only=read_only, route_by_latency=route_by_latency,
                             route_randomly=route_randomly, max_redirects=max_redirects,
                             dial_timeout=dial_timeout, read_timeout=read_timeout,
                             write_timeout=write_timeout, max_retries=max_retries,
                             min_retry_backoff=min_retry_backoff,
                             max_retry_backoff=max_retry_backoff, client_name=client_name,
                             latency_tolerance=latency_tolerance,
                             latency_replicas_only=latency_replicas_only,
                             latency_probe=latency_probe, failing_timeout=failing_timeout,
                             max_lag=max_lag, max_lag_bytes=max_lag_bytes,
                             lag_probe=lag_probe,
                             read_your_writes=read_your_writes or None,
                             refresh_interval=refresh_interval,
                             refresh_min_interval=refresh_min_interval,
                             node_address_map=node_address_map, url_options=url_options,
                             client_az=client_az, az_affinity=az_affinity, **tls_kw)
        if isinstance(_url, str):
            _url = _url.encode()
        if not isinstance(_url, bytes) or b"\0" in _url:
            raise InvalidOptionError("url: expected a string without NUL bytes", EINVAL)
        self._url = _url                    # for pubsub()'s own client
        self._lib = lib = _lib.load()
        if on_event is not None or on_command is not None:
            self._hooks = Hooks(lib, on_event, on_command)
        self._c = self._connect(_url, connect_lazily)

    def _connect(self, url, connect_lazily):
        """The C client for url, or an exception: the connect's, or one a
        hook raised meanwhile (the C client is freed then)."""
        lib, hooks = self._lib, self._hooks
        if hooks is None:
            c = lib.clusterc_connect_url(url)
        else:
            c = lib.clusterc_connect_url_hooks(url, hooks.event_cb, None, hooks.command_cb,
                                               None)
        if not c:
            raise MemoryError("libclusterc: out of memory creating a client")
        err = None
        code = lib.clusterc_error(c)
        if code != 0:
            err = self._failure_of(c, code)
            if code != EINVAL and code != ENOMEM and connect_lazily:
                err = None
            elif not isinstance(err, (ConnectionError, InvalidOptionError)):
                # No slot map from any seed: to the caller, the cluster
                # cannot be reached.
                err = ConnectionError(str(err), code)
        if err is None and (hooks is None or hooks.error is None):
            return c
        lib.clusterc_free(c)
        hook_err = hooks.take() if hooks is not None else None
        if hook_err is not None:
            if err is not None:
                hook_err.__context__ = err
            raise hook_err
        raise err

    @classmethod
    def from_url(cls, url, **kwargs):
        """A client from a go-redis style cluster URL:
        redis://[user:pass@]host:port?addr=host:port&read_only=true&...
        rediss://... turns TLS on. redis-py's ssl_* query keys
        (ssl_cert_reqs=none, ssl_ca_certs=..., ...) are taken as well as the
        library's tls_* keys. kwargs: decode_responses, encoding,
        encoding_errors, connect_lazily, on_event, on_command, and the TLS
        keywords of the constructor (ssl_ca_certs=..., tls_server_name=...),
        added to the URL's keys."""
        allowed = {"decode_responses", "encoding", "encoding_errors", "connect_lazily",
                   "on_event", "on_command"} | set(SSL_KEYWORDS)
        bad = set(kwargs) - allowed
        if bad:
            raise TypeError("from_url() got unexpected keyword arguments %s (put options "
                            "in the URL)" % sorted(bad))
        return cls(_url=url, **kwargs)

    # ---------------------------------------------------------- plumbing

    def _client_ref(self):
        return self

    def _handle(self):
        self._not_from_hook()
        c = self._c
        if not c:
            raise ClientClosedError("client is closed")
        return c

    def _not_from_hook(self):
        # The lock is reentrant, so a hook (run with it held) would get in:
        # the library must not be re-entered from its own callback.
        h = self._hooks
        if h is not None and h.running:
            raise ClusterError("a client may not be called from its own on_event / "
                               "on_command hook", EUSAGE)

    def _raise_hook_error(self):
        """Raise what a hook raised during the library call just made.
        Called in a finally: an exception already on its way becomes the
        hook's exception's __context__."""
        h = self._hooks
        if h is not None and h.error is not None:
            raise h.take()

    def _failure_of(self, c, code=None):
        lib = self._lib
        if code is None:
            code = lib.clusterc_error(c)
        msg = lib.clusterc_errstr(c)
        msg = msg.decode("utf-8", "replace") if msg else ""
        if not msg:
            s = lib.clusterc_strerror(code)
            msg = s.decode("utf-8", "replace") if s else ""
        if code == 0:
            return ClusterError(msg or "libclusterc call failed", code)
        return error_for(code, msg)

    def _pack(self, args):
        enc = self._encode
        return _Argv([enc(a) for a in args])

    def _str(self, r):
        n = ctypes.c_size_t(0)
        p = self._lib.clusterc_reply_str(r, ctypes.byref(n))
        if not p:
            return b""
        return ctypes.string_at(p, n.value)

    def _text(self, r):
        return self._str(r).decode("utf-8", "replace")

    def _convert(self, r, depth=0):
        """A Python value for reply r (not freed here). Error replies become
        ResponseError instances, returned (the caller decides to raise)."""
        lib = self._lib
        t = lib.clusterc_reply_type(r)
        if t == _STRING or t == _VERB:
            s = self._str(r)
            return s.decode(self.encoding, self.encoding_errors) if self.decode_responses else s
        if t == _INTEGER:
            return lib.clusterc_reply_integer(r)
        if t == _NIL:
            return None
        if t == _STATUS:
            return self._text(r)
        if t == _ERROR:
            return ResponseError(self._text(r))
        if t in (_ARRAY, _SET, _PUSH, _MAP, _ATTR):
            if depth >= _MAX_DEPTH:
                raise ClusterError("reply nested deeper than %d levels" % _MAX_DEPTH)
            n = lib.clusterc_reply_elements(r)
            items = []
            for i in range(n):
                e = lib.clusterc_reply_element(r, i)
                items.append(self._convert(e, depth + 1) if e else None)
            if t in (_MAP, _ATTR):
                d = {}
                for i in range(0, len(items) - 1, 2):
                    k = items[i]
                    d[tuple(k) if isinstance(k, list) else k] = items[i + 1]
                return d
            return items
        if t == _DOUBLE:
            return float(self._text(r))
        if t == _BOOL:
            return bool(lib.clusterc_reply_integer(r))
        if t == _BIGNUM:
            return int(self._text(r))
        raise ClusterError("unknown reply type %d" % t)

    def _take(self, r):
        """Convert reply r and free it."""
        try:
            return self._convert(r)
        finally:
            self._lib.clusterc_reply_free(r)

    def _call(self, packed, route=None, node=None):
        lib = self._lib
        with self._lock:
            c = self._handle()
            try:
                if node is not None:
                    r = lib.clusterc_command_to_node_argv(c, node, packed.n, packed.argv,
                                                          packed.lens)
                elif route is not None:
                    r = lib.clusterc_command_route_argv(c, route, packed.n, packed.argv,
                                                        packed.lens)
                else:
                    r = lib.clusterc_command_argv(c, packed.n, packed.argv, packed.lens)
                if not r:
                    raise self._failure_of(c)
                v = self._take(r)
            finally:
                self._raise_hook_error()
        if isinstance(v, ResponseError):
            raise v
        return v

    def _pipeline_raw(self, packs):
        """Send packed commands pipelined; a list of values or exception
        instances, in order."""
        lib = self._lib
        results = [None] * len(packs)
        with self._lock:
            c = self._handle()
            pending = []
            for i, p in enumerate(packs):
                if lib.clusterc_append_command_argv(c, p.n, p.argv, p.lens) == 0:
                    pending.append(i)
                else:
                    results[i] = self._failure_of(c)
            done = 0
            try:
                for i in pending:
                    rp = ctypes.c_void_p()
                    rc = lib.clusterc_get_reply(c, ctypes.byref(rp))
                    done += 1
                    if rc != 0 or not rp.value:
                        results[i] = self._failure_of(c)
                        if rp.value:
                            lib.clusterc_reply_free(rp.value)
                        continue
                    try:
                        results[i] = self._take(rp.value)
                    except Exception as e:   # a decode error: keep draining
                        results[i] = e
            finally:
                # Interrupted (KeyboardInterrupt...): collect what is still
                # queued, or the next pipeline would get these replies.
                for _ in range(len(pending) - done):
                    rp = ctypes.c_void_p()
                    lib.clusterc_get_reply(c, ctypes.byref(rp))
                    if rp.value:
                        lib.clusterc_reply_free(rp.value)
                self._raise_hook_error()
        return results

    def _run(self, cmds, combine):
        if len(cmds) == 1:
            v = self._call(self._pack(cmds[0]))
            return combine([v]) if combine else v
        packs = [self._pack(a) for a in cmds]
        rs = self._pipeline_raw(packs) if packs else []
        for r in rs:
            if isinstance(r, Exception):
                raise r
        return combine(rs) if combine else rs[0]

    def _group_by_slot(self, keys):
        """{slot: [indexes of keys]} in first-seen order."""
        keyslot = self._lib.clusterc_keyslot
        enc = self._encode
        groups = {}
        for i, k in enumerate(keys):
            b = enc(k)
            groups.setdefault(keyslot(b, len(b)), []).append(i)
        return groups

    # ---------------------------------------------------------- public API

    def keyslot(self, key):
        """The hash slot of a key (CRC16 of the key or its {hash tag})."""
        b = self._encode(key)
        return self._lib.clusterc_keyslot(b, len(b))

    def command_route(self, route, *args):
        """Run one command with a per-command route: ROUTE_PRIMARY,
        ROUTE_REPLICA (fails with ClusterError when no replica is eligible),
        ROUTE_ANY or ROUTE_DEFAULT (also "primary", "replica", ...)."""
        if isinstance(route, str):
            try:
                route = _ROUTE_NAMES[route.lower()]
            except KeyError:
                raise InvalidOptionError("route: unknown route %r" % route, EINVAL) from None
        if isinstance(route, bool) or not isinstance(route, int) or not 0 <= route <= 3:
            raise InvalidOptionError("route: expected ROUTE_DEFAULT/PRIMARY/REPLICA/ANY, got %r"
                                     % (route,), EINVAL)
        return self._call(self._pack(args), route=route)

    def execute_on_node(self, node, *args):
        """Run one command on one node ("host:port" or a node id); no
        redirect is followed."""
        if isinstance(node, str):
            node = node.encode()
        if not isinstance(node, bytes) or b"\0" in node:
            raise InvalidOptionError("node: expected \"host:port\" or a node id", EINVAL)
        return self._call(self._pack(args), node=node)

    def refresh(self):
        """Reload the slot map now."""
        with self._lock:
            c = self._handle()
            try:
                if self._lib.clusterc_refresh(c) != 0:
                    raise self._failure_of(c)
            finally:
                self._raise_hook_error()

    def poll(self, timeout_ms):
        """Give the client's background work (latency probes, lag polls,
        map refreshes) timeout_ms of time: the client has no thread of its
        own, so an idle one calls this to keep latencies current."""
        if not isinstance(timeout_ms, int) or isinstance(timeout_ms, bool) or timeout_ms < 0:
            raise InvalidOptionError("timeout_ms: expected an int >= 0", EINVAL)
        with self._lock:
            c = self._handle()
            try:
                if self._lib.clusterc_poll(c, timeout_ms) != 0:
                    raise self._failure_of(c)
            finally:
                self._raise_hook_error()

    def node_stats(self):
        """What the client knows of each node: a list of dicts (addr, id,
        role, reads, writes, latency, lag, eligible, why, ...)."""
        return self._json(lambda lib, c: lib.clusterc_node_stats_json(c))

    def _json(self, fn):
        lib = self._lib
        with self._lock:
            c = self._handle()
            try:
                p = fn(lib, c)
                if not p:
                    raise self._failure_of(c)
                text = _lib.take_string(lib, p)
            finally:
                self._raise_hook_error()
        return json.loads(text)

    def pipeline(self, transaction=False):
        """A Pipeline collecting commands for one round of sends. Not a
        transaction (commands go to different nodes)."""
        if transaction:
            raise ClusterError("transactions are not supported by the cluster pipeline")
        return Pipeline(self)

    @property
    def admin(self):
        """Cluster administration (nodes, replication, check, add_node)."""
        from .admin import Admin
        return Admin(self)

    @property
    def closed(self):
        return not self._c

    def close(self):
        """Close every connection and free the client (commands still
        pending are drained first; on_event sees DRAINED last). Idempotent.
        Raises what a hook raised meanwhile, once the client is freed."""
        err = self._close()
        if err is not None:
            raise err

    def _close(self):
        """close(), returning a hook's exception instead of raising it."""
        lock = getattr(self, "_lock", None)
        if lock is None:
            return None
        with lock:
            self._not_from_hook()
            c, self._c = self._c, None
            if c:
                self._free_scans()      # every scan before its client
                self._lib.clusterc_free(c)
            h = self._hooks
            return h.take() if h is not None else None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            err = self._close()
        except Exception:
            return
        if err is not None:
            raise err    # __del__ cannot raise: Python reports it as unraisable

    def __repr__(self):
        return "<clusterc.ClusterClient %s>" % ("closed" if self.closed else "open")


# ------------------------------------------------------------------ pipeline

class Pipeline(_Commands):
    """Commands queued, then sent at once by execute(); replies in call
    order whatever nodes served them. Use as a context manager:

        with client.pipeline() as p:
            p.set("a", 1).get("a")
            print(p.execute())     # [True, b'1']
    """

    def __init__(self, client):
        self._client = client
        self._entries = []   # (list of argument tuples, combine or None)

    def _client_ref(self):
        return self._client

    def _run(self, cmds, combine):
        # Encode now, so a bad argument fails at the call that passed it.
        packs = [self._client._pack(a) for a in cmds]
        self._entries.append((packs, combine))
        return self

    def __len__(self):
        return len(self._entries)

    def reset(self):
        self._entries = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.reset()
        return False

    def execute(self, raise_on_error=True):
        """Send everything queued; a list with one result per queued call.
        With raise_on_error (the default) the first error (a ResponseError
        or a failure) is raised; otherwise errors are left in the list as
        exception instances. The pipeline is empty afterwards."""
        entries, self._entries = self._entries, []
        packs = [p for ps, _ in entries for p in ps]
        raw = self._client._pipeline_raw(packs) if packs else []
        return _pipeline_results(raw, entries, lambda p: p.args, raise_on_error)


def _pipeline_results(raw, entries, args_of, raise_on_error):
    """One result per queued call of a pipeline (both clients' execute):
    raw holds the replies of every packed command in order; an entry is
    (its packed commands, a function combining their replies or None).
    An error names the call it came from (add_note, Python 3.11+)."""
    out = []
    pos = 0
    for n, (ps, combine) in enumerate(entries):
        rs = raw[pos:pos + len(ps)]
        pos += len(ps)
        err = next((r for r in rs if isinstance(r, Exception)), None)
        if err is not None:
            if not getattr(err, "_clusterc_noted", False) and hasattr(err, "add_note"):
                args = b" ".join(args_of(ps[0])[:3]).decode("utf-8", "replace") if ps else ""
                err.add_note("Command # %d (%s) of pipeline caused error" % (n + 1, args))
                err._clusterc_noted = True
            out.append(err)
        else:
            try:
                out.append(combine(rs) if combine else rs[0])
            except Exception as e:
                out.append(e)
    if raise_on_error:
        for r in out:
            if isinstance(r, Exception):
                raise r
    return out
