"""get_queue_stats: the whole queue per job type, read from the store."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

import dataqueue as dq
from dataqueue.testing import FakeClock

S = dq.JobStatus


def boom(payload: Any) -> None:
    raise ValueError("bad input")


def by_type(stats: list[dq.JobTypeStats]) -> dict[str, dq.JobTypeStats]:
    return {s.job_type: s for s in stats}


async def test_counts_every_status_per_type(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    await queue.add_job("email", {}, max_attempts=1)
    await queue.add_job("email", {})
    await queue.add_job("email", {}, run_at=clock.now() + timedelta(hours=1))
    await queue.add_job("report", {}, max_attempts=1)
    cancelled = await queue.add_job("report", {})
    await queue.cancel_job(cancelled)
    await queue.create_processor(
        {"email": lambda p: None}, batch_size=1, concurrency=1, job_type="email"
    ).start()
    await queue.create_processor(
        {"report": boom}, batch_size=1, job_type="report"
    ).start()

    stats = await queue.get_queue_stats()

    assert [s.job_type for s in stats] == ["email", "report"]
    email, report = stats
    assert email.counts == {**dict.fromkeys(S, 0), S.COMPLETED: 1, S.PENDING: 2}
    assert report.counts == {**dict.fromkeys(S, 0), S.FAILED: 1, S.CANCELLED: 1}
    assert (email.completed, email.failed) == (1, 0)
    assert (report.completed, report.failed) == (0, 1)


async def test_oldest_pending_is_the_longest_waiting_due_job(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    start = clock.now()
    await queue.add_job("email", {})
    clock.advance(30)
    await queue.add_job("email", {})
    await queue.add_job("email", {}, run_at=start + timedelta(hours=2))
    await queue.add_job("later", {}, run_at=start + timedelta(hours=2))

    stats = by_type(await queue.get_queue_stats())
    assert stats["email"].oldest_pending_at == start
    assert stats["later"].oldest_pending_at is None  # pending, not due yet

    await queue.create_processor(
        {"email": lambda p: None}, batch_size=1, concurrency=1, job_type="email"
    ).start()
    stats = by_type(await queue.get_queue_stats())
    assert stats["email"].oldest_pending_at == start + timedelta(seconds=30)

    clock.advance(timedelta(hours=3))
    stats = by_type(await queue.get_queue_stats())
    assert stats["later"].oldest_pending_at == start + timedelta(hours=2)


async def test_edited_run_at_moves_the_oldest_pending(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    start = clock.now()
    job_id = await queue.add_job("email", {})
    clock.advance(60)
    await queue.edit_job(job_id, run_at=start + timedelta(hours=1))
    stats = by_type(await queue.get_queue_stats())
    assert stats["email"].oldest_pending_at is None
    await queue.edit_job(job_id, run_at=None)  # run now
    stats = by_type(await queue.get_queue_stats())
    assert stats["email"].oldest_pending_at == clock.now()


async def test_window_counts_only_recent_ends(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    await queue.add_jobs([dq.JobSpec("email", {}) for _ in range(3)])
    await queue.add_job("email", {}, max_attempts=1, tags=["broken"])
    await queue.create_processor(
        {"email": lambda p: None}, batch_size=3, concurrency=3
    ).start()
    await queue.create_processor({"email": boom}, batch_size=1).start()

    email = by_type(await queue.get_queue_stats(window=60))["email"]
    assert (email.completed, email.failed) == (3, 1)

    clock.advance(timedelta(minutes=3))
    email = by_type(await queue.get_queue_stats(window=60))["email"]
    assert (email.completed, email.failed) == (0, 0)
    email = by_type(await queue.get_queue_stats(window=timedelta(minutes=5)))["email"]
    assert (email.completed, email.failed) == (3, 1)


async def test_retried_and_cleaned_up_jobs_leave_their_counts(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    failed = await queue.add_job("email", {}, max_attempts=1)
    await queue.add_job("old", {})
    await queue.create_processor({"email": boom}, job_type="email").start()
    await queue.retry_job(failed)
    email = by_type(await queue.get_queue_stats())["email"]
    assert email.counts[S.PENDING] == 1
    assert email.counts[S.FAILED] == 0

    await queue.create_processor(
        {"email": lambda p: None, "old": lambda p: None}
    ).start()
    clock.advance(timedelta(days=40))
    assert await queue.cleanup_old_jobs(days_to_keep=30) == 2
    assert await queue.get_queue_stats() == []


async def test_waiting_and_processing_are_counted(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    async def sleeper(payload: Any, ctx: dq.JobContext) -> None:
        await ctx.wait_for(minutes=5)

    await queue.add_job("nap", {})
    await queue.create_processor({"nap": sleeper}, job_type="nap").start()
    nap = by_type(await queue.get_queue_stats())["nap"]
    assert nap.counts == {**dict.fromkeys(S, 0), S.WAITING: 1}

    seen: list[dq.JobTypeStats] = []

    async def hold(payload: Any) -> None:
        seen.extend(await queue.get_queue_stats())

    await queue.add_job("hold", {})
    await queue.create_processor({"hold": hold}, job_type="hold").start()
    assert by_type(seen)["hold"].counts[S.PROCESSING] == 1
    hold_stats = by_type(await queue.get_queue_stats())["hold"]
    assert hold_stats.counts == {**dict.fromkeys(S, 0), S.COMPLETED: 1}


@pytest.mark.parametrize("window", [0, -1, 3601, "5m"])
async def test_a_bad_window_is_refused(queue: dq.JobQueue, window: Any) -> None:
    with pytest.raises((ValueError, TypeError), match="get_queue_stats: window"):
        await queue.get_queue_stats(window=window)
