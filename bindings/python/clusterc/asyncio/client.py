"""clusterc.asyncio.ClusterClient: awaitable commands over libclusterc's
thread-safe face (<clusterc/threaded.h>).

How a command travels:

  await rc.get(k)
    -> _submit: encode, a Future, (token, route, parts) appended to the
       client's submission list; the first one in a loop turn schedules
       _flush with loop.call_soon.
    -> _flush (once per loop turn, after every ready task ran): every
       command listed is handed over in one clusterc_threaded_submit_packed
       call (tokens, argc and lengths as array buffers, the bytes as one
       bytes object). The library's loop thread writes them out.
    -> the completion descriptor (clusterc_threaded_fd, readable while
       completions wait) is registered with loop.add_reader; _on_readable
       takes up to BATCH completions per clusterc_threaded_poll call, reads
       them with one struct.iter_unpack, converts each reply (redisReply
       laid out through ctypes, see _threaded.py), resolves its Future, and
       releases the batch in one call.

So the ctypes crossings are a few per batch (the packed submission, the
poll, one release of the whole batch: clusterc_completion_release_n), well
under one per command, and no thread is blocked per command in flight.

Cancellation: a cancelled task's Future is cancelled; a command not yet
handed over is dropped at _flush; one already handed over still runs in the
library (it cannot be taken back: a cancelled BLPOP may still pop an
element, which is then lost, as with any client), and its completion, when
it comes, is released and ignored.
"""
import array
import asyncio
import ctypes
import itertools
import json
import weakref

from .. import _lib, _threaded
from ..client import (_Commands, _ROUTE_NAMES, _pipeline_results, _encoder, _with_tls,
                      build_url, ROUTE_DEFAULT)
from ..errors import (ClientClosedError, ClusterError, DataError, InvalidOptionError,
                      ResponseError, ECLOSED, EINVAL, error_for)
from ..tls import SSL_KEYWORDS, tls_params

BATCH = 256            # completions taken per clusterc_threaded_poll call
_SIZE = _threaded.COMPLETION_SIZE
_REPLY = _threaded.COMPLETION_REPLY
_iter_unpack = _threaded.COMPLETION_FMT.iter_unpack
_string_at = ctypes.string_at
_get_running_loop = asyncio.events._get_running_loop
_SUB_TOKEN = 1 << 63   # subscription tokens; command tokens count up from 1


def _errtext(p):
    return _string_at(p).decode("utf-8", "replace") if p else ""


def _reader(ref):
    """The add_reader callback: a weak reference, so a client nobody holds
    can be collected (its __del__ frees it)."""
    c = ref()
    if c is not None:
        c._on_readable()


class _Batch:
    """The results of several commands submitted together (a pipeline, a
    command split by slot): one Future resolved when all completed."""
    __slots__ = ("fut", "results", "left")

    def __init__(self, fut, n):
        self.fut = fut
        self.results = [None] * n
        self.left = n

    def put(self, i, v):
        self.results[i] = v
        self.left -= 1
        if self.left == 0 and not self.fut.done():
            self.fut.set_result(self.results)


class _Slot:
    """One command of a _Batch, in the token table: a look-alike of the
    Future methods _on_readable calls. Exceptions are stored as results."""
    __slots__ = ("b", "i")

    def __init__(self, b, i):
        self.b = b
        self.i = i

    def done(self):
        return self.b.fut.done()

    def set_result(self, v):
        self.b.put(self.i, v)

    set_exception = set_result


