"""Huey adapter, SqliteHuey (an embedded SQLite file; a synchronous library).

The peer for dataqueue's SQLite store. File: $BENCH_HUEY_SQLITE (default
<scratch>/huey.db). SqliteHuey's defaults otherwise: WAL journal, SQLite's default
synchronous (FULL: an fsync of the WAL per commit; dataqueue sets NORMAL), one
connection per storage object behind a lock, `begin exclusive` write transactions.

enqueue_one : noop(payload) (calling a @huey.task enqueues it): 1 committed INSERT
enqueue_bulk: none (a `group` is enqueued one task at a time): skipped; the process
              pre-fill uses enqueue_one (untimed)
worker      : huey.create_consumer(workers=10, worker_type="thread").run(), what
              `huey_consumer adapters.huey_sqlite.huey -w 10 -k thread` runs; polling
              defaults (initial_delay 0.1 s, backoff 1.15, max_delay 10 s: Huey has no
              push wake-up on SQLite). SIGTERM is Huey's immediate stop.
completion  : Huey keeps no record of a finished task unless it stores a result, so
              the instance has store_none=True (a documented option): the no-op's None
              result is written to Huey's `kv` table, which count_done() counts (one
              more committed INSERT per task).
remaining   : rows in `task` (queued). A dequeued task leaves that table at once, so
              with the queue empty remaining() is (jobs added by this client) minus
              (results stored): it reaches 0 only when every job has finished.
checkpoint  : PRAGMA wal_checkpoint(TRUNCATE) after the pre-fill (as for dataqueue).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import sqlite3

import common
from huey import SqliteHuey

NAME = "huey_sqlite"
VENV = "huey"
BACKEND = "sqlite"
HAS_BULK = False
BULK_SKIP_REASON = (
    "no native bulk enqueue API (a `group` is enqueued one task at a time)"
)
PATH = os.environ.get("BENCH_HUEY_SQLITE", os.path.join(common.SCRATCH, "huey.db"))
QUEUE = "bench"

huey = SqliteHuey(QUEUE, filename=PATH, store_none=True)


@huey.task()
def noop(payload: dict) -> None:
    common.job_started(payload)


def version() -> str:
    return (
        f"huey {importlib.metadata.version('huey')} (sqlite {sqlite3.sqlite_version})"
    )


def remove_files(path: str) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path + suffix)


async def reset() -> None:
    huey.storage.close()
    remove_files(PATH)
    huey.storage.initialize_schema()  # what SqliteHuey() does when it is made


class Client:
    pass


async def open_client():
    c = Client()
    c.added = 0
    c.db = sqlite3.connect(PATH, timeout=5, isolation_level=None)
    return c


async def close_client(c) -> None:
    c.db.close()
    huey.storage.close()


async def enqueue_one(c, payload: dict) -> None:
    noop(payload)
    c.added += 1


def _scalar(c, sql: str) -> int:
    return c.db.execute(sql, (QUEUE,)).fetchone()[0]


async def remaining(c) -> int:
    queued = _scalar(c, "SELECT count(*) FROM task WHERE queue = ?")
    if queued:
        return queued
    return max(0, c.added - _scalar(c, "SELECT count(*) FROM kv WHERE queue = ?"))


async def count_done(c) -> int:
    return _scalar(c, "SELECT count(*) FROM kv WHERE queue = ?")


async def describe(c) -> dict:
    return {
        "added": c.added,
        "queued": _scalar(c, "SELECT count(*) FROM task WHERE queue = ?"),
        "results": _scalar(c, "SELECT count(*) FROM kv WHERE queue = ?"),
    }


async def checkpoint(c) -> None:
    c.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def run_worker(concurrency: int, variant: str) -> None:
    huey.create_consumer(workers=concurrency, worker_type="thread").run()
