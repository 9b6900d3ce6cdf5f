"""pgqueuer adapter (PostgreSQL, the asyncpg driver as in pgqueuer's docs).

enqueue_one : Queries.enqueue("noop", payload_bytes): 1 INSERT per call
enqueue_bulk: Queries.enqueue([...], [...], [...]) (list form): 1 INSERT .. unnest
worker      : PgQueuer(AsyncpgDriver(conn)).run(...) with one entrypoint "noop"
  variants: default = run()'s defaults (batch_size=10, no per-worker cap)
            c20     = batch_size=10, max_concurrent_tasks=20 (pgqueuer requires
                      max_concurrent_tasks >= 2 * batch_size)
            b100    = batch_size=100, no cap
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import signal

import asyncpg
import common

NAME = "pgqueuer"
VENV = "pgqueuer"
BACKEND = "postgres"
HAS_BULK = True
BULK_BATCH = 1000


def version() -> str:
    return "pgqueuer " + importlib.metadata.version("pgqueuer")


async def reset() -> None:
    from pgqueuer import AsyncpgDriver, Queries

    common.pg_reset_schema()
    conn = await asyncpg.connect(common.PG_DSN)
    try:
        await Queries(AsyncpgDriver(conn)).install()
    finally:
        await conn.close()


class Client:
    pass


async def open_client():
    from pgqueuer import AsyncpgDriver, Queries

    c = Client()
    c.conn = await asyncpg.connect(common.PG_DSN)
    c.q = Queries(AsyncpgDriver(c.conn))
    c.counter = await common.PgCounter().open()
    return c


async def close_client(c) -> None:
    await c.conn.close()
    await c.counter.close()


async def enqueue_one(c, payload: dict) -> None:
    await c.q.enqueue("noop", common.dumps(payload).encode())


async def enqueue_bulk(c, payloads: list[dict]) -> None:
    n = len(payloads)
    await c.q.enqueue(
        ["noop"] * n, [common.dumps(p).encode() for p in payloads], [0] * n
    )


async def remaining(c) -> int:
    # finished jobs are DELETEd from the queue table and logged to pgqueuer_log
    return await c.counter.scalar("SELECT count(*) FROM pgqueuer")


async def count_done(c) -> int:
    return await c.counter.scalar(
        "SELECT count(*) FROM pgqueuer_log WHERE status = 'successful'"
    )


def run_worker(concurrency: int, variant: str) -> None:
    asyncio.run(_worker(concurrency, variant))


async def _worker(concurrency: int, variant: str) -> None:
    from pgqueuer import PgQueuer
    from pgqueuer.models import Job

    conn = await asyncpg.connect(common.PG_DSN)
    pgq = PgQueuer.from_asyncpg_connection(conn)

    @pgq.entrypoint("noop")
    async def noop(job: Job) -> None:
        common.job_started(json.loads(job.payload))

    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, pgq.shutdown.set)
    kw = {}
    if variant == "c20":
        kw = dict(batch_size=10, max_concurrent_tasks=20)
    elif variant == "b100":
        kw = dict(batch_size=100)
    await pgq.run(**kw)
    await conn.close()
