"""The hooks of a client: lifecycle events and completed commands.

libclusterc calls a client's on_event / on_command (clusterc.h,
clusterc_event_fn and clusterc_command_fn) from inside the client's calls;
Hooks turns the C structs into Event / CommandInfo tuples and calls the
user's callables, keeping what they raise for the client to raise later.
"""
import typing

from . import _lib
from .errors import EINVAL, InvalidOptionError


class Event(typing.NamedTuple):
    """A lifecycle event (clusterc_event), as on_event receives it."""
    type: str                  # "READY", "MAP_UPDATED", "NODE_CONNECTED",
    #                            "NODE_DISCONNECTED", "NODE_FAILING",
    #                            "NODE_RECOVERED", "DRAINED", "SUBSCRIBE_REFUSED"
    node: typing.Optional[str]  # "host:port", None for client-wide events
    code: int                  # an errors.E* code for failures, 0 otherwise
    detail: str                # words: why, what changed


class CommandInfo(typing.NamedTuple):
    """One completed command (clusterc_command_info), as on_command receives it."""
    name: str                  # "GET", "CLUSTER SHARDS" for a sub-command
    node: typing.Optional[str]  # node of its last attempt; None if it never left
    route: int                 # the ROUTE_* it was sent with
    redirects: int             # MOVED / ASK followed
    retries: int               # backoff retries taken
    duration_us: int           # from submission to completion
    code: int                  # 0 when a reply came (error replies included)


def _cstr(b):
    return None if b is None else b.decode("utf-8", "replace")


class Hooks:
    """The user's on_event / on_command behind the ctypes callbacks.

    The callbacks run inside a library call; an exception must not unwind
    through C (ctypes would print it and go on, and it would be lost), so it
    is caught and kept here, and the client raises it once the library call
    has returned (client.py, ClusterClient._raise_hook_error). Holds no reference to
    the client: a closure over the client would make a reference cycle, and
    an unclosed client would then wait for the garbage collector."""

    __slots__ = ("lib", "on_event", "on_command", "event_cb", "command_cb", "error",
                 "dropped", "running", "names")

    def __init__(self, lib, on_event, on_command):
        for name, fn in (("on_event", on_event), ("on_command", on_command)):
            if fn is not None and not callable(fn):
                raise InvalidOptionError("%s: expected a callable, got %r" % (name, fn), EINVAL)
        self.lib = lib
        self.on_event = on_event
        self.on_command = on_command
        # The CFUNCTYPE objects live as long as this holder, which lives as
        # long as the client: the library may call them until clusterc_free
        # returns (DRAINED comes from inside it). A NULL pointer when unset,
        # so the library skips the hook altogether.
        self.event_cb = _lib.EVENT_FN(self._event) if on_event else _lib.EVENT_FN()
        self.command_cb = _lib.COMMAND_FN(self._command) if on_command else _lib.COMMAND_FN()
        self.error = None      # the first exception a hook raised in this call
        self.dropped = 0       # how many more were raised after it
        self.running = False   # a hook is running: the client must not be called
        self.names = {}

    def _name(self, t):
        n = self.names.get(t)
        if n is None:
            raw = self.lib.clusterc_event_name(t)
            n = self.names[t] = raw.decode("ascii", "replace") if raw else "UNKNOWN"
        return n

    def _run(self, fn, arg):
        self.running = True
        try:
            fn(arg)
        except BaseException as e:     # KeyboardInterrupt too: raised after the call
            if self.error is None:
                self.error = e
            else:
                self.dropped += 1
        finally:
            self.running = False

    def _event(self, p, _privdata):
        try:
            e = p.contents
            ev = Event(self._name(e.type), _cstr(e.node), e.code, _cstr(e.detail) or "")
        except BaseException as e:     # pragma: no cover - a decode bug of ours
            self.error = self.error or e
            return
        self._run(self.on_event, ev)

    def _command(self, p, _privdata):
        try:
            i = p.contents
            ci = CommandInfo(_cstr(i.name) or "", _cstr(i.node), i.route, i.redirects,
                             i.retries, i.duration_us, i.code)
        except BaseException as e:     # pragma: no cover - a decode bug of ours
            self.error = self.error or e
            return
        self._run(self.on_command, ci)

    def take(self):
        """The kept exception (None if none), cleared; later ones are noted."""
        e, n = self.error, self.dropped
        self.error, self.dropped = None, 0
        if e is not None and n and hasattr(e, "add_note"):
            e.add_note("clusterc: %d more exception(s) raised by hooks in the same call "
                       "were dropped" % n)
        return e
