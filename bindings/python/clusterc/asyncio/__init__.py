"""clusterc.asyncio: an asyncio Redis Cluster client over libclusterc's
thread-safe face (<clusterc/threaded.h>).

    import asyncio
    import clusterc.asyncio

    async def main():
        async with clusterc.asyncio.ClusterClient(addrs=["localhost:7001"]) as rc:
            await rc.set("key", "value")
            print(await rc.get("key"))            # b'value'
            async with rc.pipeline() as p:
                p.set("a", 1).get("a")
                print(await p.execute())          # [True, b'1']

    asyncio.run(main())

The library runs the cluster engine on a thread of its own; this module
hands it commands in batches (one clusterc_threaded_submit_packed call per
event-loop turn, whatever the number of tasks) and takes completions in
batches from a descriptor registered with loop.add_reader. See
bindings/python/README.md, "asyncio".
"""
from .client import ClusterClient, Pipeline
from .pubsub import PubSub
from ..client import ROUTE_DEFAULT, ROUTE_PRIMARY, ROUTE_REPLICA, ROUTE_ANY
from ..errors import (ClusterError, ConnectionError, TimeoutError, AuthenticationError,
                      TLSError, OverloadError, ResponseError, InvalidOptionError, DataError,
                      ClientClosedError, LibraryNotFoundError)

RedisCluster = ClusterClient   # redis-py's name (redis.asyncio.cluster.RedisCluster)

__all__ = [
    "ClusterClient", "RedisCluster", "Pipeline", "PubSub",
    "ROUTE_DEFAULT", "ROUTE_PRIMARY", "ROUTE_REPLICA", "ROUTE_ANY",
    "ClusterError", "ConnectionError", "TimeoutError", "AuthenticationError", "TLSError",
    "OverloadError", "ResponseError", "InvalidOptionError", "DataError", "ClientClosedError",
    "LibraryNotFoundError",
]
