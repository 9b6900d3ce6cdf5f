"""The flow barrier in PostgreSQL: one function, called in the statement that
makes a step final, under concurrent settles from several pools and
processes; joins enqueued once; the finished-job channel."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta

import psycopg
import pytest
from pg_helpers import NOW, MakeBackend, claim, flow, job, scalar
from tests.conftest import PG_URL

from dataqueue._commands import Completion, Failure, JobFilter, Lease
from dataqueue.backends.postgres import PostgresBackend
from dataqueue.backends.postgres.listener import finished_channel_for
from dataqueue.errors import BackendError
from dataqueue.models import FailureReason, FlowStatus, JobStatus

LATER = NOW + timedelta(seconds=5)


def done(lease: Lease) -> Completion:
    return Completion(lease, {"job": lease.job_id}, {})


def failed_for_good(lease: Lease) -> Failure:
    return Failure(lease, "broke", FailureReason.HANDLER_ERROR, None)


async def settle_one_by_one(
    backend: PostgresBackend, leases: tuple[Lease, ...]
) -> list[str]:
    """Complete each lease in a statement of its own; the flows made ready."""
    ready: list[str] = []
    for lease in leases:
        exchange = await backend.settle_and_claim([done(lease)], None, now=NOW)
        assert exchange.settled == [True]
        ready += exchange.ready_flows
    return ready


async def test_steps_settled_at_once_from_several_pools_make_the_flow_ready_once(
    make_backend: MakeBackend,
) -> None:
    backends = [await make_backend() for _ in range(6)]
    for _ in range(5):
        new = flow(30)
        await backends[0].start_flow(new, now=NOW)
        held = [await claim(b, 5) for b in backends]
        assert sum(len(leases) for leases in held) == 30
        ready = await asyncio.gather(
            *(
                settle_one_by_one(b, leases)
                for b, leases in zip(backends, held, strict=True)
            )
        )
        assert [flow_id for made in ready for flow_id in made] == [new.id]
        stored = await backends[0].get_flow(new.id)
        assert stored is not None
        assert stored.record.status is FlowStatus.READY
        assert stored.record.remaining_steps == 0
        assert [s.outcome for s in stored.record.steps] == ["success"] * 30


SETTLE_IN_A_PROCESS = """
import asyncio, json, secrets, sys
from datetime import datetime, timezone
from dataqueue._commands import ClaimRequest, Completion, Lease
from dataqueue.backends.postgres import PostgresBackend

async def main() -> None:
    backend = PostgresBackend(sys.argv[1], schema=sys.argv[2])
    now = datetime(2030, 1, 1, 12, 0, tzinfo=timezone.utc)
    ready, outcomes = [], []
    try:
        while True:
            token = secrets.token_hex(8)
            exchange = await backend.settle_and_claim(
                outcomes, ClaimRequest(sys.argv[3], token, 2), now=now
            )
            ready += exchange.ready_flows
            if not exchange.claimed and not outcomes:
                break
            outcomes = [
                Completion(Lease(j.id, token), None, {}) for j in exchange.claimed
            ]
    finally:
        await backend.close()
    print(json.dumps(ready))

