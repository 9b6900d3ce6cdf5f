"""Reclaiming stuck jobs and cleaning up old jobs and events."""

from __future__ import annotations

import dataqueue as dq
from dataqueue._commands import ClaimRequest, Completion, Lease
from tests.conftest import FakeClock


async def claim(queue: dq.JobQueue, worker: str = "w1") -> list[dq.JobRecord]:
    request = ClaimRequest(worker, f"token-{worker}", 10)
    exchange = await queue.backend.settle_and_claim([], request, now=queue.clock.now())
    jobs = [job for job in exchange.claimed if isinstance(job, dq.JobRecord)]
    assert len(jobs) == len(exchange.claimed)
    return jobs


async def complete(queue: dq.JobQueue, job_id: int, worker: str, output: str) -> bool:
    done = Completion(Lease(job_id, f"token-{worker}"), output, {})
    exchange = await queue.backend.settle_and_claim([done], None, now=queue.clock.now())
    return exchange.settled == [True]


async def test_reclaim_returns_stuck_jobs_to_pending(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    job_id = await queue.add_job("a", {})
    assert [j.id for j in await claim(queue)] == [job_id]
    clock.advance(9 * 60)
    assert await queue.reclaim_stuck_jobs(10) == 0
    clock.advance(2 * 60)
    assert await queue.reclaim_stuck_jobs(10) == 1
    job = await queue.get_job(job_id)
    assert job is not None
    assert (job.status, job.locked_by, job.locked_at) == (
        dq.JobStatus.PENDING,
        None,
        None,
    )
    assert [j.id for j in await claim(queue, "w2")] == [job_id]


async def test_a_reclaimed_job_s_retried_event_names_the_worker_that_held_it(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    worker = 'host "a"\\b/é'  # JSON must escape some of it
    job_id = await queue.add_job("a", {})
    await claim(queue, worker)
    clock.advance(11 * 60)
    assert await queue.reclaim_stuck_jobs(10) == 1
    retried = (await queue.get_job_events(job_id))[-1]
    assert retried.event_type is dq.EventType.RETRIED
    assert retried.metadata == {"reclaimed_from": worker}


async def test_reclaim_honours_a_longer_job_timeout(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    long_job = await queue.add_job("a", {}, timeout=3600)
    short_job = await queue.add_job("a", {}, timeout=60)
    await claim(queue)
    clock.advance(30 * 60)
    assert await queue.reclaim_stuck_jobs(10) == 1
    statuses = {j.id: j.status for j in await queue.get_all_jobs()}
    assert statuses[short_job] is dq.JobStatus.PENDING
    assert statuses[long_job] is dq.JobStatus.PROCESSING
    clock.advance(31 * 60)
    assert await queue.reclaim_stuck_jobs(10) == 1


async def test_completion_by_a_reclaimed_worker_is_ignored(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    job_id = await queue.add_job("a", {})
    await claim(queue, "slow")
    clock.advance(11 * 60)
    await queue.reclaim_stuck_jobs(10)
    await claim(queue, "fast")
    assert not await complete(queue, job_id, "slow", "late")
    assert await complete(queue, job_id, "fast", "ok")
    job = await queue.get_job(job_id)
    assert job is not None and job.output == "ok"


async def test_cleanup_old_jobs_removes_only_old_finished_jobs(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    old_done = await queue.add_job("a", {})
    old_cancelled = await queue.add_job("b", {})
    old_pending = await queue.add_job("c", {})
    await queue.create_processor({"a": lambda p: None}, job_type="a").start()
    await queue.cancel_job(old_cancelled)
    clock.advance(40 * 86400)
    new_done = await queue.add_job("a", {})
    await queue.create_processor({"a": lambda p: None}, job_type="a").start()
    assert await queue.cleanup_old_jobs(30) == 2
    remaining = sorted(j.id for j in await queue.get_all_jobs())
    assert remaining == sorted([old_pending, new_done])
    assert await queue.get_job(old_done) is None
    assert await queue.get_job_events(old_done) == []


async def test_cleanup_works_through_more_than_one_batch(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    ids = await queue.add_jobs([dq.JobSpec("a", {}) for _ in range(1200)])
    assert await queue.cancel_all_upcoming_jobs() == 1200
    clock.advance(31 * 86400)
    assert await queue.cleanup_old_job_events(30) == 2400
    assert await queue.get_job_events(ids[0]) == []
    assert await queue.cleanup_old_jobs(30) == 1200
    assert await queue.get_all_jobs() == []


async def test_cleanup_old_job_events_keeps_recent_ones(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    job_id = await queue.add_job("a", {})
    clock.advance(31 * 86400)
    await queue.cancel_job(job_id)
    assert await queue.cleanup_old_job_events(30) == 1
    assert [e.event_type for e in await queue.get_job_events(job_id)] == [
        dq.EventType.CANCELLED
    ]


async def test_supervisor_pass_reports_counts(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    await queue.add_job("a", {})
    await claim(queue)
    clock.advance(11 * 60)
    supervisor = queue.create_supervisor(stuck_jobs_timeout_minutes=10)
    result = await supervisor.start()
    assert result.reclaimed_jobs == 1
    assert (result.cleaned_jobs, result.expired_tokens) == (0, 0)
