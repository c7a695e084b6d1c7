"""Cluster-wide SCAN for ClusterClient, over libclusterc's blocking-face
API (clusterc_scan_start, clusterc_scan_next, clusterc_scan_free in
clusterc.h).

The library walks the 16384 slots, not the nodes: it SCANs the primary of
the lowest unfinished slot, and a slot counts as finished only when its
owner still owns it at the end of that node's scan. So every key present
for the whole scan is returned at least once, even while slots move or
primaries fail over; a key may come twice when its slot moved (or a node's
SCAN failed part way). Keys added or removed meanwhile may or may not come.

scan_iter is redis-py's: a generator of keys. The client's lock is held
only during each C call (one batch of keys), so other threads' commands
run between batches. The C scan is freed when the generator finishes,
raises, is closed or is garbage collected, and by close() for the scans
still open then (the library wants every scan freed before its client).
"""
import ctypes

from .errors import DataError, EINVAL, InvalidOptionError


class ScanMixin:
    """scan_iter for ClusterClient (see the module comment)."""

    def _open_scans(self):
        """The C scans not freed yet (handles), freed by close()."""
        s = self.__dict__.get("_scans")
        if s is None:
            s = self.__dict__["_scans"] = set()
        return s

    def _free_scans(self):
        """Free every open scan. Called by close() with the lock held,
        before the C client goes."""
        s = self.__dict__.get("_scans")
        while s:
            self._lib.clusterc_scan_free(s.pop())

    def _scan_free(self, handle):
        with self._lock:
            h = self._hooks
            if h is not None and h.running:
                # From inside a hook (a generator collected there): the
                # library is mid-call; close() frees it later.
                return
            s = self.__dict__.get("_scans")
            if s is not None and handle in s:
                s.discard(handle)
                self._lib.clusterc_scan_free(handle)

    def _scan_arg(self, name, value):
        if value is None:
            return None
        b = self._encode(value)
        if b"\0" in b:
            # The library takes it as a C string: it would be cut.
            raise DataError("%s: NUL bytes are not allowed" % name)
        return b

    def scan_iter(self, match=None, count=None, _type=None):
        """Iterate over the keys of the whole cluster (cluster-wide SCAN).

        match: a glob pattern (SCAN's MATCH); count: SCAN's COUNT hint per
        step (None: the server's default, 10); _type: a key type (SCAN's
        TYPE, Redis 6+). Yields keys as bytes, or str with
        decode_responses. A key present for the whole scan is yielded at
        least once (more than once only when slots moved or a node failed
        meanwhile). Raises the client's error when the scan fails (after
        the library's own retries)."""
        m = self._scan_arg("match", match)
        t = self._scan_arg("_type", _type)
        if count is None:
            n = 0
        elif isinstance(count, bool) or not isinstance(count, int) or count <= 0:
            raise InvalidOptionError("count: expected an int > 0 or None, got %r" % (count,),
                                     EINVAL)
        else:
            n = count
        return self._scan_gen(m, n, t)

    def _scan_gen(self, match, count, typ):
        lib = self._lib
        handle = None
        try:
            with self._lock:
                c = self._handle()
                try:
                    handle = lib.clusterc_scan_start(c, match, count, typ)
                    if not handle:
                        raise self._failure_of(c)
                    self._open_scans().add(handle)
                finally:
                    self._raise_hook_error()
            while True:
                with self._lock:
                    c = self._handle()
                    if handle not in self._open_scans():
                        # close() freed it (the client is closed, _handle
                        # raised already); defensive.
                        return
                    rp = ctypes.c_void_p()
                    try:
                        rc = lib.clusterc_scan_next(handle, ctypes.byref(rp))
                        if rc < 0:
                            raise self._failure_of(c)
                        if rc == 0:
                            break
                        keys = self._take(rp.value)
                    finally:
                        self._raise_hook_error()
                # Outside the lock: the consumer runs between batches.
                yield from keys
        finally:
            if handle:
                self._scan_free(handle)
