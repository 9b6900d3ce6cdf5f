"""PostgreSQL with a long history: admin reads on an empty schema and on one
holding ``--events`` events, plain and partitioned (``migrate(partitioned=
True)``), and what cleaning up one day of that history costs.

    .venv/bin/python bench/pg_history.py [--events 10000000] [--days 10] [--reps 20]

The history is written server-side with ``generate_series``: ``--events``
events, ten per finished job, spread evenly over the last ``--days`` UTC
days (on the partitioned layout, each past day gets the partition its
supervisor would have created that day), plus 1,000 pending jobs. The empty
schema gets the same partitions, the 1,000 pending jobs and only the 20
finished jobs (with their ten events each) that its reads pick, so that a
read returns the same rows on both sides and the ratio measures the
history, not the size of the answer. Reads go through the public API: a
job, its events, the first page of the job list, the per-status counts, the
per-type stats. Each read's figure is the median of ``--rounds`` rounds of
``--reps`` calls on 20 finished jobs picked at random, alternating between
the empty and the full schema call by call. One more row reads the events
of the empty schema's pending jobs, which have none, against those of the
full schema's finished jobs: the comparison this script made before, kept
for reference.
Then one processor works through ``--process`` no-op jobs on the empty
schema (the partitioned layout's counting triggers are paid on every
write). Cleanup, on the full schema, of the two oldest days: the oldest in
the supervisor's order, ``cleanup_old_jobs`` (its finished jobs, deleted in
batches with their events) then ``cleanup_old_job_events``; the next day
the other way round, its events first (one partition drop on the
partitioned layout, batched deletes on the plain one), then its jobs; last,
the events of the third day with the cutoff at its noon, as a supervisor's
pass at noon would.
Every schema is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_start
from typing import Any

import psycopg
from psycopg import sql

import dataqueue as dq

PG_URL = os.environ.get(
    "DATAQUEUE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
EVENTS_PER_JOB = 10
PENDING_JOBS = 1000
SAMPLE_JOBS = 20

# One finished job per slot, its events right after it; %(s)s is the schema.
FILL_JOBS = """
INSERT INTO {s}.job_queue (job_type, payload, status, created_at, updated_at,
    run_at, completed_at, attempts)
SELECT 'report', jsonb_build_object('n', n), 'completed', at, at, at, at, 1
FROM (
    SELECT n, %(first)s::timestamptz + (n * %(span)s::interval / %(jobs)s) AS at
    FROM generate_series(1, %(jobs)s::integer) AS n
) AS slots
"""
FILL_EVENTS = """
INSERT INTO {s}.job_events (job_id, event_type, created_at, metadata)
SELECT j.id, (ARRAY['added', 'processing', 'prolonged'])[least(e, 3)],
    j.created_at + e * interval '1 millisecond', jsonb_build_object('step', e)
