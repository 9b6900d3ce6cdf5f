"""Flows, job-finished signals, counts and workers on the Redis store: what
its scripts and keys show beyond the conformance tests (the barrier under
concurrent connections, one signal per script, the keys a flow leaves)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis_helpers import NOW, claim, done, failed, new_job, prefix_keys, settle
from tests.conftest import REDIS_URL, eventually

from dataqueue._commands import (
    ClaimRequest,
    Exchange,
    JobFilter,
    NewFlow,
    NewJob,
    Outcome,
    WorkerBeat,
)
from dataqueue.backends.redis import RedisBackend, keys
from dataqueue.backends.redis.scripts import script_sources
from dataqueue.models import (
    FailurePolicy,
    FlowRecord,
    FlowStatus,
    JobStatus,
    WorkerInfo,
)

MakeBackend = Callable[..., Awaitable[RedisBackend]]
MINUTE = timedelta(minutes=1)


def new_flow(
    steps: int,
    policy: FailurePolicy = "continue",
    timeout_at: datetime | None = None,
    job_type: str = "step",
) -> NewFlow:
    flow_id = str(uuid.uuid4())
    return NewFlow(
        id=flow_id,
        steps=[
            new_job(
                job_type, payload={"n": index}, flow_id=flow_id, flow_step_index=index
            )
            for index in range(steps)
        ],
        join_job_type="join",
        join_spec='{"job_type": "join"}',
        failure_policy=policy,
        timeout_at=timeout_at,
        entity={"id": "item-1", "type": "item"},
    )


def join_of(flow: NewFlow) -> NewJob:
    return new_job("join", payload={"flow_results": {}}, flow_id=flow.id)


async def record(backend: RedisBackend, flow_id: str) -> FlowRecord:
    stored = await backend.get_flow(flow_id)
    assert stored is not None
    return stored.record


async def test_concurrent_settles_make_a_flow_ready_exactly_once(
    make_backend: MakeBackend, prefix: str
) -> None:
    backends = [await make_backend(prefix) for _ in range(4)]
    flow = new_flow(300)
    await backends[0].start_flow(flow, now=NOW)
    exchanges: list[Exchange] = []

    async def worker(index: int) -> None:
        backend = backends[index % 4]
        outcomes: list[Outcome] = []
        while True:
            token = uuid.uuid4().hex
            request = ClaimRequest(f"w{index}", token, 7, None)
            exchange = await backend.settle_and_claim(outcomes, request, now=NOW)
            exchanges.append(exchange)
            outcomes = [done(job.id, token) for job in exchange.claimed]
            if not outcomes:
                return

    await asyncio.gather(*(worker(i) for i in range(12)))
    assert [flow_id for e in exchanges for flow_id in e.ready_flows] == [flow.id]
    assert sum(e.settled.count(True) for e in exchanges) == 300
    flow_now = await record(backends[0], flow.id)
    assert (flow_now.status, flow_now.remaining_steps) == (FlowStatus.READY, 0)
    assert {step.outcome for step in flow_now.steps} == {"success"}
    assert await backends[0].get_ready_flows(10) == [flow.id]


async def test_the_last_two_steps_settled_at_once_ready_the_flow_once(
    make_backend: MakeBackend, prefix: str
) -> None:
    first, second = await make_backend(prefix), await make_backend(prefix)
    flows = [new_flow(2) for _ in range(30)]
    for flow in flows:
        await first.start_flow(flow, now=NOW)
    for _ in flows:
        token_a, [step_a] = await claim(first, 1)
        token_b, [step_b] = await claim(second, 1)
        assert step_a.flow_id == step_b.flow_id
        results = await asyncio.gather(
            first.settle_and_claim([done(step_a.id, token_a)], None, now=NOW),
            second.settle_and_claim([done(step_b.id, token_b)], None, now=NOW),
        )
        assert [f for r in results for f in r.ready_flows] == [step_a.flow_id]
    listed = await first.list_flows(FlowStatus.READY, 100, 0)
    assert sorted(f.id for f in listed) == sorted(f.id for f in flows)
    assert {(f.remaining_steps, f.total_steps) for f in listed} == {(0, 2)}


async def test_outcomes_after_an_abort_are_not_recorded(backend: RedisBackend) -> None:
    flow = new_flow(3, policy="abort")
    first, second, third = await backend.start_flow(flow, now=NOW)
    token, jobs = await claim(backend, 2)
    assert [job.id for job in jobs] == [first, second]
    exchange = await backend.settle_and_claim([failed(first, token)], None, now=NOW)
    assert exchange.ready_flows == [flow.id]
    aborted = await record(backend, flow.id)
    assert (aborted.status, aborted.aborted, aborted.remaining_steps) == (
        FlowStatus.READY,
        True,
        2,
    )

    later = NOW + MINUTE
    exchange = await backend.settle_and_claim([done(second, token)], None, now=later)
    assert exchange.settled == [True] and exchange.ready_flows == []
    assert await backend.cancel_job(third, now=later)
    after = await record(backend, flow.id)
    assert [step.outcome for step in after.steps] == ["fail", None, None]
    assert [step.status for step in after.steps] == [
        JobStatus.FAILED,
        JobStatus.COMPLETED,
        JobStatus.CANCELLED,
    ]
    assert (after.remaining_steps, after.updated_at) == (2, NOW)
    assert after.steps[0].error == "boom"


async def test_a_timed_out_flow_records_no_late_step(
    backend: RedisBackend, client: aioredis.Redis, prefix: str
) -> None:
    flow = new_flow(2, timeout_at=NOW + MINUTE)
    first, _ = await backend.start_flow(flow, now=NOW)
    token, _ = await claim(backend, 1)
    assert await backend.time_out_flows(now=NOW + MINUTE - timedelta(seconds=1)) == []
    assert await backend.time_out_flows(now=NOW + MINUTE) == [flow.id]
    assert await client.zcard(keys.flow_timeouts(prefix)) == 0
    assert await backend.time_out_flows(now=NOW + 2 * MINUTE) == []

    exchange = await backend.settle_and_claim(
        [done(first, token, "late")], None, now=NOW + 2 * MINUTE
    )
    assert exchange.settled == [True] and exchange.ready_flows == []
    timed_out = await record(backend, flow.id)
    assert (timed_out.status, timed_out.timed_out, timed_out.aborted) == (
        FlowStatus.READY,
        True,
        False,
    )
    assert timed_out.timeout_at == NOW + MINUTE
    assert [step.outcome for step in timed_out.steps] == [None, None]
    assert timed_out.remaining_steps == 2


async def test_a_flow_made_ready_by_its_steps_leaves_the_deadlines(
    backend: RedisBackend, client: aioredis.Redis, prefix: str
) -> None:
    flow = new_flow(1, timeout_at=NOW + MINUTE)
    [step] = await backend.start_flow(flow, now=NOW)
    assert await client.zscore(keys.flow_timeouts(prefix), flow.id) is not None
    token, _ = await claim(backend, 1)
    assert (await backend.settle_and_claim([done(step, token)], None, now=NOW)) == (
        Exchange(settled=[True], claimed=[], ready_flows=[flow.id])
    )
    assert await client.zscore(keys.flow_timeouts(prefix), flow.id) is None
    assert await backend.time_out_flows(now=NOW + MINUTE) == []
    assert not (await record(backend, flow.id)).timed_out


async def test_racing_joins_insert_one_job(
    make_backend: MakeBackend, prefix: str
) -> None:
    backends = [await make_backend(prefix) for _ in range(4)]
    flow = new_flow(1, policy="abort")
    [step] = await backends[0].start_flow(flow, now=NOW)
    assert await backends[0].enqueue_flow_join(flow.id, join_of(flow), now=NOW) is None
    token, _ = await claim(backends[0], 1)
    await settle(backends[0], failed(step, token))

    ids = await asyncio.gather(
        *(
            backends[i % 4].enqueue_flow_join(flow.id, join_of(flow), now=NOW)
            for i in range(20)
        )
    )
    [join_id] = [job_id for job_id in ids if job_id is not None]
    joined = await record(backends[0], flow.id)
    assert (joined.status, joined.join_job_id) == (FlowStatus.JOINED, join_id)
    assert [job.id for job in await backends[0].get_jobs(JobFilter("join"), 10, 0)] == [
        join_id
    ]
    join = await backends[0].get_job(join_id)
    assert join is not None
    assert (join.flow_id, join.flow_step_index) == (flow.id, None)
    assert await backends[0].get_ready_flows(10) == []
    listed = await backends[0].list_flows(FlowStatus.JOINED, 10, 0)
    assert listed == [dataclasses.replace(joined, steps=[])]


async def test_a_join_job_finishing_moves_no_barrier(
    backend: RedisBackend, client: aioredis.Redis, prefix: str
) -> None:
    flow = new_flow(1, policy="abort")
    [step] = await backend.start_flow(flow, now=NOW)
    token, _ = await claim(backend, 1)
    await settle(backend, failed(step, token))
    join_id = await backend.enqueue_flow_join(flow.id, join_of(flow), now=NOW)
    token, [join] = await claim(backend, 1)
    assert join.id == join_id
    exchange = await backend.settle_and_claim([failed(join.id, token)], None, now=NOW)
    assert exchange.ready_flows == []
    assert await client.hgetall(keys.flow_outcomes(prefix, flow.id)) == {"0": "fail"}
    assert (await record(backend, flow.id)).status is FlowStatus.JOINED


async def test_a_flow_keeps_its_documented_keys(
    backend: RedisBackend, client: aioredis.Redis, prefix: str
) -> None:
    flow = new_flow(2, timeout_at=NOW + MINUTE)
    ids = await backend.start_flow(flow, now=NOW)
    flow_keys = {
        keys.flow_seq(prefix),
        keys.flows(prefix),
        keys.flow_status(prefix, "running"),
        keys.flow_timeouts(prefix),
        keys.flow(prefix, flow.id),
        keys.flow_steps(prefix, flow.id),
    }
    assert flow_keys <= set(await prefix_keys(prefix))
    assert await client.lrange(keys.flow_steps(prefix, flow.id), 0, -1) == [
        f"{job_id}\tstep" for job_id in ids
    ]
    stored = await client.hgetall(keys.flow(prefix, flow.id))
    assert stored["entity"] == '{"id":"item-1","type":"item"}'
    assert "join_job_id" not in stored
    step = await client.hgetall(keys.job(prefix, ids[1]))
    assert (step["flow_id"], step["flow_step_index"]) == (flow.id, "1")

    fetched = await backend.get_flow(flow.id)
    assert fetched is not None and fetched.join_spec == flow.join_spec
    assert fetched.record.entity == {"id": "item-1", "type": "item"}
    assert await backend.get_flow(str(uuid.uuid4())) is None


async def test_flows_are_listed_newest_first_by_creation_order(
    backend: RedisBackend,
) -> None:
    # One clock tick for all of them: the order is the creation order.
    flows = [new_flow(1) for _ in range(5)]
    for flow in flows:
        await backend.start_flow(flow, now=NOW)
    newest_first = [flow.id for flow in reversed(flows)]
    assert [f.id for f in await backend.list_flows(None, 10, 0)] == newest_first
    assert [f.id for f in await backend.list_flows(None, 2, 1)] == newest_first[1:3]
    assert await backend.list_flows(None, 0, 0) == []
    assert await backend.list_flows(FlowStatus.READY, 10, 0) == []
    listed = await backend.list_flows(FlowStatus.RUNNING, 10, 0)
    assert [f.id for f in listed] == newest_first
    assert all(f.steps == [] for f in listed)


async def test_a_step_whose_job_was_cleaned_up_is_left_out(
    backend: RedisBackend,
) -> None:
    flow = new_flow(2)
    first, second = await backend.start_flow(flow, now=NOW)
    token, _ = await claim(backend, 1)
    await settle(backend, done(first, token, {"size": 3}))
    assert await backend.cleanup_old_jobs(NOW + MINUTE, 10) == 1
    left = await record(backend, flow.id)
    assert [(s.step_index, s.job_id, s.status, s.outcome) for s in left.steps] == [
        (1, second, JobStatus.PENDING, None)
    ]
    assert (left.total_steps, left.remaining_steps) == (2, 1)


async def join_steps_of(
    backend: RedisBackend, flows: list[NewFlow], at: datetime
) -> None:
    """Finish the one step of each flow and insert its join, all at ``at``."""
    for flow in flows:
        token, [step] = await claim(backend, 1, ["step"], now=at)
        assert step.flow_id == flow.id
        await settle(backend, done(step.id, token), now=at)
        assert await backend.enqueue_flow_join(flow.id, join_of(flow), now=at)


async def test_cleanup_deletes_old_joined_flows_with_their_keys_only(
    backend: RedisBackend, client: aioredis.Redis, prefix: str
) -> None:
    old, ready, recent = new_flow(1), new_flow(1), new_flow(1)
    running = new_flow(1, timeout_at=NOW + MINUTE, job_type="idle")
    for flow in (old, ready, recent, running):
        await backend.start_flow(flow, now=NOW)
    await join_steps_of(backend, [old], NOW)
    token, [ready_step] = await claim(backend, 1, ["step"])
    await settle(backend, done(ready_step.id, token))
    await join_steps_of(backend, [recent], NOW + 2 * MINUTE)
    stored = await backend.get_flow(old.id)
    assert stored is not None
    join_id = stored.record.join_job_id
    assert join_id is not None
    old_jobs = [stored.record.steps[0].job_id, join_id]

    # Running and ready flows are older than the cut too, and kept.
    assert await backend.cleanup_old_flows(NOW + MINUTE, 10) == 1
    assert await backend.get_flow(old.id) is None
    for flow_key in (keys.flow, keys.flow_steps, keys.flow_outcomes):
        assert not await client.exists(flow_key(prefix, old.id))
    for index in (keys.flows(prefix), keys.flow_status(prefix, "joined")):
        assert await client.zscore(index, old.id) is None
    # Their jobs are left to cleanup_old_jobs.
    left = [await backend.get_job(job_id) for job_id in old_jobs]
    assert [job.flow_id for job in left if job] == [old.id, old.id]
    listed = await backend.list_flows(None, 10, 0)
    assert [(f.id, f.status) for f in listed] == [
        (running.id, FlowStatus.RUNNING),
        (recent.id, FlowStatus.JOINED),
        (ready.id, FlowStatus.READY),
    ]
    assert await client.zscore(keys.flow_timeouts(prefix), running.id) is not None
    assert await backend.cleanup_old_flows(NOW + MINUTE, 10) == 0


@pytest.mark.parametrize("batch_size", [1, 2, 5, 8])
async def test_cleanup_walks_every_joined_flow_in_batches(
    backend: RedisBackend, client: aioredis.Redis, prefix: str, batch_size: int
) -> None:
    flows = [new_flow(1) for _ in range(7)]
    for flow in flows:
        await backend.start_flow(flow, now=NOW)
    # Creation order is not age order: recent flows sit between old ones.
    for index, flow in enumerate(flows):
        await join_steps_of(backend, [flow], NOW + (index % 3 == 0) * 2 * MINUTE)
    kept = [flows[0].id, flows[3].id, flows[6].id]

    # One script looks at one batch and deletes no more than it.
    script = script_sources()["cleanup_old_flows"]
    before = round((NOW + MINUTE).timestamp() * 1_000_000)
    deleted, last = await client.eval(
        script, 0, keys.base(prefix), before, batch_size, "-inf"
    )
    first_batch = [f.id for f in flows[:batch_size]]
    assert deleted == len(set(first_batch) - set(kept))
    assert (last is None) == (batch_size > len(flows))

    assert await backend.cleanup_old_flows(NOW + MINUTE, batch_size) == 4 - deleted
    joined = await backend.list_flows(FlowStatus.JOINED, 10, 0)
    assert sorted(f.id for f in joined) == sorted(kept)
    assert await client.zcard(keys.flows(prefix)) == len(kept)


async def job_finished_messages(
    prefix: str,
) -> tuple[aioredis.client.PubSub, Callable[[], Awaitable[str]]]:
    """A raw subscription to the job-finished channel, and a reader of its
    next message's data."""
    connection = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    pubsub = connection.pubsub()
    await pubsub.subscribe(keys.job_finished(prefix))

    async def next_message() -> str:
        message = await pubsub.get_message(timeout=5)
        assert message is not None, "no job-finished message within 5 s"
        return str(message["data"])

    # Subscribed once the server confirms it: nothing published later is missed.
    assert await next_message() == "1"
    return pubsub, next_message


