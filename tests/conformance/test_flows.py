"""Flows: steps as ordinary jobs, a barrier in the store, one join — on
every store. Step handlers know nothing of the flow; joins are counted by
their handler, outside the store."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

import dataqueue as dq
from dataqueue._commands import ClaimRequest, Completion, Lease
from dataqueue.testing import FakeClock


async def run_until_idle(queue: dq.JobQueue, handlers: dict[str, Any]) -> int:
    """Run batches until none is left; returns how many jobs ran."""
    processor = queue.create_processor(handlers, batch_size=50, concurrency=10)
    ran = 0
    while n := await processor.start():
        ran += n
    return ran


class Joins:
    """A join handler that records every payload it is called with."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []

    async def __call__(self, payload: dict[str, Any]) -> dict[str, int]:
        self.payloads.append(payload)
        return {"steps": len(payload["flow_results"]["steps"])}


async def ok(payload: dict[str, Any]) -> dict[str, Any]:
    return {"done": payload["n"]}


async def bad(payload: dict[str, Any]) -> None:
    raise RuntimeError(f"step {payload['n']} broke")


HANDLERS_OK_BAD = {"ok": ok, "bad": bad}


async def test_continue_policy_joins_once_with_every_outcome(
    queue: dq.JobQueue,
) -> None:
    joins = Joins()
    flow_id = await queue.start_flow(
        steps=[
            dq.JobSpec("ok", {"n": 0}),
            dq.JobSpec("bad", {"n": 1}, max_attempts=1),
            dq.JobSpec("ok", {"n": 2}),
        ],
        join=dq.JobSpec("item_done", {"item": 7}, priority=3),
    )
    await run_until_idle(queue, {**HANDLERS_OK_BAD, "item_done": joins})

    assert len(joins.payloads) == 1
    payload = joins.payloads[0]
    flow = await queue.get_flow(flow_id)
    assert flow is not None
    steps = await queue.get_jobs(status="completed", job_type="ok")
    ids = {job.payload["n"]: job.id for job in steps}
    (failed,) = await queue.get_jobs(job_type="bad")
    assert payload == {
        "item": 7,
        "flow_results": {
            "steps": [
                {
                    "step_index": 0,
                    "job_id": ids[0],
                    "status": "success",
                    "result": {"done": 0},
                },
                {
                    "step_index": 1,
                    "job_id": failed.id,
                    "status": "fail",
                    "error": "RuntimeError: step 1 broke",
                },
                {
                    "step_index": 2,
                    "job_id": ids[2],
                    "status": "success",
                    "result": {"done": 2},
                },
            ],
            "aborted": False,
            "timed_out": False,
        },
    }
    assert flow.status is dq.FlowStatus.JOINED
    assert (flow.total_steps, flow.remaining_steps) == (3, 0)
    assert not flow.aborted and not flow.timed_out
    assert flow.failure_policy == "continue"
    assert flow.join_job_type == "item_done"
    assert flow.join_job_id is not None
    join = await queue.get_job(flow.join_job_id)
    assert join is not None
    assert join.status is dq.JobStatus.COMPLETED
    assert join.flow_id == flow_id and join.flow_step_index is None
    assert join.priority == 3
    assert [(s.step_index, s.outcome, s.job_type) for s in flow.steps] == [
        (0, "success", "ok"),
        (1, "fail", "bad"),
        (2, "success", "ok"),
    ]
    assert [s.status for s in flow.steps] == [
        dq.JobStatus.COMPLETED,
        dq.JobStatus.FAILED,
        dq.JobStatus.COMPLETED,
    ]
    assert flow.steps[0].result == {"done": 0}
    assert flow.steps[1].error == "RuntimeError: step 1 broke"
    step_job = await queue.get_job(ids[2])
    assert step_job is not None
    assert (step_job.flow_id, step_job.flow_step_index) == (flow_id, 2)