asyncio.run(main())
"""


@pytest.mark.slow
async def test_workers_in_several_processes_make_each_flow_ready_once(
    backend: PostgresBackend, schema: str
) -> None:
    flows = [flow(40) for _ in range(3)]
    for new in flows:
        await backend.start_flow(new, now=NOW)
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            SETTLE_IN_A_PROCESS,
            PG_URL,
            schema,
            f"w{n}",
            stdout=asyncio.subprocess.PIPE,
        )
        for n in range(3)
    ]
    outputs = await asyncio.gather(*(p.communicate() for p in processes))
    assert [p.returncode for p in processes] == [0, 0, 0]
    ready = [flow_id for out, _ in outputs for flow_id in json.loads(out)]
    assert sorted(ready) == sorted(new.id for new in flows)
    for new in flows:
        stored = await backend.get_flow(new.id)
        assert stored is not None and stored.record.remaining_steps == 0


async def test_a_step_finishing_after_an_abort_is_not_recorded(
    backend: PostgresBackend,
) -> None:
    new = flow(3, failure_policy="abort")
    await backend.start_flow(new, now=NOW)
    first, second, _ = await claim(backend, 3)
    aborting = await backend.settle_and_claim([failed_for_good(first)], None, now=NOW)
    assert aborting.ready_flows == [new.id]
    late = await backend.settle_and_claim([done(second)], None, now=NOW)
    assert late.settled == [True] and late.ready_flows == []
    stored = await backend.get_flow(new.id)
    assert stored is not None
    record = stored.record
    assert (record.status, record.aborted, record.remaining_steps) == (
        FlowStatus.READY,
        True,
        2,
    )
    assert [s.outcome for s in record.steps] == ["fail", None, None]
    assert record.steps[0].error == "broke"
    assert record.steps[1].status is JobStatus.COMPLETED
    assert record.steps[1].result is None


async def test_a_failure_with_an_attempt_left_is_no_outcome(
    backend: PostgresBackend,
) -> None:
    new = flow(1)
    await backend.start_flow(new, now=NOW)
    (lease,) = await claim(backend)
    retry = Failure(lease, "again", FailureReason.HANDLER_ERROR, LATER)
    exchange = await backend.settle_and_claim([retry], None, now=NOW)
    assert exchange.settled == [True] and exchange.ready_flows == []
    stored = await backend.get_flow(new.id)
    assert stored is not None
    assert stored.record.remaining_steps == 1
    assert stored.record.steps[0].outcome is None


async def test_deadlines_racing_the_last_steps_ready_each_flow_once(
    make_backend: MakeBackend,
) -> None:
    settler, timer = await make_backend(), await make_backend()
    for _ in range(10):
        # Two flows settled in one statement while their deadlines pass: the
        # barrier and the timeout lock both flows, in the same order.
        flows = [flow(1, timeout=1), flow(1, timeout=1)]
        for new in flows:
            await settler.start_flow(new, now=NOW)
        leases = await claim(settler, 2)
        exchange, timed_out = await asyncio.gather(
            settler.settle_and_claim(
                [done(lease) for lease in leases], None, now=LATER
            ),
            timer.time_out_flows(now=LATER),
        )
        assert sorted(exchange.ready_flows + timed_out) == sorted(f.id for f in flows)
        for new in flows:
            stored = await settler.get_flow(new.id)
            assert stored is not None
            record = stored.record
            assert record.status is FlowStatus.READY
            assert record.timed_out == (new.id in timed_out)
            assert record.remaining_steps == (1 if record.timed_out else 0)


async def test_a_reclaimed_step_with_no_attempt_left_fails_the_step(
    backend: PostgresBackend,
) -> None:
    new = flow(2, max_attempts=1)
    await backend.start_flow(new, now=NOW)
    first, lost = await claim(backend, 2)
    await backend.settle_and_claim([done(first)], None, now=NOW)
    reclaimed = await backend.reclaim_stuck_jobs(1, "worker lost", now=LATER)
    assert reclaimed == [lost.job_id]
    assert await backend.get_ready_flows(10) == [new.id]
    stored = await backend.get_flow(new.id)
    assert stored is not None
    assert [(s.outcome, s.error) for s in stored.record.steps] == [
        ("success", None),
        ("fail", "worker lost"),
    ]


async def test_cancelling_steps_of_several_flows_fails_each_in_one_statement(
    backend: PostgresBackend,
) -> None:
    flows = [flow(2, job_type="doomed") for _ in range(2)]
    for new in flows:
        await backend.start_flow(new, now=NOW)
    cancelled = await backend.cancel_jobs(JobFilter(job_type="doomed"), now=NOW)
    assert sorted(await backend.get_ready_flows(10)) == sorted(f.id for f in flows)
    step_jobs = []
    for new in flows:
        stored = await backend.get_flow(new.id)
        assert stored is not None
        assert [(s.outcome, s.error) for s in stored.record.steps] == [
            ("fail", "cancelled"),
            ("fail", "cancelled"),
        ]
        step_jobs += [s.job_id for s in stored.record.steps]
    assert sorted(cancelled) == sorted(step_jobs)


async def test_under_abort_the_outcomes_after_the_first_fail_of_a_call_are_not_recorded(
    backend: PostgresBackend,
) -> None:
    # As on the other stores: the first fail makes the flow ready, so the
    # outcomes reported after it in the same statement find it no longer
    # running.
    cancelled = flow(3, failure_policy="abort", job_type="doomed")
    await backend.start_flow(cancelled, now=NOW)
    await backend.cancel_jobs(JobFilter(job_type="doomed"), now=NOW)
    stored = await backend.get_flow(cancelled.id)
    assert stored is not None
    assert [s.outcome for s in stored.record.steps] == ["fail", None, None]
    assert (stored.record.status, stored.record.remaining_steps) == (
        FlowStatus.READY,
        2,
    )

    settled = flow(4, failure_policy="abort")
    await backend.start_flow(settled, now=NOW)
    first, second, third, fourth = sorted(
        await claim(backend, 4), key=lambda lease: lease.job_id
    )
    # In batch order: a success counts, the first fail decides, and neither
    # the fail nor the success after it is recorded.
    exchange = await backend.settle_and_claim(
        [
            done(second),
            failed_for_good(third),
            failed_for_good(first),
            done(fourth),
        ],
        None,
        now=NOW,
    )
    assert exchange.settled == [True] * 4
    assert exchange.ready_flows == [settled.id]
    stored = await backend.get_flow(settled.id)
    assert stored is not None
    assert [s.outcome for s in stored.record.steps] == [None, "success", "fail", None]
    assert stored.record.aborted and stored.record.remaining_steps == 2


async def test_a_step_that_finishes_twice_counts_once(
    backend: PostgresBackend,
) -> None:
    new = flow(2)
    await backend.start_flow(new, now=NOW)
    stored = await backend.get_flow(new.id)
    assert stored is not None
    step_job = stored.record.steps[0].job_id
    assert await backend.cancel_job(step_job, now=NOW)
    # Retried by hand, the job runs again and completes: the step keeps its
    # first outcome and the barrier does not move.
    assert await backend.retry_job(step_job, now=NOW)
    leases = await claim(backend, 2)
    (lease,) = [lease for lease in leases if lease.job_id == step_job]
    exchange = await backend.settle_and_claim([done(lease)], None, now=NOW)
    assert exchange.settled == [True] and exchange.ready_flows == []
    again = await backend.get_flow(new.id)
    assert again is not None
    assert again.record.status is FlowStatus.RUNNING
    assert again.record.remaining_steps == 1
    assert again.record.steps[0].outcome == "fail"
    assert again.record.steps[0].status is JobStatus.COMPLETED


async def test_the_join_is_enqueued_once_by_concurrent_callers(
    make_backend: MakeBackend, schema: str
) -> None:
    backends = [await make_backend() for _ in range(4)]
    new = flow(1)
    await backends[0].start_flow(new, now=NOW)
    join = job("join")
    assert await backends[0].enqueue_flow_join(new.id, join, now=NOW) is None
    (lease,) = await claim(backends[0])
    await backends[0].settle_and_claim([done(lease)], None, now=NOW)
    ids = await asyncio.gather(
        *(b.enqueue_flow_join(new.id, join, now=NOW) for b in backends)
    )
    (join_id,) = [i for i in ids if i is not None]
    stored = await backends[0].get_flow(new.id)
    assert stored is not None
    assert stored.record.status is FlowStatus.JOINED
    assert stored.record.join_job_id == join_id
    assert await backends[0].get_ready_flows(10) == []
    events = await backends[0].get_job_events(join_id)
    assert [e.event_type.value for e in events] == ["added"]
    joins = f"SELECT count(*) FROM \"{schema}\".job_queue WHERE job_type = 'join'"
    assert await scalar(joins) == 1


async def test_a_flow_that_cannot_be_inserted_leaves_no_step_behind(
    backend: PostgresBackend, schema: str
) -> None:
    new = flow(3)
    await backend.start_flow(new, now=NOW)
    with pytest.raises(BackendError, match=r"start_flow failed.*flows_pkey"):
        await backend.start_flow(new, now=NOW)
    jobs = await scalar(f'SELECT count(*) FROM "{schema}".job_queue')
    assert jobs == 3


async def test_one_notification_per_statement_that_finishes_jobs(
    backend: PostgresBackend, schema: str
) -> None:
    ids = await backend.add_jobs([job("doomed") for _ in range(20)], now=NOW)
    async with await psycopg.AsyncConnection.connect(PG_URL, autocommit=True) as conn:
        channel = finished_channel_for(schema)
        await conn.execute(
            psycopg.sql.SQL("LISTEN {}").format(psycopg.sql.Identifier(channel))
        )
        cancelled = await backend.cancel_jobs(JobFilter(job_type="doomed"), now=NOW)
        assert sorted(cancelled) == sorted(ids)
        received = []
        async for notification in conn.notifies(timeout=0.5):
            received.append(notification.channel)
        assert received == [channel]


async def test_a_job_finished_by_another_pool_wakes_a_waiter_and_a_retry_does_not(
    make_backend: MakeBackend,
) -> None:
    waiter, worker = await make_backend(), await make_backend()
    wakeup = await waiter.subscribe_finished()
    try:
        # The first signal says the listener is in place.
        assert await wakeup.wait(5)
        await worker.add_jobs([job(), job()], now=NOW)
        first, second = await claim(worker, 2)
        retry = Failure(first, "again", FailureReason.HANDLER_ERROR, LATER)
        await worker.settle_and_claim([retry], None, now=NOW)
        assert not await wakeup.wait(0.3)
        await worker.settle_and_claim([done(second)], None, now=NOW)
        assert await wakeup.wait(5)
    finally:
        await wakeup.close()
