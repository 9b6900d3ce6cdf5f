"""Changing jobs: cancel, retry, edit, bulk edit and cancel; each leaves an event."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

import dataqueue as dq
from dataqueue._actor import acting_as
from tests.conftest import FakeClock


async def events(queue: dq.JobQueue, job_id: int) -> list[str]:
    return [e.event_type.value for e in await queue.get_job_events(job_id)]


async def test_cancel_pending_job(queue: dq.JobQueue, clock: FakeClock) -> None:
    job_id = await queue.add_job("a", {})
    clock.advance(5)
    await queue.cancel_job(job_id)
    job = await queue.get_job(job_id)
    assert job is not None
    assert job.status is dq.JobStatus.CANCELLED
    assert job.last_cancelled_at == clock.now()
    assert await events(queue, job_id) == ["added", "cancelled"]


async def test_cancel_leaves_finished_jobs_alone(queue: dq.JobQueue) -> None:
    job_id = await queue.add_job("a", {})
    await queue.create_processor({"a": lambda p: None}).start()
    await queue.cancel_job(job_id)
    job = await queue.get_job(job_id)
    assert job is not None and job.status is dq.JobStatus.COMPLETED


async def test_retry_failed_job_makes_it_due_now(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    job_id = await queue.add_job("a", {}, max_attempts=1)

    def boom(payload: object) -> None:
        raise RuntimeError("boom")

    processor = queue.create_processor({"a": boom})
    await processor.start()
    failed = await queue.get_job(job_id)
    assert failed is not None and failed.status is dq.JobStatus.FAILED
    assert failed.next_attempt_at is None
    clock.advance(1)
    await queue.retry_job(job_id)
    job = await queue.get_job(job_id)
    assert job is not None
    assert job.status is dq.JobStatus.PENDING
    assert job.last_retried_at == clock.now()
    assert "retried" in await events(queue, job_id)
    assert await queue.create_processor({"a": lambda p: "ok"}).start() == 1
    done = await queue.get_job(job_id)
    assert done is not None and done.status is dq.JobStatus.COMPLETED
    assert done.attempts == 2


async def test_retry_leaves_pending_job_alone(queue: dq.JobQueue) -> None:
    job_id = await queue.add_job("a", {})
    await queue.retry_job(job_id)
    assert await events(queue, job_id) == ["added"]


async def test_edit_job_changes_fields_and_records_them(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    job_id = await queue.add_job("a", {"v": 1}, timeout=5, tags=["x"])
    later = clock.now() + timedelta(hours=2)
    clock.advance(1)
    await queue.edit_job(
        job_id,
        payload={"v": 2},
        priority=9,
        max_attempts=7,
        run_at=later,
        tags=["y", "z"],
        retry_delay=3,
        retry_backoff=True,
        retry_delay_max=30,
    )
    job = await queue.get_job(job_id)
    assert job is not None
    assert job.payload == {"v": 2}
    assert (job.priority, job.max_attempts, job.run_at) == (9, 7, later)
    assert job.tags == ["y", "z"]
    assert (job.retry_delay, job.retry_backoff, job.retry_delay_max) == (3, True, 30)
    assert job.timeout == 5
    assert job.updated_at == clock.now()
    edited = (await queue.get_job_events(job_id))[-1]
    assert edited.event_type is dq.EventType.EDITED
    assert edited.metadata is not None
    assert edited.metadata["priority"] == 9
    assert edited.metadata["run_at"] == later.isoformat()


async def test_edit_with_none_clears_run_at_timeout_and_tags(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    job_id = await queue.add_job(
        "a", {}, run_at=clock.now() + timedelta(days=1), timeout=10, tags=["x"]
    )
    clock.advance(3)
    await queue.edit_job(job_id, run_at=None, timeout=None, tags=None)
    job = await queue.get_job(job_id)
    assert job is not None
    assert (job.run_at, job.timeout, job.tags) == (clock.now(), None, [])


async def test_edit_job_is_silent_no_op_unless_pending(queue: dq.JobQueue) -> None:
    job_id = await queue.add_job("a", {"v": 1})
    await queue.cancel_job(job_id)
    await queue.edit_job(job_id, payload={"v": 2})
    job = await queue.get_job(job_id)
    assert job is not None and job.payload == {"v": 1}
    assert "edited" not in await events(queue, job_id)


async def test_edit_rejects_unknown_and_bad_fields(queue: dq.JobQueue) -> None:
    job_id = await queue.add_job("a", {})
    with pytest.raises(TypeError, match="job_type"):
        await queue.edit_job(job_id, job_type="b")
    with pytest.raises(ValueError, match="max_attempts"):
        await queue.edit_job(job_id, max_attempts=0)
    assert await events(queue, job_id) == ["added"]


async def test_edit_all_pending_jobs_with_filters(queue: dq.JobQueue) -> None:
    urgent = await queue.add_job("email", {}, tags=["urgent"])
    plain = await queue.add_job("email", {})
    sms = await queue.add_job("sms", {}, tags=["urgent"])
    done = await queue.add_job("email", {}, tags=["urgent"])
    await queue.cancel_job(done)
    count = await queue.edit_all_pending_jobs(
        {"job_type": "email", "tags": {"values": ["urgent"], "mode": "any"}},
        priority=10,
    )
    assert count == 1
    priorities = {j.id: j.priority for j in await queue.get_all_jobs()}
    assert priorities == {urgent: 10, plain: 0, sms: 0, done: 0}
    assert (await events(queue, urgent))[-1] == "edited"
    assert await queue.edit_all_pending_jobs(None, max_attempts=9) == 3


async def test_cancel_all_upcoming_jobs_with_filters(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    soon = await queue.add_job("a", {}, run_at=clock.now() + timedelta(minutes=1))
    late = await queue.add_job("a", {}, run_at=clock.now() + timedelta(days=1))
    other = await queue.add_job("b", {}, run_at=clock.now() + timedelta(days=1))
    count = await queue.cancel_all_upcoming_jobs(
        job_type="a", run_at={"gt": clock.now() + timedelta(hours=1)}
    )
    assert count == 1
    statuses = {j.id: j.status.value for j in await queue.get_all_jobs()}
    assert statuses == {soon: "pending", late: "cancelled", other: "pending"}
    assert await queue.cancel_all_upcoming_jobs() == 2


async def test_retry_and_cancel_say_whether_they_changed_the_job(
    queue: dq.JobQueue,
) -> None:
    pending = await queue.add_job("a", {})
    assert await queue.retry_job(pending) is False
    assert await queue.cancel_job(pending) is True
    assert await queue.cancel_job(pending) is False
    assert await queue.retry_job(pending) is True
    assert await queue.retry_job(pending) is False
    assert await queue.retry_job(pending + 1000) is False
    assert await queue.cancel_job(pending + 1000) is False
    assert await events(queue, pending) == ["added", "cancelled", "retried"]


async def test_cancel_refuses_a_processing_job(queue: dq.JobQueue) -> None:
    job_id = await queue.add_job("a", {})
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow(payload: object) -> None:
        started.set()
        await release.wait()

    processor = queue.create_processor({"a": slow})
    batch = asyncio.create_task(processor.start())
    await started.wait()
    assert await queue.cancel_job(job_id) is False
    assert await queue.retry_job(job_id) is False
    release.set()
    await batch
    job = await queue.get_job(job_id)
    assert job is not None and job.status is dq.JobStatus.COMPLETED


async def test_a_change_made_for_someone_names_them_in_its_event(
    queue: dq.JobQueue,
) -> None:
    """What the dashboard does around each action: the event the change
    appends holds ``"by"``; the same change outside names no one."""

    async def approve(payload: object, ctx: dq.JobContext) -> None:
        token = await ctx.create_token()
        await ctx.wait_for_token(token.id)

    waiting = await queue.add_job("approve", {})
    await queue.create_processor({"approve": approve}).start()
    job = await queue.get_job(waiting)
    assert job is not None and job.wait_token_id is not None
    with acting_as("ann"):
        added = await queue.add_job("a", {})
        await queue.cancel_job(added)
        await queue.retry_job(added)
        await queue.edit_job(added, priority=3)
        assert await queue.cancel_all_upcoming_jobs({"job_type": "a"}) == 1
        await queue.complete_token(job.wait_token_id, "ok")
    plain = await queue.add_job("a", {})
    await queue.cancel_job(plain)

    logged = await queue.get_job_events(added)
    assert [(e.event_type.value, e.metadata) for e in logged] == [
        ("added", {"job_type": "a", "by": "ann"}),
        ("cancelled", {"by": "ann"}),
        ("retried", {"by": "ann"}),
        ("edited", {"priority": 3, "by": "ann"}),
        ("cancelled", {"by": "ann"}),
    ]
    (resumed,) = [
        e.metadata
        for e in await queue.get_job_events(waiting)
        if e.event_type is dq.EventType.RESUMED
    ]
    assert resumed == {"token_id": job.wait_token_id, "timed_out": False, "by": "ann"}
    assert [e.metadata for e in await queue.get_job_events(plain)] == [
        {"job_type": "a"},
        {},
    ]
