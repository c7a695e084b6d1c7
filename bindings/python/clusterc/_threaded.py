"""The ctypes side of libclusterc's thread-safe face (<clusterc/threaded.h>),
for clusterc.asyncio.

Three things are laid out here rather than reached through accessors, for
speed (each ctypes call costs a few hundred nanoseconds, and the asyncio
client makes them per reply):

- clusterc_completion, the struct threaded.h fills (meant to be laid out by
  bindings): a batch of them is read with one struct.iter_unpack over the
  array clusterc_threaded_poll filled.
- redisReply, hiredis's: its layout differs between hiredis 0.14 and 1.x,
  so it is found at load time by parsing a known reply with the hiredis the
  library is linked with and checking every field against the library's
  own accessors (clusterc_reply_*). When no known layout matches, replies
  are read through the accessors (slower, always right). CLUSTERC_PY_REPLY=
  accessors forces that path.
- the packed submission (clusterc_threaded_submit_packed): tokens, argc and
  lengths as array.array buffers, the arguments as one bytes object.
"""
import array
import ctypes
import os
import struct

from . import _lib
from .errors import ClusterError, ResponseError, EUSAGE

c_int = ctypes.c_int
c_void_p = ctypes.c_void_p
c_char_p = ctypes.c_char_p
c_size_t = ctypes.c_size_t
c_uint64 = ctypes.c_uint64
POINTER = ctypes.POINTER

COMPLETION_REPLY = 1
COMPLETION_MESSAGE = 2


class Completion(ctypes.Structure):
    """clusterc_completion (threaded.h), field for field."""

    _fields_ = [
        ("token", c_uint64),
        ("kind", c_int),
        ("code", c_int),
        ("reply", c_void_p),
        ("errstr", c_void_p),
        ("pubsub_kind", c_int),
        ("channel", c_void_p),
        ("channel_len", c_size_t),
        ("pattern", c_void_p),
        ("payload", c_void_p),
        ("payload_len", c_size_t),
    ]


# The same layout as a struct format (native alignment), checked against
# ctypes' own at import: token kind code reply errstr pubsub_kind channel
# channel_len pattern payload payload_len.
COMPLETION_FMT = struct.Struct("@QiiPPiPNPPN")
if COMPLETION_FMT.size != ctypes.sizeof(Completion):   # pragma: no cover
    raise ImportError("clusterc_completion layout: struct %d bytes, ctypes %d"
                      % (COMPLETION_FMT.size, ctypes.sizeof(Completion)))
COMPLETION_SIZE = COMPLETION_FMT.size

# size_t arrays for the packed lengths.
SIZE_T_CODE = next(c for c in ("L", "Q", "I") if array.array(c).itemsize ==
                   ctypes.sizeof(c_size_t))

_SIGNATURES = {
    "clusterc_threaded_connect_url": (c_void_p, [c_char_p]),
    "clusterc_threaded_error": (c_int, [c_void_p]),
    "clusterc_threaded_errstr": (c_char_p, [c_void_p]),
    "clusterc_threaded_submit_argv": (c_int, [c_void_p, c_uint64, c_int, c_int, c_void_p,
                                              c_void_p]),
    "clusterc_threaded_submit_to_node": (c_int, [c_void_p, c_uint64, c_char_p, c_int,
                                                 c_void_p, c_void_p]),
    # tokens, routes, argc, lens: buffer addresses (array.array), buf: bytes.
    "clusterc_threaded_submit_packed": (c_int, [c_void_p, c_int, c_void_p, c_void_p,
                                                c_void_p, c_void_p, c_char_p,
                                                POINTER(c_int)]),
    "clusterc_threaded_poll": (c_int, [c_void_p, c_void_p, c_int]),
    "clusterc_threaded_wait": (c_int, [c_void_p, c_void_p, c_int, c_int]),
    "clusterc_threaded_wakeup": (None, [c_void_p]),
    "clusterc_threaded_fd": (c_int, [c_void_p]),
    "clusterc_completion_release": (None, [c_void_p]),
    "clusterc_completion_release_n": (None, [c_void_p, c_int]),
    "clusterc_threaded_subscribe": (c_int, [c_void_p, c_uint64, c_int, c_char_p]),
    "clusterc_threaded_unsubscribe": (c_int, [c_void_p, c_int, c_char_p]),
    "clusterc_threaded_close": (c_int, [c_void_p]),
    "clusterc_threaded_free": (None, [c_void_p]),
    "clusterc_threaded_node_stats_json": (c_void_p, [c_void_p]),
    "clusterc_threaded_pending": (ctypes.c_long, [c_void_p]),
}

