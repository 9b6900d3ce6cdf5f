"""Cron schedules on every store, driven by the fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import dataqueue as dq
from dataqueue._commands import ClaimRequest, Completion, Lease
from tests.conftest import FakeClock, drop_namespace, namespace, store_options

START = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
HOUR = 3600


async def cron_jobs(queue: dq.JobQueue, cron_job_id: int) -> list[dq.JobRecord]:
    jobs = [j for j in await queue.get_all_jobs(1000) if j.cron_job_id == cron_job_id]
    return sorted(jobs, key=lambda j: j.id)


async def claim(queue: dq.JobQueue) -> list[dq.JobRecord]:
    request = ClaimRequest("w", "token-w", 10)
    exchange = await queue.backend.settle_and_claim([], request, now=queue.clock.now())
    return [job for job in exchange.claimed if isinstance(job, dq.JobRecord)]


async def complete(queue: dq.JobQueue, job_id: int) -> bool:
    done = Completion(Lease(job_id, "token-w"), None, {})
    exchange = await queue.backend.settle_and_claim([done], None, now=queue.clock.now())
    return exchange.settled == [True]


async def test_lifecycle(queue: dq.JobQueue, clock: FakeClock) -> None:
    cron_id = await queue.add_cron_job(
        "report", "0 * * * *", "make_report", {"kind": "hourly"}
    )
    schedule = await queue.get_cron_job(cron_id)
    assert schedule is not None
    assert (schedule.schedule_name, schedule.status, schedule.timezone) == (
        "report",
        dq.CronStatus.ACTIVE,
        "UTC",
    )
    assert schedule.next_run_at == START + timedelta(hours=1)
    assert (schedule.allow_overlap, schedule.max_attempts, schedule.priority) == (
        False,
        3,
        0,
    )
    assert await queue.get_cron_job_by_name("report") == schedule
    assert await queue.get_cron_job_by_name("missing") is None
    await queue.edit_cron_job(cron_id, allow_overlap=True)
    assert await queue.get_cron_job(cron_id + 100) is None

    assert await queue.enqueue_due_cron_jobs() == 0
    clock.advance(HOUR)
    assert await queue.enqueue_due_cron_jobs() == 1
    assert await queue.enqueue_due_cron_jobs() == 0

    await queue.pause_cron_job(cron_id)
    assert [s.id for s in await queue.list_cron_jobs("paused")] == [cron_id]
    assert await queue.list_cron_jobs(dq.CronStatus.ACTIVE) == []
    clock.advance(2 * HOUR)
    assert await queue.enqueue_due_cron_jobs() == 0

    # Resuming does not make up the runs missed while paused.
    clock.advance(60)
    await queue.resume_cron_job(cron_id)
    schedule = await queue.get_cron_job(cron_id)
    assert schedule is not None
    assert schedule.status is dq.CronStatus.ACTIVE
    assert schedule.next_run_at == START + timedelta(hours=4)
    assert await queue.enqueue_due_cron_jobs() == 0

    await queue.edit_cron_job(cron_id, payload={"kind": "edited"}, priority=5)
    schedule = await queue.get_cron_job(cron_id)
    assert schedule is not None
    assert schedule.next_run_at == START + timedelta(hours=4)
    clock.set(START + timedelta(hours=4))
    assert await queue.enqueue_due_cron_jobs() == 1

    jobs = await cron_jobs(queue, cron_id)
    assert [(j.payload, j.priority) for j in jobs] == [
        ({"kind": "hourly"}, 0),
        ({"kind": "edited"}, 5),
    ]
    await queue.remove_cron_job(cron_id)
    assert await queue.get_cron_job(cron_id) is None
    assert await queue.list_cron_jobs() == []
    assert len(await cron_jobs(queue, cron_id)) == 2
    clock.advance(HOUR)
    assert await queue.enqueue_due_cron_jobs() == 0


async def test_jobs_copy_the_options_and_record_their_schedule(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    cron_id = await queue.add_cron_job(
        "copy",
        "*/15 * * * *",
        "email",
        {"to": "a@x.com"},
        max_attempts=7,
        priority=3,
        timeout=timedelta(seconds=90),
        tags=["cron", "mail"],
        retry_delay=5,
        retry_backoff=False,
        retry_delay_max=60,
    )
    clock.advance(15 * 60)
    assert await queue.enqueue_due_cron_jobs() == 1
    (job,) = await cron_jobs(queue, cron_id)
    assert (job.job_type, job.payload, job.status) == (
        "email",
        {"to": "a@x.com"},
        dq.JobStatus.PENDING,
    )
    assert (job.max_attempts, job.priority, job.timeout, job.tags) == (
        7,
        3,
        90.0,
        ["cron", "mail"],
    )
    assert (job.retry_delay, job.retry_backoff, job.retry_delay_max) == (5, False, 60)
    due = START + timedelta(minutes=15)
    assert (job.cron_job_id, job.cron_due_at, job.run_at) == (cron_id, due, due)
    (added,) = await queue.get_job_events(job.id)
    assert added.event_type is dq.EventType.ADDED
    assert added.metadata == {
        "job_type": "email",
        "cron_job_id": cron_id,
        "cron_due_at": due.isoformat(),
        "cron_skipped": 0,
    }
    schedule = await queue.get_cron_job(cron_id)
    assert schedule is not None
    assert (schedule.last_job_id, schedule.last_enqueued_at) == (job.id, due)
    plain = await queue.get_job(await queue.add_job("plain"))
    assert plain is not None and (plain.cron_job_id, plain.cron_due_at) == (None, None)


async def test_names_are_unique(queue: dq.JobQueue) -> None:
    await queue.add_cron_job("nightly", "@daily", "a", {})
    with pytest.raises(ValueError, match="'nightly' already exists"):
        await queue.add_cron_job("nightly", "@hourly", "b", {})
    (schedule,) = await queue.list_cron_jobs()
    assert (schedule.cron_expression, schedule.job_type) == ("@daily", "a")


async def test_if_exists_skip_keeps_the_schedule_and_returns_its_id(
    queue: dq.JobQueue,
) -> None:
    first = await queue.add_cron_job("nightly", "@daily", "a", {"v": 1})
    again = await queue.add_cron_job(
        "nightly", "@hourly", "b", {"v": 2}, if_exists="skip"
    )
    assert again == first
    (schedule,) = await queue.list_cron_jobs()
    assert (schedule.cron_expression, schedule.job_type, schedule.payload) == (
        "@daily",
        "a",
        {"v": 1},
    )


async def test_if_exists_update_lets_an_app_declare_its_schedules_at_start(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    first = await queue.add_cron_job("nightly", "0 2 * * *", "a", {"v": 1})
    await queue.pause_cron_job(first)
    again = await queue.add_cron_job(
        "nightly",
        "0 3 * * *",
        "b",
        {"v": 2},
        timezone="Europe/Berlin",
        priority=5,
        tags=["t"],
        if_exists="update",
    )
    assert again == first
    (schedule,) = await queue.list_cron_jobs()
    assert (schedule.id, schedule.status) == (first, dq.CronStatus.PAUSED)
    assert (schedule.cron_expression, schedule.timezone) == (
        "0 3 * * *",
        "Europe/Berlin",
    )
    assert (schedule.job_type, schedule.payload) == ("b", {"v": 2})
    assert (schedule.priority, schedule.tags) == (5, ["t"])
    same = await queue.add_cron_job(
        "nightly",
        "0 3 * * *",
        "b",
        {"v": 2},
        timezone="Europe/Berlin",
        priority=5,
        tags=["t"],
        if_exists="update",
    )
    assert same == first
    assert await queue.list_cron_jobs() == [schedule]


async def test_if_exists_takes_only_error_update_or_skip(queue: dq.JobQueue) -> None:
    with pytest.raises(ValueError, match="if_exists must be one of error, update"):
        await queue.add_cron_job("nightly", "@daily", "a", {}, if_exists="replace")
    assert await queue.list_cron_jobs() == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"cron_expression": "61 * * * *"},
            "invalid cron expression '61 \\* \\* \\* \\*'",
        ),
        ({"cron_expression": "* * * *"}, "must have 5 fields"),
        ({"cron_expression": "0 0 * * * *"}, "must have 5 fields"),
        ({"cron_expression": "@fortnightly"}, "'@fortnightly'"),
        ({"cron_expression": "0 0 30 2 *"}, "'0 0 30 2 \\*'"),
        # A megabyte of list stalled every reader of the schedule.
        (
            {"cron_expression": "0 " + ",".join(["1"] * 500_000) + " * * *"},
            "cron_expression is 1000007 characters, over the limit of 256",
        ),
        ({"timezone": "Mars/Olympus"}, "unknown timezone 'Mars/Olympus'"),
        ({"timezone": ""}, "unknown timezone ''"),
    ],
)
async def test_bad_expressions_and_zones_raise_and_write_nothing(
    queue: dq.JobQueue, options: dict[str, str], message: str
) -> None:
    arguments = {"cron_expression": "0 * * * *", "timezone": "UTC", **options}
    with pytest.raises(ValueError, match=message):
        await queue.add_cron_job(
            "bad",
            arguments["cron_expression"],
            "a",
            {},
            timezone=arguments["timezone"],
        )
    assert await queue.list_cron_jobs() == []

    cron_id = await queue.add_cron_job("good", "0 * * * *", "a", {})
    before = await queue.get_cron_job(cron_id)
    with pytest.raises(ValueError, match=message):
        await queue.edit_cron_job(cron_id, **options)
    assert await queue.get_cron_job(cron_id) == before


async def test_aliases(queue: dq.JobQueue) -> None:
    expected = {
        "@hourly": datetime(2030, 1, 1, 13, 0, tzinfo=UTC),
        "@daily": datetime(2030, 1, 2, tzinfo=UTC),
        "@weekly": datetime(2030, 1, 6, tzinfo=UTC),  # a Sunday
        "@monthly": datetime(2030, 2, 1, tzinfo=UTC),
        "@yearly": datetime(2031, 1, 1, tzinfo=UTC),
    }
    for alias, first_run in expected.items():
        cron_id = await queue.add_cron_job(alias, alias, "a", {})
        schedule = await queue.get_cron_job(cron_id)
        assert schedule is not None
        assert schedule.next_run_at == first_run, alias


async def test_edit_recomputes_the_next_run_when_expression_or_zone_change(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    cron_id = await queue.add_cron_job("e", "0 9 * * *", "a", {})

    async def next_run() -> datetime | None:
        schedule = await queue.get_cron_job(cron_id)
        assert schedule is not None
        return schedule.next_run_at

    assert await next_run() == datetime(2030, 1, 2, 9, tzinfo=UTC)
    await queue.edit_cron_job(cron_id, timezone="America/New_York")
    assert await next_run() == datetime(2030, 1, 1, 14, tzinfo=UTC)
    await queue.edit_cron_job(cron_id, cron_expression="30 12 * * *")
    assert await next_run() == datetime(2030, 1, 1, 17, 30, tzinfo=UTC)
    await queue.edit_cron_job(cron_id, tags=["x"], allow_overlap=True, timeout=None)
    schedule = await queue.get_cron_job(cron_id)
    assert schedule is not None
    assert (schedule.tags, schedule.allow_overlap, schedule.timeout) == (
        ["x"],
        True,
        None,
    )
    assert schedule.next_run_at == datetime(2030, 1, 1, 17, 30, tzinfo=UTC)
    with pytest.raises(TypeError, match="schedule_name"):
        await queue.edit_cron_job(cron_id, schedule_name="other")


async def test_next_run_advances_from_the_due_time_not_from_now(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    cron_id = await queue.add_cron_job("h", "0 * * * *", "a", {}, allow_overlap=True)
    clock.set(START + timedelta(hours=1, minutes=59))
    assert await queue.enqueue_due_cron_jobs() == 1
    schedule = await queue.get_cron_job(cron_id)
    assert schedule is not None
    assert schedule.next_run_at == START + timedelta(hours=2)
    clock.set(START + timedelta(hours=2))
    assert await queue.enqueue_due_cron_jobs() == 1
    assert [j.cron_due_at for j in await cron_jobs(queue, cron_id)] == [
        START + timedelta(hours=1),
        START + timedelta(hours=2),
    ]


async def test_one_catch_up_job_after_a_three_hour_jump(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    cron_id = await queue.add_cron_job("h", "0 * * * *", "a", {}, allow_overlap=True)
    clock.advance(3 * HOUR + 30)
    assert await queue.enqueue_due_cron_jobs() == 1
    assert await queue.enqueue_due_cron_jobs() == 0
    (job,) = await cron_jobs(queue, cron_id)
    assert job.cron_due_at == START + timedelta(hours=3)
    (added,) = await queue.get_job_events(job.id)
    assert added.metadata is not None and added.metadata["cron_skipped"] == 2
    schedule = await queue.get_cron_job(cron_id)
    assert schedule is not None
    assert (schedule.next_run_at, schedule.skipped_runs) == (
        START + timedelta(hours=4),
        2,
    )


async def test_overlap_protection(queue: dq.JobQueue, clock: FakeClock) -> None:
    single = await queue.add_cron_job("single", "*/5 * * * *", "a", {})
    many = await queue.add_cron_job("many", "*/5 * * * *", "b", {}, allow_overlap=True)
    clock.advance(5 * 60)
    assert await queue.enqueue_due_cron_jobs() == 2
    clock.advance(5 * 60)  # the first "a" is pending: no second one
    assert await queue.enqueue_due_cron_jobs() == 1
    await claim(queue)
    clock.advance(5 * 60)  # now processing: still none
    assert await queue.enqueue_due_cron_jobs() == 1
    (running,) = await cron_jobs(queue, single)
    assert running.status is dq.JobStatus.PROCESSING
    assert await complete(queue, running.id)
    clock.advance(5 * 60)
    assert await queue.enqueue_due_cron_jobs() == 2
    assert len(await cron_jobs(queue, single)) == 2
    assert len(await cron_jobs(queue, many)) == 4
    schedule = await queue.get_cron_job(single)
    assert schedule is not None
    assert schedule.skipped_runs == 2
    assert schedule.next_run_at == START + timedelta(minutes=25)


async def test_a_cancelled_instance_does_not_block(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    cron_id = await queue.add_cron_job("c", "*/5 * * * *", "a", {})
    clock.advance(5 * 60)
    await queue.enqueue_due_cron_jobs()
    (job,) = await cron_jobs(queue, cron_id)
    await queue.cancel_job(job.id)
    clock.advance(5 * 60)
    assert await queue.enqueue_due_cron_jobs() == 1


async def test_processor_enqueues_due_schedules_before_its_claim(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    ran: list[dict[str, str]] = []
    await queue.add_cron_job("tick", "* * * * *", "tick", {"n": "1"})
    processor = queue.create_processor({"tick": ran.append})
    assert await processor.start() == 0
    clock.advance(60)
    assert await processor.start() == 1
    assert ran == [{"n": "1"}]


async def test_supervisor_enqueues_due_schedules(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    await queue.add_cron_job("tick", "* * * * *", "tick", {})
    supervisor = queue.create_supervisor()
    clock.advance(60)
    result = await supervisor.start()
    assert result.enqueued_cron_jobs == 1
    assert len(await queue.get_jobs_by_status("pending")) == 1


async def test_concurrent_callers_enqueue_each_due_time_once(
    make_queue: Callable[..., Awaitable[dq.JobQueue]],
) -> None:
    clock = FakeClock(START)
    queues = [await make_queue(clock) for _ in range(6)]
    ids = [
        await queues[0].add_cron_job(f"s{i}", "* * * * *", "a", {}, allow_overlap=True)
        for i in range(5)
    ]
    for _ in range(15):
        clock.advance(60)
        await asyncio.gather(*(q.enqueue_due_cron_jobs() for q in queues))
    jobs = await queues[0].get_all_jobs(1000)
    seen = {(j.cron_job_id, j.cron_due_at) for j in jobs}
    assert len(jobs) == len(seen) == 5 * 15
    assert {j.cron_job_id for j in jobs} == set(ids)


def test_sync_queue_has_every_cron_method(store: str, tmp_path: Path) -> None:
    ns = namespace()
    clock = FakeClock(START)
    queue = dq.connect_sync(**store_options(store, tmp_path, ns), clock=clock)
    queue.migrate()
    try:
        cron_id = queue.add_cron_job("s", "@hourly", "a", {})
        assert queue.get_cron_job_by_name("s") == queue.get_cron_job(cron_id)
        queue.edit_cron_job(cron_id, payload=[1])
        queue.pause_cron_job(cron_id)
        queue.resume_cron_job(cron_id)
        clock.advance(HOUR)
        assert queue.enqueue_due_cron_jobs() == 1
        assert [s.id for s in queue.list_cron_jobs("active")] == [cron_id]
        queue.remove_cron_job(cron_id)
        assert queue.list_cron_jobs() == []
    finally:
        queue.close()
        asyncio.run(drop_namespace(store, ns))


# Around each change, the clock is moved in 15-minute steps and the due
# schedules enqueued at each step; the jobs' due times, in local time, are
# the runs. Spring: the skipped time fires once at the first instant after
# the gap. Autumn: the repeated time fires once, at its first occurrence.
DST_CASES = [
    (
        "America/New_York",
        "0 * * * *",
        "2024-03-10T05:00Z",
        "2024-03-10T09:00Z",
        ["00:00-05:00", "01:00-05:00", "03:00-04:00", "04:00-04:00", "05:00-04:00"],
    ),
    (
        "America/New_York",
        "0 * * * *",
        "2024-11-03T04:00Z",
        "2024-11-03T08:00Z",
        ["00:00-04:00", "01:00-04:00", "02:00-05:00", "03:00-05:00"],
    ),
    (
        "America/New_York",
        "30 2 * * *",
        "2024-03-09T00:00Z",
        "2024-03-12T00:00Z",
        ["09T02:30-05:00", "10T03:00-04:00", "11T02:30-04:00"],
    ),
    (
        "America/New_York",
        "30 2 * * *",
        "2024-11-02T00:00Z",
        "2024-11-05T00:00Z",
        ["02T02:30-04:00", "03T02:30-05:00", "04T02:30-05:00"],
    ),
    (
        "Europe/Berlin",
        "0 * * * *",
        "2024-03-30T23:00Z",
        "2024-03-31T03:00Z",
        ["00:00+01:00", "01:00+01:00", "03:00+02:00", "04:00+02:00", "05:00+02:00"],
    ),
    (
        "Europe/Berlin",
        "0 * * * *",
        "2024-10-26T23:00Z",
        "2024-10-27T03:00Z",
        ["01:00+02:00", "02:00+02:00", "03:00+01:00", "04:00+01:00"],
    ),
    (
        "Europe/Berlin",
        "30 2 * * *",
        "2024-03-30T00:00Z",
        "2024-04-02T00:00Z",
        ["30T02:30+01:00", "31T03:00+02:00", "01T02:30+02:00"],
    ),
    (
        "Europe/Berlin",
        "30 2 * * *",
        "2024-10-26T00:00Z",
        "2024-10-29T00:00Z",
        ["26T02:30+02:00", "27T02:30+02:00", "28T02:30+01:00"],
    ),
    (
        "Australia/Lord_Howe",
        "0 * * * *",
        "2024-10-05T13:30Z",
        "2024-10-05T17:00Z",
        ["00:00+10:30", "01:00+10:30", "02:30+11:00", "03:00+11:00", "04:00+11:00"],
    ),
    (
        "Australia/Lord_Howe",
        "0 * * * *",
        "2024-04-06T13:00Z",
        "2024-04-06T17:30Z",
        ["00:00+11:00", "01:00+11:00", "02:00+10:30", "03:00+10:30", "04:00+10:30"],
    ),
    (
        "Australia/Lord_Howe",
        "30 2 * * *",
        "2024-10-04T12:00Z",
        "2024-10-07T12:00Z",
        ["05T02:30+10:30", "06T02:30+11:00", "07T02:30+11:00"],
    ),
    (
        "Australia/Lord_Howe",
        "30 2 * * *",
        "2024-04-05T12:00Z",
        "2024-04-08T12:00Z",
        ["06T02:30+11:00", "07T02:30+10:30", "08T02:30+10:30"],
    ),
]


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _local(due: datetime, tz: ZoneInfo, daily: bool) -> str:
    local = due.astimezone(tz)
    offset = local.isoformat()[19:]
    return local.strftime("%dT%H:%M" if daily else "%H:%M") + offset


@pytest.mark.parametrize(
    ("zone", "expression", "start", "end", "runs"),
    DST_CASES,
    ids=[f"{c[0]}-{c[1]}-{c[2][:10]}" for c in DST_CASES],
)
async def test_daylight_saving_changes(
    queue: dq.JobQueue,
    clock: FakeClock,
    zone: str,
    expression: str,
    start: str,
    end: str,
    runs: list[str],
) -> None:
    clock.set(_utc(start) - timedelta(seconds=1))
    cron_id = await queue.add_cron_job(
        "dst", expression, "a", {}, timezone=zone, allow_overlap=True
    )
    while clock.now() < _utc(end):
        clock.advance(15 * 60)
        await queue.enqueue_due_cron_jobs()
    tz = ZoneInfo(zone)
    jobs = await cron_jobs(queue, cron_id)
    daily = not expression.startswith("0 *")
    local = [_local(j.cron_due_at, tz, daily) for j in jobs if j.cron_due_at]
    assert local == runs
    # Each run was enqueued at its own step: nothing was merged or skipped.
    assert all(j.run_at - j.cron_due_at < timedelta(minutes=15) for j in jobs)
    schedule = await queue.get_cron_job(cron_id)
    assert schedule is not None and schedule.skipped_runs == 0
