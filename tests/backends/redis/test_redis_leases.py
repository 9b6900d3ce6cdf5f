"""Leases on the Redis store: fencing, heartbeats, reclaim, release, broken
jobs, and claims that never share a job."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import redis.asyncio as aioredis
from redis_helpers import NOW, claim, claimed_ids, done, failed, new_job, settle
from tests.conftest import REDIS_URL

from dataqueue._commands import BrokenJob, ClaimRequest, JobChanges, JobFilter, Lease
from dataqueue._transitions import reclaimed_metadata
from dataqueue.backends.redis import RedisBackend, keys
from dataqueue.backends.redis.codec import as_text, micros_text
from dataqueue.backends.redis.exchange import (
    HELD_JOB_EVENTS,
    RECLAIMED_TEMPLATE,
    failure_args,
    lost_worker_letters,
)
from dataqueue.models import FailureReason, JobRecord, JobStatus

MakeBackend = Callable[..., Awaitable[RedisBackend]]
MINUTE = timedelta(minutes=1)


async def job(backend: RedisBackend, job_id: int) -> JobRecord:
    record = await backend.get_job(job_id)
    assert record is not None
    return record


async def event_types(backend: RedisBackend, job_id: int) -> list[str]:
    return [event.event_type for event in await backend.get_job_events(job_id)]


async def test_stale_lease_writes_change_nothing_after_a_reclaim(
    backend: RedisBackend,
) -> None:
    [job_id] = await backend.add_jobs([new_job()], now=NOW)
    # The same worker id claims again after the reclaim: only the token tells.
    old, _ = await claim(backend, worker="w")
    later = NOW + 2 * MINUTE
    assert await backend.reclaim_stuck_jobs(60, "lost", now=later) == [job_id]
    new, [again] = await claim(backend, worker="w", now=later)
    assert again.id == job_id and again.attempts == 2

    stale = Lease(job_id, old)
    assert not await backend.set_progress(stale, 90, now=later)
    assert not await backend.prolong_job(stale, 30.0, now=later)
    assert await backend.heartbeat([stale], now=later) == []
    assert await backend.release_jobs([stale], now=later) == 0
    assert await settle(
        backend, done(job_id, old, "stale"), failed(job_id, old), now=later
    ) == [False, False]
    current = await job(backend, job_id)
    assert (current.status, current.progress, current.output) == (
        JobStatus.PROCESSING,
        None,
        None,
    )
    assert current.locked_at == later

    assert await backend.set_progress(Lease(job_id, new), 40, now=later)
    assert await settle(backend, done(job_id, new, "fresh"), now=later) == [True]
    finished = await job(backend, job_id)
    assert (finished.status, finished.output, finished.progress) == (
        JobStatus.COMPLETED,
        "fresh",
        40,
    )
    assert (finished.locked_by, finished.locked_at) == (None, None)
    assert await settle(backend, done(job_id, new, "twice"), now=later) == [False]
    assert await event_types(backend, job_id) == [
        "added",
        "processing",
        "retried",
        "processing",
        "completed",
    ]


async def test_outcomes_settle_and_claim_in_one_call(backend: RedisBackend) -> None:
    first, second, third = await backend.add_jobs(
        [new_job(), new_job(), new_job()], now=NOW
    )
    token, jobs = await claim(backend, 2)
    assert [j.id for j in jobs] == [first, second]
    retry_at = NOW + MINUTE
    next_token, claimed = await claim(
        backend,
        5,
        outcomes=[done(first, token, {"n": 1}), failed(second, token, "x", retry_at)],
    )
    assert [j.id for j in claimed] == [third]
    assert (await job(backend, first)).status is JobStatus.COMPLETED
    failure = await job(backend, second)
    assert (failure.status, failure.next_attempt_at) == (JobStatus.FAILED, retry_at)
    assert failure.failure_reason is FailureReason.HANDLER_ERROR
    events = await backend.get_job_events(second)
    assert events[-1].metadata == {
        "message": "x",
        "failure_reason": "handler_error",
        "next_attempt_at": retry_at.isoformat(),
    }
    # Its retry comes due: a claim takes it again.
    _, [retried] = await claim(backend, 5, now=retry_at)
    assert (retried.id, retried.attempts) == (second, 2)
    assert next_token != token


async def test_heartbeat_keeps_a_long_job_from_reclaim(backend: RedisBackend) -> None:
    ids = await backend.add_jobs([new_job(), new_job()], now=NOW)
    token, _ = await claim(backend, 2)
    beat = NOW + 50 * MINUTE
    held = await backend.heartbeat(
        [Lease(ids[0], token), Lease(ids[1], "not-mine")], now=beat
    )
    assert held == [ids[0]]
    assert (await job(backend, ids[0])).locked_at == beat
    # Ten minutes after the claim only the job without heartbeats is stuck.
    assert await backend.reclaim_stuck_jobs(600, "lost", now=beat + MINUTE) == [ids[1]]
    assert (await job(backend, ids[0])).status is JobStatus.PROCESSING
    assert (await job(backend, ids[1])).status is JobStatus.PENDING


async def test_reclaim_counts_the_lost_attempt_and_fails_for_good_at_the_last(
    backend: RedisBackend,
) -> None:
    [job_id, other] = await backend.add_jobs(
        [new_job(max_attempts=2), new_job(run_at=NOW + timedelta(hours=5))], now=NOW
    )
    at = NOW
    for attempt in (1, 2):
        _, [claimed] = await claim(backend, now=at)
        assert (claimed.id, claimed.attempts) == (job_id, attempt)
        at += 2 * MINUTE
        assert await backend.reclaim_stuck_jobs(60, "worker died", now=at) == [job_id]
        record = await job(backend, job_id)
        if attempt == 1:
            # Back to pending, due now, behind jobs already waiting.
            assert (record.status, record.run_at, record.attempts) == (
                JobStatus.PENDING,
                at,
                1,
            )
            assert (record.locked_by, record.locked_at) == (None, None)
    assert record.status is JobStatus.FAILED
    assert record.failure_reason is FailureReason.WORKER_LOST
    assert record.next_attempt_at is None
    assert record.error_history == [
        {"message": "worker died", "timestamp": at.isoformat()}
    ]
    events = await backend.get_job_events(job_id)
    assert [e.event_type for e in events][-2:] == ["processing", "failed"]
    assert events[-1].metadata == {
        "message": "worker died",
        "failure_reason": "worker_lost",
        "next_attempt_at": None,
    }
    assert events[2].metadata == {"reclaimed_from": "w"}
    # Failed for good: never claimed again, and cleaned up like any final job.
    assert [j.id for j in (await claim(backend, now=at + timedelta(days=1)))[1]] == [
        other
    ]
    assert await backend.cleanup_old_jobs(at + MINUTE, 10) == 1


async def test_release_gives_the_attempt_back(backend: RedisBackend) -> None:
    ids = await backend.add_jobs([new_job(), new_job()], now=NOW)
    token, _ = await claim(backend, 2, worker="w1")
    later = NOW + MINUTE
    released = await backend.release_jobs(
        [Lease(ids[0], token), Lease(ids[1], "other")], now=later
    )
    assert released == 1
    record = await job(backend, ids[0])
    assert (record.status, record.attempts, record.run_at, record.locked_by) == (
        JobStatus.PENDING,
        0,
        NOW,  # added at NOW: it keeps its place in line
        None,
    )
    events = await backend.get_job_events(ids[0])
    assert (events[-1].event_type, events[-1].metadata) == (
        "retried",
        {"released_by": "w1"},
    )
    assert not await backend.set_progress(Lease(ids[0], token), 5, now=later)
    _, [again] = await claim(backend, 5, now=later)
    assert (again.id, again.attempts) == (ids[0], 1)


async def test_retry_job_takes_failed_and_cancelled_jobs_only(
    backend: RedisBackend,
) -> None:
    running, cancelled = await backend.add_jobs(
        [new_job(), new_job(run_at=NOW + timedelta(days=1))], now=NOW
    )
    token, _ = await claim(backend, 1)
    assert not await backend.retry_job(running, now=NOW)
    assert await backend.cancel_job(cancelled, now=NOW)
    assert await backend.retry_job(cancelled, now=NOW)
    record = await job(backend, cancelled)
    assert (record.status, record.run_at) == (JobStatus.PENDING, NOW)
    assert await settle(backend, failed(running, token)) == [True]
    assert await backend.retry_job(running, now=NOW)
    assert not await backend.retry_job(running, now=NOW)
    _, jobs = await claim(backend, 5)
    assert sorted(j.id for j in jobs) == sorted([running, cancelled])


async def test_a_stuck_job_with_no_worker_is_reclaimed_from_null(
    backend: RedisBackend, prefix: str
) -> None:
    (job_id,) = await backend.add_jobs([new_job()], now=NOW)
    await claim(backend)
    # No claim leaves a job so; the event still says what _transitions does.
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.hdel(keys.job(prefix, job_id), "locked_by")
    finally:
        await client.aclose()
    assert await backend.reclaim_stuck_jobs(60, "lost", now=NOW + MINUTE * 60) == [
        job_id
    ]
    events = await backend.get_job_events(job_id)
    assert events[-1].metadata == reclaimed_metadata(None) == {"reclaimed_from": None}


async def test_a_damaged_job_comes_back_broken_and_stays_claimed(
    backend: RedisBackend, prefix: str
) -> None:
    ids = await backend.add_jobs([new_job(), new_job(), new_job()], now=NOW)
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.hset(keys.job(prefix, ids[1]), "payload", "{not json")
        await client.hset(keys.job(prefix, ids[2]), "created_at", "yesterday")
    finally:
        await client.aclose()
    exchange = await backend.settle_and_claim([], ClaimRequest("w", "t", 10), now=NOW)
    first, second, third = exchange.claimed
    assert isinstance(first, JobRecord) and first.id == ids[0]
    assert isinstance(second, BrokenJob) and second.id == ids[1]
    assert isinstance(third, BrokenJob) and third.id == ids[2]
    assert "cannot be decoded" in second.error
    # Still claimed under the lease, so the processor can fail it for good.
    assert await settle(
        backend,
        failed(ids[1], "t", second.error, reason=FailureReason.HANDLER_ERROR),
    ) == [True]


async def test_concurrent_settle_and_claim_never_share_a_job(
    make_backend: MakeBackend, prefix: str
) -> None:
    backends = [await make_backend(prefix) for _ in range(4)]
    total = 400
    await backends[0].add_jobs([new_job() for _ in range(total)], now=NOW)
    seen: list[int] = []

    async def worker(index: int) -> None:
        backend = backends[index % 4]
        outcomes: list = []
        while True:
            token, jobs = await claim(backend, 7, worker=f"w{index}", outcomes=outcomes)
            if not jobs:
                return
            seen.extend(j.id for j in jobs)
            outcomes = [done(j.id, token) for j in jobs]

    await asyncio.gather(*(worker(i) for i in range(12)))
    assert len(seen) == len(set(seen)) == total
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        # Every job ended in exactly one status index, and the claim zsets
        # hold nothing: the last outcome of each worker was settled above
        # by its final (empty) claim.
        assert await client.zcard(keys.status(prefix, "completed")) == total
        for name in ("pending", "processing"):
            assert await client.zcard(keys.status(prefix, name)) == 0
        for key in (keys.ready(prefix, "task"), keys.processing(prefix)):
            assert await client.zcard(key) == 0
        assert await client.zcard(keys.finished(prefix)) == total
    finally:
        await client.aclose()


async def test_a_claim_of_every_type_finds_a_type_the_types_set_lacks(
    backend: RedisBackend, prefix: str
) -> None:
    """A dataset written before {p}types existed: its type is noted when its
    job becomes due, so a claim of every type reads that type's ready zset."""
    later = NOW + timedelta(hours=1)
    (job_id,) = await backend.add_jobs([new_job("old", run_at=later)], now=NOW)
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.delete(keys.types(prefix))
    finally:
        await client.aclose()
    assert await claimed_ids(backend, now=later) == [job_id]


