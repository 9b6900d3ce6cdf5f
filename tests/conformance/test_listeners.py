"""Subscribing and unsubscribing (``on``, ``once``, ``off``,
``remove_all_listeners``), ``ctx.set_output`` with its ``job:output`` event,
and ``dq.testing.wait_for_listeners``; cases of upstream DataQueue's own
suite (index.test.ts) among them."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import dataqueue as dq
from dataqueue.testing import wait_for_listeners


def recorder() -> tuple[list[dq.QueueEvent], Any]:
    seen: list[dq.QueueEvent] = []
    return seen, seen.append


async def test_once_fires_only_once_then_unsubscribes(queue: dq.JobQueue) -> None:
    seen, record = recorder()
    queue.once("job:added", record)
    first = await queue.add_job("email", {})
    await queue.add_job("sms", {})
    await wait_for_listeners(queue)
    assert [e.job_id for e in seen] == [first]


async def test_a_once_listener_can_be_unsubscribed_before_it_fires(
    queue: dq.JobQueue,
) -> None:
    seen, record = recorder()
    unsubscribe = queue.once("job:added", record)
    unsubscribe()
    await queue.add_job("email", {})
    await wait_for_listeners(queue)
    assert seen == []


async def test_off_removes_a_listener(queue: dq.JobQueue) -> None:
    seen, record = recorder()
    queue.on("job:added", record)
    await queue.add_job("email", {})
    await wait_for_listeners(queue)
    queue.off("job:added", record)
    queue.off("job:added", record)  # no longer subscribed: nothing happens
    await queue.add_job("sms", {})
    await wait_for_listeners(queue)
    assert [e.job_type for e in seen] == ["email"]


async def test_on_returns_a_function_that_unsubscribes(queue: dq.JobQueue) -> None:
    seen, record = recorder()
    unsubscribe = queue.on("job:added", record)
    unsubscribe()
    await queue.add_job("email", {})
    await wait_for_listeners(queue)
    assert seen == []


async def test_remove_all_listeners_of_one_event(queue: dq.JobQueue) -> None:
    added, record_added = recorder()
    also_added, record_also = recorder()
    cancelled, record_cancelled = recorder()
    queue.on("job:added", record_added)
    queue.on("job:added", record_also)
    queue.on("job:cancelled", record_cancelled)
    queue.remove_all_listeners("job:added")
    job_id = await queue.add_job("email", {})
    assert await queue.cancel_job(job_id)
    await wait_for_listeners(queue)
    assert (added, also_added) == ([], [])
    assert [e.job_id for e in cancelled] == [job_id]


async def test_remove_all_listeners_with_no_event_clears_everything(
    queue: dq.JobQueue,
) -> None:
    seen, record = recorder()
    queue.on("job:added", record)
    queue.once("job:cancelled", record)
    queue.remove_all_listeners()
    job_id = await queue.add_job("email", {})
    await queue.cancel_job(job_id)
    await wait_for_listeners(queue)
    assert seen == []


def test_unknown_events_are_refused_by_name(queue: dq.JobQueue) -> None:
    for subscribe in (queue.once, queue.off):
        with pytest.raises(ValueError, match="unknown event 'job:done'"):
            subscribe("job:done", print)
    with pytest.raises(ValueError, match="remove_all_listeners: unknown event"):
        queue.remove_all_listeners("job:done")


async def test_set_output_is_stored_at_once_and_kept_on_completion(
    queue: dq.JobQueue,
) -> None:
    stored_while_running: list[Any] = []

    async def report(payload: Any, ctx: dq.JobContext) -> None:
        await ctx.set_output({"url": "https://example.com/report.pdf"})
        job = await queue.get_job(ctx.job_id)
        assert job is not None
        stored_while_running.append(job.output)

    job_id = await queue.add_job("report", {})
    await queue.create_processor({"report": report}).start()
    job = await queue.get_job(job_id)
    assert job is not None
    assert (job.status, job.output) == (
        dq.JobStatus.COMPLETED,
        {"url": "https://example.com/report.pdf"},
    )
    assert stored_while_running == [{"url": "https://example.com/report.pdf"}]


async def test_set_output_takes_precedence_over_the_return_value(
    queue: dq.JobQueue,
) -> None:
    async def handler(payload: Any, ctx: dq.JobContext) -> dict[str, bool]:
        await ctx.set_output({"from_set_output": True, "n": 1})
        await ctx.set_output({"from_set_output": True, "n": 2})  # last wins
        return {"from_return": True}

    def blocking(payload: Any, ctx: dq.SyncJobContext) -> str:
        ctx.set_output("from a thread")
        return "returned"

    first = await queue.add_job("async", {})
    second = await queue.add_job("sync", {})
    await queue.create_processor({"async": handler, "sync": blocking}).start()
    outputs = [(await queue.get_job(i)).output for i in (first, second)]  # type: ignore[union-attr]
    assert outputs == [{"from_set_output": True, "n": 2}, "from a thread"]


async def test_set_output_refuses_what_is_not_json(queue: dq.JobQueue) -> None:
    errors: list[str] = []

    async def handler(payload: Any, ctx: dq.JobContext) -> str:
        try:
            await ctx.set_output({"when": object()})
        except TypeError as error:
            errors.append(str(error))
        return "returned"

    job_id = await queue.add_job("report", {})
    await queue.create_processor({"report": handler}).start()
    job = await queue.get_job(job_id)
    assert job is not None and job.output == "returned"
    assert len(errors) == 1 and "set_output('report')" in errors[0]


async def test_set_output_emits_job_output(queue: dq.JobQueue) -> None:
    seen, record = recorder()
    queue.on("job:output", record)

    async def handler(payload: Any, ctx: dq.JobContext) -> None:
        await ctx.set_output({"result": "done"})

    job_id = await queue.add_job("email", {})
    await queue.create_processor({"email": handler}).start()
    await wait_for_listeners(queue)
    assert [(e.name, e.job_id, e.output) for e in seen] == [
        ("job:output", job_id, {"result": "done"})
    ]


async def test_force_kill_handlers_set_output_too(queue: dq.JobQueue) -> None:
    from tests import handlers

    job_id = await queue.add_job("report", {}, timeout=20, force_kill_on_timeout=True)
    await queue.create_processor({"report": handlers.report_in_child}).start()
    job = await queue.get_job(job_id)
    assert job is not None
    assert (job.status, job.output) == (dq.JobStatus.COMPLETED, {"pages": 3})


async def test_wait_for_listeners_waits_for_slow_listeners(
    queue: dq.JobQueue,
) -> None:
    finished: list[int | None] = []
    release = threading.Event()

    def slow(event: dq.QueueEvent) -> None:
        release.wait(5)
        finished.append(event.job_id)

    async def slower(event: dq.QueueEvent) -> None:
        await asyncio.sleep(0)
        finished.append(event.job_id)

    queue.on("job:completed", slow)
    queue.on("job:completed", slower)
    job_id = await queue.add_job("email", {})
    await queue.create_processor({"email": lambda p: None}).start()
    with pytest.raises(TimeoutError, match=r"still running after 0\.05s"):
        await wait_for_listeners(queue, timeout=0.05)
    release.set()
    await wait_for_listeners(queue)
    assert finished == [job_id, job_id]
