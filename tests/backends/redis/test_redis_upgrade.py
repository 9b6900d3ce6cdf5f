"""A queue kept in the key layout without a hash tag (``dq:job:7``) is
refused until ``migrate()`` renames its keys (``{dq:}job:7``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis_helpers import drop_prefix
from tests.conftest import REDIS_URL

import dataqueue as dq
from dataqueue.backends.redis import keys


@pytest.fixture
async def old_prefix() -> AsyncIterator[str]:
    """A prefix, and one that starts with it (another queue of the same app)."""
    name = f"up{uuid.uuid4().hex[:8]}:"
    try:
        yield name
    finally:
        for prefix in (name, name + "sub:"):
            await drop_prefix(prefix)
            await drop_prefix_old_layout(prefix)


async def drop_prefix_old_layout(prefix: str) -> None:
    connection = aioredis.Redis.from_url(REDIS_URL)
    try:
        found = [key async for key in connection.scan_iter(match=prefix + "*")]
        if found:
            await connection.unlink(*found)
    finally:
        await connection.aclose()


async def in_old_layout(client: aioredis.Redis, prefix: str) -> None:
    """Rename the queue's keys back to the names the old layout gave them."""
    async for key in client.scan_iter(match=keys.pattern(prefix)):
        name = key.removeprefix(keys.base(prefix))
        if name.startswith("minute_stats:"):
            await client.delete(key)  # kept by later releases only
        elif name.startswith("ready:"):
            # The old layout kept one ready zset for every type.
            await client.zunionstore(prefix + "ready", [prefix + "ready", key])
            await client.delete(key)
        else:
            await client.rename(key, prefix + name)


async def test_old_layout_is_refused_then_renamed_by_migrate(
    client: aioredis.Redis, old_prefix: str
) -> None:
    other_prefix = old_prefix + "sub:"
    async with dq.connect(REDIS_URL, key_prefix=old_prefix) as queue:
        await queue.migrate()
        done = await queue.add_job("t", {"n": 1}, tags=["vip"])
        await queue.create_processor({"t": lambda p: p["n"]}).start()
        waiting = await queue.add_job("t", {"n": 2}, idempotency_key="k")
        await queue.add_cron_job("nightly", "0 3 * * *", "t", {})
    async with dq.connect(REDIS_URL, key_prefix=other_prefix) as other:
        other_job = await other.add_job("t", {"other": True})
    await in_old_layout(client, old_prefix)
    await in_old_layout(client, other_prefix)
    old_keys = sorted([key async for key in client.scan_iter(match=old_prefix + "*")])

    async with dq.connect(REDIS_URL, key_prefix=old_prefix) as queue:
        with pytest.raises(dq.NotMigratedError, match="run `dataqueue migrate`"):
            await queue.get_job(done)
        await queue.migrate()
        finished = await queue.get_job(done)
        assert finished is not None and finished.output == 1
        assert await queue.add_job("t", {}, idempotency_key="k") == waiting
        assert (await queue.get_cron_job_by_name("nightly")) is not None
        assert [j.id for j in await queue.get_jobs_by_tags(["vip"])] == [done]
        assert await queue.create_processor({"t": lambda p: p["n"]}).start() == 1
        await queue.migrate()

    # The queue whose prefix starts with the same text kept its keys.
    remaining = sorted([key async for key in client.scan_iter(match=old_prefix + "*")])
    assert remaining and all(key.startswith(other_prefix) for key in remaining)
    assert set(remaining) < set(old_keys)
    async with dq.connect(REDIS_URL, key_prefix=other_prefix) as other:
        await other.migrate()
        job = await other.get_job(other_job)
        assert job is not None and job.payload == {"other": True}


async def test_a_key_in_both_layouts_stops_migrate(
    client: aioredis.Redis, old_prefix: str
) -> None:
    async with dq.connect(REDIS_URL, key_prefix=old_prefix) as queue:
        await queue.add_job("t", {})
    await client.set(old_prefix + "id", "1")
    async with dq.connect(REDIS_URL, key_prefix=old_prefix) as queue:
        with pytest.raises(dq.BackendError, match="exist in both key layouts"):
            await queue.migrate()
