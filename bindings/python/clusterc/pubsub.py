"""Pub/Sub for ClusterClient, over libclusterc's blocking-face API
(clusterc_subscribe, clusterc_unsubscribe, clusterc_next_message).

The subscriptions belong to the C client: the library keeps the ones
wanted and makes the actual ones match (a dedicated subscriber connection
for channels and patterns, one per node owning a subscribed slot for shard
channels), resubscribing after failovers, migrations and lost connections.
Messages arriving while the client runs other calls are queued in the
library (pubsub_queue_max); get_message takes them out.

So the methods live on the client (PubSubMixin), and ClusterClient.pubsub()
gives redis-py's shape: a PubSub that owns a second client of its own, so a
thread waiting in get_message never holds up the first client's commands.

The API follows redis-py's PubSub: messages are dicts
{"type": "message" | "pmessage" | "smessage", "pattern", "channel", "data"};
no subscribe/unsubscribe confirmations are returned (the library makes
subscriptions in the background), so ignore_subscribe_messages has nothing
to ignore.
"""
import ctypes
import datetime
import math
import time

from . import _lib
from .errors import DataError, EINVAL, InvalidOptionError

# clusterc.h CLUSTERC_PUBSUB_*.
CHANNEL = 1
PATTERN = 2
SHARD = 3
_TYPES = {CHANNEL: "message", PATTERN: "pmessage", SHARD: "smessage"}
_WHAT = {CHANNEL: "channel", PATTERN: "pattern", SHARD: "shard channel"}

# get_message waits in slices of this many ms: the client's lock is let go
# between them (other threads' commands get in) and Ctrl-C is seen.
_SLICE_MS = 100


def _flatten(args):
    # subscribe("a", "b") and subscribe(["a", "b"]) both work, as in redis-py.
    out = []
    for a in args:
        if isinstance(a, (list, tuple, set, frozenset)):
            out.extend(a)
        else:
            out.append(a)
    return out


def _timeout_ms(timeout):
    """None (wait until a message comes) or a deadline in seconds."""
    if timeout is None:
        return None
    if isinstance(timeout, datetime.timedelta):
        timeout = timeout.total_seconds()
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0 \
            or math.isnan(timeout):
        raise InvalidOptionError("timeout: expected seconds >= 0 or None, got %r" % (timeout,),
                                 EINVAL)
    return timeout