async def test_one_job_finished_message_per_script_and_only_for_final_jobs(
    backend: RedisBackend, prefix: str
) -> None:
    pubsub, next_message = await job_finished_messages(prefix)
    try:
        ids = await backend.add_jobs(
            [new_job(max_attempts=1) for _ in range(8)], now=NOW
        )
        token, _ = await claim(backend, 5)
        retry_at = NOW + MINUTE
        # A retry to come and the adds are not final: the next message is
        # the one of the cancel.
        await settle(backend, failed(ids[0], token, next_attempt_at=retry_at))
        assert await backend.cancel_job(ids[5], now=NOW)
        assert await next_message() == "1"
        await settle(
            backend,
            done(ids[1], token),
            done(ids[2], token),
            failed(ids[3], token),
        )
        assert await next_message() == "3"
        cancelled = await backend.cancel_jobs(JobFilter(), now=NOW)
        assert sorted(cancelled) == [ids[6], ids[7]]
        assert await next_message() == "2"
        reclaimed = await backend.reclaim_stuck_jobs(60, "lost", now=NOW + 2 * MINUTE)
        assert reclaimed == [ids[4]]
        assert await next_message() == "1"
    finally:
        await pubsub.aclose()


async def test_a_job_finished_as_the_subscription_starts_still_wakes(
    make_backend: MakeBackend, prefix: str
) -> None:
    listener, worker = await make_backend(prefix), await make_backend(prefix)
    [job_id] = await worker.add_jobs([new_job()], now=NOW)
    token, _ = await claim(worker, 1)
    wakeup = await listener.subscribe_finished()
    try:
        # Most likely before the listener's SUBSCRIBE reached the server: its
        # message is lost, and the signal of the subscription stands for it.
        await settle(worker, done(job_id, token))
        assert await wakeup.wait(5)
    finally:
        await wakeup.close()


