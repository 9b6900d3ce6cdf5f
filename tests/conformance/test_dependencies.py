"""Job dependencies: ``depends_on`` holds a job (pending, no attempt spent)
until its prerequisites completed and its tag drain is clear; a doomed
prerequisite cancels its dependents, transitively (upstream DataQueue's
job-dependencies tests and docs, ported)."""

from __future__ import annotations

from typing import Any

import pytest

import dataqueue as dq
from tests.conftest import FakeClock


async def get(queue: dq.JobQueue, job_id: int) -> dq.JobRecord:
    job = await queue.get_job(job_id)
    assert job is not None
    return job


async def status(queue: dq.JobQueue, job_id: int) -> str:
    return (await get(queue, job_id)).status.value


def processor(queue: dq.JobQueue, ran: list[int] | None = None, **fail: bool) -> Any:
    async def handler(payload: Any, ctx: dq.JobContext) -> None:
        if ran is not None:
            ran.append(ctx.job_id)
        if fail.get(ctx.job.job_type):
            raise RuntimeError("no")

    types = ("ingest", "transform", "finalize", "step_a", "step_b", "step_c", "w")
    return queue.create_processor(dict.fromkeys(types, handler), batch_size=1)


async def drain(queue: dq.JobQueue, proc: Any) -> None:
    while await proc.start():
        pass


async def test_a_linear_chain_runs_in_order(queue: dq.JobQueue) -> None:
    a = await queue.add_job("ingest", {"file": "f1"})
    b = await queue.add_job("transform", {"file": "f1"}, depends_on={"job_ids": [a]})
    c = await queue.add_job("finalize", {}, depends_on=dq.DependsOn(job_ids=[b]))
    job_b = await get(queue, b)
    assert (job_b.status, job_b.pending_reason) == (dq.JobStatus.PENDING, "dependency")
    assert (job_b.depends_on_job_ids, job_b.depends_on_tags) == ([a], None)
    assert (await get(queue, a)).pending_reason is None

    ran: list[int] = []
    await drain(queue, processor(queue, ran))
    assert ran == [a, b, c]
    for job_id in (a, b, c):
        job = await get(queue, job_id)
        assert job.status is dq.JobStatus.COMPLETED and job.attempts == 1
    events = [e.event_type.value for e in await queue.get_job_events(b)]
    assert events == ["added", "held", "released", "processing", "completed"]
    held = (await queue.get_job_events(b))[1]
    assert held.metadata == {"reason": "dependency"}


