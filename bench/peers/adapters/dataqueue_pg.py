"""dataqueue adapter, PostgreSQL store (the psycopg 3 pool dataqueue.connect() builds).

enqueue_one : queue.add_job("noop", payload): add_jobs.sql, one statement (job,
              'added' event, NOTIFY)
enqueue_bulk: queue.add_jobs([JobSpec("noop", p), ...]): the same statement once per
              1,000-job batch
worker      : queue.create_processor({"noop": h}, batch_size=B, concurrency=10).run():
              one settle_and_claim.sql per turn (writes the outcomes that ended since
              the last turn and claims for the free slots); poll_interval left at its
              default, wake-ups by LISTEN/NOTIFY.
  variants: default = batch_size 10 (the library's default), concurrency 10
            b100    = batch_size 100, concurrency 10 (a claim never asks for more
                      than the free slots, so at most 10 at a time here)
reset       : DROP SCHEMA public CASCADE (common.pg_reset_schema), queue.migrate()
remaining   : jobs in job_queue whose status is pending, processing or waiting;
count_done  : status 'completed'. A no-op never fails: a failed job is in neither
              count, so it shows as a mismatch (verified false), not a hang.

Diagnostics (off unless the variable is set; never in timed sittings):
  BENCH_DQ_COUNT=<file>: the worker counts PostgresBackend._fetch calls per SQL file
                         and writes them as JSON to <file> when it stops.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import signal
import subprocess

import common

import dataqueue as dq

NAME = "dataqueue_pg"
VENV = "dataqueue"
BACKEND = "postgres"
HAS_BULK = True
BULK_BATCH = 1000

BATCH = {"default": 10, "b100": 100}
# A no-op never fails: a failed job (even one with a retry scheduled) is left out of
# both counts,
# so it shows up as a count mismatch (verified = false) instead of a hang.
UNFINISHED = (
    "SELECT count(*) FROM job_queue WHERE status IN ('pending','processing','waiting')"
)
DONE = "SELECT count(*) FROM job_queue WHERE status = 'completed'"


def dq_version() -> str:
    """'dataqueue 0.1.0 @<commit>' (the editable install's git commit, when it is a
    checkout)."""
    v = "dataqueue " + importlib.metadata.version("dataqueue")
    try:
        src = os.path.dirname(
            os.path.dirname(os.path.dirname(os.path.abspath(dq.__file__)))
        )
        sha = subprocess.run(
            ["git", "-C", src, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        if sha:
            v += f" @{sha}"
    except Exception:
        pass
    return v


def version() -> str:
    import psycopg

    return f"{dq_version()} (psycopg {psycopg.__version__} {psycopg.pq.__impl__} impl)"


def connect():
    return dq.connect(common.PG_DSN)


async def reset() -> None:
    common.pg_reset_schema()
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
    c.counter = await common.PgCounter().open()
    return c


async def close_client(c) -> None:
    await c.q.close()
    await c.counter.close()


async def enqueue_one(c, payload: dict) -> None:
    await c.q.add_job("noop", payload)


async def enqueue_bulk(c, payloads: list[dict]) -> None:
    await c.q.add_jobs([dq.JobSpec("noop", p) for p in payloads])


async def remaining(c) -> int:
    return await c.counter.scalar(UNFINISHED)


async def count_done(c) -> int:
    return await c.counter.scalar(DONE)


async def describe(c) -> dict:
    """Jobs per status (the harness asks only when a count did not match)."""
    cur = await c.counter.conn.execute(
        "SELECT status, count(*) FROM job_queue GROUP BY status"
    )
    return {r[0]: r[1] for r in await cur.fetchall()}


async def noop(payload) -> None:
    common.job_started(payload)


def _count_statements(path: str):
    """Wrap PostgresBackend._fetch (one call = one statement = one round trip on a
    pooled
    connection) to count calls per SQL file; returns a function that writes the
    counts."""
    from dataqueue.backends.postgres import backend as pgb

    counts: dict[str, int] = {}
    orig = pgb.PostgresBackend._fetch

    async def _fetch(self, name, params):
        counts[name] = counts.get(name, 0) + 1
        return await orig(self, name, params)

    pgb.PostgresBackend._fetch = _fetch

    def dump():
        with open(path, "w") as f:
            json.dump(counts, f)

    return dump


def run_worker(concurrency: int, variant: str) -> None:
    asyncio.run(_worker(connect, concurrency, variant))


async def _worker(make_queue, concurrency: int, variant: str) -> None:
    dump = (
        _count_statements(os.environ["BENCH_DQ_COUNT"])
        if os.environ.get("BENCH_DQ_COUNT")
        else None
    )
    q = make_queue()
    p = q.create_processor(
        {"noop": noop}, batch_size=BATCH[variant], concurrency=concurrency
    )
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, p.stop)
    try:
        await p.run()
    finally:
        if dump:
            dump()
        await q.close()
