"""Leases: settle and claim in one statement, fencing, heartbeats, reclaim,
release, and a claimed row that will not decode."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta

from pg_helpers import NOW, MakeBackend, claim, execute, job, scalar

from dataqueue._commands import BrokenJob, ClaimRequest, Completion, Failure, Lease
from dataqueue._transitions import reclaimed_metadata
from dataqueue.backends.postgres import PostgresBackend
from dataqueue.models import FailureReason, JobStatus

LATER = NOW + timedelta(seconds=5)


def done(lease: Lease, output: object = None) -> Completion:
    return Completion(lease, output, {"duration": 1})  # type: ignore[arg-type]


def failed(lease: Lease, next_attempt: object = None) -> Failure:
    return Failure(lease, "boom", FailureReason.HANDLER_ERROR, next_attempt)  # type: ignore[arg-type]


async def test_one_statement_settles_the_last_batch_and_claims_the_next(
    backend: PostgresBackend,
) -> None:
    ids = await backend.add_jobs([job() for _ in range(4)], now=NOW)
    first = await claim(backend, 2)
    assert [lease.job_id for lease in first] == ids[:2]
    token = secrets.token_hex(8)
    exchange = await backend.settle_and_claim(
        [done(first[0], {"ok": 1}), failed(first[1], LATER)],
        ClaimRequest("w", token, 5),
        now=NOW,
    )
    assert exchange.settled == [True, True]
    # The failure is due again only later, and this claim read the snapshot
    # taken before the statement: it takes the two untouched jobs only.
    assert [j.id for j in exchange.claimed] == ids[2:]
    completed, retrying = await backend.get_job(ids[0]), await backend.get_job(ids[1])
    assert completed is not None and completed.status is JobStatus.COMPLETED
    assert completed.output == {"ok": 1} and completed.locked_by is None
    assert retrying is not None and retrying.status is JobStatus.FAILED
    assert retrying.next_attempt_at == LATER
    assert retrying.error_history == [{"message": "boom", "timestamp": NOW.isoformat()}]
    events = [e.event_type.value for e in await backend.get_job_events(ids[1])]
    assert events == ["added", "processing", "failed"]
    metadata = (await backend.get_job_events(ids[0]))[-1].metadata
    assert metadata == {"duration": 1}
    again = await claim(backend, 5, now=LATER)
    assert [lease.job_id for lease in again] == [ids[1]]


async def test_a_stale_lease_changes_nothing_even_for_the_same_worker_id(
    backend: PostgresBackend,
) -> None:
    (job_id,) = await backend.add_jobs([job(max_attempts=5)], now=NOW)
    (stale,) = await claim(backend, worker="w")
    assert await backend.reclaim_stuck_jobs(1, "lost", now=LATER) == [job_id]
    (fresh,) = await claim(backend, worker="w", now=LATER)
    assert fresh.job_id == job_id and fresh.token != stale.token

    assert not await backend.set_progress(stale, 50, now=LATER)
    assert not await backend.prolong_job(stale, 30, now=LATER)
    assert await backend.heartbeat([stale], now=LATER) == []
    assert await backend.release_jobs([stale], now=LATER) == 0
    exchange = await backend.settle_and_claim([done(stale, "stale")], None, now=LATER)
    assert exchange.settled == [False] and exchange.claimed == []
    exchange = await backend.settle_and_claim([failed(stale)], None, now=LATER)
    assert exchange.settled == [False]

    stored = await backend.get_job(job_id)
    assert stored is not None
    assert (stored.status, stored.progress, stored.output) == (
        JobStatus.PROCESSING,
        None,
        None,
    )
    assert await backend.set_progress(fresh, 50, now=LATER)
    assert await backend.prolong_job(fresh, 30, now=LATER)
    exchange = await backend.settle_and_claim([done(fresh, "new")], None, now=LATER)
    assert exchange.settled == [True]
    stored = await backend.get_job(job_id)
    assert stored is not None and (stored.output, stored.progress) == ("new", 50)


async def test_a_heartbeat_keeps_a_job_from_being_reclaimed(
    backend: PostgresBackend,
) -> None:
    await backend.add_jobs([job(), job()], now=NOW)
    kept, dropped = await claim(backend, 2)
    beat = NOW + timedelta(seconds=50)
    assert await backend.heartbeat([kept, dropped], now=beat) == [
        kept.job_id,
        dropped.job_id,
    ]
    assert await backend.heartbeat([kept], now=beat + timedelta(seconds=50)) == [
        kept.job_id
    ]
    reclaimed = await backend.reclaim_stuck_jobs(
        60, "lost", now=NOW + timedelta(seconds=120)
    )
    assert reclaimed == [dropped.job_id]
    job_kept = await backend.get_job(kept.job_id)
    job_dropped = await backend.get_job(dropped.job_id)
    assert job_kept is not None and job_kept.status is JobStatus.PROCESSING
    assert job_dropped is not None and job_dropped.status is JobStatus.PENDING


async def test_reclaim_returns_jobs_with_attempts_left_and_fails_the_rest(
    backend: PostgresBackend,
) -> None:
    later_run = NOW - timedelta(hours=1)
    again, spent = await backend.add_jobs(
        [job(max_attempts=2, run_at=later_run), job(max_attempts=1)], now=NOW
    )
    await claim(backend, 2, worker="dead")
    when = NOW + timedelta(minutes=10)
    reclaimed = await backend.reclaim_stuck_jobs(60, "worker died", now=when)
    assert sorted(reclaimed) == sorted([again, spent])

    pending = await backend.get_job(again)
    assert pending is not None
    assert (pending.status, pending.attempts, pending.run_at) == (
        JobStatus.PENDING,
        1,
        when,
    )
    assert pending.locked_by is None
    events = await backend.get_job_events(again)
    assert events[-1].metadata == {"reclaimed_from": "dead"}

    lost = await backend.get_job(spent)
    assert lost is not None
    assert lost.status is JobStatus.FAILED
    assert lost.failure_reason is FailureReason.WORKER_LOST
    assert lost.next_attempt_at is None and lost.locked_by is None
    assert lost.error_history == [
        {"message": "worker died", "timestamp": when.isoformat()}
    ]
    events = await backend.get_job_events(spent)
    assert events[-1].event_type.value == "failed"
    assert events[-1].metadata == {
        "message": "worker died",
        "failure_reason": "worker_lost",
        "next_attempt_at": None,
    }


async def test_a_stuck_job_with_no_worker_is_reclaimed_from_null(
    backend: PostgresBackend, schema: str
) -> None:
    (job_id,) = await backend.add_jobs([job()], now=NOW)
    await claim(backend)
    # No claim leaves a job so; the event still says what _transitions does.
    await execute(
        f'UPDATE "{schema}".job_queue SET locked_by = NULL WHERE id = {job_id}'
    )
    assert await backend.reclaim_stuck_jobs(
        60, "lost", now=NOW + timedelta(hours=1)
    ) == [job_id]
    events = await backend.get_job_events(job_id)
    assert events[-1].metadata == reclaimed_metadata(None) == {"reclaimed_from": None}


async def test_a_huge_timeout_does_not_stop_reclaim_for_the_queue(
    backend: PostgresBackend, schema: str
) -> None:
    huge, plain = await backend.add_jobs([job(), job()], now=NOW)
    # Validation refuses such a value today; a row written before may hold it.
    await execute(f'UPDATE "{schema}".job_queue SET timeout = 1e12 WHERE id = {huge}')
    await claim(backend, 2)
    far = NOW + timedelta(days=365)
    assert await backend.reclaim_stuck_jobs(60, "lost", now=far) == [plain]
    kept = await backend.get_job(huge)
    back = await backend.get_job(plain)
    assert kept is not None and kept.status is JobStatus.PROCESSING
    assert back is not None and back.status is JobStatus.PENDING
    assert await backend.reclaim_stuck_jobs(1e300, "lost", now=far) == []


async def test_release_gives_the_attempt_back(backend: PostgresBackend) -> None:
    (job_id,) = await backend.add_jobs([job()], now=NOW)
    (lease,) = await claim(backend, worker="leaving")
    assert await backend.release_jobs([lease], now=LATER) == 1
    stored = await backend.get_job(job_id)
    assert stored is not None
    assert (stored.status, stored.attempts, stored.run_at, stored.locked_by) == (
        JobStatus.PENDING,
        0,
        NOW,  # added at NOW: it keeps its place in line
        None,
    )
    events = await backend.get_job_events(job_id)
    assert events[-1].metadata == {"released_by": "leaving"}
    assert await backend.release_jobs([lease], now=LATER) == 0


async def test_retry_moves_failed_and_cancelled_jobs_never_processing_ones(
    backend: PostgresBackend,
) -> None:
    running, failing, cancelled = await backend.add_jobs(
        [job(), job(), job(run_at=NOW + timedelta(days=1))], now=NOW
    )
    leases = await claim(backend, 2)
    await backend.settle_and_claim([failed(leases[1])], None, now=NOW)
    assert await backend.cancel_job(cancelled, now=NOW)
    assert not await backend.retry_job(running, now=LATER)
    assert await backend.retry_job(failing, now=LATER)
    assert await backend.retry_job(cancelled, now=LATER)
    for job_id, status in [
        (running, JobStatus.PROCESSING),
        (failing, JobStatus.PENDING),
        (cancelled, JobStatus.PENDING),
    ]:
        stored = await backend.get_job(job_id)
        assert stored is not None and stored.status is status
    assert [lease.job_id for lease in await claim(backend, now=LATER)] == [
        failing,
        cancelled,
    ]


async def test_a_typed_claim_takes_only_its_types(backend: PostgresBackend) -> None:
    ids = await backend.add_jobs([job("a"), job("b"), job("c"), job("a")], now=NOW)
    leases = await claim(backend, 10, job_types=("a", "c"))
    assert [lease.job_id for lease in leases] == [ids[0], ids[2], ids[3]]
    assert [lease.job_id for lease in await claim(backend)] == [ids[1]]


async def test_a_row_that_will_not_decode_comes_back_as_a_broken_job(
    backend: PostgresBackend, schema: str
) -> None:
    ids = await backend.add_jobs([job(), job(), job()], now=NOW)
    # A timestamp Python cannot hold: psycopg refuses to load the row.
    await execute(
        f"UPDATE \"{schema}\".job_queue SET started_at = 'infinity' WHERE id = {ids[1]}"
    )
    token = secrets.token_hex(8)
    exchange = await backend.settle_and_claim([], ClaimRequest("w", token, 10), now=NOW)
    assert [j.id for j in exchange.claimed] == ids
    broken = exchange.claimed[1]
    assert isinstance(broken, BrokenJob)
    assert "DataError" in broken.error
    assert not isinstance(exchange.claimed[0], BrokenJob)
    assert not isinstance(exchange.claimed[2], BrokenJob)
    # Still claimed under the lease: it can be failed like any other.
    exchange = await backend.settle_and_claim(
        [failed(Lease(broken.id, token))], None, now=NOW
    )
    assert exchange.settled == [True]


async def test_concurrent_claimers_settling_as_they_go_share_no_job(
    make_backend: MakeBackend, schema: str
) -> None:
    backends = [await make_backend() for _ in range(3)]
    await backends[0].add_jobs([job() for _ in range(120)], now=NOW)

    async def work(n: int) -> list[int]:
        backend = backends[n % 3]
        got: list[int] = []
        outcomes: list[Completion] = []
        while True:
            token = secrets.token_hex(8)
            exchange = await backend.settle_and_claim(
                outcomes, ClaimRequest(f"w{n % 2}", token, 4), now=NOW
            )
            assert all(exchange.settled)
            got.extend(j.id for j in exchange.claimed)
            outcomes = [done(Lease(j.id, token)) for j in exchange.claimed]
            if not outcomes:
                return got

    claimed = await asyncio.gather(*(work(n) for n in range(6)))
    every = [i for ids in claimed for i in ids]
    assert len(every) == len(set(every)) == 120
    assert (
        await scalar(
            f"SELECT count(*) FROM \"{schema}\".job_queue WHERE status = 'completed'"
        )
        == 120
    )
    assert await scalar(f'SELECT count(*) FROM "{schema}".job_events') == 120 * 3
