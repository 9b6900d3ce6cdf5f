"""Queue events: ``queue.on(event, callback)``, once per confirmed change."""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import timedelta
from typing import Any

import pytest

import dataqueue as dq
from dataqueue._commands import ClaimRequest
from dataqueue.events import EVENT_NAMES
from tests.conftest import FakeClock, eventually


class Seen:
    """A callback that keeps the events it receives, in arrival order."""

    def __init__(self) -> None:
        self.events: list[dq.QueueEvent] = []

    async def __call__(self, event: dq.QueueEvent) -> None:
        self.events.append(event)

    def names(self, job_id: int | None = None) -> list[str]:
        return [e.name for e in self.events if job_id in (None, e.job_id)]

    async def until(self, count: int) -> None:
        """Until at least ``count`` events have arrived."""

        async def enough() -> bool:
            return len(self.events) >= count

        await eventually(enough)


def subscribe(queue: dq.JobQueue, *names: str) -> Seen:
    seen = Seen()
    for name in names or EVENT_NAMES:
        queue.on(name, seen)
    return seen


async def test_adds_emit_job_added_once_per_new_job(queue: dq.JobQueue) -> None:
    seen = subscribe(queue, "job:added")
    one = await queue.add_job("email", {"to": "a"})
    ids = await queue.add_jobs(
        [
            dq.JobSpec("sms", idempotency_key="k"),
            dq.JobSpec("sms", idempotency_key="k"),
            dq.JobSpec("push"),
        ]
    )
    assert ids[0] == ids[1]
    await seen.until(3)
    assert [(e.job_id, e.job_type) for e in seen.events] == [
        (one, "email"),
        (ids[0], "sms"),
        (ids[2], "push"),
    ]
    assert {e.at for e in seen.events} == {queue.clock.now()}


async def test_a_processed_job_emits_processing_then_completed(
    queue: dq.JobQueue,
) -> None:
    seen = subscribe(queue, "job:processing", "job:completed")
    job_id = await queue.add_job("double", {"n": 21})
    processor = queue.create_processor(
        {"double": lambda p: {"n": p["n"] * 2}}, worker_id="w-1"
    )
    await processor.start()
    await seen.until(2)
    processing, completed = seen.events
    assert (processing.name, completed.name) == ("job:processing", "job:completed")
    assert {processing.job_id, completed.job_id} == {job_id}
    assert {processing.worker_id, completed.worker_id} == {"w-1"}
    assert processing.job is not None and processing.job.attempts == 1
    assert completed.output == {"n": 42}
    assert completed.duration_seconds is not None and completed.duration_seconds >= 0


