"""Redis store speed, beside a bare redis-py Lua claim/complete loop.

Every loop drains the same number of pre-filled no-op jobs, in one process,
on the same Redis, one after the other, repeated; medians are printed:

* ``store``: ``RedisBackend.settle_and_claim`` alone, as the processor calls
  it: each call completes the previous batch and claims the next one.
* ``bare``: the floor, the claim and complete scripts of the peer harness's
  ``bare_redis`` adapter (job hash + one zset, no events, no indexes, no
  leases): two calls per batch.
* ``worker`` (with ``--worker``): the real processor, concurrency 10, through
  ``dq.connect``.

Redis commands per job (the scripts' own calls included) come from
``INFO commandstats`` before and after each loop: other clients of the same
server add to them. Keys live under a fresh prefix in db 15 and are deleted
afterwards; nothing else is touched.

    .venv/bin/python bench/redis_store.py [--jobs 20000] [--batches 10,100]
        [--reps 3] [--worker]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis

import dataqueue as dq
from dataqueue._commands import ClaimRequest, Completion, Lease, NewJob, Outcome
from dataqueue.backends.redis import RedisBackend, keys

REDIS_URL = os.environ.get("DATAQUEUE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
FILL_CHUNK = 1000
PAYLOAD: dict[str, Any] = {
    "i": 1,
    "user_id": 1001,
    "email": "user1@example.com",
    "tags": ["bench"],
}

BARE_ENQUEUE = """
local p = ARGV[1]
for i = 3, #ARGV do
  local id = redis.call('INCR', p .. 'id')
  redis.call('HSET', p .. 'job:' .. id, 'id', id, 'job_type', 'noop',
    'payload', ARGV[i], 'status', 'pending', 'priority', 0, 'attempts', 0,
    'max_attempts', 3, 'created_at', ARGV[2], 'run_at', ARGV[2])
  redis.call('ZADD', p .. 'pending', id, id)
end
"""
BARE_CLAIM = """
local p = ARGV[1]
local ids = redis.call('ZRANGEBYSCORE', p .. 'pending', '-inf', '+inf',
  'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZREM', p .. 'pending', id)
  local key = p .. 'job:' .. id
  redis.call('HSET', key, 'status', 'processing', 'locked_by', ARGV[3],
    'locked_at', ARGV[4])
  redis.call('HINCRBY', key, 'attempts', 1)
  redis.call('SADD', p .. 'processing', id)
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', key, 'payload')
end
return out
"""
BARE_COMPLETE = """
local p = ARGV[1]
for i = 3, #ARGV do
  redis.call('HSET', p .. 'job:' .. ARGV[i], 'status', 'completed',
    'completed_at', ARGV[2])
  redis.call('SREM', p .. 'processing', ARGV[i])
  redis.call('INCR', p .. 'completed')
end
return #ARGV - 2
"""


def new_job() -> NewJob:
    return NewJob(
        job_type="noop",
        payload=PAYLOAD,
        priority=0,
        run_at=None,
        max_attempts=3,
        timeout=None,
        force_kill_on_timeout=False,
        tags=[],
        idempotency_key=None,
        retry_delay=None,
        retry_backoff=None,
        retry_delay_max=None,
    )


def now() -> datetime:
    return datetime.now(UTC)


async def command_calls(client: aioredis.Redis) -> int:
    """Commands the server ran so far, not counting the script calls."""
    stats = await client.info("commandstats")
    return sum(
        int(value["calls"])
        for name, value in stats.items()
        if name not in ("cmdstat_evalsha", "cmdstat_eval", "cmdstat_info")
    )


async def drop(client: aioredis.Redis, prefix: str) -> None:
    found = [
        key async for key in client.scan_iter(match=keys.pattern(prefix), count=1000)
    ]
    for first in range(0, len(found), 1000):
        await client.unlink(*found[first : first + 1000])


class Meter:
    """Times the drain and counts the server's commands during it."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client
        self.seconds = 0.0
        self.commands = 0

    async def start(self) -> None:
        self.commands = -await command_calls(self._client)
        self.seconds = -time.perf_counter()

    async def stop(self) -> None:
        self.seconds += time.perf_counter()
        self.commands += await command_calls(self._client)


