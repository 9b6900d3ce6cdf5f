"""Behaviour only the Redis store has: atomic scripts, prefixes, pub/sub."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
import redis.asyncio as aioredis
from redis_helpers import (
    NOW,
    claim,
    claimed_ids,
    done,
    failed,
    new_job,
    prefix_keys,
    settle,
)
from tests.conftest import REDIS_URL, eventually

from dataqueue._commands import JobChanges, JobFilter, Lease
from dataqueue.backends.redis import RedisBackend, keys
from dataqueue.errors import BackendError, StoreUnavailableError
from dataqueue.models import JobRecord, JobStatus, TagFilter, TimeRange

MICRO = timedelta(microseconds=1)
MakeBackend = Callable[..., Awaitable[RedisBackend]]


async def test_concurrent_adds_with_one_key_make_one_job(
    make_backend: MakeBackend, prefix: str
) -> None:
    backends = [await make_backend(prefix) for _ in range(5)]
    ids = await asyncio.gather(
        *(
            backends[i % 5].add_jobs([new_job(idempotency_key="same")], now=NOW)
            for i in range(50)
        )
    )
    assert {job_id for [job_id] in ids} == {ids[0][0]}
    jobs = await backends[0].get_jobs(JobFilter(), 100, 0)
    assert [job.id for job in jobs] == [ids[0][0]]
    assert len(await backends[0].get_job_events(ids[0][0])) == 1


async def test_one_key_twice_in_a_batch_gives_one_id(backend: RedisBackend) -> None:
    ids = await backend.add_jobs(
        [new_job(idempotency_key="k"), new_job(), new_job(idempotency_key="k")],
        now=NOW,
    )
    assert ids[0] == ids[2] != ids[1]


async def test_prefixes_do_not_see_each_other(make_backend: MakeBackend) -> None:
    first, second = await make_backend(), await make_backend()
    [job_id] = await first.add_jobs([new_job(idempotency_key="k")], now=NOW)
    assert await second.get_job(job_id) is None
    assert await second.get_jobs(JobFilter(), 10, 0) == []
    assert await claimed_ids(second) == []
    [other_id] = await second.add_jobs([new_job(idempotency_key="k")], now=NOW)
    # The key was free in second: a job of its own, and first still has one.
    assert await second.get_job(other_id) is not None
    assert [j.id for j in await first.get_jobs(JobFilter(), 10, 0)] == [job_id]
    assert await second.cleanup_old_jobs(NOW + timedelta(days=1), 10) == 0
    assert await claimed_ids(first) == [job_id]


async def test_subscriber_is_woken_by_add_from_another_backend(
    make_backend: MakeBackend, prefix: str
) -> None:
    listener, adder = await make_backend(prefix), await make_backend(prefix)
    wakeup = await listener.subscribe()
    client = aioredis.Redis.from_url(REDIS_URL)
    try:

        async def subscribed() -> bool:
            counts = await client.pubsub_numsub(keys.wakeup(prefix))
            return bool(counts[0][1])

        await eventually(subscribed)
    finally:
        await client.aclose()
    # The signal of the subscription itself (jobs added before it sent none
    # that anyone saw), then nothing until an add.
    assert await wakeup.wait(5)
    assert not await wakeup.wait(0.05)
    await adder.add_jobs([new_job()], now=NOW)
    assert await wakeup.wait(5)
    await wakeup.close()


async def test_local_add_wakes_subscriber_at_once(backend: RedisBackend) -> None:
    wakeup = await backend.subscribe()
    await backend.add_jobs([new_job()], now=NOW)
    assert await wakeup.wait(1)
    await wakeup.close()


async def test_db_argument_is_refused(backend: RedisBackend) -> None:
    with pytest.raises(BackendError, match="needs PostgreSQL or SQLite"):
        await backend.add_jobs([new_job()], now=NOW, db=object())


async def test_open_names_the_unreachable_url() -> None:
    backend = RedisBackend("redis://:secret@127.0.0.1:1/0")
    with pytest.raises(
        StoreUnavailableError, match=r"redis://:\*\*\*@127\.0\.0\.1:1/0"
    ):
        await backend.open()
    await backend.close()


async def test_given_client_is_used_and_never_closed(prefix: str) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    backend = RedisBackend(None, client=client, key_prefix=prefix)
    assert backend.get_redis_client() is client
    await backend.open()
    [job_id] = await backend.add_jobs([new_job(payload={"é": [1.5, None]})], now=NOW)
    job = await backend.get_job(job_id)
    assert job is not None and job.payload == {"é": [1.5, None]}
    assert [event.event_type for event in await backend.get_job_events(job_id)] == [
        "added"
    ]
    await backend.close()
    assert await client.ping()
    await client.aclose()


async def test_migrate_records_schema_version_and_is_repeatable(
    backend: RedisBackend, prefix: str
) -> None:
    await backend.migrate()
    await backend.migrate()
    assert await prefix_keys(prefix) == [keys.schema_version(prefix)]


async def test_migrate_builds_the_type_status_index_of_older_datasets(
    backend: RedisBackend, prefix: str
) -> None:
    ids = await backend.add_jobs([new_job("a"), new_job("b"), new_job("a")], now=NOW)
    await backend.cancel_job(ids[2], now=NOW)
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        # A dataset written before schema version 2 had no type_status keys.
        await client.delete(
            keys.type_status(prefix, "pending", "a"),
            keys.type_status(prefix, "pending", "b"),
            keys.type_status(prefix, "cancelled", "a"),
        )
        await client.set(keys.schema_version(prefix), 1)
        await backend.migrate()
        assert await client.get(keys.schema_version(prefix)) == b"3"
    finally:
        await client.aclose()
    counts = await backend.count_jobs(JobFilter(job_type="a"))
    assert {status: n for status, n in counts.items() if n} == {
        JobStatus.PENDING: 1,
        JobStatus.CANCELLED: 1,
    }
    cancelled = await backend.get_jobs(
        JobFilter(job_type="a", status=JobStatus.CANCELLED), 10, 0
    )
    assert [job.id for job in cancelled] == [ids[2]]


async def test_migrate_builds_the_per_type_stats_keys_of_older_datasets(
    backend: RedisBackend, prefix: str
) -> None:
    ids = await backend.add_jobs([new_job("a"), new_job("b")], now=NOW)
    await backend.cancel_job(ids[1], now=NOW)
    expected = await backend.job_type_stats(now=NOW, since=NOW)
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        # A dataset written before schema version 3 had neither key.
        await client.delete(keys.types(prefix), keys.type_pending(prefix, "a"))
        await client.set(keys.schema_version(prefix), 2)
        assert await backend.job_type_stats(now=NOW, since=NOW) == []
        await backend.migrate()
        assert await client.get(keys.schema_version(prefix)) == b"3"
    finally:
        await client.aclose()
    assert await backend.job_type_stats(now=NOW, since=NOW) == expected
    assert expected[0].oldest_pending_at == NOW


async def test_claim_order_is_exact_for_close_times_and_large_ids(
    backend: RedisBackend,
) -> None:
    micro = timedelta(microseconds=1)
    ids = await backend.add_jobs(
        [
            new_job(priority=1, run_at=NOW - 2 * micro),
            new_job(priority=1, run_at=NOW - micro),
            new_job(priority=1, run_at=NOW - 2 * micro),
            new_job(priority=5, run_at=NOW),
            new_job(priority=-3, run_at=NOW - timedelta(days=3650)),
            new_job(priority=9, run_at=NOW + micro),
        ],
        now=NOW,
    )
    _, claimed = await claim(backend)
    assert [job.id for job in claimed] == [ids[3], ids[0], ids[2], ids[1], ids[4]]
    assert claimed[1].run_at == NOW - 2 * micro
    assert await claimed_ids(backend, now=NOW + micro) == [ids[5]]


async def test_claim_skips_other_types_without_losing_them(
    backend: RedisBackend,
) -> None:
    ids = await backend.add_jobs(
        [new_job("a"), new_job("b"), new_job("a"), new_job("c")], now=NOW
    )
    assert await claimed_ids(backend, 5, job_types=["b", "c"]) == [ids[1], ids[3]]
    assert await claimed_ids(backend, 5) == [ids[0], ids[2]]


@pytest.mark.parametrize("limit", [5, 10])
async def test_claim_for_every_type_there_is_takes_every_due_job(
    backend: RedisBackend, limit: int
) -> None:
    # At 10 the claim counts its types' jobs and reads no candidate's type.
    ids = await backend.add_jobs([new_job("a"), new_job("b"), new_job("a")], now=NOW)
    assert await claimed_ids(backend, limit, job_types=["a", "b"]) == ids
    assert await claimed_ids(backend, limit, job_types=["a", "b"]) == []


async def test_claim_reads_types_when_a_failed_job_of_another_is_due(
    backend: RedisBackend,
) -> None:
    [retried] = await backend.add_jobs([new_job("b")], now=NOW)
    token, _ = await claim(backend, job_types=["b"])
    await settle(backend, failed(retried, token, next_attempt_at=NOW))
    ids = await backend.add_jobs([new_job("a"), new_job("a")], now=NOW)
    assert await claimed_ids(backend, job_types=["a"]) == ids
    assert await claimed_ids(backend, job_types=["a"]) == []
    assert await claimed_ids(backend, job_types=["b"]) == [retried]


async def test_claim_reads_types_of_a_dataset_without_the_type_status_index(
    backend: RedisBackend, prefix: str
) -> None:
    ids = await backend.add_jobs([new_job("a"), new_job("b"), new_job("a")], now=NOW)
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        # Written before schema version 2 and not migrated: no type_status keys.
        await client.delete(
            keys.type_status(prefix, "pending", "a"),
            keys.type_status(prefix, "pending", "b"),
        )
    finally:
        await client.aclose()
    assert await claimed_ids(backend, job_types=["a"]) == [ids[0], ids[2]]
    assert await claimed_ids(backend, job_types=["b"]) == [ids[1]]


async def test_concurrent_claims_never_share_a_job(
    make_backend: MakeBackend, prefix: str
) -> None:
    backends = [await make_backend(prefix) for _ in range(4)]
    await backends[0].add_jobs([new_job() for _ in range(200)], now=NOW)
    batches = await asyncio.gather(
        *(claimed_ids(backends[i % 4], 7, worker=f"w{i}") for i in range(40))
    )
    claimed = [job_id for batch in batches for job_id in batch]
    assert len(claimed) == len(set(claimed)) == 200


async def test_cleanup_removes_every_key_of_a_job(
    backend: RedisBackend, prefix: str
) -> None:
    await backend.migrate()
    [job_id] = await backend.add_jobs(
        [new_job(tags=["x", "y"], idempotency_key="key")], now=NOW
    )
    token, _ = await claim(backend, 1)
    assert await settle(backend, done(job_id, token, {"ok": True})) == [True]
    assert await backend.cleanup_old_jobs(NOW + timedelta(seconds=1), 1) == 1
    left = await prefix_keys(prefix)
    assert left == sorted(
        [
            keys.schema_version(prefix),
            keys.job_id_counter(prefix),
            keys.event_id_counter(prefix),
            keys.instance(prefix),
            # the attempts that ended in NOW's minute, kept for two hours
            keys.ended(prefix, int(NOW.timestamp()) // 60),
        ]
    )
    [again] = await backend.add_jobs([new_job(idempotency_key="key")], now=NOW)
    assert again == job_id + 1


async def test_cleanup_runs_in_batches_until_done(backend: RedisBackend) -> None:
    ids = await backend.add_jobs([new_job() for _ in range(7)], now=NOW)
    for job_id in ids:
        await backend.cancel_job(job_id, now=NOW)
    assert await backend.cleanup_old_jobs(NOW + timedelta(seconds=1), 3) == 7
    assert await backend.get_jobs(JobFilter(), 10, 0) == []
    assert await backend.cleanup_old_job_events(NOW + timedelta(seconds=1), 2) == 0


async def test_event_cleanup_leaves_newer_events(backend: RedisBackend) -> None:
    [job_id] = await backend.add_jobs([new_job()], now=NOW)
    later = NOW + timedelta(minutes=5)
    await backend.cancel_job(job_id, now=later)
    assert await backend.cleanup_old_job_events(later, 1) == 1
    events = await backend.get_job_events(job_id)
    assert [(e.event_type, e.created_at) for e in events] == [("cancelled", later)]


async def test_timed_out_token_resumes_its_waiting_job(
    backend: RedisBackend, prefix: str
) -> None:
    [job_id] = await backend.add_jobs([new_job()], now=NOW)
    deadline = NOW + timedelta(hours=1)
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        # Tokens are created by a later feature: write what it will write.
        await client.hset(
            keys.token(prefix, "tok-1"),
            mapping={
                "id": "tok-1",
                "job_id": job_id,
                "status": "waiting",
                "created_at": 0,
                "tags": "[]",
                "timeout_at": 0,
            },
        )
        await client.zadd(keys.token_timeouts(prefix), {"tok-1": 0})
        await client.hset(keys.token(prefix, "tok-2"), mapping={"status": "waiting"})
        await client.zadd(keys.token_timeouts(prefix), {"tok-2": 10**20})
        await client.hset(
            keys.job(prefix, job_id),
            mapping={"status": "waiting", "wait_token_id": "tok-1"},
        )
        await client.zrem(keys.status(prefix, "pending"), job_id)
        await client.zadd(keys.status(prefix, "waiting"), {str(job_id): job_id})
        await client.zrem(keys.scheduled(prefix), job_id)

        assert await backend.expire_timed_out_tokens(now=deadline) == 1
        assert await backend.expire_timed_out_tokens(now=deadline) == 0
        token = await client.hgetall(keys.token(prefix, "tok-1"))
    finally:
        await client.aclose()
    assert token[b"status"] == b"timed_out"
    job = await backend.get_job(job_id)
    assert job is not None
    assert (job.status, job.wait_token_id) == (JobStatus.PENDING, "tok-1")
    events = await backend.get_job_events(job_id)
    assert events[-1].event_type == "resumed"
    assert events[-1].metadata == {"token_id": "tok-1", "timed_out": True}
    assert await claimed_ids(backend, 5, now=deadline) == [job_id]


def _reference_match(job: JobRecord, where: JobFilter) -> bool:
    if where.job_type is not None and job.job_type != where.job_type:
        return False
    if where.priority is not None and job.priority != where.priority:
        return False
    if where.status is not None and job.status != where.status:
        return False
    if where.run_at is not None:
        r, b = job.run_at, where.run_at
        if not (
            (b.gt is None or r > b.gt)
            and (b.gte is None or r >= b.gte)
            and (b.lt is None or r < b.lt)
            and (b.lte is None or r <= b.lte)
            and (b.eq is None or r == b.eq)
        ):
            return False
    if where.tags is not None:
        have, want = set(job.tags), set(where.tags.values)
        ok = {
            "all": want <= have,
            "any": bool(want & have),
            "none": not (want & have),
            "exact": want == have,
        }[where.tags.mode]
        if not ok:
            return False
    return True


async def test_filters_and_pages_match_a_reference(backend: RedisBackend) -> None:
    rng = random.Random(7)
    tag_pool = ["a", "b", "c", "d"]
    minute = timedelta(minutes=1)
    specs = [
        new_job(
            rng.choice(["x", "y", "z"]),
            priority=rng.randint(0, 2),
            run_at=NOW + rng.randint(-3, 3) * minute,
            tags=rng.sample(tag_pool, rng.randint(0, 3)),
        )
        for _ in range(120)
    ]
    ids = await backend.add_jobs(specs, now=NOW)
    for job_id in ids[::4]:
        await backend.cancel_job(job_id, now=NOW)
    everything = [await backend.get_job(job_id) for job_id in reversed(ids)]
    jobs = [job for job in everything if job is not None]

    filters = [JobFilter()]
    for _ in range(150):
        tags = None
        if rng.random() < 0.6:
            tags = TagFilter(
                rng.sample(tag_pool, rng.randint(0, 3)),
                rng.choice(["all", "any", "none", "exact"]),
            )
        filters.append(
            JobFilter(
                job_type=rng.choice([None, "x", "y"]),
                priority=rng.choice([None, None, 0, 2]),
                run_at=rng.choice(
                    [
                        None,
                        TimeRange(gte=NOW),
                        TimeRange(gt=NOW - minute, lte=NOW + 2 * minute),
                        TimeRange(eq=NOW),
                        TimeRange(lt=NOW),
                    ]
                ),
                tags=tags,
                status=rng.choice([None, JobStatus.PENDING, JobStatus.CANCELLED]),
            )
        )
    for where in filters:
        expected = [job.id for job in jobs if _reference_match(job, where)]
        limit, offset = rng.randint(0, 15), rng.randint(0, 5)
        page = await backend.get_jobs(where, limit, offset)
        assert [job.id for job in page] == expected[offset : offset + limit], where
        assert [j.id for j in await backend.get_jobs(where, 1000, 0)] == expected


async def test_indexes_follow_edits_of_jobs_already_promoted(
    backend: RedisBackend,
) -> None:
    low, high = await backend.add_jobs([new_job(), new_job(tags=["a"])], now=NOW)
    # Both are due, so they wait in the ready zset already.
    assert await claimed_ids(backend, 5, job_types=["none"]) == []
    later = NOW + timedelta(minutes=1)
    edited = await backend.edit_jobs(
        high,
        JobChanges({"priority": 9, "tags": ["b"]}, {"priority": 9, "tags": ["b"]}),
        now=NOW,
    )
    assert edited == 1
    await backend.edit_jobs(
        low,
        JobChanges({"run_at": later}, {"run_at": later.isoformat()}),
        now=NOW,
    )
    by_tag = await backend.get_jobs(JobFilter(tags=TagFilter(["a"])), 10, 0)
    assert by_tag == []
    by_tag = await backend.get_jobs(JobFilter(tags=TagFilter(["b"])), 10, 0)
    assert [job.id for job in by_tag] == [high]
    assert await claimed_ids(backend, 5) == [high]
    assert await claimed_ids(backend, 5, now=later) == [low]


async def test_failed_job_waits_for_its_next_attempt_and_retry_job_skips_it(
    backend: RedisBackend,
) -> None:
    [job_id] = await backend.add_jobs([new_job()], now=NOW)
    token, _ = await claim(backend, 1)
    next_at = NOW + timedelta(minutes=5)
    assert await settle(backend, failed(job_id, token, "boom", next_at)) == [True]
    assert await claimed_ids(backend, 1, now=next_at - MICRO) == []
    assert await backend.retry_job(job_id, now=NOW)
    token, [again] = await claim(backend, 1)
    assert (again.id, again.attempts, again.next_attempt_at) == (job_id, 2, None)
    assert await settle(backend, failed(job_id, token, "again")) == [True]
    assert await claimed_ids(backend, 1, now=next_at) == []
    job = await backend.get_job(job_id)
    assert job is not None
    assert [entry["message"] for entry in job.error_history] == ["boom", "again"]
    assert await backend.cleanup_old_jobs(NOW + MICRO, 10) == 1


async def test_bulk_cancel_and_reclaim_go_in_id_order(backend: RedisBackend) -> None:
    # As on the other stores: the ids come back (and their events are
    # written) in id order, not in the order of an index.
    ids = await backend.add_jobs([new_job() for _ in range(3)], now=NOW)
    assert await backend.cancel_jobs(JobFilter(), now=NOW) == ids
    cancel_events = [(await backend.get_job_events(job_id))[-1].id for job_id in ids]
    assert cancel_events == sorted(cancel_events)

    # Claimed later, the lower id is locked later: the processing index puts
    # it second.
    low, high = await backend.add_jobs(
        [new_job(priority=0), new_job(priority=10)], now=NOW
    )
    await claim(backend, 1)
    await claim(backend, 1, now=NOW + timedelta(seconds=5))
    later = NOW + timedelta(minutes=10)
    assert await backend.reclaim_stuck_jobs(60, "lost", now=later) == [low, high]


async def test_reclaim_and_prolong_use_the_lock_time(backend: RedisBackend) -> None:
    ids = await backend.add_jobs([new_job(), new_job(timeout=600.0)], now=NOW)
    token, _ = await claim(backend, 2)
    prolonged_at = NOW + timedelta(seconds=30)
    assert await backend.prolong_job(Lease(ids[0], token), 30.0, now=prolonged_at)
    assert not await backend.prolong_job(Lease(ids[0], "other"), 30.0, now=prolonged_at)
    stale = NOW + timedelta(seconds=61)
    assert await backend.reclaim_stuck_jobs(60, "lost", now=stale) == []
    later = prolonged_at + timedelta(seconds=61)
    assert await backend.reclaim_stuck_jobs(60, "lost", now=later) == [ids[0]]
    events = await backend.get_job_events(ids[0])
    assert [e.event_type for e in events] == [
        "added",
        "processing",
        "prolonged",
        "retried",
    ]
    assert events[2].metadata == {"timeout": 30.0}
    assert events[3].metadata == {"reclaimed_from": "w"}
    later = NOW + timedelta(seconds=601)
    assert await backend.reclaim_stuck_jobs(60, "lost", now=later) == [ids[1]]
