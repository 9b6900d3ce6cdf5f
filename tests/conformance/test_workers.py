"""The worker registry: processors register, heartbeat with what they run,
unregister on stop; the supervisor removes the silent ones."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import dataqueue as dq
from tests.conftest import FakeClock, eventually

MakeQueue = Callable[..., Awaitable[dq.JobQueue]]


async def listed(queue: dq.JobQueue, count: int) -> list[dq.WorkerInfo]:
    """The registry, once it lists ``count`` workers."""

    async def enough() -> bool:
        return len(await queue.list_workers()) == count

    await eventually(enough)
    return await queue.list_workers()


async def test_a_running_processor_is_listed_with_what_it_runs(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    gate = asyncio.Event()

    async def hold(payload: Any) -> None:
        await gate.wait()

    job_id = await queue.add_job("hold", {})
    processor = queue.create_processor(
        {"hold": hold},
        worker_id="worker-a",
        job_type="hold",
        concurrency=2,
        heartbeat_interval=0.05,
        poll_interval=0.05,
    )
    processor.start_in_background()
    try:

        async def running() -> bool:
            workers = await queue.list_workers()
            return len(workers) == 1 and workers[0].running_job_ids == [job_id]

        await eventually(running)
        (worker,) = await queue.list_workers()
        assert (worker.id, worker.host, worker.pid) == (
            "worker-a",
            socket.gethostname(),
            os.getpid(),
        )
        assert (worker.job_types, worker.concurrency) == (["hold"], 2)
        assert worker.started_at == worker.last_heartbeat == clock.now()
    finally:
        gate.set()
        await processor.stop_and_drain(5)
    assert await queue.list_workers() == []


async def test_processors_are_listed_by_start_time(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    first = queue.create_processor({}, worker_id="first", heartbeat_interval=0.05)
    second = queue.create_processor({}, worker_id="second", heartbeat_interval=0.05)
    first.start_in_background()
    try:
        await listed(queue, 1)
        clock.advance(1)
        second.start_in_background()
        workers = await listed(queue, 2)
    finally:
        await first.stop_and_drain(5)
        await second.stop_and_drain(5)
    assert [w.id for w in workers] == ["first", "second"]
    assert [w.job_types for w in workers] == [[], []]  # no handlers: no types
    assert await queue.list_workers() == []


async def test_the_supervisor_removes_silent_workers_and_keeps_live_ones(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    # A worker that died without unregistering: its last heartbeat is old.
    gone = dq.WorkerInfo(
        id="gone",
        host="elsewhere",
        pid=4242,
        started_at=clock.now(),
        last_heartbeat=clock.now(),
        job_types=["report"],
        concurrency=1,
        running_job_ids=[],
    )
    await queue.backend.register_worker(gone, now=clock.now())
    clock.advance(timedelta(minutes=5))
    live = queue.create_processor({}, worker_id="live", heartbeat_interval=0.05)
    live.start_in_background()
    try:
        assert {w.id for w in await listed(queue, 2)} == {"gone", "live"}
        result = await queue.create_supervisor(dead_worker_timeout=60).start()
        assert result.removed_workers == 1
        assert [w.id for w in await queue.list_workers()] == ["live"]
    finally:
        await live.stop_and_drain(5)


async def test_a_worker_taken_for_dead_registers_again(
    make_queue: MakeQueue,
) -> None:
    worker_clock = FakeClock()
    # The supervisor's clock is an hour ahead: every heartbeat looks old.
    supervisor_clock = FakeClock(worker_clock.now() + timedelta(hours=1))
    worker_queue = await make_queue(worker_clock)
    supervisor_queue = await make_queue(supervisor_clock)
    processor = worker_queue.create_processor(
        {}, worker_id="flaky-network", heartbeat_interval=0.05
    )
    processor.start_in_background()
    try:
        (before,) = await listed(worker_queue, 1)
        worker_clock.advance(30)
        supervisor = supervisor_queue.create_supervisor(dead_worker_timeout=60)
        assert (await supervisor.start()).removed_workers == 1

        async def back() -> bool:
            workers = await worker_queue.list_workers()
            return [w.last_heartbeat for w in workers] == [worker_clock.now()]

        await eventually(back)
        (after,) = await worker_queue.list_workers()
    finally:
        await processor.stop_and_drain(5)
    assert after.id == before.id and after.started_at == before.started_at