async def test_a_held_job_spends_no_attempt_and_is_not_claimed(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    a = await queue.add_job("ingest", {}, run_at=clock.now() + _hours(1))
    b = await queue.add_job("transform", {}, depends_on={"job_ids": [a]}, priority=9)
    ran: list[int] = []
    assert await processor(queue, ran).start() == 0
    assert ran == [] and (await get(queue, b)).attempts == 0
    clock.advance(_hours(1))
    await drain(queue, processor(queue, ran))
    assert ran == [a, b]


async def test_a_job_waits_for_every_prerequisite(queue: dq.JobQueue) -> None:
    a = await queue.add_job("step_a", {}, priority=1)
    b = await queue.add_job("step_b", {})
    c = await queue.add_job("step_c", {}, depends_on={"job_ids": [a, b, a]})
    assert (await get(queue, c)).depends_on_job_ids == [a, b]
    proc = processor(queue)
    assert await proc.start() == 1  # a
    assert (await get(queue, c)).pending_reason == "dependency"
    assert await proc.start() == 1  # b releases c
    assert (await get(queue, c)).pending_reason is None
    assert await proc.start() == 1
    assert await status(queue, c) == "completed"


async def test_a_completed_prerequisite_does_not_hold(queue: dq.JobQueue) -> None:
    a = await queue.add_job("ingest", {})
    await drain(queue, processor(queue))
    b = await queue.add_job("transform", {}, depends_on={"job_ids": [a]})
    job = await get(queue, b)
    assert job.pending_reason is None
    assert [e.event_type.value for e in await queue.get_job_events(b)] == ["added"]


async def test_batch_refs_name_jobs_of_the_same_call(queue: dq.JobQueue) -> None:
    ids = await queue.add_jobs(
        [
            dq.JobSpec("step_a", {}),
            dq.JobSpec("step_b", {}, depends_on={"job_ids": [dq.batch_ref(0)]}),
            dq.JobSpec(
                "step_c", {}, depends_on={"job_ids": [dq.batch_ref(0), dq.batch_ref(1)]}
            ),
        ]
    )
    id_a, id_b, id_c = ids
    assert (await get(queue, id_b)).depends_on_job_ids == [id_a]
    assert (await get(queue, id_c)).depends_on_job_ids == [id_a, id_b]
    ran: list[int] = []
    await drain(queue, processor(queue, ran))
    assert ran == [id_a, id_b, id_c]


async def test_a_batch_ref_may_name_a_later_job(queue: dq.JobQueue) -> None:
    first, second = await queue.add_jobs(
        [
            dq.JobSpec("step_b", {}, depends_on={"job_ids": [dq.batch_ref(1)]}),
            dq.JobSpec("step_a", {}),
        ]
    )
    assert (await get(queue, first)).depends_on_job_ids == [second]
    ran: list[int] = []
    await drain(queue, processor(queue, ran))
    assert ran == [second, first]


async def test_a_failed_prerequisite_cancels_its_dependents_transitively(
    queue: dq.JobQueue,
) -> None:
    a = await queue.add_job("ingest", {}, max_attempts=1)
    b = await queue.add_job("transform", {}, depends_on={"job_ids": [a]})
    c = await queue.add_job("finalize", {}, depends_on={"job_ids": [b]})
    other = await queue.add_job("step_a", {})
    await drain(queue, processor(queue, ingest=True))
    assert await status(queue, a) == "failed"
    assert await status(queue, b) == "cancelled"
    assert await status(queue, c) == "cancelled"
    assert await status(queue, other) == "completed"
    cancelled = (await queue.get_job_events(c))[-1]
    assert cancelled.event_type is dq.EventType.CANCELLED
    assert cancelled.metadata == {"reason": "dependency", "prerequisite": b}
    assert (await queue.get_job_events(b))[-1].metadata == {
        "reason": "dependency",
        "prerequisite": a,
    }


async def test_a_failure_with_a_retry_left_keeps_the_dependents_held(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    a = await queue.add_job(
        "ingest", {}, max_attempts=2, retry_delay=5, retry_backoff=False
    )
    b = await queue.add_job("transform", {}, depends_on={"job_ids": [a]})
    fails = {"ingest": True}
    await processor(queue, **fails).start()
    assert (await get(queue, b)).pending_reason == "dependency"
    clock.advance(5)
    await drain(queue, processor(queue))  # a completes on its retry
    assert await status(queue, b) == "completed"


async def test_a_cancelled_prerequisite_cancels_its_dependents(
    queue: dq.JobQueue,
) -> None:
    a = await queue.add_job("ingest", {})
    b = await queue.add_job("transform", {}, depends_on={"job_ids": [a]})
    c = await queue.add_job("finalize", {}, depends_on={"job_ids": [b]})
    assert await queue.cancel_job(a)
    assert [await status(queue, j) for j in (a, b, c)] == ["cancelled"] * 3
    for job_id, prerequisite in ((b, a), (c, b)):
        cancelled = (await queue.get_job_events(job_id))[-1]
        assert cancelled.event_type is dq.EventType.CANCELLED
        assert cancelled.metadata == {
            "reason": "dependency",
            "prerequisite": prerequisite,
        }


async def test_cancelling_in_bulk_cancels_dependents(queue: dq.JobQueue) -> None:
    a = await queue.add_job("ingest", {}, tags=["bulk"])
    b = await queue.add_job("transform", {}, depends_on={"job_ids": [a]})
    assert await queue.cancel_all_upcoming_jobs(tags={"values": ["bulk"]}) == 1
    assert await status(queue, b) == "cancelled"


async def test_a_held_job_can_be_cancelled_itself(queue: dq.JobQueue) -> None:
    a = await queue.add_job("ingest", {})
    b = await queue.add_job("transform", {}, depends_on={"job_ids": [a]})
    assert await queue.cancel_job(b)
    await drain(queue, processor(queue))
    assert (await status(queue, a), await status(queue, b)) == (
        "completed",
        "cancelled",
    )


async def test_a_tag_drain_waits_for_every_active_job_with_the_tags(
    queue: dq.JobQueue,
) -> None:
    w1 = await queue.add_job("w", {}, tags=["wave:1", "x"])
    w2 = await queue.add_job("w", {}, tags=["wave:1"])
    unrelated = await queue.add_job("w", {}, tags=["wave:2"])
    fin = await queue.add_job(
        "finalize", {}, tags=["wave:2"], depends_on={"tags": ["wave:1"]}
    )
    job = await get(queue, fin)
    assert (job.pending_reason, job.depends_on_tags) == ("dependency", ["wave:1"])
    proc = processor(queue)
    assert await proc.start() == 1  # w1
    assert (await get(queue, fin)).pending_reason == "dependency"
    assert await proc.start() == 1  # w2: the drain is clear
    assert (await get(queue, fin)).pending_reason is None
    await drain(queue, proc)
    assert {await status(queue, j) for j in (w1, w2, unrelated, fin)} == {"completed"}


async def test_a_tag_drain_needs_every_tag_on_the_blocker(queue: dq.JobQueue) -> None:
    await queue.add_job("w", {}, tags=["wave:1"])
    fin = await queue.add_job("finalize", {}, depends_on={"tags": ["wave:1", "eu"]})
    assert (await get(queue, fin)).pending_reason is None


async def test_a_tag_drain_is_not_held_by_the_job_itself(queue: dq.JobQueue) -> None:
    fin = await queue.add_job(
        "finalize", {}, tags=["wave:1"], depends_on={"tags": ["wave:1"]}
    )
    assert (await get(queue, fin)).pending_reason is None


async def test_a_failed_drain_blocker_cancels_the_drain(queue: dq.JobQueue) -> None:
    await queue.add_job("ingest", {}, tags=["wave:1"], max_attempts=1)
    fin = await queue.add_job("finalize", {}, depends_on={"tags": ["wave:1"]})
    await drain(queue, processor(queue, ingest=True))
    assert await status(queue, fin) == "cancelled"


async def test_a_blocker_added_while_held_keeps_the_drain_held(
    queue: dq.JobQueue,
) -> None:
    first = await queue.add_job("w", {}, tags=["wave:1"], priority=5)
    fin = await queue.add_job("finalize", {}, depends_on={"tags": ["wave:1"]})
    late = await queue.add_job("w", {}, tags=["wave:1"])
    proc = processor(queue)
    assert await proc.start() == 1
    assert await status(queue, first) == "completed"
    assert (await get(queue, fin)).pending_reason == "dependency"
    assert await proc.start() == 1
    assert await status(queue, late) == "completed"
    assert (await get(queue, fin)).pending_reason is None


async def test_a_tagged_job_the_drain_was_not_judged_on_does_not_cancel_it(
    queue: dq.JobQueue,
) -> None:
    """The drain was judged clear at add (the job is held on its listed id
    only); a job with the drain's tags added after it fails for good before
    the drain is judged again: the held job stays held, and is released
    once its prerequisite completes (PostgreSQL once cancelled it)."""
    a = await queue.add_job("ingest", {})
    fin = await queue.add_job(
        "finalize", {}, depends_on={"job_ids": [a], "tags": ["wave:1"]}
    )
    late = await queue.add_job("w", {}, tags=["wave:1"], max_attempts=1)

    async def refuse(payload: Any) -> None:
        raise RuntimeError("no")

    assert await queue.create_processor({"w": refuse}, job_type="w").start() == 1
    assert await status(queue, late) == "failed"
    assert (await status(queue, fin), (await get(queue, fin)).pending_reason) == (
        "pending",
        "dependency",
    )
    ran: list[int] = []
    await drain(queue, processor(queue, ran))
    assert ran == [a, fin]


async def test_ids_and_tags_together_need_both(queue: dq.JobQueue) -> None:
    a = await queue.add_job("ingest", {})
    wave = await queue.add_job("w", {}, tags=["wave:1"])
    fin = await queue.add_job(
        "finalize", {}, depends_on={"job_ids": [a], "tags": ["wave:1"]}
    )
    ran: list[int] = []
    await drain(queue, processor(queue, ran))
    assert ran[-1] == fin and set(ran) == {a, wave, fin}


async def test_a_reclaimed_prerequisite_that_died_for_good_cancels_dependents(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    a = await queue.add_job("ingest", {}, max_attempts=1)
    b = await queue.add_job("transform", {}, depends_on={"job_ids": [a]})
    exchange = await queue.backend.settle_and_claim([], _claim(), now=clock.now())
    assert [j.id for j in exchange.claimed] == [a]
    clock.advance(600)
    assert await queue.reclaim_stuck_jobs(1) == 1
    assert (await status(queue, a), await status(queue, b)) == ("failed", "cancelled")


async def test_an_unknown_prerequisite_is_refused_and_nothing_is_written(
    queue: dq.JobQueue,
) -> None:
    a = await queue.add_job("ingest", {})
    with pytest.raises(dq.DependencyError, match=r"do not exist: \[999999\]"):
        await queue.add_jobs(
            [
                dq.JobSpec("step_a", {}),
                dq.JobSpec("step_b", {}, depends_on={"job_ids": [a, 999999]}),
            ]
        )
    assert [j.id for j in await queue.get_all_jobs()] == [a]


@pytest.mark.parametrize(
    ("depends_on", "error", "match"),
    [
        ({"job_ids": [dq.batch_ref(1)]}, dq.DependencyError, "cannot depend on itself"),
        ({"job_ids": [dq.batch_ref(5)]}, dq.DependencyError, "out of range for 2"),
        ({"job_ids": [0]}, ValueError, "depends_on job id"),
        ({"job_ids": ["7"]}, TypeError, "depends_on job id"),
        ({"job_ids": 7}, TypeError, "job_ids must be a list"),
        ({"ids": [1]}, ValueError, r"takes job_ids and tags, not \['ids'\]"),
        ("a", TypeError, "depends_on must be a dataqueue.DependsOn or a dict"),
    ],
)
async def test_bad_dependencies_are_refused(
    queue: dq.JobQueue, depends_on: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        await queue.add_jobs(
            [dq.JobSpec("step_a", {}), dq.JobSpec("step_b", {}, depends_on=depends_on)]
        )
    assert await queue.get_all_jobs() == []


async def test_a_cycle_in_one_call_is_refused(queue: dq.JobQueue) -> None:
    with pytest.raises(dq.DependencyError, match=r"cycle: specs\[0\] -> specs\[2\]"):
        await queue.add_jobs(
            [
                dq.JobSpec("step_a", {}, depends_on={"job_ids": [dq.batch_ref(2)]}),
                dq.JobSpec("step_b", {}),
                dq.JobSpec("step_c", {}, depends_on={"job_ids": [dq.batch_ref(0)]}),
            ]
        )
    assert await queue.get_all_jobs() == []


async def test_batch_ref_is_only_for_add_jobs(queue: dq.JobQueue) -> None:
    with pytest.raises(ValueError, match="only taken by add_jobs"):
        await queue.add_job("step_a", {}, depends_on={"job_ids": [dq.batch_ref(0)]})


def test_batch_ref_takes_an_index() -> None:
    assert dq.batch_ref(2) == dq.BatchRef(2)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="index must be an int >= 0"):
            dq.batch_ref(bad)  # type: ignore[arg-type]


async def test_empty_dependencies_hold_nothing(queue: dq.JobQueue) -> None:
    job_id = await queue.add_job("step_a", {}, depends_on={"job_ids": [], "tags": []})
    job = await get(queue, job_id)
    assert (job.pending_reason, job.depends_on_job_ids, job.depends_on_tags) == (
        None,
        None,
        None,
    )


def _hours(n: int) -> Any:
    from datetime import timedelta

    return timedelta(hours=n)


def _claim() -> Any:
    from dataqueue._commands import ClaimRequest

    return ClaimRequest(worker_id="dead", token="t", limit=1)
