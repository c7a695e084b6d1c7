"""Pub/Sub for clusterc.asyncio: an async iterator of messages.

    ps = rc.pubsub()
    await ps.subscribe("news")
    await ps.ssubscribe("orders:{eu}")
    async for msg in ps:             # ends once nothing is subscribed
        print(msg["type"], msg["channel"], msg["data"])

The subscriptions are the library's (clusterc_threaded_subscribe): kept on
subscriber connections of their own and made again after failovers, slot
migrations and lost connections. Each message arrives as a MESSAGE
completion on the client's completion descriptor, with the commands'
replies, and is put in the PubSub's queue (at most max_queue messages: past
that the oldest are dropped and counted in `dropped`).

Several PubSub objects of one client may subscribe to the same name: the
library holds one subscription, and each of them gets every message. As
with the blocking client, subscribe() returns once the wish is handed to
the library; a message published before the SUBSCRIBE reaches the server
is not received. Messages are dicts as redis-py's: type ("message",
"pmessage", "smessage"), pattern, channel, data.
"""
import asyncio
import collections

from ..errors import ClientClosedError, DataError, EINVAL, InvalidOptionError, error_for
from ..pubsub import CHANNEL, PATTERN, SHARD, _TYPES, _WHAT, _flatten, _timeout_ms


class PubSub:
    """See the module comment. Methods: subscribe, psubscribe, ssubscribe
    (names, or one list; keywords name=handler: handler(message) is called
    for that name's messages, which are then not queued; a coroutine
    function's coroutine is run as a task), unsubscribe, punsubscribe,
    sunsubscribe (all of the kind when none is named), get_message,
    listen(), `async for`, aclose()."""

    def __init__(self, client, ignore_subscribe_messages=False, max_queue=10000):
        self._client = client
        self._subs = {CHANNEL: {}, PATTERN: {}, SHARD: {}}   # name bytes -> handler
        self._queue = collections.deque()
        self._waiter = None
        self._max = max_queue
        self.dropped = 0
        self._closed = False
        self.ignore_subscribe_messages = ignore_subscribe_messages

    # ------------------------------------------------------------ subscribing

    def _name(self, kind, name):
        b = self._client._encode(name)
        if not b:
            raise DataError("empty %s name" % _WHAT[kind])
        if b"\0" in b:
            raise DataError("a %s name may not contain NUL bytes" % _WHAT[kind])
        return b

    async def _sub(self, kind, args, handlers):
        if self._closed:
            raise ClientClosedError("PubSub is closed")
        items = [(self._name(kind, n), None) for n in _flatten(args)]
        items += [(self._name(kind, n), h) for n, h in handlers.items()]
        if not items:
            raise DataError("subscribe: no %s named" % _WHAT[kind])
        c = self._client
        c._bind()
        for name, handler in items:
            c._sub_add(self, kind, name)
            self._subs[kind][name] = handler

    async def _unsub(self, kind, args):
        names = [self._name(kind, n) for n in _flatten(args)] if args \
            else list(self._subs[kind])
        c = self._client
        for name in names:
            if name in self._subs[kind]:
                del self._subs[kind][name]
                if c._t is not None:
                    c._sub_remove(self, kind, name)
        self._wake()

    async def subscribe(self, *channels, **handlers):
        await self._sub(CHANNEL, channels, handlers)

    async def psubscribe(self, *patterns, **handlers):
        await self._sub(PATTERN, patterns, handlers)

    async def ssubscribe(self, *channels, **handlers):
        await self._sub(SHARD, channels, handlers)

    async def unsubscribe(self, *channels):
        await self._unsub(CHANNEL, channels)

    async def punsubscribe(self, *patterns):
        await self._unsub(PATTERN, patterns)

    async def sunsubscribe(self, *channels):
        await self._unsub(SHARD, channels)

    def _names(self, kind):
        dec = self._client.decode_responses
        enc, errs = self._client.encoding, self._client.encoding_errors
        return {(n.decode(enc, errs) if dec else n): h for n, h in self._subs[kind].items()}

    @property
    def channels(self):
        return self._names(CHANNEL)

    @property
    def patterns(self):
        return self._names(PATTERN)

    @property
    def shard_channels(self):
        return self._names(SHARD)

    @property
    def subscribed(self):
        return any(self._subs[k] for k in self._subs)

    # ------------------------------------------------------------ messages

    def _deliver(self, pkind, key, pattern, channel, data):
        """From the client's completion reader (key: the name subscribed,
        bytes)."""
        subs = self._subs.get(pkind)
        if subs is None or key not in subs:
            return                  # unsubscribed meanwhile
        msg = {"type": _TYPES.get(pkind, "message"), "pattern": pattern,
               "channel": channel, "data": data}
        h = subs[key]
        if h is not None:
            r = h(msg)
            if asyncio.iscoroutine(r):
                asyncio.ensure_future(r)
            return
        q = self._queue
        if len(q) >= self._max:
            q.popleft()
            self.dropped += 1
        q.append(msg)
        self._wake()

    def _wake(self):
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def _client_closed(self):
        for k in self._subs:
            self._subs[k].clear()
        self._wake()

    async def get_message(self, ignore_subscribe_messages=False, timeout=0.0):
        """The next message, or None when none came within timeout seconds
        (0: do not wait; None: wait until one comes, or until nothing is
        subscribed any more)."""
        timeout = _timeout_ms(timeout)
        q = self._queue
        if q:
            return q.popleft()
        if timeout == 0 or self._closed:
            return None
        loop = asyncio.get_running_loop()
        end = None if timeout is None else loop.time() + timeout
        while not q:
            if timeout is None and not self.subscribed:
                return None
            w = self._waiter = loop.create_future()
            try:
                if end is None:
                    await w
                else:
                    left = end - loop.time()
                    if left <= 0:
                        return None
                    try:
                        await asyncio.wait_for(w, left)
                    except asyncio.TimeoutError:
                        return None
            finally:
                if self._waiter is w:
                    self._waiter = None
            if self._closed:
                return None
        return q.popleft()

    def __aiter__(self):
        return self

    async def __anext__(self):
        """The next message; the iteration ends once nothing is subscribed
        and the queue is empty (or the PubSub is closed)."""
        while True:
            if self._queue:
                return self._queue.popleft()
            if self._closed or not self.subscribed:
                raise StopAsyncIteration
            m = await self.get_message(timeout=None)
            if m is not None:
                return m

    async def listen(self):
        """redis-py's listen(): an async generator of messages, ending once
        nothing is subscribed."""
        async for m in self:
            yield m

    # ------------------------------------------------------------ closing

    async def aclose(self):
        """Unsubscribe from everything this PubSub subscribed to; waiting
        iterators end. The client stays open."""
        if self._closed:
            return
        for kind in (CHANNEL, PATTERN, SHARD):
            await self._unsub(kind, ())
        self._closed = True
        self._queue.clear()
        self._wake()

    close = aclose
    reset = aclose

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.aclose()
        return False
