"""dataqueue adapter, SQLite store (one file in the scratch folder; WAL mode).

File: $BENCH_DQ_SQLITE (default <scratch>/dataqueue.db). Client and worker are
separate processes, as for every peer; the worker hears of new jobs through the
store's doorbell (a Unix datagram socket beside the file, rung by every add).
enqueue_one : queue.add_job("noop", payload): one write transaction (job + event)
enqueue_bulk: queue.add_jobs([JobSpec("noop", p), ...]): one write transaction per
              1,000-job batch
worker      : queue.create_processor({"noop": h}, batch_size=B, concurrency=10).run():
              one settle_and_claim transaction per turn.
  variants: as for dataqueue_pg (default = batch 10, b100 = batch 100)
reset       : delete the file (and -wal, -shm), queue.migrate()
checkpoint  : PRAGMA wal_checkpoint(TRUNCATE) after the pre-fill (SQLite's analogue
              of the CHECKPOINT the harness runs for PostgreSQL peers)
remaining   : unfinished jobs, on the harness's own sqlite3 connection;
count_done  : status 'completed'.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3

import common

import dataqueue as dq
from adapters.dataqueue_pg import BATCH, DONE, UNFINISHED, dq_version, noop  # noqa: F401

NAME = "dataqueue_sqlite"
VENV = "dataqueue"
BACKEND = "sqlite"
HAS_BULK = True
BULK_BATCH = 1000
PATH = os.environ.get("BENCH_DQ_SQLITE", os.path.join(common.SCRATCH, "dataqueue.db"))


def version() -> str:
    return f"{dq_version()} (sqlite {sqlite3.sqlite_version})"


def connect():
    return dq.connect(f"sqlite:///{PATH}")


def remove_files(path: str) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path + suffix)


async def reset() -> None:
    remove_files(PATH)
    q = connect()
    try:
        await q.migrate()
    finally:
        await q.close()


class Client:
    pass


async def open_client():
    c = Client()
    c.q = connect()
    c.db = sqlite3.connect(PATH, timeout=5, isolation_level=None)
    return c


async def close_client(c) -> None:
    await c.q.close()
    c.db.close()


async def enqueue_one(c, payload: dict) -> None:
    await c.q.add_job("noop", payload)


async def enqueue_bulk(c, payloads: list[dict]) -> None:
    await c.q.add_jobs([dq.JobSpec("noop", p) for p in payloads])


async def remaining(c) -> int:
    return c.db.execute(UNFINISHED).fetchone()[0]


async def count_done(c) -> int:
    return c.db.execute(DONE).fetchone()[0]


async def describe(c) -> dict:
    return dict(
        c.db.execute(
            "SELECT status, count(*) FROM job_queue GROUP BY status"
        ).fetchall()
    )


async def checkpoint(c) -> None:
    c.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def run_worker(concurrency: int, variant: str) -> None:
    from adapters.dataqueue_pg import _worker

    asyncio.run(_worker(connect, concurrency, variant))
