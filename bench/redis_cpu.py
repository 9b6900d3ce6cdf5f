"""Redis CPU per job, the worker's and redis-server's, for any tree's python.

Only the public API is used (``dq.connect``, ``add_job``, ``add_jobs``,
``create_processor``), so the same file runs against an older tree's venv:

    /path/to/tree/.venv/bin/python bench/redis_cpu.py [--jobs 20000]
        [--batch 10] [--concurrency 10] [--enqueue 5000] [--reps 1]

Per run it prints jobs/s and CPU µs per job of this process
(``resource.getrusage``) and of redis-server (utime + stime of
/proc/<process_id>/stat, ``process_id`` from ``INFO server``; Redis must run on
this machine), for:

* ``process``: a processor draining ``--jobs`` pre-filled no-op jobs, from its
  start until it has stopped after the last one;
* ``add_job``: ``--enqueue`` jobs added one ``add_job`` call each;
* ``add_jobs``: ``--jobs`` jobs added 1,000 a call.

The server's figure counts every client of that Redis: run nothing else on it.
Keys live under a fresh prefix in db 15 and are deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from cpu import own_cpu, process_cpu  # beside this file

import dataqueue as dq

REDIS_URL = os.environ.get("DATAQUEUE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
BULK = 1000
PAYLOAD: dict[str, Any] = {
    "i": 1,
    "user_id": 1001,
    "email": "user1@example.com",
    "tags": ["bench"],
}


class Meter:
    """Wall time and CPU of both sides between start and stop."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self._start = (0.0, 0.0, 0.0)

    def start(self) -> None:
        self._start = (time.perf_counter(), own_cpu(), process_cpu(self._pid))

    def stop(self, jobs: int) -> str:
        wall = time.perf_counter() - self._start[0]
        client = own_cpu() - self._start[1]
        server = process_cpu(self._pid) - self._start[2]
        return (
            f"{jobs / wall:9,.0f} jobs/s  client {client / jobs * 1e6:6.1f} µs/job"
            f"  server {server / jobs * 1e6:6.1f} µs/job"
        )


async def process(queue: Any, meter: Meter, jobs: int, options: Any) -> str:
    for first in range(0, jobs, BULK):
        count = min(BULK, jobs - first)
        await queue.add_jobs([dq.JobSpec("noop", PAYLOAD) for _ in range(count)])
    done = 0
    last = asyncio.Event()

    async def noop(payload: Any) -> None:
        nonlocal done
        done += 1
        if done == jobs:
            last.set()

    processor = queue.create_processor(
        {"noop": noop},
        batch_size=options.batch,
        concurrency=options.concurrency,
    )
    meter.start()
    running = asyncio.ensure_future(processor.run())
    await last.wait()
    processor.stop()
    await running
    return meter.stop(jobs)


async def add_one(queue: Any, meter: Meter, jobs: int, options: Any) -> str:
    meter.start()
    for _ in range(jobs):
        await queue.add_job("noop", PAYLOAD)
    return meter.stop(jobs)


async def add_bulk(queue: Any, meter: Meter, jobs: int, options: Any) -> str:
    specs = [dq.JobSpec("noop", PAYLOAD) for _ in range(BULK)]
    meter.start()
    for first in range(0, jobs, BULK):
        await queue.add_jobs(specs[: min(BULK, jobs - first)])
    return meter.stop(jobs)


Run = Callable[[Any, Meter, int, Any], Awaitable[str]]


async def measure(run: Run, jobs: int, options: Any, client: aioredis.Redis) -> str:
    pid = int((await client.info("server"))["process_id"])
    tag = uuid.uuid4().hex[:8]
    queue = dq.connect(REDIS_URL, key_prefix=f"cpu{tag}:")
    try:
        return await run(queue, Meter(pid), jobs, options)
    finally:
        await queue.close()
        found = [key async for key in client.scan_iter(match=f"*cpu{tag}:*")]
        for first in range(0, len(found), 1000):
            await client.unlink(*found[first : first + 1000])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--enqueue", type=int, default=5_000)
    parser.add_argument("--reps", type=int, default=1)
    options = parser.parse_args()
    runs: list[tuple[str, Run, int]] = [
        ("process", process, options.jobs),
        ("add_job", add_one, options.enqueue),
        ("add_jobs", add_bulk, options.jobs),
    ]
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        for _ in range(options.reps):
            for name, run, jobs in runs:
                print(f"{name:9}{await measure(run, jobs, options, client)}")
    finally:
        await client.aclose()


if __name__ == "__main__":
    asyncio.run(main())
