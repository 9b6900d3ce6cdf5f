"""What operators read and do beside the jobs' life: per-minute stats the
workers report, worker counts, quieting a worker, deleting finished jobs."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

import dataqueue as dq
from tests.conftest import FakeClock, eventually


async def ok(payload: Any) -> None:
    return None


async def bad(payload: Any) -> None:
    raise RuntimeError("no")


def totals(stats: list[dq.MinuteStats]) -> dict[str, tuple[int, ...]]:
    by_type: dict[str, tuple[int, ...]] = {}
    for entry in stats:
        old = by_type.get(entry.job_type, (0, 0, 0, 0, 0))
        new = (
            entry.started,
            entry.completed,
            entry.failed,
            entry.first_starts,
            round(entry.start_delay_seconds),
        )
        by_type[entry.job_type] = tuple(a + b for a, b in zip(old, new, strict=True))
    return by_type


async def test_a_batch_reports_starts_delays_and_outcomes_per_minute(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    await queue.add_jobs([dq.JobSpec("ok", {}), dq.JobSpec("ok", {})])
    await queue.add_job("bad", {}, max_attempts=1)
    clock.advance(5)
    processor = queue.create_processor({"ok": ok, "bad": bad}, batch_size=10)
    assert await processor.start() == 3

    stats = await queue.get_minute_stats(3600)
    assert {entry.minute for entry in stats} == {
        clock.now().replace(second=0, microsecond=0)
    }
    # started, completed, failed, first starts, their delays (5 s each)
    assert totals(stats) == {"bad": (1, 0, 1, 1, 5), "ok": (2, 2, 0, 2, 10)}
    assert totals(await queue.get_minute_stats(3600, job_type="ok")) == {
        "ok": (2, 2, 0, 2, 10)
    }


async def test_minute_stats_add_up_and_only_the_window_is_read(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    minute = clock.now().replace(second=0, microsecond=0)

    def entry(at: Any, started: int) -> dq.MinuteStats:
        return dq.MinuteStats(at, "ok", started, started, 0, started, 1.5 * started)

    store = queue.backend
    await store.record_minute_stats([entry(minute, 2)], now=clock.now())
    await store.record_minute_stats(
        [entry(minute, 3), entry(minute - timedelta(hours=2), 7)], now=clock.now()
    )
    [this_minute] = await queue.get_minute_stats(60)
    assert this_minute == dq.MinuteStats(minute, "ok", 5, 5, 0, 5, 7.5)
    assert [e.started for e in await queue.get_minute_stats(3 * 3600)] == [7, 5]
    await store.record_minute_stats([], now=clock.now())
    assert len(await queue.get_minute_stats(86400)) == 2


async def test_get_minute_stats_refuses_a_window_over_a_day(
    queue: dq.JobQueue,
) -> None:
    with pytest.raises(ValueError, match="window"):
        await queue.get_minute_stats(86401)


async def test_a_worker_reports_its_counts_with_its_heartbeats(
    queue: dq.JobQueue,
) -> None:
    await queue.add_jobs([dq.JobSpec("ok", {}), dq.JobSpec("ok", {})])
    await queue.add_job("bad", {}, max_attempts=1)
    processor = queue.create_processor(
        {"ok": ok, "bad": bad}, heartbeat_interval=0.05, poll_interval=0.05
    )
    processor.start_in_background()
    try:

        async def counted() -> bool:
            workers = await queue.list_workers()
            return [(w.processed, w.failed) for w in workers] == [(2, 1)]

        await eventually(counted)
    finally:
        await processor.stop_and_drain(5)
    assert totals(await queue.get_minute_stats())["ok"][:3] == (2, 2, 0)


async def test_a_quieted_worker_takes_no_more_jobs_and_says_so(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    ran: list[int] = []

    async def record(payload: Any, ctx: dq.JobContext) -> None:
        ran.append(ctx.job_id)

    processor = queue.create_processor(
        {"record": record},
        worker_id="to-quiet",
        heartbeat_interval=0.05,
        poll_interval=0.05,
    )
    processor.start_in_background()
    try:

        async def beat_since(moment: Any) -> bool:
            return [w.last_heartbeat for w in await queue.list_workers()] == [moment]

        first = await queue.add_job("record", {})
        await eventually(lambda: asyncio.sleep(0, first in ran))
        assert await queue.quiet_worker("to-quiet") is True
        assert await queue.quiet_worker("no-such-worker") is False
        # A heartbeat after the request has told the worker; once the next
        # one is stored, the worker has read the first one's answer.
        for _ in range(2):
            clock.advance(1)
            await eventually(lambda: beat_since(clock.now()))
        second = await queue.add_job("record", {})
        # Two more heartbeats: a worker still claiming had taken the job.
        for _ in range(2):
            clock.advance(1)
            await eventually(lambda: beat_since(clock.now()))
        (worker,) = await queue.list_workers()
        assert worker.quiet is True
        job = await queue.get_job(second)
        assert job is not None and job.status is dq.JobStatus.PENDING
    finally:
        await processor.stop_and_drain(5)
    assert await queue.create_processor({"record": record}).start() == 1
    assert ran == [first, second]


async def test_delete_jobs_deletes_finished_jobs_only(
    queue: dq.JobQueue,
) -> None:
    done, failed, retrying, cancelled, waiting = await queue.add_jobs(
        [
            dq.JobSpec("ok", {}, idempotency_key="k-done"),
            dq.JobSpec("bad", {}, max_attempts=1),
            dq.JobSpec("bad", {}, max_attempts=3),
            dq.JobSpec("ok", {}, run_at=None),
            dq.JobSpec("later", {}),
        ]
    )
    await queue.cancel_job(cancelled)
    processor = queue.create_processor({"ok": ok, "bad": bad}, batch_size=10)
    assert await processor.start() == 3

    deleted = await queue.delete_jobs([waiting, retrying, cancelled, failed, done])
    assert deleted == sorted([done, failed, cancelled])
    for job_id in deleted:
        assert await queue.get_job(job_id) is None
        assert await queue.get_job_events(job_id) == []
    assert {j.id for j in await queue.get_jobs(limit=10)} == {retrying, waiting}
    assert await queue.delete_jobs([done, 10**15]) == []
    # The idempotency key is free again.
    assert await queue.add_job("ok", {}, idempotency_key="k-done") != done


async def test_delete_jobs_checks_its_ids(queue: dq.JobQueue) -> None:
    with pytest.raises(ValueError, match=r"job_ids\[0\]"):
        await queue.delete_jobs([0])
    with pytest.raises(TypeError, match="job_ids"):
        await queue.delete_jobs(7)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at most 1000"):
        await queue.delete_jobs(list(range(1, 1002)))