async def test_an_edit_drops_the_earlier_releases_ready_entry(
    backend: RedisBackend, prefix: str
) -> None:
    """A job still in the single ready zset of earlier releases, edited to
    run later, is claimed at its new time, not by its old entry."""
    (job_id,) = await backend.add_jobs([new_job()], now=NOW)
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        # As an earlier release left it: in {p}ready, not in its type's zset.
        per_type = keys.ready(prefix, "task")
        entries = await client.zrange(per_type, 0, -1, withscores=True)
        await client.delete(per_type)
        await client.zadd(keys.legacy_ready(prefix), dict(entries))
    finally:
        await client.aclose()
    later = NOW + timedelta(hours=1)
    edit = JobChanges({"run_at": later}, {"run_at": later.isoformat()})
    assert await backend.edit_jobs(job_id, edit, now=NOW) == 1
    assert await claimed_ids(backend, now=NOW) == []
    assert await claimed_ids(backend, now=later) == [job_id]


async def test_a_large_backlog_falls_due_a_slice_per_claim(
    backend: RedisBackend, prefix: str
) -> None:
    later = NOW + timedelta(hours=1)
    await backend.add_jobs([new_job(run_at=later) for _ in range(2500)], now=NOW)
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        _, jobs = await claim(backend, 1, now=later)
        assert len(jobs) == 1
        # One call promoted a bounded slice, not the whole backlog.
        assert await client.zcard(keys.scheduled(prefix)) == 1500
        assert await client.zcard(keys.ready(prefix, "task")) == 999
        _, jobs = await claim(backend, 5000, now=later)
        assert len(jobs) == 1999
        _, jobs = await claim(backend, 5000, now=later)
        assert len(jobs) == 500
    finally:
        await client.aclose()