FROM {s}.job_queue AS j, generate_series(1, %(per_job)s::integer) AS e
WHERE j.status = 'completed'
"""
FILL_PENDING = """
INSERT INTO {s}.job_queue (job_type, payload, created_at, updated_at, run_at)
SELECT 'report', '{}', now(), now(), now()
FROM generate_series(1, %(pending)s::integer)
"""


async def run_sql(schema: str, statement: str, params: dict[str, Any]) -> None:
    async with await psycopg.AsyncConnection.connect(PG_URL, autocommit=True) as conn:
        await conn.execute(statement.replace("{s}", f'"{schema}"').encode(), params)


async def past_partitions(schema: str, first: date) -> None:
    """The partitions a supervisor would have created on each past day."""
    today = datetime.now(UTC).date()
    async with await psycopg.AsyncConnection.connect(PG_URL, autocommit=True) as conn:
        day = first
        while day < today:
            start = datetime.combine(day, day_start(), tzinfo=UTC)
            statement = sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} PARTITION OF {} "
                "FOR VALUES FROM ({}) TO ({})"
            ).format(
                sql.Identifier(schema, f"job_events_{day:%Y%m%d}"),
                sql.Identifier(schema, "job_events"),
                sql.Literal(start),
                sql.Literal(start + timedelta(days=1)),
            )
            await conn.execute(statement)
            day += timedelta(days=1)


async def analyze(schema: str) -> None:
    async with await psycopg.AsyncConnection.connect(PG_URL, autocommit=True) as conn:
        await conn.execute(f'VACUUM ANALYZE "{schema}".job_queue'.encode())
        await conn.execute(f'ANALYZE "{schema}".job_events'.encode())


async def fill(schema: str, events: int, days: int, partitioned: bool) -> float:
    """Write the history; returns the seconds it took."""
    started = time.perf_counter()
    jobs = events // EVENTS_PER_JOB
    first = datetime.combine(
        datetime.now(UTC).date() - timedelta(days=days), day_start(), tzinfo=UTC
    )
    span = timedelta(days=days)
    if partitioned:
        await past_partitions(schema, first.date())
    if jobs:
        await run_sql(schema, FILL_JOBS, {"first": first, "span": span, "jobs": jobs})
        await run_sql(schema, FILL_EVENTS, {"per_job": EVENTS_PER_JOB})
    await run_sql(schema, FILL_PENDING, {"pending": PENDING_JOBS})
    await analyze(schema)
    return time.perf_counter() - started


# Each read: its name, the call on a queue and a job, and whether the empty
# schema's side reads the jobs without events.
READS: tuple[tuple[str, Callable[[dq.JobQueue, int], Awaitable[Any]], bool], ...] = (
    ("get_job", lambda queue, job: queue.get_job(job), False),
    ("get_job_events", lambda queue, job: queue.get_job_events(job), False),
    ("get_jobs (first 50)", lambda queue, job: queue.get_jobs(limit=50), False),
    ("count_jobs", lambda queue, job: queue.count_jobs(), False),
    ("get_queue_stats", lambda queue, job: queue.get_queue_stats(), False),
    (
        "get_job_events (empty: no events)",
        lambda queue, job: queue.get_job_events(job),
        True,
    ),
)


async def reads(
    queues: list[dq.JobQueue],
    samples: list[list[int]],
    bare: list[list[int]],
    reps: int,
    times: list[dict[str, list[float]]],
) -> None:
    """Add to ``times`` the milliseconds of ``reps`` calls of each read on
    each schema, alternating between the empty and the full schema call by
    call, so that a change in the machine's load falls on both."""
    for name, read, without_events in READS:
        jobs = bare if without_events else samples
        for n in range(reps):
            for which in (0, 1):
                job = jobs[which][n % len(jobs[which])]
                started = time.perf_counter()
                await read(queues[which], job)
                elapsed = (time.perf_counter() - started) * 1000
                times[which].setdefault(name, []).append(elapsed)


async def process(queue: dq.JobQueue, jobs: int) -> float:
    """Jobs per second of one processor (batch 10, concurrency 10) working
    through ``jobs`` no-op jobs: what the layout's triggers cost writes."""
    await queue.add_jobs([dq.JobSpec("noop", {}) for _ in range(jobs)])
    processor = queue.create_processor(
        {"noop": lambda payload: None}, batch_size=10, concurrency=10
    )
    started = time.perf_counter()
    done = 0
    while done < jobs:
        done += await processor.start()
    return jobs / (time.perf_counter() - started)


async def job_sample(schema: str, status: str) -> list[int]:
    """Up to SAMPLE_JOBS jobs of ``status``, picked at random."""
    async with await psycopg.AsyncConnection.connect(PG_URL) as conn:
        cur = await conn.execute(
            f'SELECT id FROM "{schema}".job_queue WHERE status = %s'.encode(), [status]
        )
        ids = [row[0] for row in await cur.fetchall()]
    return random.sample(ids, min(SAMPLE_JOBS, len(ids)))


# The cleanups, in the order run: (what is cleaned up, the cutoff in days
# from the start of the oldest day, cleanup_old_jobs or
# cleanup_old_job_events). The last is a supervisor's pass at noon, whose
# cutoff falls in the middle of a day.
CLEANUPS = (
    ("day 1, jobs with their events", 1, "jobs"),
    ("day 1, then its events", 1, "events"),
    ("day 2, events first", 2, "events"),
    ("day 2, then its jobs", 2, "jobs"),
    ("day 3 until noon, events", 2.5, "events"),
)


