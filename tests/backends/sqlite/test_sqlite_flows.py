"""Flows, finished-job signals and the worker registry on SQLite: the barrier
across processes, its order inside one flush, its cost for plain jobs, the
doorbells of finished/."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import sqlite3
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlite_helpers import NOW, claim, complete_until_empty, new_flow, new_job

from dataqueue._commands import (
    Completion,
    Failure,
    JobFilter,
    Lease,
    Outcome,
    WorkerBeat,
)
from dataqueue.backends.sqlite import SqliteBackend, codec, connection, doorbell
from dataqueue.backends.sqlite import backend as backend_module
from dataqueue.backends.sqlite import listener as listener_module
from dataqueue.errors import BackendError
from dataqueue.models import (
    FailureReason,
    FlowStatus,
    JobRecord,
    JobStatus,
    WorkerInfo,
)


def final_failure(lease: Lease) -> Failure:
    return Failure(lease, "boom", FailureReason.HANDLER_ERROR, None)


@pytest.mark.slow
async def test_steps_settled_by_several_processes_make_each_flow_ready_once(
    path: str,
) -> None:
    processes = 4
    backend = SqliteBackend(path)
    flows = [new_flow(30) for _ in range(12)]
    try:
        for flow in flows:
            await backend.start_flow(flow, now=NOW)
    finally:
        await backend.close()

    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(processes) as pool:
        start = manager.Barrier(processes)
        reports = pool.starmap(
            complete_until_empty,
            [(path, f"worker-{i}", start) for i in range(processes)],
        )

    assert Counter(f for ready in reports for f in ready) == {
        flow.id: 1 for flow in flows
    }
    workers: set[str] = set()
    backend = SqliteBackend(path)
    try:
        for flow in flows:
            stored = await backend.get_flow(flow.id)
            assert stored is not None
            record = stored.record
            assert (record.status, record.remaining_steps) == (FlowStatus.READY, 0)
            assert [s.outcome for s in record.steps] == ["success"] * 30
            workers.update(s.result["by"] for s in record.steps)
    finally:
        await backend.close()
    assert len(workers) > 1, "settles should interleave"


async def test_under_abort_the_first_final_fail_of_a_flush_decides(
    backend: SqliteBackend,
) -> None:
    flow = new_flow(4, failure_policy="abort")
    ids = await backend.start_flow(flow, now=NOW)
    token, claimed = await claim(backend)
    assert [job.id for job in claimed] == ids
    leases = [Lease(job_id, token) for job_id in ids]

    exchange = await backend.settle_and_claim(
        [
            Completion(leases[0], "first", {}),
            final_failure(leases[1]),
            Completion(leases[2], "late", {}),
            final_failure(leases[3]),
        ],
        None,
        now=NOW,
    )

    assert exchange.settled == [True] * 4
    assert exchange.ready_flows == [flow.id]
    stored = await backend.get_flow(flow.id)
    assert stored is not None
    record = stored.record
    assert (record.status, record.aborted, record.remaining_steps) == (
        FlowStatus.READY,
        True,
        2,
    )
    assert [s.outcome for s in record.steps] == ["success", "fail", None, None]
    assert [s.status for s in record.steps] == [
        JobStatus.COMPLETED,
        JobStatus.FAILED,
        JobStatus.COMPLETED,
        JobStatus.FAILED,
    ]
    assert (record.steps[0].result, record.steps[1].error) == ("first", "boom")
    assert record.steps[2].result is None, "an outcome not recorded has no result"


async def test_a_failure_with_an_attempt_left_is_no_outcome(
    backend: SqliteBackend,
) -> None:
    flow = new_flow(1)
    (job_id,) = await backend.start_flow(flow, now=NOW)
    token, _ = await claim(backend)
    retry = Failure(
        Lease(job_id, token), "again", FailureReason.TIMEOUT, NOW + timedelta(1)
    )

    exchange = await backend.settle_and_claim([retry], None, now=NOW)

    assert exchange.ready_flows == []
    stored = await backend.get_flow(flow.id)
    assert stored is not None
    assert stored.record.remaining_steps == 1
    assert stored.record.steps[0].outcome is None


async def test_settling_plain_jobs_runs_no_flow_statement(
    backend: SqliteBackend,
) -> None:
    await backend.add_jobs([new_job() for _ in range(5)], now=NOW)
    token, claimed = await claim(backend)
    statements: list[str] = []

    async def trace(callback: Callable[[str], object] | None) -> None:
        # A worker's exchange may run on the loop's own connection.
        loop_connection = backend._db._loop_conn
        if loop_connection is not None:
            loop_connection.set_trace_callback(callback)
        await backend._db.run("trace", lambda c: c.set_trace_callback(callback))

    await trace(statements.append)
    try:
        outcomes: list[Outcome] = [
            Completion(Lease(job.id, token), None, {}) for job in claimed[:3]
        ]
        outcomes += [final_failure(Lease(job.id, token)) for job in claimed[3:]]
        exchange = await backend.settle_and_claim(outcomes, None, now=NOW)
    finally:
        await trace(None)

    assert exchange.settled == [True] * 5
    assert statements, "the trace saw the settle"
    assert any(s.startswith("-- settle_and_claim.complete") for s in statements)
    assert not [s for s in statements if "flow_barrier" in s or "flows" in s]


async def test_steps_cancelled_or_lost_for_good_fail_in_their_transaction(
    backend: SqliteBackend,
) -> None:
    cancelled = new_flow(2)
    lost = new_flow(1, step_options={"max_attempts": 1})
    cancelled_ids = await backend.start_flow(cancelled, now=NOW)
    (lost_id,) = await backend.start_flow(lost, now=NOW)
    assert await backend.cancel_job(cancelled_ids[0], now=NOW)
    stored = await backend.get_flow(cancelled.id)
    assert stored is not None
    assert stored.record.remaining_steps == 1
    assert stored.record.steps[0].error == "cancelled"

    _, claimed = await claim(backend)
    assert lost_id in [job.id for job in claimed]
    later = NOW + timedelta(hours=1)
    # The lost step fails for good; the other flow's second step goes back to
    # pending.
    reclaimed = await backend.reclaim_stuck_jobs(60, "worker lost", now=later)
    assert sorted(reclaimed) == sorted([lost_id, cancelled_ids[1]])
    stored = await backend.get_flow(lost.id)
    assert stored is not None
    assert stored.record.status is FlowStatus.READY
    assert stored.record.steps[0].error == "worker lost"
    # The other step had attempts left: pending again, still no outcome.
    assert await backend.get_ready_flows(10) == [lost.id]

    cancelled_now = await backend.cancel_jobs(JobFilter(job_type="step"), now=later)
    assert cancelled_now == [cancelled_ids[1]]
    assert await backend.get_ready_flows(10) == [cancelled.id, lost.id]


async def test_a_ready_flow_joins_once_whatever_the_number_of_callers(
    path: str, backend: SqliteBackend
) -> None:
    flow = new_flow(1)
    (step,) = await backend.start_flow(flow, now=NOW)
    assert await backend.enqueue_flow_join(flow.id, new_job("join"), now=NOW) is None
    assert await backend.cancel_job(step, now=NOW)

    others = [SqliteBackend(path) for _ in range(4)]
    try:
        results = await asyncio.gather(
            *(
                store.enqueue_flow_join(flow.id, new_job("join"), now=NOW)
                for store in [backend, *others]
                for _ in range(3)
            )
        )
    finally:
        for store in others:
            await store.close()

    joined = [job_id for job_id in results if job_id is not None]
    assert len(joined) == 1
    stored = await backend.get_flow(flow.id)
    assert stored is not None
    assert stored.record.status is FlowStatus.JOINED
    assert stored.record.join_job_id == joined[0]
    jobs = await backend.get_jobs(JobFilter(job_type="join"), 10, 0)
    assert [job.id for job in jobs] == joined
    events = await backend.get_job_events(joined[0])
    assert [e.event_type for e in events] == ["added"]


async def test_a_flow_whose_steps_cannot_all_be_written_writes_nothing(
    backend: SqliteBackend,
) -> None:
    flow = new_flow(2)
    # One step index twice: the step rows fail after the jobs went in.
    twice = new_flow(2, id=flow.id, steps=[flow.steps[0], flow.steps[0]])
    with pytest.raises(BackendError):
        await backend.start_flow(twice, now=NOW)

    assert await backend.list_flows(None, 10, 0) == []
    assert sum((await backend.count_jobs(JobFilter())).values()) == 0
    await backend.start_flow(flow, now=NOW)
    with pytest.raises(BackendError):
        await backend.start_flow(flow, now=NOW)
    assert len(await backend.list_flows(None, 10, 0)) == 1


async def test_a_step_whose_job_was_cleaned_up_is_left_out(
    backend: SqliteBackend,
) -> None:
    flow = new_flow(2)
    first, _ = await backend.start_flow(flow, now=NOW)
    assert await backend.cancel_job(first, now=NOW)
    deleted = await backend.cleanup_old_jobs(NOW + timedelta(days=1), 100)
    assert deleted == 1

    stored = await backend.get_flow(flow.id)
    assert stored is not None
    assert [s.step_index for s in stored.record.steps] == [1]
    assert stored.record.remaining_steps == 1


async def test_flow_jobs_keep_their_place_and_entities_their_fields(
    backend: SqliteBackend,
) -> None:
    entity = {"id": "item-1", "type": "item"}
    (plain,) = await backend.add_jobs([new_job(entity=entity)], now=NOW)
    flow = new_flow(2, entity=entity)
    ids = await backend.start_flow(flow, now=NOW)

    job = await backend.get_job(plain)
    assert job is not None and job.entity == entity and job.flow_id is None
    step = await backend.get_job(ids[1])
    assert step is not None
    assert (step.flow_id, step.flow_step_index, step.entity) == (flow.id, 1, None)
    (listed,) = await backend.list_flows(FlowStatus.RUNNING, 10, 0)
    assert listed.entity == entity and listed.steps == []
    stored = await backend.get_flow(flow.id)
    assert stored is not None and stored.join_spec == flow.join_spec


# -- finished-job signals ------------------------------------------------------


async def test_jobs_made_final_elsewhere_ring_the_finished_doorbell(
    backend: SqliteBackend, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only the doorbell can wake the subscriber: the file poll is pushed away.
    monkeypatch.setattr(listener_module, "SAFETY_POLL_SECONDS", 60.0)
    other = SqliteBackend(path)
    wakeup = await backend.subscribe_finished()
    try:
        # The listener's first look, once its doorbell is bound.
        assert await wakeup.wait(5)
        ids = await other.add_jobs([new_job(max_attempts=1) for _ in range(4)], now=NOW)
        token, _ = await claim(other, limit=3)
        assert not await wakeup.wait(0.3), "adding and claiming finish nothing"

        again = Failure(Lease(ids[0], token), "x", FailureReason.TIMEOUT, NOW)
        await other.settle_and_claim([again], None, now=NOW)
        assert not await wakeup.wait(0.3), "a failure with an attempt left"

        done = Completion(Lease(ids[1], token), None, {})
        await other.settle_and_claim([done], None, now=NOW)
        assert await wakeup.wait(5)

        assert await other.cancel_job(ids[3], now=NOW)
        assert await wakeup.wait(5)

        later = NOW + timedelta(hours=1)
        assert await other.reclaim_stuck_jobs(60, "lost", now=later) == [ids[2]]
        assert await wakeup.wait(5)
    finally:
        await wakeup.close()
        await other.close()
    assert os.listdir(path + "-wakeup/finished") == [], "the doorbell is removed"


async def test_each_kind_of_ring_reaches_only_its_own_doorbells(path: str) -> None:
    added = doorbell.Doorbell(path)
    finished = doorbell.Doorbell(path, finished=True)
    ringers = [doorbell.Ringer(path), doorbell.Ringer(path, finished=True)]
    try:
        ringers[1].ring(doorbell.FINISHED)
        assert await finished.receive(5) == doorbell.FINISHED
        assert await added.receive(0.1) is None

        ringers[0].ring(doorbell.ADDED)
        assert await added.receive(5) == doorbell.ADDED
        assert await finished.receive(0.1) is None
    finally:
        for ringer in ringers:
            ringer.close()
        added.close()
        finished.close()


async def test_a_memory_database_signals_its_own_finished_jobs() -> None:
    store = SqliteBackend(":memory:")
    try:
        wakeup = await store.subscribe_finished()
        await store.add_jobs([new_job()], now=NOW)
        token, (job,) = await claim(store)
        assert not await wakeup.wait(0.05)
        await store.settle_and_claim(
            [Completion(Lease(job.id, token), None, {})], None, now=NOW
        )
        assert await wakeup.wait(1)
        await wakeup.close()
    finally:
        await store.close()


# -- workers -------------------------------------------------------------------


def worker(worker_id: str, minutes: int, job_types: list[str] | None) -> WorkerInfo:
    started = NOW + timedelta(minutes=minutes)
    return WorkerInfo(
        id=worker_id,
        host="box",
        pid=100 + minutes,
        started_at=started,
        last_heartbeat=started,
        job_types=job_types,
        concurrency=4,
        running_job_ids=[],
    )


async def test_workers_register_heartbeat_and_are_removed_when_silent(
    backend: SqliteBackend,
) -> None:
    await backend.register_worker(worker("b", 2, None), now=NOW)
    await backend.register_worker(worker("a", 5, ["x"]), now=NOW)
    await backend.register_worker(worker("a", 1, ["x", "y"]), now=NOW)  # restarted
    later = NOW + timedelta(minutes=10)
    beat = WorkerBeat("a", [7, 9], processed=2, failed=0)
    assert await backend.heartbeat_worker(beat, now=later) == "running"
    ghost = WorkerBeat("ghost", [], processed=0, failed=0)
    assert await backend.heartbeat_worker(ghost, now=later) == "unregistered"

    a, b = await backend.list_workers()
    assert (a.id, a.pid, a.job_types, a.running_job_ids) == (
        "a",
        101,
        ["x", "y"],
        [7, 9],
    )
    assert a.last_heartbeat == later
    assert (b.id, b.job_types, b.running_job_ids) == ("b", None, [])

    assert await backend.remove_dead_workers(before=later) == 1
    assert [w.id for w in await backend.list_workers()] == ["a"]
    await backend.unregister_worker("a")
    assert await backend.list_workers() == []


# -- cleanup -------------------------------------------------------------------


async def joined_flow(backend: SqliteBackend, *, at: datetime) -> tuple[str, list[int]]:
    """A flow of two steps, cancelled at NOW and joined at ``at``: its id and
    its jobs (the steps, then the join)."""
    flow = new_flow(2)
    steps = await backend.start_flow(flow, now=NOW)
    await backend.cancel_jobs(JobFilter(job_type="step"), now=NOW)
    join = await backend.enqueue_flow_join(flow.id, new_job("join"), now=at)
    assert join is not None
    return flow.id, [*steps, join]


def flows_with_step_rows(path: str) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute("SELECT flow_id FROM flow_steps")}
    finally:
        conn.close()


async def test_cleanup_deletes_old_joined_flows_with_their_steps_and_no_job(
    path: str, backend: SqliteBackend
) -> None:
    old, old_jobs = await joined_flow(backend, at=NOW)
    recent, _ = await joined_flow(backend, at=NOW + timedelta(days=2))
    ready = new_flow(1)
    (ready_step,) = await backend.start_flow(ready, now=NOW)
    assert await backend.cancel_job(ready_step, now=NOW)
    running = new_flow(1)
    await backend.start_flow(running, now=NOW)

    assert await backend.cleanup_old_flows(NOW + timedelta(days=1), 100) == 1

    assert await backend.get_flow(old) is None
    kept = {flow.id: flow.status for flow in await backend.list_flows(None, 10, 0)}
    assert kept == {
        recent: FlowStatus.JOINED,
        ready.id: FlowStatus.READY,
        running.id: FlowStatus.RUNNING,
    }
    assert flows_with_step_rows(path) == {recent, ready.id, running.id}
    # The flow's jobs stay for cleanup_old_jobs.
    for job_id in old_jobs:
        assert await backend.get_job(job_id) is not None
    assert await backend.cleanup_old_flows(NOW + timedelta(days=1), 100) == 0


@pytest.mark.parametrize("flows", [5, 4])
async def test_cleanup_deletes_flows_in_batches_until_none_is_left(
    path: str, caplog: pytest.LogCaptureFixture, flows: int
) -> None:
    # A verbose store logs each transaction: one per batch.
    backend = SqliteBackend(path, verbose=True)
    try:
        for _ in range(flows):
            await joined_flow(backend, at=NOW)
        with caplog.at_level(logging.DEBUG, logger=backend_module.logger.name):
            deleted = await backend.cleanup_old_flows(NOW + timedelta(days=1), 2)
        assert await backend.list_flows(None, 10, 0) == []
    finally:
        await backend.close()

    assert deleted == flows
    batches = [
        r for r in caplog.records if r.getMessage().endswith("cleanup_old_flows")
    ]
    # Two full batches, then a short one (empty when the count divides).
    assert len(batches) == 3
    assert flows_with_step_rows(path) == set()


# -- the upgrade ---------------------------------------------------------------


async def test_a_file_at_0003_with_jobs_in_it_is_upgraded_to_flows(
    path: str,
) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        for number, name in connection.MIGRATION_NUMBERS:
            if number > 3:
                break
            for statement in connection.split_statements(connection.MIGRATIONS[name]):
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 3")
        micros = codec.to_micros(NOW)
        conn.execute(
            "INSERT INTO job_queue (job_type, payload, status, created_at, "
            "updated_at, run_at, entity_id, entity_type) "
            "VALUES ('old', '{}', 'pending', ?, ?, ?, 'e-1', 'thing')",
            (micros, micros, micros),
        )
    finally:
        conn.close()

    store = SqliteBackend(path)
    try:
        old = await store.get_job(1)
        assert old is not None
        assert old.entity == {"id": "e-1", "type": "thing"}
        assert old.flow_step_index is None
        flow = new_flow(1)
        (step,) = await store.start_flow(flow, now=NOW)
        token, claimed = await claim(store)
        assert sorted(job.id for job in claimed) == [1, step]
        assert all(isinstance(job, JobRecord) for job in claimed)
        exchange = await store.settle_and_claim(
            [Completion(Lease(step, token), None, {})], None, now=NOW
        )
        assert exchange.ready_flows == [flow.id]
        await store.register_worker(worker("w", 0, None), now=NOW)
        assert [w.id for w in await store.list_workers()] == ["w"]
    finally:
        await store.close()