class ClusterClient(_Commands):
    """An asyncio Redis Cluster client.

    ClusterClient(addrs=["localhost:7001", ...], read_only=False, ...)
    ClusterClient(host="localhost", port=7001)             # redis-py's form
    ClusterClient.from_url("redis://localhost:7001?read_only=true")

    Options: those of clusterc.ClusterClient (go-redis's names in snake
    case, durations in seconds, redis-py's ssl_* keywords and the library's
    tls_* ones), decode_responses, encoding, encoding_errors. Hooks
    (on_event, on_command) are not offered here: they would run on the
    library's loop thread.

    Construction never blocks and never fails for an unreachable cluster:
    the slot map loads in the background and commands sent meanwhile wait
    for it. `await rc.initialize()` (or `async with`) waits until a PING
    went through, raising ConnectionError when it cannot.

    The client belongs to the event loop that runs its first command (its
    completion descriptor is registered there). Any number of tasks may use
    it at once: commands from every task are handed to the library in one
    batch per loop turn. Close it with `await rc.aclose()` (or
    `await rc.close()`, or `async with`): commands in flight finish or fail
    by their own deadlines first.
    """

    def __init__(self, addrs=None, *, host=None, port=None, decode_responses=False,
                 encoding="utf-8", encoding_errors="strict", max_redirects=3,
                 dial_timeout=1.0, read_timeout=2.0, _url=None, **options):
        self._t = None                       # first, so __del__ always works
        self._loop = None
        self.decode_responses = decode_responses
        self.encoding = encoding
        self.encoding_errors = encoding_errors
        self._encode = _encoder(encoding, encoding_errors)
        self._utf8 = (encoding.lower().replace("-", "").replace("_", "") == "utf8"
                      and encoding_errors == "strict")
        for bad in ("on_event", "on_command"):
            if options.get(bad) is not None:
                raise TypeError("clusterc.asyncio.ClusterClient does not take %s (hooks run "
                                "on the library's loop thread); use clusterc.ClusterClient"
                                % bad)
            options.pop(bad, None)
        tls_kw = {k: options.pop(k) for k in list(options) if k in SSL_KEYWORDS}
        if _url is not None:
            if options:
                raise TypeError("from_url() got unexpected keyword arguments %s (put options "
                                "in the URL)" % sorted(options))
            url = _with_tls(_url, tls_params(**tls_kw))
        else:
            if host is not None:
                if addrs is not None:
                    raise InvalidOptionError("give addrs or host/port, not both", EINVAL)
                addrs = [(host, port if port is not None else 6379)]
            url = build_url(addrs, max_redirects=max_redirects, dial_timeout=dial_timeout,
                            read_timeout=read_timeout, **options, **tls_kw)
        if isinstance(url, str):
            url = url.encode()
        if not isinstance(url, bytes) or b"\0" in url:
            raise InvalidOptionError("url: expected a string without NUL bytes", EINVAL)
        self._url = url
        self._lib = lib = _threaded.load()
        t = lib.clusterc_threaded_connect_url(url)
        if not t:
            raise MemoryError("libclusterc: out of memory creating a client")
        code = lib.clusterc_threaded_error(t)
        if code != 0:
            msg = lib.clusterc_threaded_errstr(t)
            lib.clusterc_threaded_free(t)
            raise error_for(code, msg.decode("utf-8", "replace") if msg else "")
        self._t = t
        self._fd = lib.clusterc_threaded_fd(t)
        self._poll = lib.clusterc_threaded_poll
        self._release = lib.clusterc_completion_release_n
        self._packed = lib.clusterc_threaded_submit_packed
        self._convert = _threaded.make_converter(decode_responses, encoding, encoding_errors)
        self._buf = (ctypes.c_char * (BATCH * _SIZE))()
        self._buf_addr = ctypes.addressof(self._buf)
        self._view = memoryview(self._buf).cast("B")
        self._futs = {}                      # token -> Future or _Slot
        self._tokens = itertools.count(1)
        self._queue = []                     # (token, route, parts) not yet handed over
        self._flush_pending = False
        self._closing = False
        self._closed_fut = None
        self._reading = False
        self._err = ctypes.c_int(0)
        # Pub/Sub: (kind, name bytes) -> token; token -> [PubSub, ...]
        self._sub_tokens = {}
        self._sub_targets = {}

    @classmethod
    def from_url(cls, url, **kwargs):
        """A client from a go-redis style cluster URL (see
        clusterc.ClusterClient.from_url). kwargs: decode_responses,
        encoding, encoding_errors and the TLS keywords."""
        allowed = {"decode_responses", "encoding", "encoding_errors"} | set(SSL_KEYWORDS)
        bad = set(kwargs) - allowed
        if bad:
            raise TypeError("from_url() got unexpected keyword arguments %s (put options "
                            "in the URL)" % sorted(bad))
        return cls(_url=url, **kwargs)

    # ---------------------------------------------------------- the loop

    def _bind(self):
        """The running loop, the client's from now on (its completion
        descriptor registered there)."""
        loop = _get_running_loop()
        if loop is None:
            raise RuntimeError("clusterc.asyncio: no running event loop")
        if self._t is None or self._closing:
            raise ClientClosedError("client is closed")
        old = self._loop
        if old is loop:
            return loop
        if old is not None:
            if not old.is_closed():
                raise RuntimeError("clusterc.asyncio.ClusterClient is bound to another "
                                   "event loop (one client per loop)")
            # The old loop is gone (a second asyncio.run): its Futures can
            # never be awaited again; their late completions are ignored.
            self._futs.clear()
            self._queue = []
            self._flush_pending = False
            self._reading = False
        self._loop = loop
        loop.add_reader(self._fd, _reader, weakref.ref(self))
        self._reading = True
        return loop

    def _submit(self, args, route=0):
        """A Future for one command (args: Python values)."""
        loop = self._loop
        if loop is None or loop is not _get_running_loop() or self._closing:
            loop = self._bind()
        if self._utf8:
            parts = [a if type(a) is bytes else a.encode() if type(a) is str
                     else self._encode(a) for a in args]
        else:
            enc = self._encode
            parts = [a if type(a) is bytes else enc(a) for a in args]
        if not parts:
            raise DataError("empty command")
        fut = loop.create_future()
        tok = next(self._tokens)
        self._futs[tok] = fut
        self._queue.append((tok, route, parts))
        if not self._flush_pending:
            self._flush_pending = True
            loop.call_soon(self._flush)
        return fut

    def _submit_many(self, cmds, routes=None):
        """A Future for several commands (lists of encoded parts): the list
        of their values, exceptions as instances."""
        loop = self._loop
        if loop is None or loop is not _get_running_loop() or self._closing:
            loop = self._bind()
        fut = loop.create_future()
        b = _Batch(fut, len(cmds))
        if not cmds:
            fut.set_result([])
            return fut
        futs, q, tokens = self._futs, self._queue, self._tokens
        for i, parts in enumerate(cmds):
            if not parts:
                raise DataError("empty command")
            tok = next(tokens)
            futs[tok] = _Slot(b, i)
            q.append((tok, routes[i] if routes else 0, parts))
        if not self._flush_pending:
            self._flush_pending = True
            loop.call_soon(self._flush)
        return fut

    def _flush(self):
        """Hand every listed command to the library in one call."""
        self._flush_pending = False
        q = self._queue
        if not q or self._t is None:
            return
        self._queue = []
        futs = self._futs
        tokens, argc, parts, routes = [], [], [], []
        any_route = False
        for tok, route, p in q:
            f = futs.get(tok)
            if f is None or f.done():      # cancelled before it was sent
                futs.pop(tok, None)
                continue
            tokens.append(tok)
            argc.append(len(p))
            parts += p
            routes.append(route)
            if route:
                any_route = True
        n = len(tokens)
        if n == 0:
            return
        a_tok = array.array("Q", tokens)
        a_argc = array.array("i", argc)
        a_lens = array.array(_threaded.SIZE_T_CODE, map(len, parts))
        a_routes = array.array("i", routes) if any_route else None
        err = self._err
        err.value = 0
        done = self._packed(self._t, n, a_tok.buffer_info()[0],
                            a_routes.buffer_info()[0] if a_routes is not None else None,
                            a_argc.buffer_info()[0], a_lens.buffer_info()[0],
                            b"".join(parts), ctypes.byref(err))
        if done < n:
            code = err.value if done >= 0 else done
            for tok in tokens[max(done, 0):]:
                f = futs.pop(tok, None)
                if f is not None and not f.done():
                    f.set_exception(self._refusal(code))

    def _refusal(self, code):
        if code == ECLOSED:
            return ClientClosedError("client is closed")
        s = self._lib.clusterc_strerror(code)
        return error_for(code, "command refused: %s" % (s.decode() if s else code))

    def _on_readable(self):
        """Completions are waiting: take them in batches, resolve Futures."""
        t = self._t
        if t is None:
            return
        poll, release, convert = self._poll, self._release, self._convert
        futs = self._futs
        addr, view = self._buf_addr, self._view
        while True:
            n = poll(t, addr, BATCH)
            if n <= 0:
                if n == ECLOSED:          # closed and drained: stays readable
                    self._stop_reading()
                return
            try:
                for (tok, kind, code, reply, errstr, pkind, ch, chl, pat, pl,
                     pll) in _iter_unpack(view[:n * _SIZE]):
                    if kind == _REPLY:
                        f = futs.pop(tok, None)
                        if f is not None and not f.done():
                            if reply:
                                try:
                                    v = convert(reply)
                                except Exception as e:     # a decode error
                                    f.set_exception(e)
                                else:
                                    if type(v) is ResponseError:
                                        f.set_exception(v)
                                    else:
                                        f.set_result(v)
                            else:
                                f.set_exception(error_for(code, _errtext(errstr)))
                    else:
                        targets = self._sub_targets.get(tok)
                        if targets:
                            self._message(targets, pkind, ch, chl, pat, pl, pll)
            finally:
                release(addr, n)   # the batch's replies, once converted
            if n < BATCH:
                return

    def _message(self, targets, pkind, ch, chl, pat, pl, pll):
        channel = _string_at(ch, chl)
        data = _string_at(pl, pll)
        pattern = _string_at(pat) if pat else None
        key = pattern if pattern is not None else channel
        if self.decode_responses:
            enc, errs = self.encoding, self.encoding_errors
            channel = channel.decode(enc, errs)
            data = data.decode(enc, errs)
            if pattern is not None:
                pattern = pattern.decode(enc, errs)
        for ps in list(targets):
            ps._deliver(pkind, key, pattern, channel, data)

    def _sub_add(self, ps, kind, name):
        """ps wants (kind, name): one library subscription per name, shared
        by the PubSubs that want it."""
        key = (kind, name)
        tok = self._sub_tokens.get(key)
        if tok is None:
            tok = _SUB_TOKEN | next(self._tokens)
            rc = self._lib.clusterc_threaded_subscribe(self._t, tok, kind, name)
            if rc < 0:
                raise self._refusal(rc) if rc == ECLOSED else error_for(
                    rc, "subscribe %r refused: %s" % (name, self._lib.clusterc_strerror(rc)
                                                       .decode()))
            self._sub_tokens[key] = tok
            self._sub_targets[tok] = []
        targets = self._sub_targets[tok]
        if ps not in targets:
            targets.append(ps)

    def _sub_remove(self, ps, kind, name):
        key = (kind, name)
        tok = self._sub_tokens.get(key)
        if tok is None:
            return
        targets = self._sub_targets.get(tok, [])
        if ps in targets:
            targets.remove(ps)
        if not targets:
            del self._sub_tokens[key]
            self._sub_targets.pop(tok, None)
            if self._t is not None:
                self._lib.clusterc_threaded_unsubscribe(self._t, kind, name)

    def _stop_reading(self):
        if self._reading:
            self._reading = False
            loop = self._loop
            if loop is not None and not loop.is_closed():
                loop.remove_reader(self._fd)

    # ---------------------------------------------------------- commands

    def _client_ref(self):
        return self

    def _group_by_slot(self, keys):
        keyslot = self._lib.clusterc_keyslot
        enc = self._encode
        groups = {}
        for i, k in enumerate(keys):
            b = enc(k)
            groups.setdefault(keyslot(b, len(b)), []).append(i)
        return groups

    def _run(self, cmds, combine):
        # The typed helpers of clusterc.client._Commands come here.
        return self._run_async(cmds, combine)

    async def _run_async(self, cmds, combine):
        if len(cmds) == 1:
            v = await self._submit(cmds[0])
            return combine([v]) if combine else v
        enc = self._encode
        rs = await self._submit_many([[a if type(a) is bytes else enc(a) for a in c]
                                      for c in cmds])
        for r in rs:
            if isinstance(r, Exception):
                raise r
        return combine(rs) if combine else rs[0]

    async def execute_command(self, *args, **options):
        """Run one command: await rc.execute_command("HSET", "h", "f", "v").
        Keywords of redis-py's (target_nodes...) are refused."""
        if options:
            raise TypeError("execute_command() takes no keyword arguments here (got %s); "
                            "see command_route / execute_on_node" % sorted(options))
        return await self._submit(args)

    async def get(self, name):
        return await self._submit(("GET", name))

    async def command_route(self, route, *args):
        """One command with a per-command route: ROUTE_PRIMARY,
        ROUTE_REPLICA, ROUTE_ANY, ROUTE_DEFAULT (or their names)."""
        if isinstance(route, str):
            try:
                route = _ROUTE_NAMES[route.lower()]
            except KeyError:
                raise InvalidOptionError("route: unknown route %r" % route, EINVAL) from None
        if isinstance(route, bool) or not isinstance(route, int) or not 0 <= route <= 3:
            raise InvalidOptionError("route: expected ROUTE_DEFAULT/PRIMARY/REPLICA/ANY, got %r"
                                     % (route,), EINVAL)
        return await self._submit(args, route)

    async def execute_on_node(self, node, *args):
        """One command on one node ("host:port" or a node id); no redirect
        is followed."""
        if isinstance(node, str):
            node = node.encode()
        if not isinstance(node, bytes) or b"\0" in node:
            raise InvalidOptionError("node: expected \"host:port\" or a node id", EINVAL)
        loop = self._bind()
        enc = self._encode
        parts = [a if type(a) is bytes else enc(a) for a in args]
        if not parts:
            raise DataError("empty command")
        self._flush()                  # keep this one after those listed before it
        n = len(parts)
        argv = (ctypes.c_char_p * n)(*parts)
        lens = (ctypes.c_size_t * n)(*[len(p) for p in parts])
        fut = loop.create_future()
        tok = next(self._tokens)
        self._futs[tok] = fut
        rc = self._lib.clusterc_threaded_submit_to_node(self._t, tok, node, n, argv, lens)
        if rc < 0:
            self._futs.pop(tok, None)
            raise self._refusal(rc)
        return await fut

    async def initialize(self):
        """Wait until the cluster answers (a PING); ConnectionError when it
        cannot be reached within the command deadline."""
        await self._submit(("PING",), 3)   # ROUTE_ANY
        return self

    def pipeline(self, transaction=False):
        """A Pipeline: commands queued, then sent together by
        `await p.execute()` (one submission for all of them)."""
        if transaction:
            raise ClusterError("transactions are not supported by the cluster pipeline")
        return Pipeline(self)

    def pubsub(self, **kwargs):
        """A PubSub on this client (subscriptions are the library's, kept
        across failovers; messages arrive with the command completions)."""
        from .pubsub import PubSub
        return PubSub(self, **kwargs)

    def keyslot(self, key):
        b = self._encode(key)
        return self._lib.clusterc_keyslot(b, len(b))

    async def node_stats(self):
        """What the client knows of each node (a list of dicts), as
        clusterc.ClusterClient.node_stats."""
        loop = self._bind()
        lib, t = self._lib, self._t
        p = await loop.run_in_executor(None, lib.clusterc_threaded_node_stats_json, t)
        if not p:
            raise ClusterError("node stats: client closed or out of memory")
        return json.loads(_lib.take_string(lib, p))

    def pending(self):
        """Commands handed to the library and not completed yet, plus those
        listed for the next hand-over."""
        if self._t is None:
            return 0
        return self._lib.clusterc_threaded_pending(self._t) + len(self._queue)

    # ---------------------------------------------------------- lifecycle

    @property
    def closed(self):
        return self._t is None

    async def aclose(self):
        """Refuse new commands, let those in flight finish or fail by their
        own deadlines (their awaits return or raise), then free the client.
        Idempotent; concurrent callers all wait for the end."""
        if self._t is None:
            return
        loop = asyncio.get_running_loop()
        if self._closing:
            if self._closed_fut is not None:
                await asyncio.shield(self._closed_fut)
            return
        self._closing = True
        self._closed_fut = loop.create_future()
        try:
            self._flush()                    # what tasks listed goes out first
            if self._loop is not loop or loop.is_closed():
                self._stop_reading()
            lib, t = self._lib, self._t
            # Blocks until every accepted command completed: in a thread, so
            # this loop keeps resolving Futures meanwhile.
            await loop.run_in_executor(None, lib.clusterc_threaded_close, t)
            if self._loop is loop:
                self._on_readable()          # what is left, then ECLOSED
            self._stop_reading()
            self._t = None
            lib.clusterc_threaded_free(t)
            for f in self._futs.values():
                if not f.done():
                    f.set_exception(ClientClosedError("client is closed"))
            self._futs.clear()
            for targets in self._sub_targets.values():
                for ps in targets:
                    ps._client_closed()
            self._sub_targets.clear()
            self._sub_tokens.clear()
        finally:
            if not self._closed_fut.done():
                self._closed_fut.set_result(None)

    close = aclose

    async def __aenter__(self):
        await self.initialize()
        return self

    async def __aexit__(self, *exc):
        await self.aclose()
        return False

    def __del__(self):
        t = getattr(self, "_t", None)
        if not t:
            return
        self._t = None
        try:
            loop = self._loop
            if self._reading and loop is not None and not loop.is_closed():
                loop.remove_reader(self._fd)
        except Exception:
            pass
        self._lib.clusterc_threaded_free(t)

    def __repr__(self):
        return "<clusterc.asyncio.ClusterClient %s>" % ("closed" if self.closed else "open")