@dataclass
class Sitting:
    """One layout's figures: read medians (empty, full) in ms, the fill's
    seconds, each cleanup's seconds and rows, processing in jobs/s."""

    medians: dict[str, tuple[float, float]]
    filled: float
    cleanups: dict[str, tuple[float, int]]
    throughput: float


async def clean_up(backend: Any, days: int) -> dict[str, tuple[float, int]]:
    """Seconds and rows (jobs or events) of each of CLEANUPS, run on the
    full schema's store."""
    first = datetime.combine(
        datetime.now(UTC).date() - timedelta(days=days), day_start(), tzinfo=UTC
    )
    figures = {}
    for name, day, what in CLEANUPS:
        cutoff = first + timedelta(days=day)
        call = (
            backend.cleanup_old_jobs
            if what == "jobs"
            else backend.cleanup_old_job_events
        )
        started = time.perf_counter()
        removed = await call(cutoff, 1000)
        figures[name] = (time.perf_counter() - started, removed)
    return figures


async def layout(
    events: int,
    days: int,
    partitioned: bool,
    reps: int,
    rounds: int,
    jobs_to_process: int,
) -> Sitting:
    """One layout's figures."""
    schemas = [f"bench_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    queues = [dq.connect(PG_URL, schema=schema) for schema in schemas]
    try:
        for queue in queues:
            await queue.migrate(partitioned=partitioned)
        await fill(schemas[0], SAMPLE_JOBS * EVENTS_PER_JOB, days, partitioned)
        filled = await fill(schemas[1], events, days, partitioned)
        samples = [await job_sample(schema, "completed") for schema in schemas]
        bare = [await job_sample(schemas[0], "pending"), samples[1]]
        times: list[dict[str, list[float]]] = [{}, {}]
        for _ in range(rounds):
            await reads(queues, samples, bare, reps, times)
        medians = {
            name: (statistics.median(times[0][name]), statistics.median(times[1][name]))
            for name in times[0]
        }
        throughput = await process(queues[0], jobs_to_process)
        cleanups = await clean_up(queues[1].backend, days)
        return Sitting(medians, filled, cleanups, throughput)
    finally:
        for queue in queues:
            await queue.close()
        async with await psycopg.AsyncConnection.connect(PG_URL, autocommit=True) as c:
            for schema in schemas:
                await c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'.encode())


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--reps", type=int, default=20, help="calls per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--process", type=int, default=5000, help="no-op jobs processed per layout"
    )
    options = parser.parse_args()
    print(
        f"{options.events:,} events over {options.days} days, "
        f"{options.events // EVENTS_PER_JOB:,} finished jobs; "
        f"median of {options.rounds} rounds of {options.reps} calls, ms"
    )
    print("| layout | read | empty | full | full / empty |")
    print("| --- | --- | ---: | ---: | ---: |")
    sittings = {}
    for partitioned in (False, True):
        name = "partitioned" if partitioned else "plain"
        sitting = await layout(
            options.events,
            options.days,
            partitioned,
            options.reps,
            options.rounds,
            options.process,
        )
        for read, (empty, full) in sitting.medians.items():
            print(
                f"| {name} | {read} | {empty:.2f} | {full:.2f} | {full / empty:.2f} |"
            )
        sittings[name] = sitting
    print()
    print("| layout | fill (s) | processing (jobs/s) |")
    print("| --- | ---: | ---: |")
    for name, sitting in sittings.items():
        print(f"| {name} | {sitting.filled:.0f} | {sitting.throughput:,.0f} |")
    print()
    print("| layout | cleanup | seconds | jobs or events removed |")
    print("| --- | --- | ---: | ---: |")
    for name, sitting in sittings.items():
        for cleanup, (seconds, removed) in sitting.cleanups.items():
            print(f"| {name} | {cleanup} | {seconds:.2f} | {removed:,} |")


if __name__ == "__main__":
    asyncio.run(main())