async def test_subscribe_finished_is_woken_from_another_backend(
    make_backend: MakeBackend, prefix: str, client: aioredis.Redis
) -> None:
    listener, worker = await make_backend(prefix), await make_backend(prefix)
    [job_id] = await worker.add_jobs([new_job()], now=NOW)
    wakeup = await listener.subscribe_finished()
    try:

        async def subscribed() -> bool:
            counts = await client.pubsub_numsub(keys.job_finished(prefix))
            return bool(counts[0][1])

        await eventually(subscribed)
        assert await wakeup.wait(5)  # the subscription's own signal
        assert await worker.cancel_job(job_id, now=NOW)
        assert await wakeup.wait(5)
    finally:
        await wakeup.close()
    # The last subscriber gone, the listener's connection is closed too.
    await eventually(lambda: _no_subscriber(client, keys.job_finished(prefix)))


async def _no_subscriber(client: aioredis.Redis, channel: str) -> bool:
    counts = await client.pubsub_numsub(channel)
    return not counts[0][1]


async def test_local_finals_wake_a_subscriber_at_once(backend: RedisBackend) -> None:
    wakeup = await backend.subscribe_finished()
    try:
        [job_id] = await backend.add_jobs([new_job()], now=NOW)
        assert await backend.cancel_job(job_id, now=NOW)
        assert await wakeup.wait(1)
    finally:
        await wakeup.close()


