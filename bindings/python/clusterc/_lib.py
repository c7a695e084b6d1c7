"""Finding and loading libclusterc, and the ctypes signatures of its FFI surface.

Only functions that take and return scalars, strings and opaque pointers are
used: replies are walked with the clusterc_reply_* accessors, admin views come
as JSON text. The structs laid out here are clusterc_admin_opts (admin.h),
mirrored field for field, and only to pass add_node a timeout; the two
the hooks receive, clusterc_event and clusterc_command_info (clusterc.h),
read-only and only during the callback; and clusterc_message, filled by
clusterc_next_message and copied before the next call.
"""
import ctypes
import ctypes.util
import os
import sys
import threading

from .errors import LibraryNotFoundError

ENV_VAR = "CLUSTERC_LIBRARY"

# Names the loader may know the library by (SONAME first).
_SONAMES = ("libclusterc.so.0", "libclusterc.so")

# Install prefixes tried when the loader does not know the library.
_PREFIX_DIRS = (
    "/usr/local/lib",
    "/usr/local/lib64",
    "/usr/local/lib/x86_64-linux-gnu",
    "/usr/local/lib/aarch64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/opt/clusterc/lib",
)

c_char_p = ctypes.c_char_p
c_void_p = ctypes.c_void_p
c_int = ctypes.c_int
c_size_t = ctypes.c_size_t
c_longlong = ctypes.c_longlong
POINTER = ctypes.POINTER


class AdminOpts(ctypes.Structure):
    """clusterc_admin_opts, exactly as admin.h lays it out. Always filled by
    clusterc_admin_opts_init first, then only timeout_ms / wait_sync set."""

    _fields_ = [
        ("timeout_ms", c_int),
        ("wait_sync", c_int),
        ("poll_ms", c_int),
        ("migrate_batch", c_int),
        ("migrate_timeout_ms", c_int),
        ("progress", c_void_p),       # clusterc_admin_progress_fn *
        ("progress_arg", c_void_p),
    ]


class Event(ctypes.Structure):
    """clusterc_event (clusterc.h), as the on_event hook receives it."""

    _fields_ = [
        ("type", c_int),
        ("node", c_char_p),          # NULL for client-wide events
        ("code", c_int),
        ("detail", c_char_p),
    ]


class CommandInfo(ctypes.Structure):
    """clusterc_command_info (clusterc.h), as the on_command hook receives it."""

    _fields_ = [
        ("name", c_char_p),
        ("node", c_char_p),          # NULL when it never left the client
        ("route", c_int),
        ("redirects", c_int),
        ("retries", c_int),
        ("duration_us", ctypes.c_int64),
        ("code", c_int),
    ]


class Message(ctypes.Structure):
    """clusterc_message (clusterc.h), as clusterc_next_message fills it; its
    strings are valid until the next call on the client (copied at once).
    c_void_p, not c_char_p: payloads are binary, read with their lengths."""

    _fields_ = [
        ("kind", c_int),             # CLUSTERC_PUBSUB_CHANNEL, _PATTERN, _SHARD
        ("channel", c_void_p),
        ("channel_len", c_size_t),
        ("pattern", c_void_p),       # NULL unless kind is _PATTERN
        ("pattern_len", c_size_t),
        ("payload", c_void_p),
        ("payload_len", c_size_t),
    ]


# clusterc_event_fn and clusterc_command_fn. CFUNCTYPE (not PYFUNCTYPE): the
# library calls them from inside a ctypes call that released the GIL, and
# ctypes takes the GIL back for the callback.
EVENT_FN = ctypes.CFUNCTYPE(None, POINTER(Event), c_void_p)
COMMAND_FN = ctypes.CFUNCTYPE(None, POINTER(CommandInfo), c_void_p)

