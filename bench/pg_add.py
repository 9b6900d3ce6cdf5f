"""PostgreSQL adding, one job a call and in bulk, beside a bare INSERT.

Only the public API is used (``dq.connect``, ``add_job``, ``add_jobs``), so
the same file runs against another tree (its venv, or ``PYTHONPATH`` set to
its ``src``):

    .venv/bin/python bench/pg_add.py [--single 2000] [--calls 20] [--batch 1000]

Per run, in fresh schemas of the test database: ``--single`` calls of
``add_job("noop", payload)``, then ``--calls`` calls of ``add_jobs`` with
``--batch`` specs each; then the same on a connection of its own with the
peer harness's bare statements (``bench/peers/adapters/bare_psycopg.py``):
one ``INSERT ... RETURNING id`` of a (job_type, payload jsonb, tags) row a
call, and one ``INSERT ... SELECT FROM unnest`` a batch. Payloads are the
harness's (``make_payload``). Printed: wall and this process's CPU, µs a job.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable

import psycopg
from cpu import own_cpu  # beside this file

import dataqueue as dq

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
from common import make_payload  # bench/peers/common.py

PG_URL = os.environ.get(
    "DATAQUEUE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
DQ_SCHEMA, BARE_SCHEMA = "bench_add", "bench_add_bare"
BARE_TABLE = """
CREATE TABLE job_queue (
  id bigserial PRIMARY KEY, job_type text NOT NULL, payload jsonb NOT NULL,
  status text NOT NULL DEFAULT 'pending', priority int NOT NULL DEFAULT 0,
  run_at timestamptz NOT NULL DEFAULT now(), tags text[]
);
CREATE INDEX ON job_queue (priority DESC, run_at, id) WHERE status = 'pending'
"""
BARE_ONE = (
    "INSERT INTO job_queue (job_type, payload, priority, tags) "
    "VALUES (%s, %s::jsonb, 0, %s) RETURNING id"
)
BARE_MANY = (
    "INSERT INTO job_queue (job_type, payload, priority, tags) "
    "SELECT %s, p, 0, %s FROM unnest(%s::jsonb[]) AS p RETURNING id"
)


def dumps(payload: dict[str, object]) -> str:
    return json.dumps(payload, separators=(",", ":"))


async def timed(run: Callable[[], Awaitable[None]], jobs: int) -> tuple[float, float]:
    """Wall and CPU µs a job of ``run``."""
    cpu, wall = own_cpu(), time.perf_counter()
    await run()
    return (time.perf_counter() - wall) / jobs * 1e6, (own_cpu() - cpu) / jobs * 1e6


async def fresh_schema(schema: str) -> None:
    async with await psycopg.AsyncConnection.connect(PG_URL, autocommit=True) as c:
        await c.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await c.execute(f"CREATE SCHEMA {schema}")


async def main(single: int, calls: int, batch: int) -> None:
    ones = [make_payload(i) for i in range(single)]
    batches = [
        [make_payload(i) for i in range(start, start + batch)]
        for start in range(0, calls * batch, batch)
    ]
    figures: dict[str, tuple[float, float]] = {}

    await fresh_schema(DQ_SCHEMA)
    queue = dq.connect(PG_URL, schema=DQ_SCHEMA)
    await queue.migrate()
    try:
        for i in range(20):  # warm-up: the pool, prepared statements
            await queue.add_job("noop", make_payload(-1 - i))
        await queue.add_jobs([dq.JobSpec("noop", make_payload(-1)) for _ in range(10)])

        async def add_one() -> None:
            for payload in ones:
                await queue.add_job("noop", payload)

        async def add_bulk() -> None:
            for payloads in batches:
                await queue.add_jobs([dq.JobSpec("noop", p) for p in payloads])

        figures["add_job"] = await timed(add_one, single)
        figures["add_jobs"] = await timed(add_bulk, calls * batch)
    finally:
        await queue.close()

    await fresh_schema(BARE_SCHEMA)
    conn = await psycopg.AsyncConnection.connect(
        PG_URL, autocommit=True, options=f"-c search_path={BARE_SCHEMA}"
    )
    try:
        await conn.execute(BARE_TABLE)
        for i in range(20):
            await conn.execute(BARE_ONE, ("noop", dumps(make_payload(-1 - i)), ["b"]))

        async def bare_one() -> None:
            for payload in ones:
                cur = await conn.execute(BARE_ONE, ("noop", dumps(payload), ["b"]))
                await cur.fetchall()

        async def bare_bulk() -> None:
            for payloads in batches:
                texts = [dumps(p) for p in payloads]
                cur = await conn.execute(BARE_MANY, ("noop", ["b"], texts))
                await cur.fetchall()

        figures["bare INSERT"] = await timed(bare_one, single)
        figures["bare unnest"] = await timed(bare_bulk, calls * batch)
    finally:
        await conn.close()

    print(f"dataqueue {os.path.dirname(dq.__file__)}")
    for name, (wall, cpu) in figures.items():
        print(f"{name:12} {wall:8.1f} µs wall {cpu:7.1f} µs CPU a job")
    one, bare = figures["add_job"][0], figures["bare INSERT"][0]
    print(f"add_job ÷ bare INSERT (jobs/s): {bare / one:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    asyncio.run(main(args.single, args.calls, args.batch))
