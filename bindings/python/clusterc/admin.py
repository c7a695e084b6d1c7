"""Cluster administration through a client: what `redis-cli --cluster`
does, from libclusterc's admin API (admin.h). Views come back as the
library's JSON, parsed into dicts and lists."""
import ctypes

from . import _lib
from .errors import EINVAL, InvalidOptionError


def _node_arg(node):
    if node is None:
        return None
    if isinstance(node, (tuple, list)) and len(node) == 2:
        node = "%s:%d" % (node[0], int(node[1]))
    if isinstance(node, str):
        node = node.encode()
    if not isinstance(node, bytes) or b"\0" in node or not node:
        raise InvalidOptionError("node: expected \"host:port\" or a node id, got %r" % (node,),
                                 EINVAL)
    return node


class Admin:
    """client.admin: nodes(), replication(node), check(), add_node(...)."""

    def __init__(self, client):
        self._client = client

    def nodes(self, node=None):
        """CLUSTER NODES of one node (any node of the map when None), parsed:
        a list of dicts (id, host, port, flags, primary_id, slots, ...)."""
        n = _node_arg(node)
        return self._client._json(lambda lib, c: lib.clusterc_admin_nodes_json(c, n))

    def replication(self, node):
        """INFO replication of one node ("host:port" or id), parsed: a dict
        (role, offsets, replicas / link state, ...)."""
        n = _node_arg(node)
        if n is None:
            raise InvalidOptionError("node: replication() needs a node", EINVAL)
        return self._client._json(lambda lib, c: lib.clusterc_admin_replication_json(c, n))

    def check(self):
        """The cluster check: a dict with ok, slots_covered, open_slots,
        unprotected primaries, replicas' links and lag, problems (list of
        strings) and the printable report. Raises only when the check could
        not run at all; look at result["ok"]."""
        return self._client._json(lambda lib, c: lib.clusterc_admin_check_json(c))

    def add_node(self, new_addr, replica=True, primary_id=None, timeout=60, wait_sync=True):
        """Add the node at new_addr ("host:port") as a replica (of primary_id,
        or of the primary with the fewest replicas) or, replica=False, as an
        empty primary. Checks first and refuses (ClusterError) leaving the
        cluster unchanged; then MEET, wait for agreement, REPLICATE and (with
        wait_sync) wait for the initial sync. timeout bounds each wait, in
        seconds. Returns the id of the primary it follows (replica) or None."""
        client = self._client
        addr = _node_arg(new_addr)
        if addr is None:
            raise InvalidOptionError("new_addr: a \"host:port\" is needed", EINVAL)
        pid = _node_arg(primary_id)
        if timeout is None or timeout <= 0:
            raise InvalidOptionError("timeout: must be > 0 seconds, got %r" % (timeout,), EINVAL)
        lib = client._lib
        opts = _lib.AdminOpts()
        lib.clusterc_admin_opts_init(ctypes.byref(opts))
        opts.timeout_ms = max(1, int(round(timeout * 1000)))
        opts.wait_sync = 1 if wait_sync else 0
        chosen = ctypes.create_string_buffer(64)
        with client._lock:
            c = client._handle()
            try:
                rc = lib.clusterc_admin_add_node(c, addr, 1 if replica else 0, pid,
                                                 ctypes.byref(opts), chosen)
                if rc != 0:
                    raise client._failure_of(c)
            finally:
                client._raise_hook_error()
        v = chosen.value.decode("ascii", "replace")
        return v if (replica and v) else None