class PubSubMixin:
    """Pub/Sub methods of ClusterClient (see the module comment)."""

    def _subs(self):
        """{kind: {name bytes: handler or None}}, the wanted subscriptions."""
        s = self.__dict__.get("_pubsub_subs")
        if s is None:
            s = self.__dict__["_pubsub_subs"] = {CHANNEL: {}, PATTERN: {}, SHARD: {}}
        return s

    def _name(self, kind, name):
        b = self._encode(name)
        if not b:
            raise DataError("empty %s name" % _WHAT[kind])
        if b"\0" in b:
            # The library takes names as C strings: it would cut the name.
            raise DataError("%s name %r contains a NUL byte" % (_WHAT[kind], b))
        return b

    def _out(self, b):
        if b is None or not self.decode_responses:
            return b
        return b.decode(self.encoding, self.encoding_errors)

    def _subscribe(self, kind, args, handlers):
        wanted = [(self._name(kind, n), None) for n in _flatten(args)]
        for n, h in handlers.items():
            if h is not None and not callable(h):
                raise InvalidOptionError("handler for %r: expected a callable" % (n,), EINVAL)
            wanted.append((self._name(kind, n), h))
        lib = self._lib
        with self._lock:
            c = self._handle()
            subs = self._subs()[kind]
            try:
                for b, h in wanted:
                    if lib.clusterc_subscribe(c, kind, b) != 0:
                        raise self._failure_of(c)
                    subs[b] = h
            finally:
                self._raise_hook_error()

    def _unsubscribe(self, kind, args):
        lib = self._lib
        with self._lock:
            c = self._handle()
            subs = self._subs()[kind]
            names = [self._name(kind, n) for n in _flatten(args)] if args else list(subs)
            try:
                for b in names:
                    # Not subscribed: nothing to do, as UNSUBSCRIBE of an
                    # unknown channel is harmless to Redis.
                    if b in subs:
                        if lib.clusterc_unsubscribe(c, kind, b) != 0:
                            raise self._failure_of(c)
                        del subs[b]
            finally:
                self._raise_hook_error()

    def subscribe(self, *args, **handlers):
        """SUBSCRIBE to channels: subscribe("a", "b"), subscribe(["a"]), or
        subscribe(a=fn): fn(message) is called by get_message for a's
        messages (which get_message then does not return). Returns once the
        wish is recorded; the library subscribes in the background, and
        again after failovers."""
        self._subscribe(CHANNEL, args, handlers)

    def psubscribe(self, *args, **handlers):
        """PSUBSCRIBE to glob patterns ("news.*"); as subscribe."""
        self._subscribe(PATTERN, args, handlers)

    def ssubscribe(self, *args, **handlers):
        """SSUBSCRIBE to shard channels (Redis 7): each on the node owning
        its slot; as subscribe."""
        self._subscribe(SHARD, args, handlers)

    def unsubscribe(self, *args):
        """Drop channel subscriptions (all of them when none is named).
        Names not subscribed are ignored. Their messages still queued are
        dropped too: get_message returns none of them afterwards."""
        self._unsubscribe(CHANNEL, args)

    def punsubscribe(self, *args):
        """Drop pattern subscriptions (all when none is named)."""
        self._unsubscribe(PATTERN, args)

    def sunsubscribe(self, *args):
        """Drop shard-channel subscriptions (all when none is named)."""
        self._unsubscribe(SHARD, args)

    def _views(self, kind):
        with self._lock:
            return {self._out(b): h for b, h in self._subs()[kind].items()}

    @property
    def channels(self):
        """{channel: handler or None} subscribed with subscribe."""
        return self._views(CHANNEL)

    @property
    def patterns(self):
        return self._views(PATTERN)

    @property
    def shard_channels(self):
        return self._views(SHARD)

    @property
    def subscribed(self):
        """True while any channel, pattern or shard channel is subscribed."""
        with self._lock:
            return any(self._subs().values())

    def _next_message(self, ms):
        """One clusterc_next_message call: a (message dict, handler) pair,
        or None when none came within ms."""
        lib = self._lib
        m = _lib.Message()
        with self._lock:
            c = self._handle()
            try:
                rc = lib.clusterc_next_message(c, ctypes.byref(m), ms)
                if rc < 0:
                    raise self._failure_of(c)
                if rc == 0:
                    return None
                # Copied now: the strings live until the next call on c.
                kind = m.kind
                channel = ctypes.string_at(m.channel, m.channel_len) if m.channel else b""
                pattern = None
                if kind == PATTERN and m.pattern:
                    pattern = ctypes.string_at(m.pattern, m.pattern_len)
                data = ctypes.string_at(m.payload, m.payload_len) if m.payload else b""
                h = self._subs().get(kind, {}).get(pattern if kind == PATTERN else channel)
            finally:
                self._raise_hook_error()
        msg = {"type": _TYPES.get(kind, "message"), "pattern": self._out(pattern),
               "channel": self._out(channel), "data": self._out(data)}
        return msg, h

    def get_message(self, ignore_subscribe_messages=False, timeout=0.0):
        """The next message, or None when none came within timeout seconds
        (0: do not wait; None: wait until one comes). A message is a dict:
        type ("message", "pmessage" or "smessage"), pattern (None unless
        pmessage), channel, data; bytes, or str with decode_responses. A
        message with a handler (subscribe(ch=fn)) goes to fn, and None is
        returned. ignore_subscribe_messages is accepted for redis-py's sake:
        subscribe confirmations are never returned.

        The wait runs in slices of 0.1 s, letting go of the client's lock
        between them; while it runs, the client also does its background
        work (as poll does)."""
        del ignore_subscribe_messages
        timeout = _timeout_ms(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if deadline is None:
                ms = _SLICE_MS
            else:
                left = deadline - time.monotonic()
                ms = max(0, min(_SLICE_MS, math.ceil(left * 1000)))
            got = self._next_message(ms)
            if got is not None:
                msg, h = got
                if h is None:
                    return msg
                h(msg)
                return None
            if deadline is not None and time.monotonic() >= deadline:
                return None

    get_sharded_message = get_message   # redis-py's ClusterPubSub name

    def listen(self):
        """Yield messages as they come, while anything is subscribed (a
        message given to a handler is not yielded)."""
        while self.subscribed:
            msg = self.get_message(timeout=1.0)
            if msg is not None:
                yield msg

    def pubsub(self, ignore_subscribe_messages=False):
        """A PubSub (redis-py's shape) with a client of its own, connected
        with this client's options (hooks excepted)."""
        del ignore_subscribe_messages
        return PubSub(self)


class PubSub:
    """redis-py's PubSub over a ClusterClient of its own (made from the
    parent client's URL and decoding options; not its hooks), so waiting
    for messages in one thread never holds up the parent's commands.
    close() closes that client."""

    def __init__(self, parent):
        from .client import ClusterClient
        self.client = ClusterClient(_url=parent._url, decode_responses=parent.decode_responses,
                                    encoding=parent.encoding,
                                    encoding_errors=parent.encoding_errors)

    def subscribe(self, *args, **handlers):
        self.client.subscribe(*args, **handlers)

    def psubscribe(self, *args, **handlers):
        self.client.psubscribe(*args, **handlers)

    def ssubscribe(self, *args, **handlers):
        self.client.ssubscribe(*args, **handlers)

    def unsubscribe(self, *args):
        self.client.unsubscribe(*args)

    def punsubscribe(self, *args):
        self.client.punsubscribe(*args)

    def sunsubscribe(self, *args):
        self.client.sunsubscribe(*args)

    def get_message(self, ignore_subscribe_messages=False, timeout=0.0):
        return self.client.get_message(ignore_subscribe_messages, timeout)

    get_sharded_message = get_message

    def listen(self):
        return self.client.listen()

    @property
    def channels(self):
        return self.client.channels

    @property
    def patterns(self):
        return self.client.patterns

    @property
    def shard_channels(self):
        return self.client.shard_channels

    @property
    def subscribed(self):
        return not self.client.closed and self.client.subscribed

    def close(self):
        self.client.close()

    reset = close

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        return "<clusterc.PubSub %s>" % ("closed" if self.client.closed else "open")