class Pipeline(_Commands):
    """Commands queued, then sent at once by `await execute()`: one
    submission to the library for all of them, results in call order.

        async with rc.pipeline() as p:
            p.set("a", 1).get("a")
            print(await p.execute())        # [True, b'1']
    """

    def __init__(self, client):
        self._client = client
        self._entries = []       # (list of encoded commands, combine or None)

    def _client_ref(self):
        return self._client

    def _run(self, cmds, combine):
        enc = self._client._encode
        packs = []
        for c in cmds:
            parts = [a if type(a) is bytes else enc(a) for a in c]
            if not parts:
                raise DataError("empty command")
            packs.append(parts)
        self._entries.append((packs, combine))
        return self

    def execute_command(self, *args, **options):
        if options:
            raise TypeError("execute_command() takes no keyword arguments here")
        return self._run([args], None)

    def __len__(self):
        return len(self._entries)

    def reset(self):
        self._entries = []

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.reset()
        return False

    async def execute(self, raise_on_error=True):
        """Send everything queued; one result per queued call. With
        raise_on_error (the default) the first error is raised; otherwise
        errors are left in the list as exception instances."""
        entries, self._entries = self._entries, []
        packs = [p for ps, _ in entries for p in ps]
        raw = await self._client._submit_many(packs) if packs else []
        return _pipeline_results(raw, entries, lambda p: p, raise_on_error)