# name: (restype, argtypes)
_SIGNATURES = {
    "clusterc_strerror": (c_char_p, [c_int]),
    "clusterc_keyslot": (c_int, [c_char_p, c_size_t]),
    "clusterc_connect_url": (c_void_p, [c_char_p]),
    "clusterc_connect_url_hooks": (c_void_p, [c_char_p, EVENT_FN, c_void_p, COMMAND_FN,
                                              c_void_p]),
    "clusterc_event_name": (c_char_p, [c_int]),
    "clusterc_free": (None, [c_void_p]),
    "clusterc_error": (c_int, [c_void_p]),
    "clusterc_errstr": (c_char_p, [c_void_p]),
    "clusterc_refresh": (c_int, [c_void_p]),
    "clusterc_poll": (c_int, [c_void_p, c_int]),
    "clusterc_command_argv": (c_void_p, [c_void_p, c_int, c_void_p, c_void_p]),
    "clusterc_command_route_argv": (c_void_p, [c_void_p, c_int, c_int, c_void_p, c_void_p]),
    "clusterc_command_to_node_argv": (c_void_p, [c_void_p, c_char_p, c_int, c_void_p, c_void_p]),
    "clusterc_append_command_argv": (c_int, [c_void_p, c_int, c_void_p, c_void_p]),
    "clusterc_subscribe": (c_int, [c_void_p, c_int, c_char_p]),
    "clusterc_unsubscribe": (c_int, [c_void_p, c_int, c_char_p]),
    "clusterc_next_message": (c_int, [c_void_p, POINTER(Message), c_int]),
    "clusterc_get_reply": (c_int, [c_void_p, POINTER(c_void_p)]),
    "clusterc_scan_start": (c_void_p, [c_void_p, c_char_p, ctypes.c_long, c_char_p]),
    "clusterc_scan_next": (c_int, [c_void_p, POINTER(c_void_p)]),
    "clusterc_scan_free": (None, [c_void_p]),
    "clusterc_reply_type": (c_int, [c_void_p]),
    "clusterc_reply_integer": (c_longlong, [c_void_p]),
    "clusterc_reply_str": (c_void_p, [c_void_p, POINTER(c_size_t)]),
    "clusterc_reply_elements": (c_size_t, [c_void_p]),
    "clusterc_reply_element": (c_void_p, [c_void_p, c_size_t]),
    "clusterc_reply_free": (None, [c_void_p]),
    # JSON views: malloc'ed strings, so c_void_p (a c_char_p result would be
    # copied and the pointer lost), freed with clusterc_free_string.
    "clusterc_node_stats_json": (c_void_p, [c_void_p]),
    "clusterc_admin_nodes_json": (c_void_p, [c_void_p, c_char_p]),
    "clusterc_admin_replication_json": (c_void_p, [c_void_p, c_char_p]),
    "clusterc_admin_check_json": (c_void_p, [c_void_p]),
    "clusterc_free_string": (None, [c_void_p]),
    "clusterc_admin_opts_init": (None, [POINTER(AdminOpts)]),
    "clusterc_admin_add_node": (c_int, [c_void_p, c_char_p, c_int, c_char_p,
                                        POINTER(AdminOpts), c_char_p]),
}

_lock = threading.Lock()
_lib = None
_path = None


def _candidates():
    """(description, name-or-path) pairs to try, in order."""
    env = os.environ.get(ENV_VAR)
    if env:
        # An explicit choice: only that one, so a wrong path is an error
        # rather than a silent fall back to some other copy.
        return [(ENV_VAR, env)]
    out = []
    found = ctypes.util.find_library("clusterc")
    if found:
        out.append(("ctypes.util.find_library", found))
    for name in _SONAMES:   # LD_LIBRARY_PATH, ld.so.cache, default dirs
        out.append(("the dynamic loader", name))
    dirs = [os.path.join(sys.prefix, "lib")] + list(_PREFIX_DIRS)
    for d in dirs:
        for name in _SONAMES:
            p = os.path.join(d, name)
            if os.path.exists(p):
                out.append((d, p))
    return out


def _bind(lib, signatures=None):
    """Set restype/argtypes of each function of signatures (default: the
    blocking face's) on lib; returns the names lib lacks."""
    missing = []
    for name, (restype, argtypes) in (signatures or _SIGNATURES).items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            missing.append(name)
            continue
        fn.restype = restype
        fn.argtypes = argtypes
    return missing


def load():
    """The loaded library (ctypes.CDLL with signatures set); raises
    LibraryNotFoundError saying where it looked."""
    global _lib, _path
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is not None:
            return _lib
        tried = []
        for where, name in _candidates():
            try:
                lib = ctypes.CDLL(name)
            except OSError as e:
                tried.append("%s (%s): %s" % (name, where, e))
                continue
            missing = _bind(lib)
            if missing:
                tried.append("%s (%s): lacks %s (a libclusterc without the FFI "
                             "surface?)" % (name, where, ", ".join(missing)))
                continue
            _lib, _path = lib, name
            return lib
        if not tried:
            tried.append("no candidate found")
        raise LibraryNotFoundError(
            "cannot load libclusterc; set %s to the path of libclusterc.so. Tried:\n  %s"
            % (ENV_VAR, "\n  ".join(tried)))


def library_path():
    """The name or path the library was loaded from (loads it if needed)."""
    load()
    return _path


def take_string(lib, ptr):
    """Copy a malloc'ed C string into a Python str and free it."""
    if not ptr:
        return None
    try:
        return ctypes.string_at(ptr).decode("utf-8", "replace")
    finally:
        lib.clusterc_free_string(ptr)