async def test_counts_without_filters_match_counts_read_job_by_job(
    backend: RedisBackend,
) -> None:
    ids = await backend.add_jobs(
        [new_job("a"), new_job("a"), new_job("b"), new_job("b", run_at=NOW + MINUTE)],
        now=NOW,
    )
    token, _ = await claim(backend, 2)
    await settle(backend, done(ids[0], token))
    assert await backend.cancel_job(ids[3], now=NOW)
    expected = dict.fromkeys(JobStatus, 0)
    expected.update(
        {JobStatus.COMPLETED: 1, JobStatus.PROCESSING: 1, JobStatus.PENDING: 1}
    )
    expected[JobStatus.CANCELLED] = 1
    # No filter: one ZCARD per status. priority=0 matches every job but goes
    # through the jobs themselves; the status of a filter is ignored.
    assert await backend.count_jobs(JobFilter()) == expected
    assert await backend.count_jobs(JobFilter(priority=0)) == expected
    assert await backend.count_jobs(JobFilter(status=JobStatus.FAILED)) == expected
    only_b = await backend.count_jobs(JobFilter("b"))
    assert (only_b[JobStatus.PENDING], only_b[JobStatus.CANCELLED]) == (1, 1)
    assert sum(only_b.values()) == 2


async def test_entities_are_stored_only_when_given(
    backend: RedisBackend, client: aioredis.Redis, prefix: str
) -> None:
    plain, bound = await backend.add_jobs(
        [new_job(), new_job(entity={"id": "u_1", "type": "user"})], now=NOW
    )
    # A job without flow or entity has the fields a job always had: data of
    # the previous version reads the same.
    assert set(await client.hkeys(keys.job(prefix, plain))) == {
        "id",
        "job_type",
        "payload",
        "status",
        "created_at",
        "updated_at",
        "run_at",
        "attempts",
        "max_attempts",
        "priority",
        "error_history",
        "force_kill_on_timeout",
        "tags",
    }
    plain_job, bound_job = await backend.get_job(plain), await backend.get_job(bound)
    assert plain_job is not None and bound_job is not None
    assert (plain_job.entity, plain_job.flow_step_index) == (None, None)
    assert bound_job.entity == {"id": "u_1", "type": "user"}
    _, claimed = await claim(backend, 2)
    assert [job.entity for job in claimed] == [None, {"id": "u_1", "type": "user"}]