async def test_failures_say_whether_the_job_will_retry(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    seen = subscribe(queue, "job:failed")
    job_id = await queue.add_job("flaky", {}, max_attempts=2, retry_delay=10)

    def flaky(payload: Any) -> None:
        raise ValueError("upstream down")

    processor = queue.create_processor({"flaky": flaky})
    await processor.start()
    clock.advance(60)
    await processor.start()
    await seen.until(2)
    first, last = seen.events
    assert (first.will_retry, last.will_retry) == (True, False)
    assert {first.job_id, last.job_id} == {job_id}
    assert last.error == "ValueError: upstream down"
    assert last.failure_reason is dq.FailureReason.HANDLER_ERROR
    assert isinstance(last.exception, ValueError)


async def test_waiting_progress_cancel_and_retry_are_emitted(
    queue: dq.JobQueue,
) -> None:
    seen = subscribe(
        queue, "job:waiting", "job:progress", "job:cancelled", "job:retried"
    )

    async def report(payload: Any, ctx: dq.JobContext) -> None:
        await ctx.set_progress(40)
        await ctx.wait_for(hours=1)

    waiting = await queue.add_job("report", {})
    await queue.create_processor({"report": report}).start()
    await seen.until(2)
    assert seen.names() == ["job:progress", "job:waiting"]
    assert seen.events[0].progress == 40
    assert seen.events[1].job_id == waiting

    await queue.cancel_job(waiting)
    await queue.cancel_job(waiting)  # no longer cancellable: no event
    await queue.retry_job(waiting)
    await seen.until(4)
    assert seen.names()[2:] == ["job:cancelled", "job:retried"]
    cancelled, retried = seen.events[2:]
    assert cancelled.job is not None
    assert cancelled.job.status is dq.JobStatus.CANCELLED
    assert retried.job is not None and retried.job.status is dq.JobStatus.PENDING
    assert retried.job_type == "report"


async def test_error_events_fire_beside_on_error(queue: dq.JobQueue) -> None:
    seen = subscribe(queue, "error")
    handed: list[BaseException] = []
    job_id = await queue.add_job("broken", {}, max_attempts=1)

    async def broken(payload: Any) -> None:
        raise KeyError("missing")

    processor = queue.create_processor({"broken": broken}, on_error=handed.append)
    await processor.start()
    await seen.until(1)
    (event,) = seen.events
    assert len(handed) == 1 and event.exception is handed[0]
    assert (event.job_id, event.job_type) == (job_id, "broken")


async def test_an_outcome_written_under_a_lost_lease_emits_nothing(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    seen = subscribe(queue, "job:completed")
    gate = asyncio.Event()

    async def slow(payload: Any) -> str:
        await gate.wait()
        return "late"

    job_id = await queue.add_job("slow", {})
    first = asyncio.ensure_future(queue.create_processor({"slow": slow}).start())

    async def running() -> bool:
        job = await queue.get_job(job_id)
        return job is not None and job.status is dq.JobStatus.PROCESSING

    await eventually(running)
    clock.advance(timedelta(minutes=5))
    assert await queue.reclaim_stuck_jobs(1) == 1
    await queue.create_processor({"slow": lambda p: "rescued"}).start()
    gate.set()
    await first
    await seen.until(1)
    await queue.close()  # waits for callbacks still running
    assert [e.output for e in seen.events] == ["rescued"]


async def test_due_cron_schedules_emit_job_added(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    seen = subscribe(queue, "job:added")
    await queue.add_cron_job("nightly", "0 3 * * *", "report", {})
    clock.advance(timedelta(days=1))
    assert await queue.enqueue_due_cron_jobs() == 1
    await seen.until(1)
    (event,) = seen.events
    assert event.job_type == "report"
    job = await queue.get_job(event.job_id or 0)
    assert job is not None and job.cron_job_id is not None


async def test_flow_steps_and_their_join_emit_job_added(queue: dq.JobQueue) -> None:
    seen = subscribe(queue, "job:added")
    flow_id = await queue.start_flow(
        [dq.JobSpec("resize", {"n": 0}), dq.JobSpec("resize", {"n": 1})],
        dq.JobSpec("publish", {}),
    )
    await seen.until(2)
    processor = queue.create_processor(
        {"resize": lambda p: p["n"], "publish": lambda p: None}
    )
    await processor.start()
    await seen.until(3)
    flow = await queue.get_flow(flow_id)
    assert flow is not None
    assert [(e.job_id, e.job_type) for e in seen.events] == [
        (flow.steps[0].job_id, "resize"),
        (flow.steps[1].job_id, "resize"),
        (flow.join_job_id, "publish"),
    ]


async def test_a_flow_started_by_a_handler_emits_job_added(
    queue: dq.JobQueue,
) -> None:
    seen = subscribe(queue, "job:added")

    async def starter(payload: dict[str, int], ctx: dq.JobContext) -> str:
        return await ctx.start_flow([dq.JobSpec("resize", {"n": 0})], dq.JobSpec("j"))

    starter_id = await queue.add_job("starter")
    await seen.until(1)
    await queue.create_processor({"starter": starter}).start()
    await seen.until(2)
    started = await queue.get_job(starter_id)
    assert started is not None
    flow = await queue.get_flow(started.output)
    assert flow is not None
    assert [(e.job_id, e.job_type) for e in seen.events] == [
        (starter_id, "starter"),
        (flow.steps[0].job_id, "resize"),
    ]


async def test_bulk_cancels_emit_job_cancelled_per_job(queue: dq.JobQueue) -> None:
    seen = subscribe(queue, "job:cancelled")
    ids = await queue.add_jobs([dq.JobSpec("email", tags=["bulk"]) for _ in range(3)])
    kept = await queue.add_job("email")
    assert await queue.cancel_all_upcoming_jobs(tags={"values": ["bulk"]}) == 3
    await seen.until(3)
    assert sorted(e.job_id for e in seen.events if e.job_id is not None) == ids
    assert all(
        e.job is not None and e.job.status is dq.JobStatus.CANCELLED
        for e in seen.events
    )
    assert kept not in [e.job_id for e in seen.events]


async def test_reclaims_emit_retried_or_a_final_failure(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    seen = subscribe(queue, "job:retried", "job:failed")
    again = await queue.add_job("email", max_attempts=2)
    lost = await queue.add_job("email", max_attempts=1)
    claimed = await queue.backend.settle_and_claim(
        [], ClaimRequest("gone", "lease", 2), now=clock.now()
    )
    assert len(claimed.claimed) == 2
    clock.advance(600)
    assert await queue.reclaim_stuck_jobs(1) == 2
    await seen.until(2)
    by_job = {e.job_id: e for e in seen.events}
    assert by_job[again].name == "job:retried"
    failed = by_job[lost]
    assert (failed.name, failed.will_retry) == ("job:failed", False)
    assert failed.failure_reason is dq.FailureReason.WORKER_LOST
    assert failed.error is not None and "worker lost" in failed.error


async def test_listeners_that_raise_block_or_hang_hold_nothing_up(
    queue: dq.JobQueue, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="dataqueue")
    release = threading.Event()
    hang = asyncio.Event()

    async def hangs(event: dq.QueueEvent) -> None:
        await hang.wait()

    def blocks(event: dq.QueueEvent) -> None:
        release.wait(30)

    def raises(event: dq.QueueEvent) -> None:
        raise RuntimeError("listener bug")

    for listener in (hangs, blocks, raises):
        queue.on("job:completed", listener)
    seen = subscribe(queue, "job:completed")
    total = 30
    await queue.add_jobs([dq.JobSpec("work", {"n": n}) for n in range(total)])
    processor = queue.create_processor(
        {"work": lambda p: p["n"]}, concurrency=5, poll_interval=0.05
    )
    processor.start_in_background()
    try:
        await seen.until(total)
    finally:
        await processor.stop_and_drain(5)
        release.set()
        hang.set()
    assert sorted(e.output for e in seen.events) == list(range(total))

    async def all_raised() -> bool:
        # The blocked listener held every callback thread: the plain-function
        # calls waiting behind it run once it lets go.
        return caplog.text.count("RuntimeError: listener bug") == total

    await eventually(all_raised)


async def test_unsubscribing_stops_the_calls(queue: dq.JobQueue) -> None:
    seen = Seen()
    stop = queue.on("job:added", seen)
    await queue.add_job("a", {})
    await seen.until(1)
    stop()
    stop()  # twice is harmless
    marker = subscribe(queue, "job:added")
    await queue.add_job("b", {})
    await marker.until(1)
    assert [e.job_type for e in seen.events] == ["a"]


async def test_on_rejects_unknown_events_and_non_callables(
    queue: dq.JobQueue,
) -> None:
    with pytest.raises(ValueError, match=r"unknown event 'job:done'.*job:completed"):
        queue.on("job:done", print)
    with pytest.raises(TypeError, match="callback must be a function"):
        queue.on("job:added", "print")  # type: ignore[arg-type]


async def test_a_sync_queue_delivers_events_too(store: str, tmp_path: Any) -> None:
    from tests.conftest import drop_namespace, namespace, store_options

    ns = namespace()
    sync_queue = dq.connect_sync(**store_options(store, tmp_path, ns))
    try:
        sync_queue.migrate()
        received: list[str] = []
        arrived = threading.Event()

        def listener(event: dq.QueueEvent) -> None:
            received.append(f"{event.name} {event.job_type}")
            arrived.set()

        sync_queue.on("job:completed", listener)
        sync_queue.add_job("ping", {})
        assert sync_queue.create_processor({"ping": lambda p: "pong"}).start() == 1
        assert arrived.wait(10)
        assert received == ["job:completed ping"]
    finally:
        sync_queue.close()
        await drop_namespace(store, ns)
