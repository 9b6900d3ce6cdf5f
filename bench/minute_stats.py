"""What the dashboard's overview costs the store: ``get_minute_stats()`` over
an hour and over a day, and one worker's heartbeat write of them
(``record_minute_stats``), per store.

Fills a fresh namespace with a full day of per-minute stats for N job types
(what busy workers report: one entry per minute and type), then times, over
the repetitions, the read of the last hour, the read of the last day, and
the write of one heartbeat's entries (the current minute of three types).
The jobs table plays no part: the numbers do not grow with the number of
jobs, only with types and minutes. Prints the median and the max of each.

    .venv/bin/python bench/minute_stats.py --store postgres --types 20
    .venv/bin/python bench/minute_stats.py --store sqlite --types 20
    .venv/bin/python bench/minute_stats.py --store redis --types 20

PostgreSQL: ``BENCH_PG_DSN`` (default the tests' database), in a schema of
its own, dropped at the end. Redis: ``BENCH_REDIS_URL`` (default db 14),
under a key prefix of its own, deleted at the end. SQLite: a file in a
temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import dataqueue as dq

PG_DSN = os.environ.get("BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
DAY_MINUTES = 1440


def entry(minute: Any, job_type: str) -> dq.MinuteStats:
    return dq.MinuteStats(minute, job_type, 60, 57, 3, 60, 12.5)


async def timed(call: Callable[[], Awaitable[Any]], reps: int) -> tuple[float, float]:
    seconds = []
    for _ in range(reps):
        started = time.perf_counter()
        await call()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds) * 1000, max(seconds) * 1000


async def run(store: str, types: int, reps: int, folder: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    if store == "postgres":
        queue = dq.connect(PG_DSN, schema=f"bench_{tag}")
        await queue.migrate()
    elif store == "redis":
        queue = dq.connect(REDIS_URL, key_prefix=f"bench:{tag}:")
    else:
        queue = dq.connect(f"sqlite:///{folder / 'bench.db'}")
    backend = queue.backend
    names = [f"type_{n}" for n in range(types)]
    now = queue.clock.now().replace(second=0, microsecond=0)
    try:
        started = time.perf_counter()
        for ago in range(DAY_MINUTES - 1, -1, -1):
            minute = now - timedelta(minutes=ago)
            await backend.record_minute_stats(
                [entry(minute, name) for name in names], now=now
            )
        fill = time.perf_counter() - started
        # A minute may have begun since the fill: the window moved by one.
        day = await queue.get_minute_stats(86400)
        assert len(day) >= (DAY_MINUTES - 1) * types, len(day)
        beat = [entry(now, name) for name in names[:3]]
        print(f"{store}: {types} types, a day of minutes filled in {fill:.1f} s")
        for label, call in (
            ("get_minute_stats(3600)", lambda: queue.get_minute_stats(3600)),
            ("get_minute_stats(86400)", lambda: queue.get_minute_stats(86400)),
            ("a heartbeat's write", lambda: backend.record_minute_stats(beat, now=now)),
        ):
            median, worst = await timed(call, reps)
            print(f"  {label}: median {median:.1f} ms (max {worst:.1f})")
    finally:
        if store == "postgres":
            pool = queue.get_pool()
            async with pool.connection() as conn:
                await conn.execute(f"DROP SCHEMA bench_{tag} CASCADE")
        elif store == "redis":
            client = queue.get_redis_client()
            found = [key async for key in client.scan_iter(match=f"{{bench:{tag}:}}*")]
            if found:
                await client.unlink(*found)
        await queue.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--store", choices=["postgres", "sqlite", "redis"], required=True
    )
    parser.add_argument("--types", type=int, default=20)
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run(args.store, args.types, args.reps, Path(folder)))


if __name__ == "__main__":
    main()
