"""procrastinate adapter (PostgreSQL, the default PsycopgConnector: a psycopg 3 pool).

enqueue_one : noop.defer_async(**payload): procrastinate_defer_jobs_v1() per call
enqueue_bulk: noop.batch_defer_async(*payloads): one call per batch
worker      : app.run_worker_async(concurrency=10) (the library's default is 1;
              fetch_job_polling_interval=5 s and listen_notify=True are defaults)
"""

from __future__ import annotations

import asyncio
import importlib.metadata

import common
import procrastinate

NAME = "procrastinate"
VENV = "procrastinate"
BACKEND = "postgres"
HAS_BULK = True
BULK_BATCH = 1000

app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(conninfo=common.PG_DSN)
)


@app.task(name="noop")
async def noop(**payload) -> None:
    common.job_started(payload)


def version() -> str:
    return "procrastinate " + importlib.metadata.version("procrastinate")


async def reset() -> None:
    common.pg_reset_schema()
    async with app.open_async():
        await app.schema_manager.apply_schema_async()


class Client:
    pass


async def open_client():
    c = Client()
    await app.open_async()
    c.counter = await common.PgCounter().open()
    return c


async def close_client(c) -> None:
    await app.close_async()
    await c.counter.close()


async def enqueue_one(c, payload: dict) -> None:
    await noop.defer_async(**payload)


async def enqueue_bulk(c, payloads: list[dict]) -> None:
    await noop.batch_defer_async(*payloads)


async def remaining(c) -> int:
    return await c.counter.scalar(
        "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo','doing')"
    )


async def count_done(c) -> int:
    return await c.counter.scalar(
        "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"
    )


def run_worker(concurrency: int, variant: str) -> None:
    async def main():
        async with app.open_async():
            await app.run_worker_async(
                concurrency=concurrency
            )  # stops on SIGTERM/SIGINT

    asyncio.run(main())
