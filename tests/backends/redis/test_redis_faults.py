"""The Redis store when Redis misbehaves: a reset dataset, a server that is
down or refuses us, and a wake-up subscription that is cut."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable

import pytest
import redis.asyncio as aioredis
from redis_helpers import NOW, claim, drop_prefix, new_job
from tests.conftest import REDIS_URL, eventually

from dataqueue._commands import Lease
from dataqueue.backends.redis import RedisBackend, keys
from dataqueue.errors import StoreRefusedError, StoreUnavailableError

MakeBackend = Callable[..., Awaitable[RedisBackend]]


def reset_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.ERROR and "was reset" in record.getMessage()
    ]


async def after_the_millisecond_of(counter: int) -> None:
    """Wait until the server's clock has left the millisecond the counter
    was seeded in (a real restart takes far longer than that)."""
    next_millisecond = (counter // 1000 + 1) * 1000  # the seed is ms x 1000
    client = aioredis.Redis.from_url(REDIS_URL)
    try:

        async def later() -> bool:
            seconds, micros = await client.time()
            return seconds * 1_000_000 + micros >= next_millisecond

        await eventually(later)
    finally:
        await client.aclose()


async def test_a_reset_is_logged_once_and_no_id_is_handed_out_again(
    make_backend: MakeBackend, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dataqueue")
    before = await make_backend(prefix)
    old_ids = await before.add_jobs([new_job() for _ in range(5)], now=NOW)
    token, claimed = await claim(before, 2)
    # Ids start from the server's clock (ms x 1000), far from 1 and below 2**53.
    assert min(old_ids) > 10**15 and max(old_ids) < 2**53

    await drop_prefix(prefix)  # what a restart without persistence leaves
    await after_the_millisecond_of(max(old_ids))
    # A process that started after the reset adds first: it cannot know.
    started_after = await make_backend(prefix)
    [first_new] = await started_after.add_jobs([new_job()], now=NOW)
    assert first_new > max(old_ids)
    assert reset_errors(caplog) == []

    # The process that knew the old dataset notices, once.
    more = await before.add_jobs([new_job(), new_job()], now=NOW)
    assert min(more) > first_new
    _, jobs = await claim(before, 10)
    assert sorted(j.id for j in jobs) == sorted([first_new, *more])
    await before.add_jobs([new_job()], now=NOW)
    [message] = reset_errors(caplog)
    assert prefix in message and "Redis at redis://" in message
    assert not (set(old_ids) & {first_new, *more})
    # Its old leases are simply lost.
    assert await before.heartbeat([Lease(j.id, token) for j in claimed], now=NOW) == []


async def test_a_second_reset_is_logged_again(
    make_backend: MakeBackend, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="dataqueue")
    backend = await make_backend(prefix)
    for _ in range(2):
        [job_id] = await backend.add_jobs([new_job()], now=NOW)
        await drop_prefix(prefix)
        await after_the_millisecond_of(job_id)
        await claim(backend)
    assert len(reset_errors(caplog)) == 2


async def test_the_marker_is_created_once_and_read_at_open(
    make_backend: MakeBackend, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="dataqueue")
    first = await make_backend(prefix)
    await first.add_jobs([new_job()], now=NOW)
    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        marker = await client.get(keys.instance(prefix))
        second = await make_backend(prefix)
        await claim(second)
        await first.add_jobs([new_job()], now=NOW)
        assert await client.get(keys.instance(prefix)) == marker
    finally:
        await client.aclose()
    assert reset_errors(caplog) == []


async def test_a_server_that_is_down_is_unavailable_at_once() -> None:
    backend = RedisBackend("redis://:secret@127.0.0.1:1/0", key_prefix="t:down:")
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError) as caught:
        await backend.open()
    with pytest.raises(StoreUnavailableError):
        await backend.add_jobs([new_job()], now=NOW)
    # Reads that skip the scripts map their faults too.
    for read in (
        backend.get_job(1),
        backend.get_job_events(1),
        backend.get_token("t"),
        backend.get_cron_job(1),
    ):
        with pytest.raises(StoreUnavailableError):
            await read
    assert time.monotonic() - started < 2
    message = str(caught.value)
    assert message.startswith("Redis at redis://:***@127.0.0.1:1/0 is unavailable")
    assert "secret" not in message and "\n" not in message
    await backend.close()


@pytest.mark.parametrize(
    ("url", "shown", "cause"),
    [
        (
            "redis://nobody:secret@127.0.0.1:6379/15",
            "redis://nobody:***@127.0.0.1:6379/15",
            "invalid username-password pair",
        ),
        ("redis://127.0.0.1:6379/999", "redis://127.0.0.1:6379/999", "DB index"),
        (
            "redis://nobody@127.0.0.1:6379/15?password=secret",
            "redis://nobody@127.0.0.1:6379/15?password=***",
            "invalid username-password pair",
        ),
    ],
)
async def test_a_refusal_is_permanent_and_says_why(
    url: str, shown: str, cause: str
) -> None:
    backend = RedisBackend(url, key_prefix="t:refused:")
    with pytest.raises(StoreRefusedError) as caught:
        await backend.open()
    message = str(caught.value)
    assert message.startswith(f"Redis at {shown} refused the connection")
    assert cause in message and "secret" not in message and "\n" not in message
    await backend.close()


async def test_the_wakeup_listener_reconnects_after_its_connection_is_killed(
    make_backend: MakeBackend, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dataqueue")
    name = f"dq-test-{uuid.uuid4().hex[:8]}"
    client = aioredis.Redis.from_url(REDIS_URL, client_name=name)
    listener = RedisBackend(None, client=client, key_prefix=prefix)
    await listener.open()
    adder = await make_backend(prefix)
    admin = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    wakeup = await listener.subscribe()
    try:

        async def subscribers() -> int:
            counts = await admin.pubsub_numsub(keys.wakeup(prefix))
            return int(counts[0][1])

        async def subscribed() -> bool:
            return await subscribers() == 1

        await eventually(subscribed)
        # Only this test's subscription: other tests share the server.
        ours = [c for c in await admin.client_list("pubsub") if c["name"] == name]
        assert len(ours) == 1
        await admin.client_kill_filter(_id=ours[0]["id"])

        assert await wakeup.wait(10)  # the wake-up that recovery fires
        await eventually(subscribed)
        await adder.add_jobs([new_job()], now=NOW)
        assert await wakeup.wait(5)
    finally:
        await wakeup.close()
        await admin.aclose()
        await listener.close()
        await client.aclose()
    lost = [r for r in caplog.records if "lost the job wake-up" in r.getMessage()]
    back = [r for r in caplog.records if "wake-ups are back" in r.getMessage()]
    assert [r.levelno for r in lost] == [logging.ERROR]
    assert [r.levelno for r in back] == [logging.INFO]


async def test_a_dead_pooled_connection_costs_no_failed_call(prefix: str) -> None:
    name = f"dq-test-{uuid.uuid4().hex[:8]}"
    backend = RedisBackend(f"{REDIS_URL}?client_name={name}", key_prefix=prefix)
    admin = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        await backend.open()
        [job_id] = await backend.add_jobs([new_job()], now=NOW)
        ours = [c for c in await admin.client_list() if c["name"] == name]
        assert ours
        for connection in ours:
            await admin.client_kill_filter(_id=connection["id"])
        # The pooled connection is dead; the call goes through on a new one.
        assert (await backend.get_job(job_id)) is not None
        _, jobs = await claim(backend)
        assert [j.id for j in jobs] == [job_id]
    finally:
        await admin.aclose()
        await backend.close()
