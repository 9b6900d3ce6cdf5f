"""dataqueue adapter, Redis store (the redis-py client dataqueue.connect() builds).

Keys live under the prefix "bench:", as the hash tag "{bench:}", in the bench's
Redis db (layout: src/dataqueue/backends/redis/keys.py).
enqueue_one : queue.add_job("noop", payload): add_jobs.lua, one EVALSHA (job hash,
              index zsets, ready zset, the job's event list, PUBLISH)
enqueue_bulk: queue.add_jobs([JobSpec("noop", p), ...]): the same script once per
              1,000-job batch
worker      : queue.create_processor({"noop": h}, batch_size=B, concurrency=10).run():
              one settle_and_claim.lua per turn; wake-ups by pub/sub on bench:wakeup.
  variants: as for dataqueue_pg (default = batch 10, b100 = batch 100)
reset       : FLUSHDB (common.redis_flush), queue.migrate()
remaining   : ZCARD of the per-state indexes bench:status:{pending,processing,waiting};
count_done  : ZCARD bench:status:completed (a failed job is in neither: a mismatch).
"""

from __future__ import annotations

import asyncio

import common
import redis.asyncio as aioredis

import dataqueue as dq
from adapters.dataqueue_pg import dq_version

NAME = "dataqueue_redis"
VENV = "dataqueue"
BACKEND = "redis"
HAS_BULK = True
BULK_BATCH = 1000
PREFIX = "bench:"
# Every key carries the prefix as one hash tag (keys.py): {bench:}status:pending.
KEYS = "{" + PREFIX + "}"


def version() -> str:
    import redis

    return f"{dq_version()} (redis-py {redis.__version__})"


def connect():
    return dq.connect(common.REDIS_URL, key_prefix=PREFIX)


async def reset() -> None:
    common.redis_flush()
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
    c.r = aioredis.Redis.from_url(common.REDIS_URL)
    return c


async def close_client(c) -> None:
    await c.q.close()
    await c.r.aclose()


async def enqueue_one(c, payload: dict) -> None:
    await c.q.add_job("noop", payload)


async def enqueue_bulk(c, payloads: list[dict]) -> None:
    await c.q.add_jobs([dq.JobSpec("noop", p) for p in payloads])


async def remaining(c) -> int:
    p = c.r.pipeline(transaction=False)
    for s in ("pending", "processing", "waiting"):
        p.zcard(f"{KEYS}status:{s}")
    return sum(await p.execute())


async def count_done(c) -> int:
    return await c.r.zcard(f"{KEYS}status:completed")


async def describe(c) -> dict:
    """Jobs per status index and per claim zset (asked only when a count did not
    match)."""
    names = [
        f"status:{s}"
        for s in (
            "pending",
            "processing",
            "completed",
            "failed",
            "cancelled",
            "waiting",
        )
    ]
    names += ["scheduled", "ready", "retry", "processing", "finished", "all"]
    p = c.r.pipeline(transaction=True)
    for n in names:
        p.zcard(KEYS + n)
    return dict(zip(names, await p.execute(), strict=True))


def run_worker(concurrency: int, variant: str) -> None:
    from adapters.dataqueue_pg import _worker

    asyncio.run(_worker(connect, concurrency, variant))
