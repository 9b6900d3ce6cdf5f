"""What one metrics scrape costs on a large queue: ``get_queue_stats()`` (the
store read behind ``dq.QueueCollector`` and ``dataqueue stats``) and a whole
Prometheus exposition of it, per store.

Fills a fresh namespace with N jobs of ten types through ``add_jobs`` (in
calls of 5,000), then ends most of them the way a long-running queue looks:
88 % completed and 2 % failed an hour ago, 1 % completed in the last minute
(ending them with real processors on PostgreSQL and SQLite would take hours
at this size, so the fill marks them with two UPDATEs; Redis keeps its
counts in the scripts that change jobs, so the mix does not change what its
read does and its jobs stay pending).
Prints the fill time and, over the repetitions, the median and the max of
each read.

    .venv/bin/python bench/queue_stats.py --store postgres --jobs 1000000
    .venv/bin/python bench/queue_stats.py --store sqlite --jobs 1000000
    .venv/bin/python bench/queue_stats.py --store redis --jobs 1000000

PostgreSQL: ``BENCH_PG_DSN`` (default the tests' database), in a schema of
its own, dropped at the end. Redis: ``BENCH_REDIS_URL`` (default db 14), under
a key prefix of its own, deleted at the end. SQLite: a file in a temporary
directory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

import dataqueue as dq

FILL_CHUNK = 5000
TYPES = [f"type_{n}" for n in range(10)]
PG_DSN = os.environ.get("BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")

# An hour ago for most ended jobs; 1 % of the jobs ended in the last minute
# (about 55 per second), so the window reads what a busy queue holds.
END_MOST = """
UPDATE {table} SET
    status = CASE WHEN id % 50 = 1 THEN 'failed' ELSE 'completed' END,
    completed_at = CASE WHEN id % 50 = 1 THEN NULL ELSE {hour_ago} END,
    last_failed_at = CASE WHEN id % 50 = 1 THEN {hour_ago} END,
    updated_at = {hour_ago}
WHERE id % 10 <> 0
"""
END_RECENTLY = """
UPDATE {table} SET completed_at = {now}, updated_at = {now}
WHERE id % 100 = 3
"""


async def _fill(queue: dq.JobQueue, jobs: int) -> None:
    for first in range(0, jobs, FILL_CHUNK):
        await queue.add_jobs(
            [
                dq.JobSpec(TYPES[i % len(TYPES)], {"i": i})
                for i in range(first, min(first + FILL_CHUNK, jobs))
            ]
        )


async def _timed(call: Callable[[], Awaitable[Any]], reps: int) -> list[float]:
    seconds = []
    for _ in range(reps):
        started = time.perf_counter()
        await call()
        seconds.append(time.perf_counter() - started)
    return seconds


async def run(store: str, jobs: int, reps: int) -> None:
    tag = uuid.uuid4().hex[:8]
    workdir = Path(tempfile.mkdtemp(prefix="dq-stats-"))
    match store:
        case "postgres":
            queue = dq.connect(PG_DSN, schema=f"bench_{tag}")
            await queue.migrate()
        case "redis":
            queue = dq.connect(REDIS_URL, key_prefix=f"bench:{tag}:")
        case _:
            queue = dq.connect(f"sqlite:///{workdir / 'jobs.db'}")
    try:
        started = time.perf_counter()
        await _fill(queue, jobs)
        filled = time.perf_counter() - started
        started = time.perf_counter()
        if store == "postgres":
            times = {"now": "now()", "hour_ago": "now() - interval '1 hour'"}
            async with queue.get_pool().connection() as conn:
                for statement in (END_MOST, END_RECENTLY):
                    table = f"bench_{tag}.job_queue"
                    await conn.execute(statement.format(table=table, **times))
                await conn.commit()
                await conn.set_autocommit(True)
                await conn.execute(f"VACUUM ANALYZE bench_{tag}.job_queue")
        elif store == "sqlite":
            micros = int(time.time() * 1_000_000)
            times = {"now": micros, "hour_ago": micros - 3_600_000_000}
            with sqlite3.connect(workdir / "jobs.db") as conn:
                for statement in (END_MOST, END_RECENTLY):
                    conn.execute(statement.format(table="job_queue", **times))
        ended = time.perf_counter() - started
        print(
            f"{store}: {jobs:,} jobs filled in {filled:.0f} s, ended in {ended:.0f} s"
        )

        stats = await queue.get_queue_stats()
        counts = {s.value: sum(t.counts[s] for t in stats) for s in dq.JobStatus}
        assert sum(counts.values()) == jobs, counts
        print(f"  {len(stats)} types; per status: {counts}")

        registry = CollectorRegistry()
        registry.register(dq.QueueCollector(queue, max_age=0))
        reads = {
            "get_queue_stats()": lambda: queue.get_queue_stats(),
            "a full scrape (QueueCollector)": lambda: asyncio.to_thread(
                generate_latest, registry
            ),
        }
        for name, call in reads.items():
            seconds = await _timed(call, reps)
            print(
                f"  {name}: median {statistics.median(seconds) * 1000:.1f} ms, "
                f"max {max(seconds) * 1000:.1f} ms over {reps}"
            )
    finally:
        if store == "postgres":
            async with queue.get_pool().connection() as conn:
                await conn.execute(f"DROP SCHEMA bench_{tag} CASCADE")
        elif store == "redis":
            client = queue.get_redis_client()
            async for key in client.scan_iter(match=f"bench:{tag}:*", count=10_000):
                await client.unlink(key)
        await queue.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--store", choices=["postgres", "redis", "sqlite"], required=True
    )
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(run(args.store, args.jobs, args.reps))


if __name__ == "__main__":
    main()
