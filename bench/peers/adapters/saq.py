"""saq adapter (Redis, asyncio).

enqueue_one : queue.enqueue("noop", payload=payload): one Lua script (SET, ZADD, RPUSH)
enqueue_bulk: none (Queue.map() enqueues many but also waits for their results: saq
              has no fire-and-forget bulk API): skipped; the process pre-fill uses 32
              concurrent enqueue() calls (untimed)
worker      : saq.Worker(queue, functions=[noop], concurrency=10).start() (10 is the
              library's default; dequeue is a blocking BLMOVE queued -> active)
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json

import common
from saq import Queue, Worker

NAME = "saq"
VENV = "saq"
BACKEND = "redis"
HAS_BULK = False


async def noop(ctx, *, payload: dict) -> None:
    common.job_started(payload)


def version() -> str:
    return "saq " + importlib.metadata.version("saq")


async def reset() -> None:
    common.redis_flush()


async def open_client():
    q = Queue.from_url(common.REDIS_URL)
    await q.connect()
    return q


async def close_client(q) -> None:
    await q.disconnect()


async def enqueue_one(q, payload: dict) -> None:
    await q.enqueue("noop", payload=payload)


async def remaining(q) -> int:
    # incomplete = queued + active (+ scheduled); _finish() ZREMs the job
    return await q.count("incomplete")


async def count_done(q) -> int:
    r = q.redis
    keys = [k async for k in r.scan_iter(match="saq:job:default:*", count=1000)]
    ok = 0
    for i in range(0, len(keys), 1000):
        for raw in await r.mget(keys[i : i + 1000]):
            if raw is not None and json.loads(raw).get("status") == "complete":
                ok += 1
    return ok


async def describe(q) -> dict:
    """Job keys per saq status (asked only when count_done() did not match)."""
    r = q.redis
    out: dict = {}
    async for k in r.scan_iter(match="saq:job:default:*", count=1000):
        raw = await r.get(k)
        st = "missing" if raw is None else json.loads(raw).get("status")
        out[st] = out.get(st, 0) + 1
    out["incomplete"] = await q.count("incomplete")
    return out


def run_worker(concurrency: int, variant: str) -> None:
    async def main():
        q = Queue.from_url(common.REDIS_URL)
        await Worker(
            q, functions=[("noop", noop)], concurrency=concurrency
        ).start()  # SIGTERM stops

    asyncio.run(main())