_bound = None


def load():
    """The library with the threaded face's signatures set; raises
    ClusterError when the library has no threaded face."""
    global _bound
    if _bound is not None:
        return _bound
    lib = _lib.load()
    missing = _lib._bind(lib, _SIGNATURES)
    if missing:
        raise ClusterError("%s has no thread-safe face (<clusterc/threaded.h>): lacks %s; "
                           "clusterc.asyncio needs a newer libclusterc"
                           % (_lib.library_path(), ", ".join(missing)), EUSAGE)
    _bound = lib
    return lib


# ------------------------------------------------------------------ replies

# Reply types (hiredis REDIS_REPLY_*; 7.. are RESP3, hiredis 1.x).
_STRING, _ARRAY, _INTEGER, _NIL, _STATUS, _ERROR = 1, 2, 3, 4, 5, 6
_DOUBLE, _BOOL, _MAP, _SET, _ATTR, _PUSH, _BIGNUM, _VERB = 7, 8, 9, 10, 11, 12, 13, 14
_MAX_DEPTH = 64

class _Reply014(ctypes.Structure):
    """hiredis 0.14's redisReply."""
    _fields_ = [("type", c_int), ("integer", ctypes.c_longlong), ("len", c_size_t),
                ("str", c_void_p), ("elements", c_size_t), ("element", c_void_p)]


class _Reply1x(ctypes.Structure):
    """hiredis 1.x's redisReply (dval and vtype added)."""
    _fields_ = [("type", c_int), ("integer", ctypes.c_longlong), ("dval", ctypes.c_double),
                ("len", c_size_t), ("str", c_void_p), ("vtype", ctypes.c_char * 4),
                ("elements", c_size_t), ("element", c_void_p)]


# Candidate redisReply layouts, checked in this order.
_LAYOUTS = (("hiredis-0.14", _Reply014), ("hiredis-1.x", _Reply1x))

_layout = None   # (name, ctypes Structure) or False: accessors


def _probe_layout(lib):
    """The redisReply layout of the library's hiredis, or False."""
    if os.environ.get("CLUSTERC_PY_REPLY") == "accessors":
        return False
    try:
        create = lib.redisReaderCreate
        feed = lib.redisReaderFeed
        get = lib.redisReaderGetReply
        rfree = lib.redisReaderFree
    except AttributeError:
        return False
    create.restype = c_void_p
    create.argtypes = []
    feed.restype = c_int
    feed.argtypes = [c_void_p, c_char_p, c_size_t]
    get.restype = c_int
    get.argtypes = [c_void_p, POINTER(c_void_p)]
    rfree.restype = None
    rfree.argtypes = [c_void_p]
    data = b"*3\r\n$5\r\nhello\r\n:-123456789012\r\n*0\r\n"
    rd = create()
    if not rd:
        return False
    try:
        if feed(rd, data, len(data)) != 0:
            return False
        out = c_void_p()
        if get(rd, ctypes.byref(out)) != 0 or not out.value:
            return False
        r = out.value
        try:
            return _match_layout(lib, r)
        finally:
            lib.clusterc_reply_free(r)
    finally:
        rfree(rd)


def _match_layout(lib, r):
    n = c_size_t()
    psize = ctypes.sizeof(c_void_p)
    for name, cls in _LAYOUTS:
        try:
            top = cls.from_address(r)
            if top.type != lib.clusterc_reply_type(r) or top.elements != 3:
                continue
            ptrs = struct.unpack("@3P", ctypes.string_at(top.element, 3 * psize))
            if list(ptrs) != [lib.clusterc_reply_element(r, i) for i in range(3)]:
                continue
            s, i, a = (cls.from_address(p) for p in ptrs)
            p = lib.clusterc_reply_str(ptrs[0], ctypes.byref(n))
            if (s.type != _STRING or s.str != p or s.len != n.value
                    or ctypes.string_at(s.str, s.len) != b"hello"):
                continue
            if i.type != _INTEGER or i.integer != -123456789012 \
                    or lib.clusterc_reply_integer(ptrs[1]) != -123456789012:
                continue
            if a.type != _ARRAY or a.elements != 0:
                continue
            return (name, cls)
        except (OSError, ValueError, struct.error):
            continue
    return False


