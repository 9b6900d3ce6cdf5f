"""Processor hooks (on_job_start / on_job_complete / on_job_fail) and the
supervisor's on_error: once per transition, never fatal, never in the way."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import dataqueue as dq
from dataqueue import events
from tests.conformance.test_events import Seen
from tests.conftest import drop_namespace, eventually, namespace, store_options


async def final_count(queue: dq.JobQueue) -> int:
    counts = await queue.count_jobs()
    return counts[dq.JobStatus.COMPLETED] + sum(
        1
        for job in await queue.get_jobs_by_status("failed", limit=1000)
        if job.next_attempt_at is None
    )


async def test_hooks_fire_once_per_transition(queue: dq.JobQueue) -> None:
    started: list[int] = []
    completed = Seen()
    failed = Seen()

    def on_start(event: dq.QueueEvent) -> None:  # a plain function, in a thread
        assert event.job_id is not None
        started.append(event.job_id)

    def work(payload: dict[str, int]) -> int:
        if payload["n"] % 4 == 0:
            raise ValueError(f"bad {payload['n']}")
        return payload["n"]

    total = 40
    ids = await queue.add_jobs(
        [
            dq.JobSpec("work", {"n": n}, max_attempts=2, retry_delay=0)
            for n in range(total)
        ]
    )
    processor = queue.create_processor(
        {"work": work},
        concurrency=4,
        poll_interval=0.05,
        on_job_start=on_start,
        on_job_complete=completed,
        on_job_fail=failed,
    )
    processor.start_in_background()
    try:

        async def all_final() -> bool:
            return await final_count(queue) == total

        await eventually(all_final, timeout=30)
    finally:
        await processor.stop_and_drain(5)
    failing = {job_id for n, job_id in enumerate(ids) if n % 4 == 0}
    await completed.until(total - len(failing))
    await failed.until(2 * len(failing))

    async def all_started() -> bool:
        return len(started) == total + len(failing)

    await eventually(all_started)
    assert Counter(started) == {i: 2 if i in failing else 1 for i in ids}
    assert sorted(e.job_id or 0 for e in completed.events) == sorted(set(ids) - failing)
    retries: dict[int, list[bool | None]] = {}
    for event in failed.events:
        retries.setdefault(event.job_id or 0, []).append(event.will_retry)
    assert retries == {job_id: [True, False] for job_id in failing}
    assert {e.name for e in completed.events} == {"job:completed"}


async def test_hooks_that_raise_block_or_hang_do_not_stall_the_processor(
    queue: dq.JobQueue, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="dataqueue")
    hang = asyncio.Event()
    release = threading.Event()
    calls: Counter[str] = Counter()

    async def hangs(event: dq.QueueEvent) -> None:
        calls["complete"] += 1
        await hang.wait()

    def blocks(event: dq.QueueEvent) -> None:
        calls["start"] += 1
        if event.job is not None and event.job.payload.get("n", 0) < 5:
            release.wait(30)  # five callback threads held

    def raises(event: dq.QueueEvent) -> None:
        calls["fail"] += 1
        raise RuntimeError("hook bug")

    total = 30
    await queue.add_jobs([dq.JobSpec("work", {"n": n}) for n in range(total)])
    await queue.add_job("nobody", {}, max_attempts=1)
    processor = queue.create_processor(
        {"work": lambda p: p["n"]},
        concurrency=5,
        poll_interval=0.05,
        on_job_start=blocks,
        on_job_complete=hangs,
        on_job_fail=raises,
        job_type="*",  # "nobody" too: it has no handler
    )
    processor.start_in_background()
    try:

        async def all_final() -> bool:
            return await final_count(queue) == total + 1

        await eventually(all_final, timeout=30)

        async def every_hook_called() -> bool:
            return calls["complete"] == total and calls["fail"] == 1

        await eventually(every_hook_called)
    finally:
        await processor.stop_and_drain(5)
        release.set()
        hang.set()
    assert "on_job_fail for job:failed raised" in caplog.text


async def test_a_hook_past_its_time_is_let_go_and_logged(
    queue: dq.JobQueue,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(events, "CALLBACK_TIMEOUT", 0.05)
    caplog.set_level(logging.WARNING, logger="dataqueue")
    cancelled = asyncio.Event()

    async def never_returns(event: dq.QueueEvent) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    await queue.add_job("work", {})
    processor = queue.create_processor(
        {"work": lambda p: None}, on_job_complete=never_returns
    )
    assert await processor.start() == 1
    await asyncio.wait_for(cancelled.wait(), 10)
    assert "on_job_complete for job:completed still running after 0.05s" in (
        caplog.text
    )


async def test_hooks_must_be_functions(queue: dq.JobQueue) -> None:
    with pytest.raises(TypeError, match="on_job_start must be a function"):
        queue.create_processor({}, on_job_start="log")
    with pytest.raises(TypeError, match="on_error must be a function"):
        queue.create_supervisor(on_error=42)


async def test_the_supervisor_hands_each_failed_step_to_on_error_and_error(
    tmp_path: Path,
) -> None:
    # A store that cannot be opened: every maintenance step fails.
    queue = dq.connect(f"sqlite:///{tmp_path / 'missing' / 'dq.db'}")
    seen = Seen()
    queue.on("error", seen)
    handed: list[BaseException] = []
    supervisor = queue.create_supervisor(on_error=handed.append)
    with pytest.raises(dq.StoreRefusedError):
        await supervisor.start()
    assert handed and {type(error) for error in handed} == {dq.StoreRefusedError}
    await seen.until(len(handed))
    assert [event.exception for event in seen.events] == handed
    await queue.close()


async def test_a_sync_queue_takes_the_same_hooks(store: str, tmp_path: Path) -> None:
    ns = namespace()
    sync_queue = dq.connect_sync(**store_options(store, tmp_path, ns))
    try:
        sync_queue.migrate()
        done = threading.Event()
        results: list[Any] = []

        def on_complete(event: dq.QueueEvent) -> None:
            results.append(event.output)
            done.set()

        sync_queue.add_job("ping", {})
        processor = sync_queue.create_processor(
            {"ping": lambda p: "pong"}, on_job_complete=on_complete
        )
        assert processor.start() == 1
        assert done.wait(10)
        assert results == ["pong"]
        assert processor.metrics().completed == 1
    finally:
        sync_queue.close()
        await drop_namespace(store, ns)


def test_callback_threads_serve_every_call_while_some_block() -> None:
    threads = events._DaemonThreads(2)
    release = threading.Event()
    blocked = threads.submit(lambda _: release.wait(10), None)
    # One thread is held; the other serves these in turn.
    quick = [threads.submit(lambda n: n * 2, n) for n in range(5)]
    assert [future.result(10) for future in quick] == [0, 2, 4, 6, 8]
    second = threads.submit(lambda _: release.wait(10), None)
    queued = [threads.submit(lambda n: n, n) for n in range(3)]
    assert not any(future.done() for future in queued)  # both threads held
    release.set()
    assert blocked.result(10) and second.result(10)
    assert [future.result(10) for future in queued] == [0, 1, 2]
    assert threads.submit(lambda _: "idle again", None).result(10) == "idle again"