def worker_info(worker_id: str, started_at: datetime, **changes: Any) -> WorkerInfo:
    values: dict[str, Any] = {
        "id": worker_id,
        "host": "box",
        "pid": 42,
        "started_at": started_at,
        "last_heartbeat": started_at,
        "job_types": ["a", "b"],
        "concurrency": 4,
        "running_job_ids": [],
    }
    values.update(changes)
    return WorkerInfo(**values)


async def test_workers_register_beat_and_are_removed_when_silent(
    backend: RedisBackend, prefix: str
) -> None:
    await backend.register_worker(worker_info("late", NOW + MINUTE), now=NOW + MINUTE)
    await backend.register_worker(worker_info("early", NOW), now=NOW)
    big_id = 1_795_562_252_800_001  # ids start from the clock: beyond a double's
    beat = WorkerBeat("early", [big_id], processed=3, failed=1)
    assert await backend.heartbeat_worker(beat, now=NOW + 3 * MINUTE) == "running"
    early, late = await backend.list_workers()
    assert (early.id, late.id) == ("early", "late")
    assert early.running_job_ids == [big_id]
    assert early.last_heartbeat == NOW + 3 * MINUTE
    assert (early.processed, early.failed) == (3, 1)
    assert late == worker_info("late", NOW + MINUTE)

    # Registering again replaces the record whole.
    again = worker_info("late", NOW + 2 * MINUTE, job_types=None, pid=7)
    await backend.register_worker(again, now=NOW + 2 * MINUTE)
    assert (await backend.list_workers())[1] == again

    assert await backend.remove_dead_workers(before=NOW + 2 * MINUTE) == 0
    assert await backend.remove_dead_workers(before=NOW + 3 * MINUTE) == 1
    assert [w.id for w in await backend.list_workers()] == ["early"]
    gone = WorkerBeat("late", [], processed=0, failed=0)
    assert await backend.heartbeat_worker(gone, now=NOW + 4 * MINUTE) == "unregistered"
    await backend.unregister_worker("early")
    assert await backend.list_workers() == []
    assert await prefix_keys(prefix) == []


async def test_a_flow_step_decodes_its_error_history(backend: RedisBackend) -> None:
    flow = new_flow(1)
    [step] = await backend.start_flow(flow, now=NOW)
    token, _ = await claim(backend, 1)
    await settle(backend, failed(step, token, "first", next_attempt_at=NOW))
    token, _ = await claim(backend, 1)
    await settle(backend, failed(step, token, 'tab\tand "quotes"'))
    [only] = (await record(backend, flow.id)).steps
    assert (only.outcome, only.error) == ("fail", 'tab\tand "quotes"')
    job = await backend.get_job(step)
    assert job is not None
    assert [entry["message"] for entry in job.error_history] == [
        "first",
        'tab\tand "quotes"',
    ]