def layout():
    """The redisReply layout in use ("hiredis-0.14", "hiredis-1.x") or
    "accessors"."""
    global _layout
    if _layout is None:
        _layout = _probe_layout(load())
    return _layout[0] if _layout else "accessors"


def make_converter(decode, encoding, errors):
    """A function reply pointer -> Python value (str/bytes/int/list/dict/
    None; error replies as ResponseError instances, returned). As the
    blocking client's ClusterClient._convert, through the layout found by
    layout() when there is one."""
    layout()
    string_at = ctypes.string_at
    if _layout:
        return _layout_converter(_layout, decode, encoding, errors, string_at)
    return _accessor_converter(load(), decode, encoding, errors, string_at)


def _finish(t, items):
    if t in (_MAP, _ATTR):
        d = {}
        for i in range(0, len(items) - 1, 2):
            k = items[i]
            d[tuple(k) if isinstance(k, list) else k] = items[i + 1]
        return d
    return items


def _layout_converter(lay, decode, encoding, errors, string_at):
    at = lay[1].from_address
    psize = ctypes.sizeof(c_void_p)
    containers = (_ARRAY, _SET, _PUSH, _MAP, _ATTR)

    def convert(p, depth=0):
        r = at(p)
        t = r.type
        if t == _STRING or t == _VERB:
            s = string_at(r.str, r.len)
            return s.decode(encoding, errors) if decode else s
        if t == _INTEGER:
            return r.integer
        if t == _NIL:
            return None
        if t == _STATUS:
            return string_at(r.str, r.len).decode("utf-8", "replace")
        if t == _ERROR:
            return ResponseError(string_at(r.str, r.len).decode("utf-8", "replace"))
        if t in containers:
            if depth >= _MAX_DEPTH:
                raise ClusterError("reply nested deeper than %d levels" % _MAX_DEPTH)
            n = r.elements
            if n == 0:
                return {} if t in (_MAP, _ATTR) else []
            ptrs = struct.unpack("@%dP" % n, string_at(r.element, n * psize))
            return _finish(t, [convert(e, depth + 1) if e else None for e in ptrs])
        if t == _DOUBLE:
            return float(string_at(r.str, r.len).decode())
        if t == _BOOL:
            return bool(r.integer)
        if t == _BIGNUM:
            return int(string_at(r.str, r.len).decode())
        raise ClusterError("unknown reply type %d" % t)
    return convert


def _accessor_converter(lib, decode, encoding, errors, string_at):
    rtype = lib.clusterc_reply_type
    rint = lib.clusterc_reply_integer
    rstr = lib.clusterc_reply_str
    relems = lib.clusterc_reply_elements
    relem = lib.clusterc_reply_element
    containers = (_ARRAY, _SET, _PUSH, _MAP, _ATTR)

    def text(p):
        n = c_size_t(0)
        s = rstr(p, ctypes.byref(n))
        return string_at(s, n.value) if s else b""

    def convert(p, depth=0):
        t = rtype(p)
        if t == _STRING or t == _VERB:
            s = text(p)
            return s.decode(encoding, errors) if decode else s
        if t == _INTEGER:
            return rint(p)
        if t == _NIL:
            return None
        if t == _STATUS:
            return text(p).decode("utf-8", "replace")
        if t == _ERROR:
            return ResponseError(text(p).decode("utf-8", "replace"))
        if t in containers:
            if depth >= _MAX_DEPTH:
                raise ClusterError("reply nested deeper than %d levels" % _MAX_DEPTH)
            items = []
            for i in range(relems(p)):
                e = relem(p, i)
                items.append(convert(e, depth + 1) if e else None)
            return _finish(t, items)
        if t == _DOUBLE:
            return float(text(p).decode())
        if t == _BOOL:
            return bool(rint(p))
        if t == _BIGNUM:
            return int(text(p).decode())
        raise ClusterError("unknown reply type %d" % t)
    return convert
