""" "Bare Redis" baseline: minimal Lua enqueue / batch claim / batch complete.

Not a library: the floor cost of a dataqueue-style Redis design (job hash, pending
sorted set, Lua scripts for atomic claim and complete, PUBLISH to wake idle workers).

enqueue_one : 1 EVALSHA per job (INCR id, HSET job, ZADD pending, PUBLISH wake)
enqueue_bulk: 1 EVALSHA per batch doing the same for every job in it
worker      : claim up to 100 in one EVALSHA (ZRANGEBYSCORE, ZREM, HSET per job), run
              the handlers (<= concurrency at once), complete the batch in one EVALSHA;
              idle: wait for PUBLISH (or 5 s). Variant b10: batch 10.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import signal
import time

import common
import redis.asyncio as aioredis

NAME = "bare_redis"
VENV = "baseline"
BACKEND = "redis"
HAS_BULK = True
BULK_BATCH = 1000

ENQUEUE = """
local n = #ARGV / 3
for i = 0, n - 1 do
  local id = redis.call('INCR', 'dq:id')
  local key = 'dq:job:' .. id
  redis.call('HSET', key, 'id', id, 'job_type', ARGV[i*3+1], 'payload', ARGV[i*3+2],
             'status', 'pending', 'priority', ARGV[i*3+3], 'attempts', 0,
             'max_attempts', 3,
             'created_at', KEYS[1], 'run_at', KEYS[1])
  -- score: higher priority first, then FIFO by id
  redis.call('ZADD', 'dq:pending', -tonumber(ARGV[i*3+3]) * 1e12 + id, id)
end
redis.call('PUBLISH', 'dq:wake', n)
return n
"""
CLAIM = """
local ids = redis.call('ZRANGEBYSCORE', 'dq:pending', '-inf', '+inf', 'LIMIT', 0,
tonumber(ARGV[1]))
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZREM', 'dq:pending', id)
  local key = 'dq:job:' .. id
  redis.call('HSET', key, 'status', 'processing', 'locked_by', ARGV[2], 'locked_at',
  ARGV[3])
  redis.call('HINCRBY', key, 'attempts', 1)
  redis.call('SADD', 'dq:processing', id)
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', key, 'payload')
end
return out
"""
COMPLETE = """
for _, id in ipairs(ARGV) do
  if _ > 1 then
    redis.call('HSET', 'dq:job:' .. id, 'status', 'completed', 'completed_at', ARGV[1])
    redis.call('SREM', 'dq:processing', id)
    redis.call('INCR', 'dq:completed')
  end
end
return #ARGV - 1
"""


def version() -> str:
    return "redis-py " + importlib.metadata.version("redis")


async def reset() -> None:
    common.redis_flush()


class Client:
    pass


async def open_client():
    c = Client()
    c.r = aioredis.Redis.from_url(common.REDIS_URL)
    c.enq = c.r.register_script(ENQUEUE)
    return c


async def close_client(c) -> None:
    await c.r.aclose()


async def enqueue_one(c, payload: dict) -> None:
    await c.enq(keys=[repr(time.time())], args=["noop", common.dumps(payload), 0])


async def enqueue_bulk(c, payloads: list[dict]) -> None:
    args = []
    for p in payloads:
        args += ["noop", common.dumps(p), 0]
    await c.enq(keys=[repr(time.time())], args=args)


async def remaining(c) -> int:
    p = c.r.pipeline(transaction=True)
    p.zcard("dq:pending")
    p.scard("dq:processing")
    a, b = await p.execute()
    return a + b


async def count_done(c) -> int:
    return int(await c.r.get("dq:completed") or 0)


def run_worker(concurrency: int, variant: str) -> None:
    asyncio.run(_worker(concurrency, variant))


async def _worker(concurrency: int, variant: str) -> None:
    batch = 10 if variant == "b10" else 100
    r = aioredis.Redis.from_url(common.REDIS_URL)
    claim, complete = r.register_script(CLAIM), r.register_script(COMPLETE)
    wid = f"w-{os.getpid()}"
    stop, wake = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    ps = r.pubsub()
    await ps.subscribe("dq:wake")

    async def listen():
        async for m in ps.listen():
            if m["type"] == "message":
                wake.set()

    lt = asyncio.create_task(listen())
    sem = asyncio.Semaphore(concurrency)

    async def run_one(payload):
        async with sem:
            common.job_started(json.loads(payload))

    while not stop.is_set():
        wake.clear()
        res = await claim(args=[batch, wid, repr(time.time())])
        if res:
            ids, payloads = res[0::2], res[1::2]
            await asyncio.gather(*(run_one(p) for p in payloads))
            await complete(args=[repr(time.time()), *ids])
            if len(ids) == batch:
                continue
        ws, ss = asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())
        await asyncio.wait({ws, ss}, timeout=5.0, return_when=asyncio.FIRST_COMPLETED)
        ws.cancel()
        ss.cancel()
    lt.cancel()
    await r.aclose()
