#!/usr/bin/env python3
"""A user-space TCP delay proxy for latency tests (kernel netem is not
available here): listens on 127.0.0.1:LISTEN, forwards to 127.0.0.1:TARGET,
and holds every chunk for DELAY_MS before passing it on, in both
directions, keeping order. So a round trip through it costs about
2 x DELAY_MS more.

  delay_proxy.py --listen PORT --target PORT --delay-ms MS [--max-life S]

Prints "READY <port>" once listening; exits after --max-life seconds
(default 600) so it never outlives a test run.
"""
import argparse
import asyncio
import sys
import time


async def pump(reader, writer, delay):
    """Copy reader -> writer, each chunk released delay seconds after it came."""
    queue = asyncio.Queue()

    async def release():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()

    task = asyncio.ensure_future(release())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            queue.put_nowait((time.monotonic() + delay, data))
    except (ConnectionError, OSError):
        pass
    queue.put_nowait((0, None))
    try:
        await task
    except (ConnectionError, OSError):
        pass


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", type=int, required=True)
    ap.add_argument("--target", type=int, required=True)
    ap.add_argument("--delay-ms", type=float, required=True)
    ap.add_argument("--max-life", type=float, default=600)
    a = ap.parse_args()
    delay = a.delay_ms / 2000.0   # half each way: the round trip gains delay_ms

    async def handle(cr, cw):
        try:
            sr, sw = await asyncio.open_connection("127.0.0.1", a.target)
        except OSError:
            cw.close()
            return
        await asyncio.gather(pump(cr, sw, delay), pump(sr, cw, delay))

    server = await asyncio.start_server(handle, "127.0.0.1", a.listen)
    print("READY %d" % a.listen, flush=True)
    try:
        await asyncio.wait_for(server.serve_forever(), a.max_life)
    except asyncio.TimeoutError:
        pass


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
