"""Filtered counts and lists on a large Redis queue, and what they cost the
server's other clients.

Fills a fresh key prefix with N jobs (four types; tag "x" on every 10th job,
"y" on every 3rd; type "d" cancelled), then prints, per call, the median
wall time over the repetitions, and the PING latency another client sees
while two "dashboard list streams" (each: a page and the counts for the
same filter, back to back, as ``dashboard/streams.py`` polls) run without
pause for a few seconds. Only the public API is used, so the same script
measures an older checkout (``PYTHONPATH=<old>/src``).

    .venv/bin/python bench/redis_filters.py [--jobs 20000,200000] [--reps 5]

It starts its own ``redis-server`` on a free loopback port for each size (an
older checkout's filters can hold a shared server for seconds) and stops it
afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

import dataqueue as dq

FILL_CHUNK = 1000
TYPES = ("a", "b", "c", "d")
STREAM_SECONDS = 3.0


def _spec(i: int) -> dq.JobSpec:
    tags = [tag for tag, every in (("x", 10), ("y", 3)) if i % every == 0]
    return dq.JobSpec(TYPES[i % 4], {"i": i}, priority=i % 5, tags=tags)


async def _fill(queue: dq.JobQueue, jobs: int) -> None:
    for first in range(0, jobs, FILL_CHUNK):
        await queue.add_jobs(
            [_spec(i) for i in range(first, min(first + FILL_CHUNK, jobs))]
        )
    await queue.cancel_all_upcoming_jobs(job_type="d")


def _calls(queue: dq.JobQueue, jobs: int) -> dict[str, Callable[[], Awaitable[Any]]]:
    tagged = {"tags": {"values": ["x"], "mode": "any"}}
    return {
        "count_jobs(job_type=a)": lambda: queue.count_jobs(job_type="a"),
        "count_jobs(tags any x)": lambda: queue.count_jobs(tagged),
        "get_jobs(job_type=a, status=pending, 50)": lambda: queue.get_jobs(
            {"job_type": "a"}, 50, status="pending"
        ),
        "get_jobs(tags any x, 50, offset 1000)": lambda: queue.get_jobs(
            tagged, 50, 1000
        ),
        "get_jobs(priority=3, 50, offset 1000)": lambda: queue.get_jobs(
            {"priority": 3}, 50, 1000
        ),
        "get_all_jobs(50, offset N-100)": lambda: queue.get_all_jobs(50, jobs - 100),
    }


async def _stream(queue: dq.JobQueue, filters: dict[str, Any], until: float) -> int:
    rounds = 0
    while time.monotonic() < until:
        await queue.get_jobs(filters, 50, status="pending")
        await queue.count_jobs(filters)
        rounds += 1
    return rounds


async def _pings_during_streams(
    url: str, queue: dq.JobQueue, filters: dict[str, Any]
) -> str:
    client = aioredis.Redis.from_url(url)
    try:
        await client.ping()
        until = time.monotonic() + STREAM_SECONDS
        streams = [
            asyncio.create_task(_stream(queue, filters, until)) for _ in range(2)
        ]
        waits = []
        while time.monotonic() < until:
            started = time.perf_counter()
            await client.ping()
            waits.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.01)
        rounds = sum(await asyncio.gather(*streams))
    finally:
        await client.aclose()
    waits.sort()
    p50 = statistics.median(waits)
    p99 = waits[int(len(waits) * 0.99)]
    return (
        f"PING p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {waits[-1]:.1f} ms "
        f"({len(waits)} pings; {rounds} stream rounds)"
    )


async def _sitting(url: str, jobs: int, reps: int) -> None:
    queue = dq.connect(url, max_connections=4)
    try:
        started = time.perf_counter()
        await _fill(queue, jobs)
        print(f"\n{jobs:,} jobs (filled in {time.perf_counter() - started:.1f} s)")
        for name, call in _calls(queue, jobs).items():
            times = []
            for _ in range(reps):
                started = time.perf_counter()
                await call()
                times.append((time.perf_counter() - started) * 1000)
            print(
                f"  {name:44} {statistics.median(times):9.2f} ms "
                f"({min(times):.2f}-{max(times):.2f})"
            )
        for filters in ({"job_type": "a"}, {"tags": {"values": ["x"]}}):
            report = await _pings_during_streams(url, queue, filters)
            print(f"  two streams on {filters}: {report}")
    finally:
        await queue.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _answers(url: str) -> None:
    client = aioredis.Redis.from_url(url)
    try:
        for _ in range(500):
            try:
                await client.ping()
                return
            except aioredis.ConnectionError:
                await asyncio.sleep(0.01)
        raise RuntimeError(f"the redis-server at {url} did not start")
    finally:
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", default="20000,200000")
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    for jobs in (int(n) for n in args.jobs.split(",")):
        port = _free_port()
        server = subprocess.Popen(
            [
                *("redis-server", "--bind", "127.0.0.1", "--port", str(port)),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
        )
        url = f"redis://127.0.0.1:{port}/0"
        try:
            asyncio.run(_answers(url))
            asyncio.run(_sitting(url, jobs, args.reps))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