async def reclaim_call(
    backend: RedisBackend, letters: str, at: datetime
) -> tuple[list[int], list[dict[str, str]]]:
    """One call of reclaim_stuck_jobs.lua with ``letters`` (threshold 60 s):
    the jobs it reclaimed and those it left for their letters."""
    threshold = 60_000_000
    lost = FailureReason.WORKER_LOST
    ids, wanting = await backend._scripts.run(
        "reclaim_stuck_jobs",
        micros_text(at),
        threshold,
        int(micros_text(at)) - threshold,
        *failure_args("worker died", lost, None, at),
        lost.value,
        "fail",
        HELD_JOB_EVENTS,
        letters,
        RECLAIMED_TEMPLATE,
    )
    return [int(i) for i in ids], json.loads(as_text(wanting))


async def test_a_lost_job_s_letter_is_written_only_under_the_lease_it_was_read_under(
    backend: RedisBackend,
) -> None:
    [job_id] = await backend.add_jobs(
        [new_job(max_attempts=1, dead_letter_job_type="dl")], now=NOW
    )
    token, _ = await claim(backend)
    at = NOW + 2 * MINUTE
    # The first call leaves the job as it is and hands its hash back.
    reclaimed, [wanted] = await reclaim_call(backend, "{}", at)
    assert reclaimed == [] and int(wanted["id"]) == job_id
    assert wanted["lease_token"] == token
    assert (await job(backend, job_id)).status is JobStatus.PROCESSING
    # A letter built under another lease is not used: the job is left again.
    letters = json.loads(lost_worker_letters(json.dumps([wanted]), "worker died", at))
    stale = json.dumps({str(job_id): ["another-token", *letters[str(job_id)][1:]]})
    reclaimed, [again] = await reclaim_call(backend, stale, at)
    assert reclaimed == [] and int(again["id"]) == job_id
    assert (await job(backend, job_id)).status is JobStatus.PROCESSING
    # Under its own lease, the failure and the letter are written together.
    reclaimed, left = await reclaim_call(backend, json.dumps(letters), at)
    assert (reclaimed, left) == ([job_id], [])
    record = await job(backend, job_id)
    assert record.status is JobStatus.FAILED and record.dead_letter_job_id is not None
    letter = await job(backend, record.dead_letter_job_id)
    assert letter.payload["failure"]["reason"] == "worker_lost"  # type: ignore[index,call-overload]
    assert await event_types(backend, job_id) == [
        "added",
        "processing",
        "failed",
        "dead_lettered",
    ]


async def test_a_lost_job_whose_hash_will_not_decode_fails_with_no_letter(
    backend: RedisBackend,
) -> None:
    [job_id] = await backend.add_jobs(
        [new_job(max_attempts=1, dead_letter_job_type="dl")], now=NOW
    )
    await claim(backend)
    at = NOW + 2 * MINUTE
    _, [wanted] = await reclaim_call(backend, "{}", at)
    wanted["payload"] = "{not json"
    letters = lost_worker_letters(json.dumps([wanted]), "worker died", at)
    assert json.loads(letters)[str(job_id)][1:] == ["", ""]
    reclaimed, left = await reclaim_call(backend, letters, at)
    assert (reclaimed, left) == ([job_id], [])
    record = await job(backend, job_id)
    assert (record.status, record.dead_letter_job_id) == (JobStatus.FAILED, None)
    assert [j.id for j in await backend.get_jobs(JobFilter(), 10, 0)] == [job_id]
