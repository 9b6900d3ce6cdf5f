"""The PostgreSQL store alone, at the backend level, beside bare psycopg.

No processor, no handlers: what the store's statements cost. Each figure is
printed next to a bare psycopg loop doing the least possible work on a
minimal table in the same run (ratios compare across machines; absolute
numbers do not).

    .venv/bin/python bench/pg_store.py [--jobs 20000] [--single 3000]

- bulk: ``add_jobs`` in calls of 1,000 (events included) vs one bare
  ``INSERT ... SELECT FROM unnest`` per 1,000 rows.
- single: one ``add_jobs([job])`` per call vs a bare ``INSERT ... RETURNING``.
- cycle: ``settle_and_claim`` at batch 10 and 100 (each call completes the
  previous batch and claims the next) over pre-filled jobs.
- the round trip of one settle-and-claim of 10, untyped and typed, with
  every job pending.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg

from dataqueue._commands import ClaimRequest, Completion, Lease, NewJob
from dataqueue.backends.postgres import PostgresBackend

PG_URL = os.environ.get(
    "DATAQUEUE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
NOW = datetime(2030, 1, 1, tzinfo=UTC)

BARE_SCHEMA = """
CREATE TABLE {s}.jobs (
    id BIGSERIAL PRIMARY KEY, job_type TEXT NOT NULL, payload JSONB NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', priority INT NOT NULL DEFAULT 0,
    run_at TIMESTAMPTZ NOT NULL DEFAULT now(), tags TEXT[]
);
CREATE INDEX ON {s}.jobs (priority DESC, run_at, id) WHERE status = 'pending';
"""
BARE_ONE = (
    "INSERT INTO {s}.jobs (job_type, payload, tags) VALUES (%s, %s, %s) RETURNING id"
)
BARE_MANY = (
    "INSERT INTO {s}.jobs (job_type, payload, tags) "
    "SELECT %s, p, %s FROM unnest(%s::jsonb[]) AS p RETURNING id"
)


def new_job(n: int) -> NewJob:
    return NewJob(
        job_type="noop",
        payload={"n": n},
        priority=0,
        run_at=None,
        max_attempts=3,
        timeout=None,
        force_kill_on_timeout=False,
        tags=["bench"],
        idempotency_key=None,
        retry_delay=None,
        retry_backoff=None,
        retry_delay_max=None,
    )


async def sql(query: str) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(PG_URL, autocommit=True) as c:
        cur = await c.execute(query.encode())
        return await cur.fetchall() if cur.description else []


async def fresh_backend() -> tuple[PostgresBackend, str]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    backend = PostgresBackend(PG_URL, schema=schema, max_connections=4)
    await backend.migrate()
    await backend.open()
    return backend, schema


async def bare_rates(jobs: int, single: int) -> tuple[float, float]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    await sql(f"CREATE SCHEMA {schema}; " + BARE_SCHEMA.format(s=schema))
    try:
        async with await psycopg.AsyncConnection.connect(
            PG_URL, autocommit=True
        ) as conn:
            many = BARE_MANY.format(s=schema).encode()
            started = time.perf_counter()
            for start in range(0, jobs, 1000):
                payloads = [f'{{"n": {n}}}' for n in range(start, start + 1000)]
                await conn.execute(many, ("noop", ["bench"], payloads))
            bulk = jobs / (time.perf_counter() - started)
            one = BARE_ONE.format(s=schema).encode()
            started = time.perf_counter()
            for n in range(single):
                await conn.execute(one, ("noop", f'{{"n": {n}}}', ["bench"]))
            return bulk, single / (time.perf_counter() - started)
    finally:
        await sql(f"DROP SCHEMA {schema} CASCADE")


async def store_adds(jobs: int, single: int) -> tuple[float, float]:
    backend, schema = await fresh_backend()
    try:
        started = time.perf_counter()
        for start in range(0, jobs, 1000):
            await backend.add_jobs(
                [new_job(n) for n in range(start, start + 1000)], now=NOW
            )
        bulk = jobs / (time.perf_counter() - started)
        started = time.perf_counter()
        for n in range(single):
            await backend.add_jobs([new_job(n)], now=NOW)
        return bulk, single / (time.perf_counter() - started)
    finally:
        await backend.close()
        await sql(f"DROP SCHEMA {schema} CASCADE")


async def cycle(jobs: int, batch: int) -> float:
    """Jobs/s through settle_and_claim: complete the last batch, claim the next."""
    backend, schema = await fresh_backend()
    try:
        for start in range(0, jobs, 1000):
            await backend.add_jobs(
                [new_job(n) for n in range(start, start + 1000)], now=NOW
            )
        outcomes: list[Completion] = []
        done = 0
        started = time.perf_counter()
        while True:
            token = secrets.token_hex(16)
            claim = ClaimRequest("bench", token, batch)
            exchange = await backend.settle_and_claim(outcomes, claim, now=NOW)
            done += sum(exchange.settled)
            outcomes = [
                Completion(Lease(job.id, token), None, {}) for job in exchange.claimed
            ]
            if not outcomes:
                break
        assert done == jobs, done
        return jobs / (time.perf_counter() - started)
    finally:
        await backend.close()
        await sql(f"DROP SCHEMA {schema} CASCADE")


async def typed_claims(jobs: int) -> tuple[float, float]:
    """Median round trip (ms) of settle 10 + claim 10, untyped and typed (both
    prepared by then), with every job pending."""
    backend, schema = await fresh_backend()
    try:
        for start in range(0, jobs, 1000):
            await backend.add_jobs(
                [new_job(n) for n in range(start, start + 1000)], now=NOW
            )
        # As autovacuum would have by now: without statistics the planner
        # guesses that few jobs match the type and sorts them all.
        await sql(f"ANALYZE {schema}.job_queue")
        medians = []
        for job_types in (None, ("noop",)):
            times: list[float] = []
            outcomes: list[Completion] = []
            for _ in range(60):
                token = secrets.token_hex(16)
                claim = ClaimRequest("bench", token, 10, job_types)
                started = time.perf_counter()
                exchange = await backend.settle_and_claim(outcomes, claim, now=NOW)
                times.append((time.perf_counter() - started) * 1000)
                outcomes = [
                    Completion(Lease(job.id, token), None, {})
                    for job in exchange.claimed
                ]
            medians.append(statistics.median(times[10:]))
        return medians[0], medians[1]
    finally:
        await backend.close()
        await sql(f"DROP SCHEMA {schema} CASCADE")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--single", type=int, default=3000)
    args = parser.parse_args()
    bare_bulk, bare_one = await bare_rates(args.jobs, args.single)
    bulk, one = await store_adds(args.jobs, args.single)
    print(
        f"bulk add (1,000/call): {bulk:9.0f} jobs/s   bare {bare_bulk:9.0f}"
        f"   ratio {bulk / bare_bulk:.2f}"
    )
    print(
        f"single add:            {one:9.0f} jobs/s   bare {bare_one:9.0f}"
        f"   ratio {one / bare_one:.2f}"
    )
    for batch in (10, 100):
        rate = await cycle(args.jobs, batch)
        print(f"settle+claim batch {batch:3}: {rate:9.0f} jobs/s")
    untyped, typed = await typed_claims(args.jobs)
    print(
        f"settle 10 + claim 10 round trip, median: {untyped:.3f} ms untyped, "
        f"{typed:.3f} ms typed"
    )


if __name__ == "__main__":
    asyncio.run(main())
