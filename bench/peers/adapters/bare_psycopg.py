""" "Bare SQL" baseline with psycopg 3 (the driver dataqueue uses): the same SQL
and table as bare_asyncpg.py. Variants: default (batch 100), b10 (batch 10), fused
(complete k + claim k+1 in one statement). Prepared statements are psycopg's default
(automatic after 5 uses).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import re
import signal
import socket

import common
import psycopg

from adapters import bare_asyncpg as A

NAME = "bare_psycopg"
VENV = "baseline"
BACKEND = "postgres"
HAS_BULK = True
BULK_BATCH = 1000


def _pg(sql: str) -> str:
    """asyncpg's $N placeholders -> psycopg named %(pN)s (same SQL text otherwise)."""
    return re.sub(r"\$(\d+)", r"%(p\1)s", sql)


def _args(*a) -> dict:
    return {f"p{i + 1}": v for i, v in enumerate(a)}


INSERT_ONE, INSERT_MANY = _pg(A.INSERT_ONE), _pg(A.INSERT_MANY)
CLAIM, COMPLETE, FUSED = _pg(A.CLAIM), _pg(A.COMPLETE), _pg(A.FUSED)


def version() -> str:
    return "psycopg " + importlib.metadata.version("psycopg")


reset = A.reset


class Client:
    pass


async def open_client():
    c = Client()
    c.conn = await psycopg.AsyncConnection.connect(common.PG_DSN, autocommit=True)
    c.counter = await common.PgCounter().open()
    return c


async def close_client(c) -> None:
    await c.conn.close()
    await c.counter.close()


async def enqueue_one(c, payload: dict) -> None:
    await c.conn.execute(INSERT_ONE, _args("noop", common.dumps(payload), ["bench"]))


async def enqueue_bulk(c, payloads: list[dict]) -> None:
    await c.conn.execute(
        INSERT_MANY, _args("noop", [common.dumps(p) for p in payloads], ["bench"])
    )


async def remaining(c) -> int:
    return await c.counter.scalar(
        "SELECT count(*) FROM job_queue WHERE status IN ('pending','processing')"
    )


async def count_done(c) -> int:
    return await c.counter.scalar(
        "SELECT count(*) FROM job_queue WHERE status = 'completed'"
    )


def run_worker(concurrency: int, variant: str) -> None:
    asyncio.run(_worker(concurrency, variant))


async def _worker(concurrency: int, variant: str) -> None:
    batch = 10 if variant == "b10" else 100
    wid = f"{socket.gethostname()}-{os.getpid()}"
    conn = await psycopg.AsyncConnection.connect(common.PG_DSN, autocommit=True)
    lconn = await psycopg.AsyncConnection.connect(common.PG_DSN, autocommit=True)
    await lconn.execute("LISTEN job_queue_new")
    stop, wake = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)

    async def listen():
        async for _ in lconn.notifies():
            wake.set()

    lt = asyncio.create_task(listen())
    sem = asyncio.Semaphore(concurrency)

    async def run_one(payload):
        async with sem:
            common.job_started(
                payload if isinstance(payload, dict) else json.loads(payload)
            )

    pending: list[int] = []
    while not stop.is_set():
        wake.clear()
        if variant == "fused":
            cur = await conn.execute(FUSED, _args(batch, wid, pending))
            pending = []
        else:
            cur = await conn.execute(CLAIM, _args(batch, wid))
        rows = await cur.fetchall()
        if rows:
            await asyncio.gather(*(run_one(r[2]) for r in rows))
            ids = [r[0] for r in rows]
            if variant == "fused":
                pending = ids
            else:
                await conn.execute(COMPLETE, _args(ids))
            if len(rows) == batch:
                continue
        if pending:
            continue
        ws, ss = asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())
        await asyncio.wait({ws, ss}, timeout=5.0, return_when=asyncio.FIRST_COMPLETED)
        ws.cancel()
        ss.cancel()
    lt.cancel()
    await conn.close()
