"""The leased work store on SQLite: settling, fencing, heartbeats, reclaim,
release, broken rows."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

from sqlite_helpers import NOW, claim, claim_one, new_job

from dataqueue._commands import BrokenJob, ClaimRequest, Completion, Failure, Lease
from dataqueue.backends.sqlite import SqliteBackend
from dataqueue.models import FailureReason, JobRecord, JobStatus

LATER = NOW + timedelta(minutes=10)


async def get(backend: SqliteBackend, job_id: int) -> JobRecord:
    job = await backend.get_job(job_id)
    assert job is not None
    return job


async def event_types(backend: SqliteBackend, job_id: int) -> list[str]:
    return [e.event_type.value for e in await backend.get_job_events(job_id)]


def done(lease: Lease, output: object = "ok") -> Completion:
    return Completion(lease, output, {"took": 1})  # type: ignore[arg-type]


def failed(lease: Lease, next_attempt_at: object = None) -> Failure:
    return Failure(lease, "boom", FailureReason.HANDLER_ERROR, next_attempt_at)  # type: ignore[arg-type]


async def test_settle_and_claim_settles_then_claims_in_one_call(
    backend: SqliteBackend,
) -> None:
    first, second, third = await backend.add_jobs(
        [new_job(), new_job(), new_job()], now=NOW
    )
    token, claimed = await claim(backend, limit=2)
    assert [job.id for job in claimed] == [first, second]

    retry_at = NOW + timedelta(minutes=1)
    token2, claimed2 = await claim(
        backend,
        limit=5,
        outcomes=[done(Lease(first, token)), failed(Lease(second, token), retry_at)],
    )

    assert [job.id for job in claimed2] == [third]
    completed = await get(backend, first)
    assert completed.status is JobStatus.COMPLETED
    assert (completed.output, completed.completed_at) == ("ok", NOW)
    assert completed.locked_by is None and completed.locked_at is None
    failure = await get(backend, second)
    assert failure.status is JobStatus.FAILED
    assert failure.next_attempt_at == retry_at
    assert failure.failure_reason is FailureReason.HANDLER_ERROR
    assert failure.error_history == [{"message": "boom", "timestamp": NOW.isoformat()}]
    events = await backend.get_job_events(first)
    assert [e.event_type.value for e in events] == ["added", "processing", "completed"]
    assert events[1].metadata == {"worker_id": "w", "attempt": 1}
    assert events[2].metadata == {"took": 1}
    (failed_event,) = [
        e for e in await backend.get_job_events(second) if e.event_type == "failed"
    ]
    assert failed_event.metadata == {
        "message": "boom",
        "failure_reason": "handler_error",
        "next_attempt_at": retry_at.isoformat(),
    }
    # The failed job is due again at retry_at, and then claimed again.
    _, due = await claim(backend, now=retry_at)
    assert [job.id for job in due] == [second]
    assert isinstance(due[0], JobRecord) and due[0].attempts == 2
    assert token2 != token


async def test_settle_without_claim_and_nothing_at_all(backend: SqliteBackend) -> None:
    (job_id,) = await backend.add_jobs([new_job()], now=NOW)
    lease, _ = await claim_one(backend)

    nothing = await backend.settle_and_claim([], None, now=NOW)
    assert (nothing.settled, nothing.claimed) == ([], [])
    exchange = await backend.settle_and_claim([done(lease)], None, now=NOW)

    assert (exchange.settled, exchange.claimed) == ([True], [])
    assert (await get(backend, job_id)).status is JobStatus.COMPLETED


async def test_claim_takes_only_the_requested_job_types(
    backend: SqliteBackend,
) -> None:
    ids = await backend.add_jobs([new_job("a"), new_job("b"), new_job("c")], now=NOW)
    exchange = await backend.settle_and_claim(
        [],
        ClaimRequest("w", "t", 10, ("a", "c")),
        now=NOW,
    )
    assert [job.id for job in exchange.claimed] == [ids[0], ids[2]]


async def test_a_stale_lease_writes_nothing_after_reclaim_even_under_the_same_worker_id(
    backend: SqliteBackend,
) -> None:
    (job_id,) = await backend.add_jobs([new_job(max_attempts=5)], now=NOW)
    stale, _ = await claim_one(backend, "worker-1")
    assert await backend.reclaim_stuck_jobs(60, "lost", now=LATER) == [job_id]
    # The restarted worker comes back with the same id and takes the job again.
    fresh, _ = await claim_one(backend, "worker-1", now=LATER)
    assert fresh.token != stale.token

    exchange = await backend.settle_and_claim(
        [done(stale, "stale output"), failed(stale)], None, now=LATER
    )
    assert exchange.settled == [False, False]
    assert not await backend.set_progress(stale, 99, now=LATER)
    assert not await backend.prolong_job(stale, 30, now=LATER)
    assert await backend.heartbeat([stale], now=LATER) == []
    assert await backend.release_jobs([stale], now=LATER) == 0

    job = await get(backend, job_id)
    assert job.status is JobStatus.PROCESSING
    assert (job.locked_by, job.attempts, job.progress, job.output) == (
        "worker-1",
        2,
        None,
        None,
    )
    assert job.error_history == []
    assert await event_types(backend, job_id) == [
        "added",
        "processing",
        "retried",
        "processing",
    ]
    # The live lease still writes.
    assert await backend.set_progress(fresh, 40, now=LATER)
    assert await backend.prolong_job(fresh, 30, now=LATER)
    exchange = await backend.settle_and_claim([done(fresh)], None, now=LATER)
    assert exchange.settled == [True]
    finished = await get(backend, job_id)
    assert (finished.status, finished.progress) == (JobStatus.COMPLETED, 40)


async def test_a_lease_ends_with_its_outcome(backend: SqliteBackend) -> None:
    await backend.add_jobs([new_job()], now=NOW)
    lease, _ = await claim_one(backend)
    exchange = await backend.settle_and_claim(
        [done(lease), done(lease, "twice")], None, now=NOW
    )
    assert exchange.settled == [True, False]
    assert not await backend.set_progress(lease, 10, now=NOW)
    assert (await get(backend, lease.job_id)).output == "ok"


async def test_a_cancelled_token_or_unknown_job_holds_no_lease(
    backend: SqliteBackend,
) -> None:
    await backend.add_jobs([new_job()], now=NOW)
    lease, _ = await claim_one(backend)
    forged = Lease(lease.job_id, "not-the-token")
    missing = Lease(12345, lease.token)

    assert not await backend.set_progress(forged, 1, now=NOW)
    assert await backend.heartbeat([forged, missing, lease], now=NOW) == [lease.job_id]
    exchange = await backend.settle_and_claim(
        [done(forged), done(missing)], None, now=NOW
    )
    assert exchange.settled == [False, False]


async def test_prolong_and_progress_record_under_the_lease(
    backend: SqliteBackend,
) -> None:
    (job_id,) = await backend.add_jobs([new_job(timeout=5)], now=NOW)
    lease, _ = await claim_one(backend)
    later = NOW + timedelta(seconds=3)

    assert await backend.prolong_job(lease, 5, now=later)
    assert await backend.set_progress(lease, 55, now=later)

    job = await get(backend, job_id)
    assert (job.locked_at, job.progress) == (later, 55)
    events = await backend.get_job_events(job_id)
    assert events[-1].event_type == "prolonged"
    assert events[-1].metadata == {"timeout": 5}


async def test_heartbeat_keeps_a_long_job_from_being_reclaimed(
    backend: SqliteBackend,
) -> None:
    ids = await backend.add_jobs([new_job(), new_job()], now=NOW)
    token, _ = await claim(backend, limit=2)
    leases = [Lease(job_id, token) for job_id in ids]

    beat = NOW + timedelta(minutes=9)
    assert await backend.heartbeat(leases, now=beat) == ids
    assert (
        await backend.reclaim_stuck_jobs(600, "lost", now=NOW + timedelta(minutes=15))
        == []
    )
    assert (await get(backend, ids[0])).locked_at == beat
    # Without heartbeats the jobs are taken back.
    reclaimed = await backend.reclaim_stuck_jobs(
        600, "lost", now=beat + timedelta(minutes=11)
    )
    assert sorted(reclaimed) == ids
    assert await backend.heartbeat(leases, now=beat) == []


async def test_reclaim_gives_back_jobs_with_attempts_left_behind_the_waiting_ones(
    backend: SqliteBackend,
) -> None:
    stuck_id, waiting_id = await backend.add_jobs(
        [new_job(priority=0), new_job(priority=0, run_at=NOW + timedelta(minutes=1))],
        now=NOW,
    )
    await claim_one(backend, "dead-worker")

    assert await backend.reclaim_stuck_jobs(60, "lost", now=LATER) == [stuck_id]

    job = await get(backend, stuck_id)
    assert job.status is JobStatus.PENDING
    assert (job.run_at, job.attempts, job.locked_by, job.locked_at) == (
        LATER,
        1,
        None,
        None,
    )
    events = await backend.get_job_events(stuck_id)
    assert events[-1].event_type == "retried"
    assert events[-1].metadata == {"reclaimed_from": "dead-worker"}
    _, order = await claim(backend, now=LATER)
    assert [j.id for j in order] == [waiting_id, stuck_id]


async def test_reclaim_respects_a_longer_job_timeout(backend: SqliteBackend) -> None:
    (job_id,) = await backend.add_jobs([new_job(timeout=3600)], now=NOW)
    await claim_one(backend)
    assert await backend.reclaim_stuck_jobs(60, "lost", now=LATER) == []
    assert await backend.reclaim_stuck_jobs(
        60, "lost", now=NOW + timedelta(hours=2)
    ) == [job_id]


async def test_a_huge_job_timeout_does_not_stop_reclaim(backend: SqliteBackend) -> None:
    _, plain_id = await backend.add_jobs([new_job(timeout=1e300), new_job()], now=NOW)
    await claim(backend)
    assert await backend.reclaim_stuck_jobs(60, "lost", now=LATER) == [plain_id]


async def test_a_job_whose_worker_died_max_attempts_times_fails_as_worker_lost(
    backend: SqliteBackend,
) -> None:
    (job_id,) = await backend.add_jobs([new_job(max_attempts=2)], now=NOW)
    now = NOW
    for _ in range(2):
        await claim_one(backend, now=now)
        now += timedelta(minutes=10)
        assert await backend.reclaim_stuck_jobs(60, "worker lost", now=now) == [job_id]

    job = await get(backend, job_id)
    assert job.status is JobStatus.FAILED
    assert job.failure_reason is FailureReason.WORKER_LOST
    assert (job.attempts, job.next_attempt_at, job.locked_by) == (2, None, None)
    assert job.last_failed_at == now
    assert job.error_history == [
        {"message": "worker lost", "timestamp": now.isoformat()}
    ]
    events = await backend.get_job_events(job_id)
    assert events[-1].event_type == "failed"
    assert events[-1].metadata == {
        "message": "worker lost",
        "failure_reason": "worker_lost",
        "next_attempt_at": None,
    }
    _, nothing = await claim(backend, now=now + timedelta(days=1))
    assert nothing == []


async def test_release_gives_jobs_back_with_their_attempt_restored(
    backend: SqliteBackend,
) -> None:
    first, second = await backend.add_jobs([new_job(), new_job()], now=NOW)
    token, _ = await claim(backend, "leaving", limit=2)
    later = NOW + timedelta(seconds=5)

    released = await backend.release_jobs(
        [Lease(first, token), Lease(second, "stale")], now=later
    )

    assert released == 1
    job = await get(backend, first)
    assert job.status is JobStatus.PENDING
    assert (job.attempts, job.locked_by, job.run_at) == (0, None, NOW)
    events = await backend.get_job_events(first)
    assert events[-1].event_type == "retried"
    assert events[-1].metadata == {"released_by": "leaving"}
    assert (await get(backend, second)).status is JobStatus.PROCESSING
    # First in line again.
    _, again = await claim(backend, limit=1, now=later)
    assert [j.id for j in again] == [first]


async def test_retry_job_acts_on_failed_and_cancelled_jobs_only(
    backend: SqliteBackend,
) -> None:
    future = NOW + timedelta(hours=1)
    failing, cancelled, running = await backend.add_jobs(
        [new_job(max_attempts=1), new_job(run_at=future), new_job()], now=NOW
    )
    token, _ = await claim(backend, limit=2)
    await backend.settle_and_claim([failed(Lease(failing, token))], None, now=NOW)
    assert await backend.cancel_job(cancelled, now=NOW)
    later = NOW + timedelta(seconds=1)

    assert not await backend.retry_job(running, now=later)
    assert await backend.retry_job(failing, now=later)
    assert await backend.retry_job(cancelled, now=later)

    assert (await get(backend, running)).status is JobStatus.PROCESSING
    for job_id in (failing, cancelled):
        job = await get(backend, job_id)
        assert job.status is JobStatus.PENDING
        assert job.last_retried_at == later
        assert job.run_at is not None and job.run_at <= later
    assert not await backend.retry_job(failing, now=later)


async def test_a_row_that_cannot_be_decoded_is_claimed_as_a_broken_job(
    backend: SqliteBackend, path: str
) -> None:
    good_before, broken_id, good_after = await backend.add_jobs(
        [new_job(), new_job(), new_job()], now=NOW
    )
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.execute(
                "UPDATE job_queue SET payload = '{not json' WHERE id = ?", (broken_id,)
            )
    finally:
        conn.close()

    token, claimed = await claim(backend)

    assert [job.id for job in claimed] == [good_before, broken_id, good_after]
    broken = claimed[1]
    assert isinstance(broken, BrokenJob)
    assert "JSONDecodeError" in broken.error
    assert isinstance(claimed[0], JobRecord) and isinstance(claimed[2], JobRecord)
    # It is held under the claim's lease, so it can be failed for good.
    exchange = await backend.settle_and_claim(
        [
            Failure(
                Lease(broken_id, token), broken.error, FailureReason.HANDLER_ERROR, None
            )
        ],
        None,
        now=NOW,
    )
    assert exchange.settled == [True]
