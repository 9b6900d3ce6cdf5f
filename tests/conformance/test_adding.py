"""Adding jobs: options, batches, idempotency, bad input."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

import dataqueue as dq
from tests.conftest import FakeClock


async def test_add_job_stores_defaults(queue: dq.JobQueue, clock: FakeClock) -> None:
    job_id = await queue.add_job("email", {"to": "a@x.com"})
    job = await queue.get_job(job_id)
    assert job is not None
    assert job.id == job_id
    assert job.job_type == "email"
    assert job.payload == {"to": "a@x.com"}
    assert job.status is dq.JobStatus.PENDING
    assert (job.priority, job.attempts, job.max_attempts) == (0, 0, 3)
    assert job.run_at == clock.now()
    assert job.created_at == clock.now()
    assert job.tags == []
    assert job.timeout is None
    assert job.error_history == []
    assert job.progress is None and job.output is None
    assert job.locked_by is None and job.started_at is None


async def test_add_job_stores_every_option(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    run_at = clock.now() + timedelta(hours=1)
    job_id = await queue.add_job(
        "report",
        [1, "two", {"three": 3.5}, None, True],
        priority=7,
        run_at=run_at,
        max_attempts=5,
        timeout=timedelta(seconds=90),
        force_kill_on_timeout=True,
        tags=["a", "b", "a"],
        idempotency_key="k-1",
        retry_delay=10,
        retry_backoff=False,
        retry_delay_max=300,
    )
    job = await queue.get_job(job_id)
    assert job is not None
    assert job.payload == [1, "two", {"three": 3.5}, None, True]
    assert job.priority == 7
    assert job.run_at == run_at
    assert job.max_attempts == 5
    assert job.timeout == 90.0
    assert job.force_kill_on_timeout is True
    assert job.tags == ["a", "b"]
    assert job.idempotency_key == "k-1"
    assert (job.retry_delay, job.retry_backoff, job.retry_delay_max) == (10, False, 300)


async def test_run_at_in_other_timezone_is_stored_as_utc(queue: dq.JobQueue) -> None:
    tz = datetime(2031, 5, 1, 9, 0, tzinfo=UTC).astimezone(
        __import__("zoneinfo").ZoneInfo("Asia/Tokyo")
    )
    job = await queue.get_job(await queue.add_job("t", {}, run_at=tz))
    assert job is not None
    assert job.run_at == datetime(2031, 5, 1, 9, 0, tzinfo=UTC)
    assert job.run_at.utcoffset() == timedelta(0)


async def test_add_jobs_returns_ids_in_spec_order(queue: dq.JobQueue) -> None:
    specs = [dq.JobSpec("a", {"i": i}, priority=i) for i in range(5)]
    ids = await queue.add_jobs(specs)
    assert len(set(ids)) == 5
    for i, job_id in enumerate(ids):
        job = await queue.get_job(job_id)
        assert job is not None
        assert (job.payload, job.priority) == ({"i": i}, i)


async def test_add_jobs_with_no_specs_returns_empty(queue: dq.JobQueue) -> None:
    assert await queue.add_jobs([]) == []


async def test_added_event_is_recorded(queue: dq.JobQueue) -> None:
    job_id = await queue.add_job("email", {})
    events = await queue.get_job_events(job_id)
    assert [e.event_type for e in events] == [dq.EventType.ADDED]
    assert events[0].job_id == job_id


async def test_idempotency_key_returns_first_job_id(queue: dq.JobQueue) -> None:
    first = await queue.add_job("email", {"v": 1}, idempotency_key="welcome-1")
    second = await queue.add_job("email", {"v": 2}, idempotency_key="welcome-1")
    assert first == second
    job = await queue.get_job(first)
    assert job is not None and job.payload == {"v": 1}
    assert len(await queue.get_all_jobs()) == 1
    assert len(await queue.get_job_events(first)) == 1


async def test_idempotency_key_within_one_batch(queue: dq.JobQueue) -> None:
    ids = await queue.add_jobs(
        [
            dq.JobSpec("a", {"n": 1}, idempotency_key="same"),
            dq.JobSpec("a", {"n": 2}),
            dq.JobSpec("a", {"n": 3}, idempotency_key="same"),
        ]
    )
    assert ids[0] == ids[2] != ids[1]
    assert len(await queue.get_all_jobs()) == 2


async def test_concurrent_adds_with_one_key_make_one_job(queue: dq.JobQueue) -> None:
    ids = await asyncio.gather(
        *(queue.add_job("pay", {"n": n}, idempotency_key="once") for n in range(50))
    )
    assert len(set(ids)) == 1
    assert len(await queue.get_all_jobs()) == 1


async def test_idempotency_key_is_freed_by_cleanup(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    first = await queue.add_job("a", {}, idempotency_key="k")
    processor = queue.create_processor({"a": lambda payload: None})
    assert await processor.start() == 1
    clock.advance(31 * 86400)
    assert await queue.cleanup_old_jobs(30) == 1
    second = await queue.add_job("a", {}, idempotency_key="k")
    assert second != first


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"payload": {"when": datetime.now(UTC)}}, TypeError, "payload"),
        ({"payload": {1: "x"}}, TypeError, "non-string key"),
        ({"payload": float("nan")}, ValueError, "payload"),
        ({"run_at": datetime(2030, 1, 1)}, ValueError, "timezone-aware"),
        ({"max_attempts": 0}, ValueError, "max_attempts"),
        ({"priority": "high"}, TypeError, "priority"),
        ({"timeout": -1}, ValueError, "timeout"),
        ({"tags": "solo"}, TypeError, "tags"),
        ({"tags": [""]}, ValueError, "tag"),
        ({"idempotency_key": ""}, ValueError, "idempotency_key"),
        ({"retry_backoff": "yes"}, TypeError, "retry_backoff"),
    ],
)
async def test_bad_input_is_rejected_and_nothing_written(
    queue: dq.JobQueue, kwargs: dict[str, object], error: type[Exception], words: str
) -> None:
    kwargs = dict(kwargs)
    payload = kwargs.pop("payload", {})
    with pytest.raises(error, match=words) as raised:
        await queue.add_job("send_email", payload, **kwargs)  # type: ignore[arg-type]
    assert "send_email" in str(raised.value)
    assert await queue.get_all_jobs() == []


async def test_empty_job_type_is_rejected(queue: dq.JobQueue) -> None:
    with pytest.raises(ValueError, match="job_type"):
        await queue.add_job("  ", {})
    assert await queue.get_all_jobs() == []


async def test_one_bad_spec_rejects_the_whole_batch(queue: dq.JobQueue) -> None:
    with pytest.raises(TypeError, match="payload"):
        await queue.add_jobs([dq.JobSpec("ok", {}), dq.JobSpec("bad", {"x": object()})])
    assert await queue.get_all_jobs() == []


async def test_delay_runs_the_job_that_long_from_now(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    soon = await queue.add_job("a", {}, delay=30)
    later = await queue.add_job("a", {}, delay=timedelta(minutes=2))
    (batched,) = await queue.add_jobs([dq.JobSpec("a", {}, delay=0.5)])
    runs = {job_id: (await queue.get_job(job_id)) for job_id in (soon, later, batched)}
    assert {job_id: job.run_at for job_id, job in runs.items() if job} == {
        soon: clock.now() + timedelta(seconds=30),
        later: clock.now() + timedelta(minutes=2),
        batched: clock.now() + timedelta(seconds=0.5),
    }
    processor = queue.create_processor({"a": lambda p: None})
    clock.advance(29)
    assert await processor.start() == 1
    clock.advance(1)
    assert await processor.start() == 1


async def test_delay_is_refused_with_run_at_or_when_negative(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    with pytest.raises(ValueError, match="give run_at or delay, not both"):
        await queue.add_job("a", {}, delay=5, run_at=clock.now())
    with pytest.raises(ValueError, match="delay"):
        await queue.add_job("a", {}, delay=-1)
    with pytest.raises(ValueError, match=r"specs\[1\].*not both"):
        await queue.add_jobs(
            [dq.JobSpec("a"), dq.JobSpec("a", delay=1, run_at=clock.now())]
        )
    with pytest.raises(ValueError, match="drop run_at and delay"):
        await queue.start_flow([dq.JobSpec("s")], dq.JobSpec("j", {}, delay=5))
    assert await queue.get_all_jobs() == []
