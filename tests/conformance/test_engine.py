"""The engine: leases and fencing, heartbeats, lost workers, continuous
claiming, batched outcomes and draining."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import dataqueue as dq
from dataqueue._commands import ClaimRequest, Exchange, Failure, Lease, Outcome
from dataqueue.testing import FakeClock
from tests.conftest import drop_namespace, eventually, namespace, store_options

MakeQueue = Callable[..., Awaitable[dq.JobQueue]]


async def job_of(queue: dq.JobQueue, job_id: int) -> dq.JobRecord:
    job = await queue.get_job(job_id)
    assert job is not None
    return job


async def event_types(queue: dq.JobQueue, job_id: int) -> list[str]:
    return [e.event_type.value for e in await queue.get_job_events(job_id)]


@pytest.mark.parametrize("ending", ["return", "raise"])
async def test_a_stale_attempt_changes_nothing_even_under_the_same_worker_id(
    queue: dq.JobQueue, clock: FakeClock, ending: str
) -> None:
    job_id = await queue.add_job("t", {"end": ending}, timeout=60)
    started, release = asyncio.Event(), asyncio.Event()
    contexts: list[dq.JobContext] = []

    async def stale(payload: dict[str, str], ctx: dq.JobContext) -> str:
        contexts.append(ctx)
        started.set()
        await release.wait()
        await ctx.set_progress(90)
        await ctx.prolong(30)
        if payload["end"] == "raise":
            raise RuntimeError("stale failure")
        return "stale"

    async def fresh(payload: dict[str, str], ctx: dq.JobContext) -> str:
        await ctx.set_progress(10)
        return "fresh"

    first = queue.create_processor(
        {"t": stale}, worker_id="w1", heartbeat_interval=3600
    )
    stale_run = asyncio.create_task(first.start())
    await asyncio.wait_for(started.wait(), 10)
    clock.advance(120)
    assert await queue.reclaim_stuck_jobs(1) == 1
    second = queue.create_processor({"t": fresh}, worker_id="w1")
    assert await second.start() == 1
    release.set()
    await asyncio.wait_for(stale_run, 10)

    job = await job_of(queue, job_id)
    assert (job.status, job.output, job.progress, job.attempts) == (
        dq.JobStatus.COMPLETED,
        "fresh",
        10,
        2,
    )
    assert job.error_history == []
    assert await event_types(queue, job_id) == [
        "added",
        "processing",
        "retried",
        "processing",
        "completed",
    ]
    assert contexts[0].signal.aborted
    assert contexts[0].signal.reason == "lease_lost"


async def test_heartbeats_keep_a_long_job_from_being_reclaimed(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    job_id = await queue.add_job("long", {})
    started, release = asyncio.Event(), asyncio.Event()

    async def long(payload: Any) -> str:
        started.set()
        await release.wait()
        return "done"

    processor = queue.create_processor({"long": long}, heartbeat_interval=0.02)
    run = asyncio.create_task(processor.start())
    await asyncio.wait_for(started.wait(), 10)
    clock.advance(3600)

    async def refreshed() -> bool:
        return (await job_of(queue, job_id)).locked_at == clock.now()

    await eventually(refreshed)
    assert await queue.reclaim_stuck_jobs(1) == 0
    release.set()
    assert await asyncio.wait_for(run, 10) == 1
    assert (await job_of(queue, job_id)).status is dq.JobStatus.COMPLETED


async def test_an_attempt_learns_at_its_next_heartbeat_that_its_job_was_taken(
    make_queue: MakeQueue,
) -> None:
    worker_clock, admin_clock = FakeClock(), FakeClock()
    worker_queue = await make_queue(worker_clock)
    admin_queue = await make_queue(admin_clock)
    job_id = await admin_queue.add_job("t", {})
    started = asyncio.Event()
    contexts: list[dq.JobContext] = []

    async def until_aborted(payload: Any, ctx: dq.JobContext) -> str:
        contexts.append(ctx)
        started.set()
        await ctx.signal.wait()
        return "too late"

    processor = worker_queue.create_processor(
        {"t": until_aborted}, heartbeat_interval=0.02
    )
    run = asyncio.create_task(processor.start())
    await asyncio.wait_for(started.wait(), 10)
    admin_clock.advance(3600)
    assert await admin_queue.reclaim_stuck_jobs(1) == 1
    await asyncio.wait_for(run, 10)

    assert contexts[0].signal.reason == "lease_lost"
    job = await job_of(admin_queue, job_id)
    assert (job.status, job.output) == (dq.JobStatus.PENDING, None)
    assert "completed" not in await event_types(admin_queue, job_id)


async def test_a_job_whose_worker_dies_every_time_fails_for_good_as_worker_lost(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    job_id = await queue.add_job("t", {}, max_attempts=2)
    for _ in range(2):
        exchange = await queue.backend.settle_and_claim(
            [], ClaimRequest("doomed", "token", 1), now=clock.now()
        )
        assert [j.id for j in exchange.claimed] == [job_id]
        clock.advance(120)
        assert await queue.reclaim_stuck_jobs(1) == 1
    job = await job_of(queue, job_id)
    assert (job.status, job.failure_reason, job.attempts) == (
        dq.JobStatus.FAILED,
        dq.FailureReason.WORKER_LOST,
        2,
    )
    assert job.next_attempt_at is None
    assert "worker lost" in job.error_history[-1]["message"]
    assert await event_types(queue, job_id) == [
        "added",
        "processing",
        "retried",
        "processing",
        "failed",
    ]


async def test_a_reclaimed_job_goes_behind_the_jobs_already_due(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    crashed = await queue.add_job("t", {})
    await queue.backend.settle_and_claim(
        [], ClaimRequest("doomed", "token", 1), now=clock.now()
    )
    waiting = await queue.add_jobs([dq.JobSpec("t", {}) for _ in range(3)])
    clock.advance(120)
    assert await queue.reclaim_stuck_jobs(1) == 1
    exchange = await queue.backend.settle_and_claim(
        [], ClaimRequest("next", "token2", 4), now=clock.now()
    )
    assert [j.id for j in exchange.claimed] == [*waiting, crashed]


async def test_one_slow_job_does_not_hold_up_the_next_claim(
    queue: dq.JobQueue,
) -> None:
    slow_id = await queue.add_job("slow", {}, priority=10)
    fast_ids = await queue.add_jobs([dq.JobSpec("fast", {"n": n}) for n in range(6)])
    release = asyncio.Event()

    async def slow(payload: Any) -> None:
        await release.wait()

    async def fast(payload: Any) -> None:
        return None

    processor = queue.create_processor(
        {"slow": slow, "fast": fast}, concurrency=2, batch_size=2, poll_interval=30
    )
    processor.start_in_background()
    try:

        async def fast_ones_done() -> bool:
            jobs = [await job_of(queue, i) for i in fast_ids]
            return all(j.status is dq.JobStatus.COMPLETED for j in jobs)

        await eventually(fast_ones_done)
        assert (await job_of(queue, slow_id)).status is dq.JobStatus.PROCESSING
        release.set()

        async def slow_done() -> bool:
            return (await job_of(queue, slow_id)).status is dq.JobStatus.COMPLETED

        await eventually(slow_done)
    finally:
        await processor.stop_and_drain(5)


async def test_outcomes_are_written_in_one_store_call_per_turn(
    queue: dq.JobQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    await queue.add_jobs([dq.JobSpec("noop", {}) for _ in range(20)])
    calls: list[tuple[int, int]] = []
    original = queue.backend.settle_and_claim

    async def counted(
        outcomes: list[Outcome], claim: ClaimRequest | None, *, now: Any
    ) -> Exchange:
        exchange = await original(outcomes, claim, now=now)
        calls.append((len(outcomes), len(exchange.claimed)))
        return exchange

    monkeypatch.setattr(queue.backend, "settle_and_claim", counted)

    async def noop(payload: Any) -> None:
        return None

    processor = queue.create_processor(
        {"noop": noop}, concurrency=10, batch_size=10, poll_interval=30
    )
    processor.start_in_background()

    async def all_done() -> bool:
        return len(await queue.get_jobs_by_status("completed", limit=50)) == 20

    await eventually(all_done)
    await processor.stop_and_drain(5)
    assert calls[:3] == [(0, 10), (10, 10), (10, 0)]


async def test_stop_and_drain_gives_unfinished_jobs_back_to_pending(
    queue: dq.JobQueue,
) -> None:
    ids = await queue.add_jobs([dq.JobSpec("stuck", {}) for _ in range(5)])
    started: list[int] = []

    async def stuck(payload: Any, ctx: dq.JobContext) -> None:
        started.append(ctx.job_id)
        await asyncio.Event().wait()

    processor = queue.create_processor(
        {"stuck": stuck}, concurrency=2, batch_size=5, poll_interval=30
    )
    processor.start_in_background()

    async def two_running() -> bool:
        return len(started) == 2

    await eventually(two_running)
    await processor.stop_and_drain(0.05)

    assert not processor.is_running()
    jobs = [await job_of(queue, i) for i in ids]
    assert {j.status for j in jobs} == {dq.JobStatus.PENDING}
    assert {j.attempts for j in jobs} == {0}
    for job_id in started:
        events = await queue.get_job_events(job_id)
        assert events[-1].event_type is dq.EventType.RETRIED
        assert events[-1].metadata == {"released_by": processor.worker_id}


async def test_claimed_jobs_that_have_not_started_are_given_back_on_stop(
    queue: dq.JobQueue,
) -> None:
    ids = await queue.add_jobs([dq.JobSpec("t", {"n": n}) for n in range(4)])
    started, release = asyncio.Event(), asyncio.Event()

    async def first_blocks(payload: dict[str, int]) -> int:
        started.set()
        await release.wait()
        return payload["n"]

    processor = queue.create_processor({"t": first_blocks}, concurrency=1, batch_size=4)
    run = asyncio.create_task(processor.start())
    await asyncio.wait_for(started.wait(), 10)
    processor.stop()
    release.set()
    assert await asyncio.wait_for(run, 10) == 1
    jobs = [await job_of(queue, i) for i in ids]
    assert [j.status for j in jobs] == [dq.JobStatus.COMPLETED] + [
        dq.JobStatus.PENDING
    ] * 3
    assert [j.attempts for j in jobs] == [1, 0, 0, 0]


async def test_a_stop_right_after_start_in_background_is_not_lost(
    queue: dq.JobQueue,
) -> None:
    processor = queue.create_processor({}, poll_interval=30)
    processor.start_in_background()
    processor.stop()
    await processor.stop_and_drain(5)
    assert not processor.is_running()
    supervisor = queue.create_supervisor(interval=30)
    supervisor.start_in_background()
    await supervisor.stop_and_drain(5)
    assert not supervisor.is_running()


async def test_retry_job_moves_failed_and_cancelled_jobs_never_processing_ones(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    running = await queue.add_job("t", {})
    await queue.backend.settle_and_claim(
        [], ClaimRequest("w", "token", 1), now=clock.now()
    )
    cancelled = await queue.add_job("t", {})
    await queue.cancel_job(cancelled)

    await queue.retry_job(running)
    await queue.retry_job(cancelled)

    assert (await job_of(queue, running)).status is dq.JobStatus.PROCESSING
    job = await job_of(queue, cancelled)
    assert (job.status, job.last_retried_at) == (dq.JobStatus.PENDING, clock.now())
    assert (await event_types(queue, cancelled))[-1] == "retried"


async def test_durations_keep_their_unit(queue: dq.JobQueue, clock: FakeClock) -> None:
    job_id = await queue.add_job("t", {})
    await queue.add_job("t", {}, run_at=clock.now() + timedelta(days=90))
    await queue.backend.settle_and_claim(
        [], ClaimRequest("w", "token", 1), now=clock.now()
    )
    clock.advance(11 * 60)
    assert await queue.reclaim_stuck_jobs(timedelta(hours=1)) == 0
    assert await queue.reclaim_stuck_jobs(timedelta(minutes=10)) == 1
    await queue.cancel_job(job_id)
    clock.advance(timedelta(days=31))
    assert await queue.cleanup_old_jobs(timedelta(days=30)) == 1
    assert await queue.cleanup_old_job_events(timedelta(days=30)) == 1


async def test_create_supervisor_checks_its_arguments_at_once(
    queue: dq.JobQueue,
) -> None:
    with pytest.raises(ValueError, match="cleanup_jobs_days_to_keep"):
        queue.create_supervisor(cleanup_jobs_days_to_keep=-1)
    with pytest.raises(ValueError, match="interval"):
        queue.create_supervisor(interval=0)
    with pytest.raises(TypeError, match="stuck_jobs_timeout_minutes"):
        queue.create_supervisor(stuck_jobs_timeout_minutes="10")  # type: ignore[arg-type]


async def test_a_supervisor_pass_runs_every_step_even_when_one_fails(
    queue: dq.JobQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> int:
        raise dq.BackendError("reclaim failed")

    expired: list[bool] = []
    original = queue.backend.expire_timed_out_tokens

    async def expire(*, now: Any) -> int:
        expired.append(True)
        return await original(now=now)

    monkeypatch.setattr(queue.backend, "reclaim_stuck_jobs", broken)
    monkeypatch.setattr(queue.backend, "expire_timed_out_tokens", expire)
    with pytest.raises(dq.BackendError, match="reclaim failed"):
        await queue.create_supervisor().start()
    assert expired == [True]


async def test_verbose_processor_logs_every_claim(
    queue: dq.JobQueue, caplog: pytest.LogCaptureFixture
) -> None:
    await queue.add_job("t", {})
    caplog.set_level(logging.INFO, logger="dataqueue")
    await queue.create_processor({"t": lambda p: None}, verbose=True).start()
    assert any("claimed 1 job" in r.getMessage() for r in caplog.records)


async def test_verbose_processor_logs_progress(
    queue: dq.JobQueue, caplog: pytest.LogCaptureFixture
) -> None:
    async def halfway(payload: object, ctx: dq.JobContext) -> None:
        await ctx.set_progress(50)

    caplog.set_level(logging.INFO, logger="dataqueue")
    first = await queue.add_job("t", {})
    await queue.create_processor({"t": halfway}).start()
    second = await queue.add_job("t", {})
    await queue.create_processor({"t": halfway}, verbose=True).start()
    said = [r.getMessage() for r in caplog.records]
    assert f"job {first} (t) progress 50%" not in said
    assert f"job {second} (t) progress 50%" in said


async def test_migrate_inside_async_with_works_on_a_fresh_store(
    store: str, tmp_path: Path
) -> None:
    ns = namespace()
    try:
        async with dq.connect(**store_options(store, tmp_path, ns)) as queue:
            await queue.migrate()
            job_id = await queue.add_job("t", {})
            assert (await job_of(queue, job_id)).status is dq.JobStatus.PENDING
    finally:
        await drop_namespace(store, ns)


async def test_sync_handlers_block_on_the_same_context_calls(
    queue: dq.JobQueue,
) -> None:
    job_id = await queue.add_job("t", {}, timeout=60)

    def blocking(payload: Any, ctx: dq.SyncJobContext) -> str:
        ctx.set_progress(40)
        ctx.prolong(120)
        assert not ctx.signal.aborted
        return f"job {ctx.job.id}"

    assert await queue.create_processor({"t": blocking}).start() == 1
    job = await job_of(queue, job_id)
    assert (job.output, job.progress) == (f"job {job_id}", 40)
    assert "prolonged" in await event_types(queue, job_id)


async def test_retried_and_released_jobs_keep_their_place_in_line(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    first, second = await queue.add_jobs([dq.JobSpec("t", {}), dq.JobSpec("t", {})])
    added_at = clock.now()
    exchange = await queue.backend.settle_and_claim(
        [], ClaimRequest("w", "token", 2), now=clock.now()
    )
    assert [j.id for j in exchange.claimed] == [first, second]
    clock.advance(60)
    later = await queue.add_job("t", {})
    failure = Failure(
        Lease(first, "token"), "boom", dq.FailureReason.HANDLER_ERROR, None
    )
    await queue.backend.settle_and_claim([failure], None, now=clock.now())
    assert await queue.backend.release_jobs([Lease(second, "token")], now=clock.now())
    await queue.retry_job(first)

    jobs = {j.id: j for j in await queue.get_all_jobs()}
    assert (jobs[first].run_at, jobs[second].run_at) == (added_at, added_at)
    exchange = await queue.backend.settle_and_claim(
        [], ClaimRequest("w2", "token2", 3), now=clock.now()
    )
    assert [j.id for j in exchange.claimed] == [first, second, later]
