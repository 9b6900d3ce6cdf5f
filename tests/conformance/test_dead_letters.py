"""Dead letters: a job that fails for good with a ``dead_letter_job_type``
adds a job of that type describing the failure, in the same atomic write
(upstream DataQueue's failed-jobs tests, ported)."""

from __future__ import annotations

import asyncio

import pytest

import dataqueue as dq
from dataqueue._commands import ClaimRequest
from tests.conftest import FakeClock


async def get(queue: dq.JobQueue, job_id: int) -> dq.JobRecord:
    job = await queue.get_job(job_id)
    assert job is not None
    return job


def fail(message: str):  # type: ignore[no-untyped-def]
    def handler(payload: object) -> None:
        raise RuntimeError(message)

    return handler


async def test_an_exhausted_job_is_routed_to_its_dead_letter_type(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    source = await queue.add_job(
        "email",
        {"to": "deadletter@example.com"},
        max_attempts=1,
        dead_letter_job_type="email_dead_letter",
    )
    processor = queue.create_processor({"email": fail("permanent failure")})
    assert await processor.start() == 1

    job = await get(queue, source)
    assert job.status is dq.JobStatus.FAILED and job.next_attempt_at is None
    assert job.dead_letter_job_type == "email_dead_letter"
    assert job.dead_lettered_at == clock.now()
    assert job.dead_letter_job_id is not None

    letter = await get(queue, job.dead_letter_job_id)
    assert (letter.job_type, letter.status) == ("email_dead_letter", "pending")
    assert (letter.max_attempts, letter.priority, letter.attempts) == (1, 0, 0)
    assert letter.dead_letter_job_type is None
    assert letter.payload == {
        "original_job": {
            "id": source,
            "job_type": "email",
            "attempts": 1,
            "max_attempts": 1,
        },
        "original_payload": {"to": "deadletter@example.com"},
        "failure": {
            "message": "RuntimeError: permanent failure",
            "reason": "handler_error",
            "failed_at": clock.now().isoformat(),
        },
    }


async def test_the_failure_and_the_dead_letter_are_in_the_events(
    queue: dq.JobQueue,
) -> None:
    source = await queue.add_job("email", {}, max_attempts=1, dead_letter_job_type="dl")
    await queue.create_processor({"email": fail("boom")}).start()
    job = await get(queue, source)
    events = await queue.get_job_events(source)
    assert [e.event_type.value for e in events] == [
        "added",
        "processing",
        "failed",
        "dead_lettered",
    ]
    assert events[-1].metadata == {
        "dead_letter_job_type": "dl",
        "dead_letter_job_id": job.dead_letter_job_id,
    }
    assert job.dead_letter_job_id is not None
    added = (await queue.get_job_events(job.dead_letter_job_id))[0]
    assert added.metadata == {"job_type": "dl", "dead_letter_of": source}


async def test_a_failure_with_attempts_left_is_no_dead_letter(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    source = await queue.add_job(
        "email", {}, max_attempts=2, retry_delay=10, dead_letter_job_type="dl"
    )
    processor = queue.create_processor({"email": fail("flaky")})
    await processor.start()
    job = await get(queue, source)
    assert job.status is dq.JobStatus.FAILED and job.next_attempt_at is not None
    assert (job.dead_letter_job_id, job.dead_lettered_at) == (None, None)
    assert [j.id for j in await queue.get_all_jobs()] == [source]

    clock.advance(60)
    await processor.start()
    job = await get(queue, source)
    assert job.next_attempt_at is None and job.dead_letter_job_id is not None
    letter = await get(queue, job.dead_letter_job_id)
    assert letter.payload["original_job"]["attempts"] == 2
    assert letter.payload["failure"]["message"] == "RuntimeError: flaky"


async def test_a_job_without_a_dead_letter_type_just_fails(queue: dq.JobQueue) -> None:
    source = await queue.add_job("email", {}, max_attempts=1)
    await queue.create_processor({"email": fail("x")}).start()
    job = await get(queue, source)
    assert job.status is dq.JobStatus.FAILED
    assert (job.dead_letter_job_type, job.dead_letter_job_id) == (None, None)
    assert len(await queue.get_all_jobs()) == 1


async def test_a_dead_letter_of_the_same_type_is_an_ordinary_job(
    queue: dq.JobQueue,
) -> None:
    # Upstream routes 'email' to 'email' too: the letter does not inherit
    # the dead-letter type, so a failing letter does not loop.
    source = await queue.add_job(
        "email", {"to": "a"}, max_attempts=1, dead_letter_job_type="email"
    )
    processor = queue.create_processor({"email": fail("always")})
    await processor.start()
    letter_id = (await get(queue, source)).dead_letter_job_id
    assert letter_id is not None
    await processor.start()
    letter = await get(queue, letter_id)
    assert letter.status is dq.JobStatus.FAILED and letter.dead_letter_job_id is None
    assert len(await queue.get_all_jobs()) == 2


async def test_a_job_with_no_handler_is_dead_lettered_with_that_reason(
    queue: dq.JobQueue,
) -> None:
    source = await queue.add_job(
        "unknown", {"n": 1}, max_attempts=1, dead_letter_job_type="dl"
    )
    await queue.create_processor({"dl": lambda p: None}, job_type="*").start()
    job = await get(queue, source)
    assert job.dead_letter_job_id is not None
    letter = await get(queue, job.dead_letter_job_id)
    assert letter.payload["failure"]["reason"] == "no_handler"


async def test_the_dead_letter_is_processed_by_its_own_handler(
    queue: dq.JobQueue,
) -> None:
    seen: list[object] = []
    source = await queue.add_job(
        "email", {"to": "x"}, max_attempts=1, dead_letter_job_type="email_dead_letter"
    )
    processor = queue.create_processor(
        {"email": fail("down"), "email_dead_letter": seen.append}
    )
    await processor.start()
    await processor.start()
    assert len(seen) == 1
    envelope = seen[0]
    assert isinstance(envelope, dict)
    assert envelope["original_job"]["id"] == source
    assert envelope["original_payload"] == {"to": "x"}


async def test_add_jobs_takes_a_dead_letter_type_per_spec(queue: dq.JobQueue) -> None:
    a, b = await queue.add_jobs(
        [
            dq.JobSpec("email", {}, max_attempts=1, dead_letter_job_type="dl"),
            dq.JobSpec("email", {}, max_attempts=1),
        ]
    )
    await queue.create_processor({"email": fail("x")}).start()
    assert (await get(queue, a)).dead_letter_job_id is not None
    assert (await get(queue, b)).dead_letter_job_id is None


@pytest.mark.parametrize("bad", ["", 7, "x" * 300])
async def test_a_bad_dead_letter_type_is_refused(
    queue: dq.JobQueue, bad: object
) -> None:
    with pytest.raises((TypeError, ValueError), match="dead_letter_job_type"):
        await queue.add_job("email", {}, dead_letter_job_type=bad)  # type: ignore[arg-type]
    assert await queue.get_all_jobs() == []


# -- a job that fails for good without its handler's failure -----------------


async def claim_as_a_doomed_worker(
    queue: dq.JobQueue, clock: FakeClock, expected: list[int]
) -> None:
    """Claim the due jobs as a worker that then dies (no outcome ever)."""
    exchange = await queue.backend.settle_and_claim(
        [], ClaimRequest("doomed", "token", len(expected) + 5), now=clock.now()
    )
    assert sorted(j.id for j in exchange.claimed) == expected


async def test_a_job_whose_worker_is_lost_for_good_is_dead_lettered(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    source = await queue.add_job(
        "email",
        {"to": "lost@example.com"},
        max_attempts=1,
        dead_letter_job_type="email_dead_letter",
    )
    await claim_as_a_doomed_worker(queue, clock, [source])
    clock.advance(120)
    assert await queue.reclaim_stuck_jobs(1) == 1

    job = await get(queue, source)
    assert (job.status, job.failure_reason) == (
        dq.JobStatus.FAILED,
        dq.FailureReason.WORKER_LOST,
    )
    assert job.dead_lettered_at == clock.now()
    assert job.dead_letter_job_id is not None
    letter = await get(queue, job.dead_letter_job_id)
    assert (letter.job_type, letter.status) == ("email_dead_letter", "pending")
    assert (letter.max_attempts, letter.priority, letter.attempts) == (1, 0, 0)
    assert letter.payload == {
        "original_job": {
            "id": source,
            "job_type": "email",
            "attempts": 1,
            "max_attempts": 1,
        },
        "original_payload": {"to": "lost@example.com"},
        "failure": {
            "message": job.error_history[-1]["message"],
            "reason": "worker_lost",
            "failed_at": clock.now().isoformat(),
        },
    }
    assert "worker lost" in letter.payload["failure"]["message"]
    events = await queue.get_job_events(source)
    assert [e.event_type.value for e in events] == [
        "added",
        "processing",
        "failed",
        "dead_lettered",
    ]
    assert events[-1].metadata == {
        "dead_letter_job_type": "email_dead_letter",
        "dead_letter_job_id": letter.id,
    }
    added = (await queue.get_job_events(letter.id))[0]
    assert added.metadata == {"job_type": "email_dead_letter", "dead_letter_of": source}


async def test_a_lost_worker_with_attempts_left_is_no_dead_letter_until_the_last(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    source = await queue.add_job("email", {}, max_attempts=2, dead_letter_job_type="dl")
    await claim_as_a_doomed_worker(queue, clock, [source])
    clock.advance(120)
    assert await queue.reclaim_stuck_jobs(1) == 1
    job = await get(queue, source)
    assert job.status is dq.JobStatus.PENDING
    assert (job.dead_letter_job_id, job.dead_lettered_at) == (None, None)
    assert [j.id for j in await queue.get_all_jobs()] == [source]

    await claim_as_a_doomed_worker(queue, clock, [source])
    clock.advance(120)
    assert await queue.reclaim_stuck_jobs(1) == 1
    job = await get(queue, source)
    assert job.dead_letter_job_id is not None
    letter = await get(queue, job.dead_letter_job_id)
    assert letter.payload["original_job"]["attempts"] == 2
    assert letter.payload["failure"]["reason"] == "worker_lost"


async def test_one_reclaim_letters_each_of_its_lost_jobs_by_its_own(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    ids = await queue.add_jobs(
        [
            dq.JobSpec("a", {"n": 0}, max_attempts=1, dead_letter_job_type="dl_a"),
            dq.JobSpec("b", {"n": 1}, max_attempts=1),
            dq.JobSpec("c", {"n": 2}, max_attempts=1, dead_letter_job_type="dl_c"),
            dq.JobSpec("d", {"n": 3}, max_attempts=3, dead_letter_job_type="dl_d"),
        ]
    )
    await claim_as_a_doomed_worker(queue, clock, ids)
    clock.advance(120)
    assert await queue.reclaim_stuck_jobs(1) == 4

    jobs = [await get(queue, i) for i in ids]
    assert [j.status.value for j in jobs] == ["failed", "failed", "failed", "pending"]
    assert jobs[1].dead_letter_job_id is None and jobs[3].dead_letter_job_id is None
    for job, letter_type in ((jobs[0], "dl_a"), (jobs[2], "dl_c")):
        assert job.dead_letter_job_id is not None
        letter = await get(queue, job.dead_letter_job_id)
        assert letter.job_type == letter_type
        assert letter.payload["original_job"]["id"] == job.id
        assert letter.payload["original_payload"] == job.payload
    assert len(await queue.get_all_jobs()) == 6


async def test_a_letter_made_by_a_reclaim_is_processed_by_its_handler(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    seen: list[object] = []
    source = await queue.add_job(
        "email", {"to": "x"}, max_attempts=1, dead_letter_job_type="email_dead_letter"
    )
    await claim_as_a_doomed_worker(queue, clock, [source])
    clock.advance(120)
    await queue.reclaim_stuck_jobs(1)
    processor = queue.create_processor({"email_dead_letter": seen.append})
    assert await processor.start() == 1
    assert len(seen) == 1
    envelope = seen[0]
    assert isinstance(envelope, dict)
    assert envelope["original_job"]["id"] == source
    assert envelope["failure"]["reason"] == "worker_lost"


async def test_a_lost_job_without_a_dead_letter_type_adds_no_job(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    source = await queue.add_job("email", {}, max_attempts=1)
    await claim_as_a_doomed_worker(queue, clock, [source])
    clock.advance(120)
    assert await queue.reclaim_stuck_jobs(1) == 1
    job = await get(queue, source)
    assert (job.status, job.dead_letter_job_id) == (dq.JobStatus.FAILED, None)
    assert [j.id for j in await queue.get_all_jobs()] == [source]


async def test_a_lost_dependency_cancels_its_dependents_and_still_letters(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    source = await queue.add_job("a", {}, max_attempts=1, dead_letter_job_type="dl")
    dependent = await queue.add_job("b", {}, depends_on={"job_ids": [source]})
    await claim_as_a_doomed_worker(queue, clock, [source])
    clock.advance(120)
    assert await queue.reclaim_stuck_jobs(1) == 1
    assert (await get(queue, dependent)).status is dq.JobStatus.CANCELLED
    letter_id = (await get(queue, source)).dead_letter_job_id
    assert letter_id is not None
    assert (await get(queue, letter_id)).status is dq.JobStatus.PENDING


async def test_a_job_that_times_out_for_good_is_dead_lettered(
    queue: dq.JobQueue,
) -> None:
    never = asyncio.Event()

    async def hangs(payload: object) -> None:
        await never.wait()

    source = await queue.add_job(
        "slow", {"n": 1}, timeout=0.05, max_attempts=1, dead_letter_job_type="dl"
    )
    await queue.create_processor({"slow": hangs}).start()
    job = await get(queue, source)
    assert job.failure_reason is dq.FailureReason.TIMEOUT
    assert job.dead_letter_job_id is not None
    letter = await get(queue, job.dead_letter_job_id)
    assert letter.payload["failure"]["reason"] == "timeout"
    assert letter.payload["failure"]["message"] == job.error_history[-1]["message"]
    assert letter.payload["original_payload"] == {"n": 1}


# -- cron schedules (upstream's CronScheduleOptions.deadLetterJobType) -------


async def enqueue_one(
    queue: dq.JobQueue, clock: FakeClock, cron_id: int
) -> dq.JobRecord:
    clock.advance(60)
    assert await queue.enqueue_due_cron_jobs() == 1
    schedule = await queue.get_cron_job(cron_id)
    assert schedule is not None and schedule.last_job_id is not None
    return await get(queue, schedule.last_job_id)


async def test_a_cron_schedule_gives_its_dead_letter_type_to_the_jobs_it_enqueues(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    cron_id = await queue.add_cron_job(
        "cron-dead-letter",
        "* * * * *",
        "email",
        {"to": "cron-dlq@example.com"},
        max_attempts=1,
        dead_letter_job_type="email_dead_letter",
    )
    schedule = await queue.get_cron_job(cron_id)
    assert schedule is not None
    assert schedule.dead_letter_job_type == "email_dead_letter"
    assert await queue.list_cron_jobs() == [schedule]

    job = await enqueue_one(queue, clock, cron_id)
    assert (job.cron_job_id, job.dead_letter_job_type) == (cron_id, "email_dead_letter")
    await queue.create_processor({"email": fail("cron down")}).start()
    job = await get(queue, job.id)
    assert job.status is dq.JobStatus.FAILED and job.dead_letter_job_id is not None
    letter = await get(queue, job.dead_letter_job_id)
    assert letter.job_type == "email_dead_letter"
    assert letter.payload["original_payload"] == {"to": "cron-dlq@example.com"}
    assert letter.cron_job_id is None


async def test_a_cron_schedule_without_one_enqueues_jobs_without_one(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    cron_id = await queue.add_cron_job("plain", "* * * * *", "email", {})
    schedule = await queue.get_cron_job(cron_id)
    assert schedule is not None and schedule.dead_letter_job_type is None
    job = await enqueue_one(queue, clock, cron_id)
    assert job.dead_letter_job_type is None


async def test_editing_a_schedule_s_dead_letter_type_changes_its_next_jobs_only(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    cron_id = await queue.add_cron_job(
        "edited", "* * * * *", "email", {}, allow_overlap=True
    )
    first = await enqueue_one(queue, clock, cron_id)
    await queue.edit_cron_job(cron_id, dead_letter_job_type="dl")
    schedule = await queue.get_cron_job(cron_id)
    assert schedule is not None and schedule.dead_letter_job_type == "dl"
    second = await enqueue_one(queue, clock, cron_id)
    assert (await get(queue, first.id)).dead_letter_job_type is None
    assert second.dead_letter_job_type == "dl"

    await queue.edit_cron_job(cron_id, dead_letter_job_type=None)
    schedule = await queue.get_cron_job(cron_id)
    assert schedule is not None and schedule.dead_letter_job_type is None
    third = await enqueue_one(queue, clock, cron_id)
    assert third.dead_letter_job_type is None


async def test_if_exists_update_sets_and_clears_a_schedule_s_dead_letter_type(
    queue: dq.JobQueue,
) -> None:
    cron_id = await queue.add_cron_job("declared", "0 * * * *", "email", {})
    again = await queue.add_cron_job(
        "declared",
        "0 * * * *",
        "email",
        {},
        dead_letter_job_type="dl",
        if_exists="update",
    )
    schedule = await queue.get_cron_job(cron_id)
    assert again == cron_id and schedule is not None
    assert schedule.dead_letter_job_type == "dl"
    await queue.add_cron_job("declared", "0 * * * *", "email", {}, if_exists="update")
    schedule = await queue.get_cron_job(cron_id)
    assert schedule is not None and schedule.dead_letter_job_type is None


@pytest.mark.parametrize("bad", ["", 7, "x" * 300])
async def test_a_bad_dead_letter_type_of_a_schedule_is_refused(
    queue: dq.JobQueue, bad: object
) -> None:
    with pytest.raises((TypeError, ValueError), match="dead_letter_job_type"):
        await queue.add_cron_job(
            "bad", "* * * * *", "email", {}, dead_letter_job_type=bad
        )  # type: ignore[arg-type]
    assert await queue.list_cron_jobs() == []
    cron_id = await queue.add_cron_job("good", "* * * * *", "email", {})
    with pytest.raises((TypeError, ValueError), match="dead_letter_job_type"):
        await queue.edit_cron_job(cron_id, dead_letter_job_type=bad)
    schedule = await queue.get_cron_job(cron_id)
    assert schedule is not None and schedule.dead_letter_job_type is None


# -- the other ways a job fails for good ---------------------------------------


async def test_a_flow_step_that_fails_for_good_is_dead_lettered_and_meets_its_barrier(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    joined: list[object] = []
    flow_id = await queue.start_flow(
        [
            dq.JobSpec("step", {"n": 0}, max_attempts=1, dead_letter_job_type="dl"),
            dq.JobSpec("ok", {"n": 1}),
        ],
        dq.JobSpec("join"),
    )
    processor = queue.create_processor(
        {"step": fail("step down"), "ok": lambda p: "fine", "join": joined.append}
    )
    for _ in range(3):
        await processor.start()
    flow = await queue.get_flow(flow_id)
    assert flow is not None
    assert [s.outcome for s in flow.steps] == ["fail", "success"]
    step = await get(queue, flow.steps[0].job_id)
    assert step.dead_letter_job_id is not None
    letter = await get(queue, step.dead_letter_job_id)
    assert (letter.job_type, letter.flow_id) == ("dl", None)
    assert letter.payload["original_payload"] == {"n": 0}
    assert len(joined) == 1
    assert len(await queue.get_jobs(job_type="dl")) == 1


async def test_each_job_of_a_failing_batch_handler_gets_its_own_letter(
    queue: dq.JobQueue,
) -> None:
    async def index_many(payloads: list[object], ctx: dq.BatchContext) -> list[None]:
        raise RuntimeError("index down")

    ids = await queue.add_jobs(
        [
            dq.JobSpec("index", {"n": n}, max_attempts=1, dead_letter_job_type="dl")
            for n in range(3)
        ]
    )
    handler = dq.batch(index_many, max_size=3, max_wait=0.05)
    await queue.create_processor({"index": handler}, concurrency=3).start()
    for n, job_id in enumerate(ids):
        job = await get(queue, job_id)
        assert job.dead_letter_job_id is not None
        letter = await get(queue, job.dead_letter_job_id)
        assert letter.payload["original_job"]["id"] == job_id
        assert letter.payload["original_payload"] == {"n": n}
        assert letter.payload["failure"]["message"] == "RuntimeError: index down"


async def test_a_job_retried_by_hand_that_fails_for_good_again_gets_a_new_letter(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    source = await queue.add_job("email", {}, max_attempts=1, dead_letter_job_type="dl")
    processor = queue.create_processor({"email": fail("down")})
    await processor.start()
    first = (await get(queue, source)).dead_letter_job_id
    assert first is not None

    clock.advance(60)
    await queue.retry_job(source)
    await processor.start()
    job = await get(queue, source)
    assert job.status is dq.JobStatus.FAILED
    assert job.dead_letter_job_id not in (None, first)
    assert job.dead_lettered_at == clock.now()
    assert job.dead_letter_job_id is not None
    second = await get(queue, job.dead_letter_job_id)
    assert second.payload["original_job"]["id"] == source
    assert sorted(j.id for j in await queue.get_jobs(job_type="dl")) == sorted(
        [first, second.id]
    )
    events = [e.event_type.value for e in await queue.get_job_events(source)]
    assert events.count("dead_lettered") == 2


# -- editing a pending job's dead-letter type (upstream's editJob) -------------


async def test_a_pending_job_s_dead_letter_type_can_be_set_changed_and_cleared(
    queue: dq.JobQueue,
) -> None:
    a = await queue.add_job("email", {"n": 1}, max_attempts=1)
    b = await queue.add_job(
        "email", {"n": 2}, max_attempts=1, dead_letter_job_type="dl"
    )
    await queue.edit_job(a, dead_letter_job_type="dl_edited")
    await queue.edit_job(b, dead_letter_job_type=None)
    assert (await get(queue, a)).dead_letter_job_type == "dl_edited"
    assert (await get(queue, b)).dead_letter_job_type is None
    edited = (await queue.get_job_events(a))[-1]
    assert edited.event_type.value == "edited"
    assert edited.metadata["dead_letter_job_type"] == "dl_edited"

    await queue.create_processor({"email": fail("down")}).start()
    letter_id = (await get(queue, a)).dead_letter_job_id
    assert letter_id is not None
    assert (await get(queue, letter_id)).job_type == "dl_edited"
    assert (await get(queue, b)).dead_letter_job_id is None


async def test_edit_all_pending_jobs_sets_a_dead_letter_type_on_pending_jobs_only(
    queue: dq.JobQueue,
) -> None:
    done = await queue.add_job("other", {})
    await queue.create_processor({"other": lambda p: None}).start()
    ids = await queue.add_jobs([dq.JobSpec("email", {"n": n}) for n in range(2)])
    assert await queue.edit_all_pending_jobs(dead_letter_job_type="dl") == 2
    assert [(await get(queue, i)).dead_letter_job_type for i in ids] == ["dl", "dl"]
    assert (await get(queue, done)).dead_letter_job_type is None


@pytest.mark.parametrize("bad", ["", 7, "x" * 300])
async def test_a_bad_dead_letter_type_is_refused_at_edit(
    queue: dq.JobQueue, bad: object
) -> None:
    job_id = await queue.add_job("email", {}, dead_letter_job_type="dl")
    with pytest.raises((TypeError, ValueError), match="dead_letter_job_type"):
        await queue.edit_job(job_id, dead_letter_job_type=bad)
    assert (await get(queue, job_id)).dead_letter_job_type == "dl"
