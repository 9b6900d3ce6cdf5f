"""Dedupe windows: ``dedupe=dq.Dedupe(key, window, mode)`` collapses adds
that share a key, decided in the store's atomic add, timed by the queue's
clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

import dataqueue as dq
from tests.conftest import FakeClock


async def get(queue: dq.JobQueue, job_id: int) -> dq.JobRecord:
    job = await queue.get_job(job_id)
    assert job is not None
    return job


async def run_all(queue: dq.JobQueue, handler: Any = None) -> int:
    return await queue.create_processor(
        {"sync": handler or (lambda p: None)}, batch_size=100
    ).start()


def until_done(window: float | None = None) -> dq.Dedupe:
    return dq.Dedupe("user:42", window=window, mode="until_done")


async def test_until_done_keeps_one_unfinished_job_per_key(
    queue: dq.JobQueue,
) -> None:
    first = await queue.add_job("sync", {"n": 1}, dedupe=until_done())
    assert await queue.add_job("sync", {"n": 2}, dedupe=until_done()) == first
    job = await get(queue, first)
    assert job.payload == {"n": 1} and job.dedupe_key == "user:42"
    assert [j.id for j in await queue.get_all_jobs()] == [first]
    # another key is another job
    other = await queue.add_job("sync", {}, dedupe=dq.Dedupe("user:7"))
    assert other != first

    assert await run_all(queue) == 2
    assert (await get(queue, first)).status is dq.JobStatus.COMPLETED
    second = await queue.add_job("sync", {"n": 3}, dedupe=until_done())
    assert second not in (first, other)
    assert (await get(queue, second)).payload == {"n": 3}


async def test_until_done_holds_while_processing_and_while_a_retry_is_planned(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    started: list[int] = []

    async def handler(payload: Any, ctx: dq.JobContext) -> None:
        started.append(ctx.job_id)
        assert await queue.add_job("sync", {}, dedupe=until_done()) == ctx.job_id
        raise RuntimeError("flaky")

    first = await queue.add_job(
        "sync",
        {},
        max_attempts=2,
        retry_delay=10,
        retry_backoff=False,
        dedupe=until_done(),
    )
    await run_all(queue, handler)
    job = await get(queue, first)
    assert job.status is dq.JobStatus.FAILED and job.next_attempt_at is not None
    assert await queue.add_job("sync", {}, dedupe=until_done()) == first

    clock.advance(10)
    await run_all(queue, handler)
    assert started == [first, first]
    assert (await get(queue, first)).next_attempt_at is None  # failed for good
    assert await queue.add_job("sync", {}, dedupe=until_done()) != first


async def test_until_done_frees_the_key_of_a_cancelled_job(queue: dq.JobQueue) -> None:
    first = await queue.add_job("sync", {}, dedupe=until_done())
    assert await queue.cancel_job(first)
    assert await queue.add_job("sync", {}, dedupe=until_done()) != first


async def test_until_done_with_a_window_frees_the_key_when_it_ends(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    first = await queue.add_job("sync", {}, dedupe=until_done(window=30))
    clock.advance(29)
    assert await queue.add_job("sync", {}, dedupe=until_done(window=30)) == first
    clock.advance(1)
    second = await queue.add_job("sync", {}, dedupe=until_done(window=30))
    assert second != first
    assert len(await queue.get_all_jobs()) == 2


async def test_throttle_returns_the_first_id_within_the_window(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    throttle = dq.Dedupe("user:42", window=timedelta(seconds=60), mode="throttle")
    first = await queue.add_job("sync", {"n": 1}, dedupe=throttle)
    await run_all(queue)
    assert (await get(queue, first)).status is dq.JobStatus.COMPLETED
    clock.advance(59)
    # finished or not, the key is held for the whole window
    assert await queue.add_job("sync", {"n": 2}, dedupe=throttle) == first
    assert (await get(queue, first)).payload == {"n": 1}

    clock.advance(1)
    second = await queue.add_job("sync", {"n": 3}, dedupe=throttle)
    assert second != first
    # the new job opens a new window
    clock.advance(30)
    assert await queue.add_job("sync", {"n": 4}, dedupe=throttle) == second
    assert [e.event_type.value for e in await queue.get_job_events(second)] == ["added"]


async def test_debounce_moves_the_pending_job_and_takes_the_last_payload(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    debounce = dq.Dedupe("doc:9", window=10, mode="debounce")
    start = clock.now()
    first = await queue.add_job("sync", {"v": 1}, dedupe=debounce)
    job = await get(queue, first)
    assert job.run_at == start + timedelta(seconds=10)
    assert await run_all(queue) == 0  # not due before the window ends

    clock.advance(4)
    assert await queue.add_job("sync", {"v": 2}, dedupe=debounce) == first
    job = await get(queue, first)
    assert job.payload == {"v": 2}
    assert job.run_at == start + timedelta(seconds=14)
    events = await queue.get_job_events(first)
    assert [e.event_type.value for e in events] == ["added", "deduplicated"]
    assert events[-1].metadata == {
        "key": "doc:9",
        "mode": "debounce",
        "run_at": (start + timedelta(seconds=14)).isoformat(),
    }

    clock.advance(9)
    assert await queue.add_job("sync", {"v": 3}, dedupe=debounce) == first
    clock.advance(9)
    assert await run_all(queue) == 0
    clock.advance(1)
    seen: list[Any] = []
    assert await run_all(queue, seen.append) == 1
    assert seen == [{"v": 3}]
    assert len(await queue.get_all_jobs()) == 1


async def test_a_batch_that_debounces_its_own_job_logs_the_add_first(
    queue: dq.JobQueue,
) -> None:
    debounce = dq.Dedupe("doc:9", window=10, mode="debounce")
    ids = await queue.add_jobs(
        [
            dq.JobSpec("sync", {"v": 1}, dedupe=debounce),
            dq.JobSpec("sync", {"v": 2}, dedupe=debounce),
        ]
    )
    assert ids[0] == ids[1]
    events = await queue.get_job_events(ids[0])
    assert [e.event_type.value for e in events] == ["added", "deduplicated"]
    assert (await get(queue, ids[0])).payload == {"v": 2}


async def test_debounce_starts_a_new_job_once_the_pending_one_was_claimed(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    debounce = dq.Dedupe("doc:9", window=10, mode="debounce")
    first = await queue.add_job("sync", {"v": 1}, dedupe=debounce)
    clock.advance(10)

    async def handler(payload: Any, ctx: dq.JobContext) -> None:
        again = await queue.add_job("sync", {"v": 2}, dedupe=debounce)
        assert again != ctx.job_id
        job = await get(queue, again)
        assert job.run_at == clock.now() + timedelta(seconds=10)

    assert await run_all(queue, handler) == 1
    assert (await get(queue, first)).status is dq.JobStatus.COMPLETED
    assert len(await queue.get_all_jobs()) == 2


async def test_debounce_keeps_an_explicit_delay(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    debounce = dq.Dedupe("doc:9", window=60, mode="debounce")
    first = await queue.add_job("sync", {}, delay=5, dedupe=debounce)
    assert (await get(queue, first)).run_at == clock.now() + timedelta(seconds=5)
    clock.advance(2)
    assert await queue.add_job("sync", {}, delay=5, dedupe=debounce) == first
    assert (await get(queue, first)).run_at == clock.now() + timedelta(seconds=5)


async def test_add_jobs_dedupes_within_the_batch_and_against_the_store(
    queue: dq.JobQueue,
) -> None:
    key = {"key": "k", "mode": "until_done"}
    ids = await queue.add_jobs(
        [
            dq.JobSpec("sync", {"i": 0}, dedupe=key),
            dq.JobSpec("sync", {"i": 1}),
            dq.JobSpec("sync", {"i": 2}, dedupe=key),
        ]
    )
    assert ids[0] == ids[2] != ids[1]
    again = await queue.add_jobs([dq.JobSpec("sync", {"i": 3}, dedupe=key)])
    assert again == [ids[0]]
    assert len(await queue.get_all_jobs()) == 2


async def test_cleanup_of_the_holder_frees_the_key(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    throttle = dq.Dedupe("k", window=timedelta(days=90), mode="throttle")
    first = await queue.add_job("sync", {}, dedupe=throttle)
    await run_all(queue)
    clock.advance(timedelta(days=31))
    assert await queue.cleanup_old_jobs(30) == 1
    assert await queue.add_job("sync", {}, dedupe=throttle) != first


@pytest.mark.parametrize(
    ("dedupe", "match"),
    [
        (dq.Dedupe("k", mode="throttle"), "throttle dedupe needs a window"),
        (dq.Dedupe("k", mode="debounce"), "debounce dedupe needs a window"),
        (dq.Dedupe("k", window=0, mode="throttle"), "window must be positive"),
        (dq.Dedupe("k", window=-1, mode="throttle"), "window"),
        (dq.Dedupe("k", mode="sometimes"), "dedupe mode must be one of"),  # type: ignore[arg-type]
        (dq.Dedupe("", mode="until_done"), "dedupe key"),
        ({"key": "k", "ttl": 3}, r"dedupe takes key, window and mode, not \['ttl'\]"),
        ({"mode": "throttle"}, "dedupe needs a key"),
        ("k", "dedupe must be a dataqueue.Dedupe or a dict"),
    ],
)
async def test_a_bad_dedupe_is_refused_and_nothing_is_written(
    queue: dq.JobQueue, dedupe: Any, match: str
) -> None:
    with pytest.raises((TypeError, ValueError), match=match):
        await queue.add_job("sync", {}, dedupe=dedupe)
    assert await queue.get_all_jobs() == []


async def test_dedupe_and_an_idempotency_key_do_not_mix(queue: dq.JobQueue) -> None:
    with pytest.raises(ValueError, match="idempotency_key or dedupe, not both"):
        await queue.add_job("sync", {}, idempotency_key="i", dedupe=dq.Dedupe("k"))
