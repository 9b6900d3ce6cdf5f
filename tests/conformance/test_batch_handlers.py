"""Batch handlers: ``dq.batch(fn, max_size, max_wait)`` runs the jobs of its
type that start together in one call, while every job keeps its own
outcome, retries and events."""

from __future__ import annotations

from typing import Any

import pytest

import dataqueue as dq
from tests.conftest import FakeClock


async def get(queue: dq.JobQueue, job_id: int) -> dq.JobRecord:
    job = await queue.get_job(job_id)
    assert job is not None
    return job


def processor(queue: dq.JobQueue, handler: Any, size: int = 10) -> dq.Processor:
    return queue.create_processor({"index": handler}, concurrency=size, batch_size=size)


async def test_jobs_that_start_together_run_in_one_call(queue: dq.JobQueue) -> None:
    calls: list[tuple[list[Any], list[int]]] = []

    async def index_many(payloads: list[Any], ctx: dq.BatchContext) -> list[Any]:
        calls.append((payloads, ctx.job_ids))
        assert [job.payload for job in ctx.jobs] == payloads
        assert [c.job_id for c in ctx.contexts] == ctx.job_ids
        return [{"indexed": p["doc"]} for p in payloads]

    ids = await queue.add_jobs([dq.JobSpec("index", {"doc": n}) for n in range(4)])
    handler = dq.batch(index_many, max_size=4, max_wait=60)
    assert await processor(queue, handler).start() == 4

    [(payloads, job_ids)] = calls
    assert sorted(p["doc"] for p in payloads) == [0, 1, 2, 3]
    assert sorted(job_ids) == ids
    for n, job_id in enumerate(ids):
        job = await get(queue, job_id)
        assert (job.status, job.output, job.attempts) == (
            "completed",
            {"indexed": n},
            1,
        )
        events = [e.event_type.value for e in await queue.get_job_events(job_id)]
        assert events == ["added", "processing", "completed"]


async def test_a_batch_holds_at_most_max_size_jobs(queue: dq.JobQueue) -> None:
    sizes: list[int] = []

    def index_many(payloads: list[Any], ctx: dq.BatchContext) -> list[Any]:
        sizes.append(len(payloads))  # a plain def runs in a thread
        return [None] * len(payloads)

    await queue.add_jobs([dq.JobSpec("index", {"doc": n}) for n in range(5)])
    handler = dq.batch(index_many, max_size=2, max_wait=1)
    assert await processor(queue, handler).start() == 5
    assert sorted(sizes) == [1, 2, 2]
    assert all(j.status is dq.JobStatus.COMPLETED for j in await queue.get_all_jobs())


async def test_a_raising_batch_fails_every_job_by_its_own_attempts(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    async def index_many(payloads: list[Any], ctx: dq.BatchContext) -> list[Any]:
        raise ConnectionError("search cluster down")

    once, twice = await queue.add_jobs(
        [
            dq.JobSpec("index", {}, max_attempts=1),
            dq.JobSpec(
                "index", {}, max_attempts=2, retry_delay=10, retry_backoff=False
            ),
        ]
    )
    handler = dq.batch(index_many, max_size=2, max_wait=60)
    assert await processor(queue, handler).start() == 2
    job_once, job_twice = await get(queue, once), await get(queue, twice)
    assert job_once.status is job_twice.status is dq.JobStatus.FAILED
    assert job_once.next_attempt_at is None
    assert job_twice.next_attempt_at == clock.now() + _seconds(10)
    for job in (job_once, job_twice):
        assert job.failure_reason is dq.FailureReason.HANDLER_ERROR
        assert [e["message"] for e in job.error_history] == [
            "ConnectionError: search cluster down"
        ]


async def test_a_batch_must_answer_once_per_job(queue: dq.JobQueue) -> None:
    await queue.add_jobs([dq.JobSpec("index", {}, max_attempts=1)] * 2)
    handler = dq.batch(lambda payloads, ctx: ["only one"], max_size=2, max_wait=60)
    assert await processor(queue, handler).start() == 2
    for job in await queue.get_all_jobs():
        assert job.status is dq.JobStatus.FAILED
        assert (
            "one result per job (2), got 1 result(s)" in job.error_history[0]["message"]
        )


async def test_a_batch_job_retried_alone_runs_alone(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    seen: list[list[Any]] = []
    attempts = {"n": 0}

    async def index_many(payloads: list[Any], ctx: dq.BatchContext) -> list[Any]:
        seen.append(payloads)
        attempts["n"] += 1
        if attempts["n"] == 1:
            raise RuntimeError("first batch fails")
        return ["ok"] * len(payloads)

    job_id = await queue.add_job(
        "index", {"doc": 1}, max_attempts=2, retry_delay=5, retry_backoff=False
    )
    handler = dq.batch(index_many, max_size=1, max_wait=60)
    proc = processor(queue, handler)
    await proc.start()
    clock.advance(5)
    await proc.start()
    job = await get(queue, job_id)
    assert (job.status, job.output, job.attempts) == ("completed", "ok", 2)
    assert seen == [[{"doc": 1}], [{"doc": 1}]]


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((None,), TypeError, "fn must be callable"),
        ((print, 0), ValueError, "max_size"),
        ((print, "3"), TypeError, "max_size"),
        ((print, 3, -1), ValueError, "max_wait"),
    ],
)
def test_bad_batch_options_are_refused(
    args: tuple[Any, ...], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        dq.batch(*args)


def _seconds(n: int) -> Any:
    from datetime import timedelta

    return timedelta(seconds=n)
