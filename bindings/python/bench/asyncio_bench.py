#!/usr/bin/env python3
"""asyncio GET throughput: clusterc.asyncio beside redis-py's asyncio
RedisCluster, one client shared by TASKS tasks, each awaiting one GET at a
time (the way an asyncio service uses a client).

    asyncio_bench.py --client clusterc|redispy --seeds 127.0.0.1:24750 \\
        [--tasks 50] [--ops 100000] [--keys 10000] [--max-seconds 60] [--load]

Prints one JSON line: client, ops, seconds, ops_per_s, cpu_us_per_op (the
whole process's CPU, every thread, including the library's loop thread,
over the timed part only: after connecting and a warm-up of 2,000 GETs).
The load is bounded twice: --ops GETs in all, and --max-seconds (the run
stops early, and says so, when that passes). --load first writes the keys
(key:0 .. key:KEYS-1) with this binding. examples/bench/
py_asyncio_vs_redispy.sh runs it for both clients, rounds interleaved.
"""
import argparse
import asyncio
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--client", choices=("clusterc", "redispy"), required=True)
    ap.add_argument("--seeds", required=True, help="host:port[,host:port...]")
    ap.add_argument("--tasks", type=int, default=50)
    ap.add_argument("--ops", type=int, default=100000)
    ap.add_argument("--keys", type=int, default=10000)
    ap.add_argument("--max-seconds", type=float, default=60.0)
    ap.add_argument("--load", action="store_true")
    a = ap.parse_args()
    if not (1 <= a.tasks <= 10000 and 1 <= a.ops <= 10_000_000 and 1 <= a.keys <= 10_000_000):
        ap.error("tasks, ops or keys out of range")
    return a


async def make_client(a):
    seeds = a.seeds.split(",")
    if a.client == "clusterc":
        sys.path.insert(0, os.path.dirname(HERE))
        import clusterc.asyncio
        rc = clusterc.asyncio.ClusterClient(addrs=seeds)
        await rc.initialize()
        return rc, rc.aclose
    from redis.asyncio.cluster import RedisCluster
    host, port = seeds[0].rsplit(":", 1)
    rc = RedisCluster(host=host, port=int(port))
    await rc.initialize()
    return rc, rc.close


async def load(a):
    sys.path.insert(0, os.path.dirname(HERE))
    import clusterc.asyncio
    async with clusterc.asyncio.ClusterClient(addrs=a.seeds.split(",")) as rc:
        for start in range(0, a.keys, 1000):
            p = rc.pipeline()
            for i in range(start, min(a.keys, start + 1000)):
                p.set("key:%d" % i, "value:%d" % i)
            await p.execute()


async def run(a):
    rc, close = await make_client(a)
    keys = ["key:%d" % i for i in range(a.keys)]
    nk = len(keys)
    try:
        # Warm-up: connections to every node, the interpreter's caches.
        async def warm(j):
            for i in range(2000 // a.tasks + 1):
                await rc.get(keys[(j * 7919 + i) % nk])
        await asyncio.gather(*(warm(j) for j in range(a.tasks)))

        per_task = a.ops // a.tasks
        deadline = time.monotonic() + a.max_seconds
        done = [0] * a.tasks
        wrong = [0]

        async def worker(j):
            get = rc.get
            k = j * 7919
            n = 0
            for i in range(per_task):
                key = keys[(k + i) % nk]
                v = await get(key)
                if v is None or v[-len(key) + 4:] != key.encode()[4:]:
                    wrong[0] += 1
                n += 1
                if n % 256 == 0 and time.monotonic() > deadline:
                    break
            done[j] = n

        c0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker(j) for j in range(a.tasks)))
        t1, c1 = time.perf_counter(), time.process_time()
    finally:
        await close()
    ops = sum(done)
    out = {"client": a.client, "tasks": a.tasks, "ops": ops, "seconds": round(t1 - t0, 3),
           "ops_per_s": round(ops / (t1 - t0)), "cpu_us_per_op": round((c1 - c0) / ops * 1e6, 2),
           "wrong": wrong[0], "cut_short": ops < per_task * a.tasks,
           "python": sys.executable}
    print(json.dumps(out), flush=True)


def main():
    a = parse()
    if a.load:
        asyncio.run(load(a))
    asyncio.run(run(a))


if __name__ == "__main__":
    main()