async def test_a_step_that_fails_then_succeeds_counts_once(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    runs: Counter[int] = Counter()

    async def flaky(payload: dict[str, Any]) -> str:
        runs[payload["n"]] += 1
        if runs[payload["n"]] == 1:
            raise RuntimeError("first try fails")
        return "fine"

    joins = Joins()
    flow_id = await queue.start_flow(
        [dq.JobSpec("flaky", {"n": 0}, retry_delay=10, retry_backoff=False)],
        dq.JobSpec("join"),
    )
    handlers = {"flaky": flaky, "join": joins}
    await run_until_idle(queue, handlers)
    flow = await queue.get_flow(flow_id)
    assert flow is not None
    assert flow.status is dq.FlowStatus.RUNNING and flow.remaining_steps == 1
    assert flow.steps[0].outcome is None
    assert joins.payloads == []

    clock.advance(11)
    await run_until_idle(queue, handlers)
    assert runs[0] == 2
    assert [p["flow_results"]["steps"] for p in joins.payloads] == [
        [
            {
                "step_index": 0,
                "job_id": flow.steps[0].job_id,
                "status": "success",
                "result": "fine",
            }
        ]
    ]


async def test_abort_joins_at_the_first_final_failure(queue: dq.JobQueue) -> None:
    joins = Joins()
    flow_id = await queue.start_flow(
        [
            dq.JobSpec("ok", {"n": 0}),
            dq.JobSpec("bad", {"n": 1}, max_attempts=1),
            dq.JobSpec("ok", {"n": 2}),
        ],
        dq.JobSpec("join", {"keep": True}),
        failure_policy="abort",
    )
    # Only the failing step runs first: the join is due at once.
    await queue.create_processor({"bad": bad}, job_type="bad").start()
    flow = await queue.get_flow(flow_id)
    assert flow is not None
    assert flow.status is dq.FlowStatus.JOINED and flow.aborted
    assert flow.join_job_id is not None

    await run_until_idle(queue, {**HANDLERS_OK_BAD, "join": joins})
    assert len(joins.payloads) == 1
    results = joins.payloads[0]["flow_results"]
    assert joins.payloads[0]["keep"] is True
    assert results["aborted"] is True and results["timed_out"] is False
    assert [(s["step_index"], s["status"]) for s in results["steps"]] == [(1, "fail")]
    # The steps still ran; their outcomes changed nothing.
    after = await queue.get_flow(flow_id)
    assert after is not None
    assert [s.outcome for s in after.steps] == [None, "fail", None]
    assert [s.status for s in after.steps] == [
        dq.JobStatus.COMPLETED,
        dq.JobStatus.FAILED,
        dq.JobStatus.COMPLETED,
    ]
    assert after.join_job_id == flow.join_job_id
    assert len(await queue.get_jobs(job_type="join")) == 1


async def test_timeout_joins_at_the_deadline_with_what_finished(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    joins = Joins()
    flow_id = await queue.start_flow(
        [dq.JobSpec("ok", {"n": 0}), dq.JobSpec("slow", {"n": 1})],
        dq.JobSpec("join"),
        timeout=300,
    )
    await queue.create_processor({"ok": ok}, job_type="ok").start()
    supervisor = queue.create_supervisor()
    clock.advance(299)
    assert (await supervisor.start()).enqueued_flow_joins == 0
    flow = await queue.get_flow(flow_id)
    assert flow is not None and flow.status is dq.FlowStatus.RUNNING
    assert flow.timeout_at == clock.now() + timedelta(seconds=1)

    clock.advance(2)
    assert (await supervisor.start()).enqueued_flow_joins == 1
    assert (await supervisor.start()).enqueued_flow_joins == 0
    await run_until_idle(queue, {"ok": ok, "slow": ok, "join": joins})
    assert len(joins.payloads) == 1
    results = joins.payloads[0]["flow_results"]
    assert results["timed_out"] is True and results["aborted"] is False
    assert [s["step_index"] for s in results["steps"]] == [0]
    after = await queue.get_flow(flow_id)
    assert after is not None
    assert after.status is dq.FlowStatus.JOINED and after.timed_out
    assert after.steps[1].status is dq.JobStatus.COMPLETED
    assert after.steps[1].outcome is None


async def test_a_flow_done_before_its_deadline_ignores_it(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    joins = Joins()
    flow_id = await queue.start_flow(
        [dq.JobSpec("ok", {"n": 0})], dq.JobSpec("join"), timeout=60
    )
    await run_until_idle(queue, {"ok": ok, "join": joins})
    clock.advance(120)
    assert (await queue.create_supervisor().start()).enqueued_flow_joins == 0
    flow = await queue.get_flow(flow_id)
    assert flow is not None and not flow.timed_out
    assert len(joins.payloads) == 1


async def test_nested_flows_from_a_join(queue: dq.JobQueue) -> None:
    finals = Joins()
    inner_ids: list[str] = []

    async def outer_join(payload: dict[str, Any], ctx: dq.JobContext) -> str:
        steps = [
            dq.JobSpec("ok", {"n": 10 + s["step_index"]})
            for s in payload["flow_results"]["steps"]
        ]
        inner = await ctx.start_flow(steps, dq.JobSpec("final", {"outer": True}))
        inner_ids.append(inner)
        return inner

    outer = await queue.start_flow(
        [dq.JobSpec("ok", {"n": 0}), dq.JobSpec("ok", {"n": 1})],
        dq.JobSpec("outer_join"),
    )
    await run_until_idle(queue, {"ok": ok, "outer_join": outer_join, "final": finals})
    assert len(inner_ids) == 1 and inner_ids[0] != outer
    assert len(finals.payloads) == 1
    results = finals.payloads[0]["flow_results"]["steps"]
    assert [s["result"] for s in results] == [{"done": 10}, {"done": 11}]
    inner = await queue.get_flow(inner_ids[0])
    assert inner is not None and inner.status is dq.FlowStatus.JOINED


async def test_a_handler_resumed_after_its_flow_was_cleaned_up_starts_none(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    finals = Joins()

    async def starter(payload: dict[str, Any], ctx: dq.JobContext) -> str:
        flow_id = await ctx.start_flow(
            [dq.JobSpec("ok", {"n": 0})], dq.JobSpec("final")
        )
        await ctx.wait_for(days=40)
        return flow_id

    handlers = {"starter": starter, "ok": ok, "final": finals}
    starter_id = await queue.add_job("starter")
    await run_until_idle(queue, handlers)
    (flow,) = await queue.list_flows()
    clock.advance(timedelta(days=41))
    assert await queue.cleanup_old_jobs(30) == 2
    assert await queue.list_flows() == []
    await run_until_idle(queue, handlers)
    job = await queue.get_job(starter_id)
    assert job is not None and job.output == flow.id
    assert await queue.list_flows() == []
    assert len(finals.payloads) == 1


async def test_sync_handler_starts_a_flow(queue: dq.JobQueue) -> None:
    finals = Joins()

    def starter(payload: dict[str, Any], ctx: dq.SyncJobContext) -> str:
        return ctx.start_flow([dq.JobSpec("ok", {"n": 5})], dq.JobSpec("final"))

    await queue.add_job("starter")
    await run_until_idle(queue, {"starter": starter, "ok": ok, "final": finals})
    assert [len(p["flow_results"]["steps"]) for p in finals.payloads] == [1]


async def test_a_step_outcome_recorded_twice_counts_once(queue: dq.JobQueue) -> None:
    joins = Joins()
    flow_id = await queue.start_flow(
        [dq.JobSpec("bad", {"n": 0}, max_attempts=1), dq.JobSpec("ok", {"n": 1})],
        dq.JobSpec("join"),
    )
    await queue.create_processor({"bad": bad}, job_type="bad").start()
    flow = await queue.get_flow(flow_id)
    assert flow is not None and flow.remaining_steps == 1
    # The failed step is retried by hand and now succeeds: its first final
    # outcome stands, and the barrier does not move again.
    await queue.retry_job(flow.steps[0].job_id)
    await queue.create_processor({"bad": ok}, job_type="bad").start()
    flow = await queue.get_flow(flow_id)
    assert flow is not None
    assert flow.remaining_steps == 1 and flow.status is dq.FlowStatus.RUNNING
    assert flow.steps[0].outcome == "fail"

    await run_until_idle(queue, {"ok": ok, "join": joins})
    assert len(joins.payloads) == 1
    assert [s["status"] for s in joins.payloads[0]["flow_results"]["steps"]] == [
        "fail",
        "success",
    ]


async def test_a_completion_under_a_lost_lease_moves_no_barrier(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    flow_id = await queue.start_flow(
        [dq.JobSpec("ok", {"n": 0}), dq.JobSpec("ok", {"n": 1})],
        dq.JobSpec("join"),
    )
    store = queue.backend
    first = await store.settle_and_claim(
        [], ClaimRequest("w1", "lease-1", 1), now=clock.now()
    )
    (job,) = first.claimed
    assert isinstance(job, dq.JobRecord)
    clock.advance(120)
    assert await queue.reclaim_stuck_jobs(1) == 1
    second = await store.settle_and_claim(
        [], ClaimRequest("w2", "lease-2", 2), now=clock.now()
    )
    assert job.id in [j.id for j in second.claimed]
    done = Completion(Lease(job.id, "lease-2"), "ok", {})
    stale = Completion(Lease(job.id, "lease-1"), "stale", {})
    written = await store.settle_and_claim([stale, done], None, now=clock.now())
    assert written.settled == [False, True]
    again = await store.settle_and_claim([done], None, now=clock.now())
    assert again.settled == [False] and again.ready_flows == []
    flow = await queue.get_flow(flow_id)
    assert flow is not None
    assert flow.remaining_steps == 1
    assert [s.outcome for s in flow.steps].count("success") == 1


async def test_cancelling_a_step_counts_as_a_failure(queue: dq.JobQueue) -> None:
    joins = Joins()
    flow_id = await queue.start_flow(
        [dq.JobSpec("ok", {"n": 0}), dq.JobSpec("later", {"n": 1})],
        dq.JobSpec("join"),
    )
    await queue.create_processor({"ok": ok}, job_type="ok").start()
    flow = await queue.get_flow(flow_id)
    assert flow is not None
    await queue.cancel_job(flow.steps[1].job_id)
    flow = await queue.get_flow(flow_id)
    assert flow is not None and flow.status is dq.FlowStatus.JOINED
    await run_until_idle(queue, {"join": joins})
    (payload,) = joins.payloads
    assert payload["flow_results"]["steps"][1] == {
        "step_index": 1,
        "job_id": flow.steps[1].job_id,
        "status": "fail",
        "error": "cancelled",
    }


async def test_under_abort_a_bulk_cancel_records_only_its_first_fail(
    queue: dq.JobQueue,
) -> None:
    joins = Joins()
    flow_id = await queue.start_flow(
        [dq.JobSpec("later", {"n": n}, tags=["cut"]) for n in range(3)],
        dq.JobSpec("join"),
        failure_policy="abort",
    )
    assert await queue.cancel_all_upcoming_jobs(tags={"values": ["cut"]}) == 3
    flow = await queue.get_flow(flow_id)
    assert flow is not None and flow.aborted
    assert [s.outcome for s in flow.steps] == ["fail", None, None]
    assert flow.remaining_steps == 2
    await run_until_idle(queue, {"join": joins})
    (payload,) = joins.payloads
    assert [s["step_index"] for s in payload["flow_results"]["steps"]] == [0]


async def test_a_step_whose_worker_died_for_good_is_a_failure(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    flow_id = await queue.start_flow(
        [dq.JobSpec("crashy", {"n": 0}, max_attempts=1)], dq.JobSpec("join")
    )
    claimed = await queue.backend.settle_and_claim(
        [], ClaimRequest("gone", "lease", 1), now=clock.now()
    )
    assert len(claimed.claimed) == 1
    clock.advance(600)
    assert await queue.reclaim_stuck_jobs(1) == 1
    flow = await queue.get_flow(flow_id)
    assert flow is not None and flow.status is dq.FlowStatus.JOINED
    assert flow.steps[0].outcome == "fail"
    assert flow.steps[0].error is not None and "worker lost" in flow.steps[0].error


async def test_many_processors_join_exactly_once(
    make_queue: Callable[..., Awaitable[dq.JobQueue]],
) -> None:
    queues = [await make_queue() for _ in range(4)]
    joins = Joins()
    steps = [dq.JobSpec("ok", {"n": n}) for n in range(200)]
    flow_id = await queues[0].start_flow(steps, dq.JobSpec("join"))
    handlers = {"ok": ok, "join": joins}
    processors = [
        q.create_processor(handlers, batch_size=7, concurrency=5, poll_interval=0.05)
        for q in queues
    ]
    for processor in processors:
        processor.start_in_background()
    try:
        await queues[0].wait_for_job(await join_id(queues[0], flow_id), timeout=60)
    finally:
        await asyncio.gather(*(p.stop_and_drain(5) for p in processors))
    assert len(joins.payloads) == 1
    results = joins.payloads[0]["flow_results"]["steps"]
    assert [s["step_index"] for s in results] == list(range(200))
    assert [s["result"] for s in results] == [{"done": n} for n in range(200)]


async def join_id(queue: dq.JobQueue, flow_id: str, timeout: float = 60) -> int:
    """The flow's join job id, once it is enqueued."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        flow = await queue.get_flow(flow_id)
        assert flow is not None
        if flow.join_job_id is not None:
            return flow.join_job_id
        assert loop.time() < deadline, f"flow still {flow.status}: {flow}"
        await asyncio.sleep(0.02)


async def test_entity_and_listing(queue: dq.JobQueue) -> None:
    first = await queue.start_flow(
        [dq.JobSpec("ok", {"n": 0})],
        dq.JobSpec("join"),
        entity={"id": "item-1", "type": "item"},
    )
    second = await queue.start_flow([dq.JobSpec("ok", {"n": 1})], dq.JobSpec("join"))
    flows = await queue.list_flows()
    assert [f.id for f in flows] == [second, first]
    assert all(f.steps == [] for f in flows)
    assert flows[1].entity == {"id": "item-1", "type": "item"}
    assert [f.id for f in await queue.list_flows("running", limit=1)] == [second]
    assert [f.id for f in await queue.list_flows(offset=1)] == [first]
    assert await queue.list_flows(dq.FlowStatus.JOINED) == []
    step_jobs = await queue.get_jobs(job_type="ok")
    assert all(job.entity is None for job in step_jobs)
    assert await queue.get_flow("6f1c7f43-0000-4000-8000-000000000000") is None


async def test_cleanup_deletes_old_joined_flows_only(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    joins = Joins()
    old = await queue.start_flow([dq.JobSpec("ok", {"n": 0})], dq.JobSpec("join"))
    running = await queue.start_flow(
        [dq.JobSpec("later", {"n": 1})], dq.JobSpec("join")
    )
    await run_until_idle(queue, {"ok": ok, "join": joins})
    clock.advance(timedelta(days=31))
    recent = await queue.start_flow([dq.JobSpec("ok", {"n": 2})], dq.JobSpec("join"))
    await run_until_idle(queue, {"ok": ok, "join": joins})
    assert await queue.cleanup_old_jobs(30) == 2  # the old flow's step and join
    assert await queue.get_flow(old) is None
    assert await queue.get_flow(running) is not None
    kept = await queue.get_flow(recent)
    assert kept is not None and kept.status is dq.FlowStatus.JOINED
    assert {f.id for f in await queue.list_flows()} == {running, recent}


@pytest.mark.parametrize(
    ("steps", "join", "options", "error", "message"),
    [
        ([], dq.JobSpec("j"), {}, ValueError, "at least one step"),
        ("ok", dq.JobSpec("j"), {}, TypeError, "steps must be a list"),
        (["ok"], dq.JobSpec("j"), {}, TypeError, r"steps\[0\] must be"),
        ([dq.JobSpec("ok")], "j", {}, TypeError, "join must be"),
        (
            [dq.JobSpec("ok")],
            dq.JobSpec("j"),
            {"failure_policy": "stop"},
            ValueError,
            "failure_policy",
        ),
        (
            [dq.JobSpec("ok"), dq.JobSpec("ok", {"when": object()})],
            dq.JobSpec("j"),
            {},
            TypeError,
            r"steps\[1\]",
        ),
        ([dq.JobSpec("ok")], dq.JobSpec("j", [1]), {}, TypeError, "must be a dict"),
        (
            [dq.JobSpec("ok")],
            dq.JobSpec("j", {"flow_results": 1}),
            {},
            ValueError,
            "flow_results",
        ),
        (
            [dq.JobSpec("ok", idempotency_key="k")],
            dq.JobSpec("j"),
            {},
            ValueError,
            "idempotency_key",
        ),
        ([dq.JobSpec("ok")], dq.JobSpec("j"), {"timeout": -1}, ValueError, "timeout"),
        (
            [dq.JobSpec("ok")],
            dq.JobSpec("j"),
            {"entity": {"id": "x"}},
            ValueError,
            "entity",
        ),
    ],
)
async def test_bad_flows_raise_and_write_nothing(
    queue: dq.JobQueue,
    steps: Any,
    join: Any,
    options: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        await queue.start_flow(steps, join, **options)
    assert await queue.list_flows() == []
    assert sum((await queue.count_jobs()).values()) == 0


async def test_bad_flow_ids_are_refused(queue: dq.JobQueue) -> None:
    with pytest.raises(ValueError, match="flow_id"):
        await queue.get_flow("not-a-flow")
    with pytest.raises(TypeError, match="flow_id"):
        await queue.get_flow(7)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="status"):
        await queue.list_flows("done")


# -- results and counts ---------------------------------------------------------


async def test_wait_for_job_is_woken_when_the_job_ends(
    make_queue: Callable[..., Awaitable[dq.JobQueue]],
) -> None:
    waiter, worker = await make_queue(), await make_queue()
    job_id = await waiter.add_job("ok", {"n": 3})
    waiting = asyncio.ensure_future(waiter.wait_for_job(job_id, timeout=30))
    await asyncio.sleep(0)
    assert not waiting.done()
    await worker.create_processor({"ok": ok}).start()
    job = await waiting
    assert job.status is dq.JobStatus.COMPLETED and job.output == {"done": 3}


async def test_wait_for_job_returns_a_final_job_at_once_and_times_out(
    queue: dq.JobQueue,
) -> None:
    done = await queue.add_job("ok", {"n": 1})
    await queue.create_processor({"ok": ok}).start()
    assert (await queue.wait_for_job(done)).status is dq.JobStatus.COMPLETED

    cancelled = await queue.add_job("ok", {"n": 2})
    await queue.cancel_job(cancelled)
    assert (await queue.wait_for_job(cancelled)).status is dq.JobStatus.CANCELLED

    pending = await queue.add_job("ok", {"n": 3})
    with pytest.raises(TimeoutError, match=f"job {pending} is still pending"):
        await queue.wait_for_job(pending, timeout=0.05)
    with pytest.raises(LookupError, match="no job 999999"):
        await queue.wait_for_job(999_999)
    with pytest.raises(ValueError, match="timeout"):
        await queue.wait_for_job(pending, timeout=-1)


async def test_wait_for_job_waits_through_retries(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    job_id = await queue.add_job(
        "bad", {"n": 0}, max_attempts=2, retry_delay=5, retry_backoff=False
    )
    await queue.create_processor({"bad": bad}).start()
    with pytest.raises(TimeoutError, match="still failed"):
        await queue.wait_for_job(job_id, timeout=0.05)
    clock.advance(6)
    await queue.create_processor({"bad": bad}).start()
    job = await queue.wait_for_job(job_id, timeout=5)
    assert job.status is dq.JobStatus.FAILED and job.next_attempt_at is None


async def test_count_jobs_per_status(queue: dq.JobQueue) -> None:
    assert await queue.count_jobs() == {status: 0 for status in dq.JobStatus}
    await queue.add_job("ok", {"n": 1}, tags=["a"])
    await queue.add_job("ok", {"n": 2})
    cancelled = await queue.add_job("other", tags=["a"])
    await queue.cancel_job(cancelled)
    await queue.create_processor({"ok": ok}, job_type="ok", batch_size=1).start()
    counts = await queue.count_jobs()
    assert counts[dq.JobStatus.COMPLETED] == 1
    assert counts[dq.JobStatus.PENDING] == 1
    assert counts[dq.JobStatus.CANCELLED] == 1
    assert sum(counts.values()) == 3
    assert (await queue.count_jobs(job_type="ok"))[dq.JobStatus.CANCELLED] == 0
    tagged = await queue.count_jobs(tags={"values": ["a"]})
    assert sum(tagged.values()) == 2
