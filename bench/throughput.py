"""Worker throughput, idle enqueue-to-start latency and memory, per store.

Each number is reported next to a baseline measured in the same run on the
same machine: a bare ``asyncio.Queue`` hand-off between a producer and a
consumer, which is the floor any job queue adds work to. Ratios, not absolute
numbers, are what compare across machines.

    .venv/bin/python bench/throughput.py [--jobs 2000] [--stores sqlite,postgres,redis]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import tempfile
import time
import uuid
from typing import Any

import dataqueue as dq

PG_URL = os.environ.get(
    "DATAQUEUE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("DATAQUEUE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
LATENCY_SAMPLES = 30


async def noop(payload: Any) -> None:
    return None


async def baseline(jobs: int) -> tuple[float, float]:
    """(jobs/s, median latency s) of a bare asyncio.Queue."""
    queue: asyncio.Queue[float] = asyncio.Queue()
    started = time.perf_counter()
    for _ in range(jobs):
        queue.put_nowait(0.0)
    while not queue.empty():
        await noop(queue.get_nowait())
    rate = jobs / (time.perf_counter() - started)
    delays = []
    for _ in range(LATENCY_SAMPLES):
        consumer = asyncio.ensure_future(queue.get())
        await asyncio.sleep(0)
        queue.put_nowait(time.perf_counter())
        delays.append(time.perf_counter() - await consumer)
    return rate, statistics.median(delays)


def store_options(store: str, folder: str) -> dict[str, Any]:
    tag = f"bench_{uuid.uuid4().hex[:8]}"
    return {
        "postgres": {"url": PG_URL, "schema": tag},
        "redis": {"url": REDIS_URL, "key_prefix": f"{tag}:"},
        "sqlite": {"url": f"sqlite:///{folder}/{tag}.db"},
    }[store]


async def drop(store: str, options: dict[str, Any]) -> None:
    if store == "postgres":
        import psycopg

        async with await psycopg.AsyncConnection.connect(PG_URL, autocommit=True) as c:
            await c.execute(f'DROP SCHEMA IF EXISTS "{options["schema"]}" CASCADE')
    elif store == "redis":
        import redis.asyncio as aioredis

        from dataqueue.backends.redis import keys

        client = aioredis.Redis.from_url(REDIS_URL)
        keys = [
            k async for k in client.scan_iter(match=keys.pattern(options["key_prefix"]))
        ]
        if keys:
            await client.unlink(*keys)
        await client.aclose()


async def measure(store: str, jobs: int, folder: str) -> tuple[float, float, float]:
    """(enqueue jobs/s, worker jobs/s, median idle enqueue-to-start latency s)."""
    options = store_options(store, folder)
    queue = dq.connect(**options)
    try:
        await queue.migrate()
        started = time.perf_counter()
        for offset in range(0, jobs, 500):
            batch = min(500, jobs - offset)
            await queue.add_jobs([dq.JobSpec("noop", {"n": n}) for n in range(batch)])
        enqueue_rate = jobs / (time.perf_counter() - started)

        processor = queue.create_processor(
            {"noop": noop}, batch_size=50, concurrency=10, poll_interval=5
        )
        started = time.perf_counter()
        while await processor.start():
            pass
        worker_rate = jobs / (time.perf_counter() - started)

        starts: asyncio.Queue[float] = asyncio.Queue()

        async def mark(payload: Any) -> None:
            starts.put_nowait(time.perf_counter())

        idle = queue.create_processor({"mark": mark}, poll_interval=5)
        idle.start_in_background()
        await asyncio.sleep(0.5)  # let the processor go idle before measuring
        delays = []
        for _ in range(LATENCY_SAMPLES):
            added = time.perf_counter()
            await queue.add_job("mark", {})
            delays.append(await starts.get() - added)
            await asyncio.sleep(0.05)
        await idle.stop_and_drain(5)
        return enqueue_rate, worker_rate, statistics.median(delays)
    finally:
        await queue.close()
        await drop(store, options)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--stores", default="sqlite,postgres,redis")
    args = parser.parse_args()
    base_rate, base_latency = await baseline(args.jobs)
    print(
        f"baseline asyncio.Queue: {base_rate:,.0f} jobs/s, {base_latency * 1e6:.1f} us"
    )
    print(
        f"{'store':<9} {'enqueue/s':>10} {'worker/s':>9} {'x baseline':>11} "
        f"{'latency ms':>11} {'x baseline':>11}"
    )
    with tempfile.TemporaryDirectory() as folder:
        for store in args.stores.split(","):
            enqueue, rate, latency = await measure(store, args.jobs, folder)
            print(
                f"{store:<9} {enqueue:>10,.0f} {rate:>9,.0f} {rate / base_rate:>11.5f} "
                f"{latency * 1000:>11.2f} {latency / base_latency:>11.0f}"
            )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak_mb:.0f} MiB")


if __name__ == "__main__":
    asyncio.run(main())
