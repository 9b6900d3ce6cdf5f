"""What ``memory://`` adds to the conformance suite: which queues share a
store, and wake-ups that cross threads. Its behaviour as a store is the
suite's (tests/conformance runs on it)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

import dataqueue as dq
from dataqueue import _validate as v
from dataqueue._commands import ClaimRequest, Exchange, NewJob, Outcome
from dataqueue.backends.memory import MemoryBackend, forget_named

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def new_job() -> NewJob:
    (job,) = v.new_jobs([dq.JobSpec("t", {})])
    return job


async def test_each_unnamed_memory_queue_is_a_store_of_its_own() -> None:
    async with dq.connect("memory://") as first, dq.connect("memory://") as second:
        job_id = await first.add_job("t", {"n": 1})
        assert await second.get_job(job_id) is None
        assert (await first.get_job(job_id)) is not None


async def test_a_named_memory_store_is_shared_until_forgotten() -> None:
    name = f"shared-{uuid.uuid4().hex}"
    async with dq.connect(f"memory://{name}") as queue:
        job_id = await queue.add_job("t", {"n": 1})
    async with dq.connect(f"memory://{name}") as again:
        job = await again.get_job(job_id)
        assert job is not None and job.payload == {"n": 1}
    forget_named(name)
    async with dq.connect(f"memory://{name}") as fresh:
        assert await fresh.get_job(job_id) is None


async def test_a_sync_queue_on_its_own_thread_sees_the_async_ones_jobs() -> None:
    name = f"threads-{uuid.uuid4().hex}"
    try:
        async with dq.connect(f"memory://{name}") as queue:
            job_id = await queue.add_job("t", {})
            with dq.connect_sync(f"memory://{name}") as sync_queue:
                waiting = asyncio.create_task(
                    asyncio.to_thread(sync_queue.wait_for_job, job_id, 30)
                )
                await queue.cancel_job(job_id)
                job = await asyncio.wait_for(waiting, 30)
                assert job.status is dq.JobStatus.CANCELLED
    finally:
        forget_named(name)


async def test_a_signal_reaches_a_subscriber_waiting_on_another_threads_loop() -> None:
    backend = MemoryBackend()
    subscribed = threading.Event()

    async def wait_in_thread() -> bool:
        finished = await backend.subscribe_finished()
        subscribed.set()
        try:
            return await finished.wait(30)
        finally:
            await finished.close()

    waiter = asyncio.create_task(asyncio.to_thread(asyncio.run, wait_in_thread()))
    assert await asyncio.to_thread(subscribed.wait, 30)
    job_id = (await backend.add_jobs([new_job()], now=NOW))[0]
    assert await backend.cancel_job(job_id, now=NOW)
    assert await asyncio.wait_for(waiter, 30) is True


@pytest.mark.parametrize("url", ["memory:", "memory:/x", "memory://a/b"])
def test_a_malformed_memory_url_is_named(url: str) -> None:
    with pytest.raises(ValueError, match="memory:// or memory://NAME"):
        dq.connect(url)


async def test_a_binding_rate_costs_a_processor_about_one_claim_per_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    claims: list[int] = []
    settle_and_claim = MemoryBackend.settle_and_claim

    async def counted(
        self: MemoryBackend,
        outcomes: Sequence[Outcome],
        claim: ClaimRequest | None,
        *,
        now: datetime,
    ) -> Exchange:
        exchange = await settle_and_claim(self, outcomes, claim, now=now)
        if claim is not None:
            claims.append(len(exchange.claimed))
        return exchange

    monkeypatch.setattr(MemoryBackend, "settle_and_claim", counted)
    queue = dq.connect("memory://")
    await queue.set_limits("metered", rate=dq.Rate(20, per=1))
    await queue.add_jobs([dq.JobSpec("metered", n) for n in range(30)])
    processor = queue.create_processor(
        {"metered": lambda payload: None}, concurrency=10, poll_interval=1
    )
    processor.start_in_background()
    while (await queue.count_jobs())[dq.JobStatus.COMPLETED] < 30:
        await asyncio.sleep(0.01)
    await processor.stop_and_drain(5)
    await queue.close()
    # The burst of 20 in two claims, then one token at a time: a job that
    # ends before the next token is written without claiming again.
    assert sum(claims) == 30
    assert len(claims) <= 2 + 10 + 3, claims