async def store_loop(prefix: str, jobs: int, batch: int, meter: Meter) -> int:
    backend = RedisBackend(REDIS_URL, key_prefix=prefix)
    await backend.open()
    try:
        for first in range(0, jobs, FILL_CHUNK):
            count = min(FILL_CHUNK, jobs - first)
            await backend.add_jobs([new_job() for _ in range(count)], now=now())
        await meter.start()
        done = 0
        outcomes: list[Outcome] = []
        while True:
            token = uuid.uuid4().hex
            exchange = await backend.settle_and_claim(
                outcomes, ClaimRequest("bench", token, batch), now=now()
            )
            done += sum(exchange.settled)
            if not exchange.claimed:
                await meter.stop()
                return done
            outcomes = [
                Completion(Lease(job.id, token), None, {}) for job in exchange.claimed
            ]
    finally:
        await backend.close()


async def bare_loop(prefix: str, jobs: int, batch: int, meter: Meter) -> int:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        enqueue = client.register_script(BARE_ENQUEUE)
        claim = client.register_script(BARE_CLAIM)
        complete = client.register_script(BARE_COMPLETE)
        payload = json.dumps(PAYLOAD)
        for first in range(0, jobs, FILL_CHUNK):
            count = min(FILL_CHUNK, jobs - first)
            await enqueue(args=[prefix, repr(time.time()), *[payload] * count])
        await meter.start()
        done = 0
        while True:
            reply = await claim(args=[prefix, batch, "bench", repr(time.time())])
            if not reply:
                await meter.stop()
                return done
            ids = reply[0::2]
            for text in reply[1::2]:
                json.loads(text)  # a worker decodes every payload
            done += int(await complete(args=[prefix, repr(time.time()), *ids]))
    finally:
        await client.aclose()


async def worker_loop(prefix: str, jobs: int, batch: int, meter: Meter) -> int:
    async def noop(payload: Any) -> None:
        return None

    queue = dq.connect(REDIS_URL, key_prefix=prefix)
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        for first in range(0, jobs, FILL_CHUNK):
            count = min(FILL_CHUNK, jobs - first)
            await queue.add_jobs([dq.JobSpec("noop", PAYLOAD) for _ in range(count)])
        processor = queue.create_processor(
            {"noop": noop}, batch_size=batch, concurrency=10
        )
        await meter.start()
        running = asyncio.ensure_future(processor.run())
        completed = keys.status(prefix, "completed")
        while (done := int(await client.zcard(completed))) < jobs:
            if running.done():
                break
            await asyncio.sleep(0.005)
        await meter.stop()
        processor.stop()
        await running
        return done
    finally:
        await queue.close()
        await client.aclose()


Loop = Callable[[str, int, int, Meter], Awaitable[int]]


async def measure(loop: Loop, jobs: int, batch: int) -> tuple[float, float]:
    """(jobs/s draining, Redis commands per job) of one run; filling the
    queue is not measured."""
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    client = aioredis.Redis.from_url(REDIS_URL)
    meter = Meter(client)
    try:
        done = await loop(prefix, jobs, batch, meter)
        if done != jobs:
            raise RuntimeError(f"{loop.__name__}: {done} of {jobs} jobs done")
        return jobs / meter.seconds, meter.commands / jobs
    finally:
        await drop(client, prefix)
        await client.aclose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--batches", default="10,100")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--worker", action="store_true")
    options = parser.parse_args()
    loops: list[tuple[str, Loop]] = [("store", store_loop), ("bare", bare_loop)]
    if options.worker:
        loops.append(("worker", worker_loop))
    print(f"{options.jobs} jobs per run, median of {options.reps} runs, {REDIS_URL}")
    print("| loop | batch | jobs/s | Redis commands per job | vs bare |")
    print("| --- | --- | --- | --- | --- |")
    for batch in (int(text) for text in options.batches.split(",")):
        results: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in loops}
        for _ in range(options.reps):  # interleaved, so drift hits every loop
            for name, loop in loops:
                results[name].append(await measure(loop, options.jobs, batch))
        bare_rate = statistics.median(rate for rate, _ in results["bare"])
        for name, _ in loops:
            rate = statistics.median(rate for rate, _ in results[name])
            per_job = statistics.median(used for _, used in results[name])
            print(
                f"| {name} | {batch} | {rate:,.0f} | {per_job:.1f} "
                f"| {rate / bare_rate:.2f}x |"
            )


if __name__ == "__main__":
    asyncio.run(main())
