"""clusterc: a Redis Cluster client for Python over libclusterc (ctypes).

    import clusterc
    rdb = clusterc.ClusterClient(addrs=["localhost:7001", "localhost:7002"],
                                 read_only=True, route_by_latency=True)
    rdb.set("key", "value")
    rdb.get("key")            # b'value'

The shared library is found through $CLUSTERC_LIBRARY (a path to
libclusterc.so), else the system's loader paths and common install prefixes.
"""
from .client import (ClusterClient, Pipeline, build_url, ROUTE_DEFAULT, ROUTE_PRIMARY,
                     ROUTE_REPLICA, ROUTE_ANY)
from .hooks import Event, CommandInfo
from .pubsub import PubSub
from .admin import Admin
from .errors import (ClusterError, ConnectionError, TimeoutError, AuthenticationError,
                     TLSError, OverloadError, ResponseError, InvalidOptionError, DataError,
                     ClientClosedError, LibraryNotFoundError)
from ._lib import library_path

__version__ = "0.1.0"

RedisCluster = ClusterClient   # redis-py's name

__all__ = [
    "ClusterClient", "RedisCluster", "Pipeline", "PubSub", "Admin", "Event", "CommandInfo", "build_url",
    "library_path",
    "ROUTE_DEFAULT", "ROUTE_PRIMARY", "ROUTE_REPLICA", "ROUTE_ANY",
    "ClusterError", "ConnectionError", "TimeoutError", "AuthenticationError", "TLSError", "OverloadError",
    "ResponseError", "InvalidOptionError", "DataError", "ClientClosedError",
    "LibraryNotFoundError",
]
