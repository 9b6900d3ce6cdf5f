"""Reading jobs: every filter, pagination, events."""

from __future__ import annotations

from datetime import timedelta

import pytest

import dataqueue as dq
from tests.conftest import FakeClock


async def test_get_job_of_unknown_id_is_none(queue: dq.JobQueue) -> None:
    assert await queue.get_job(987654) is None
    assert await queue.get_job_events(987654) == []


async def test_get_all_jobs_newest_first_with_pagination(queue: dq.JobQueue) -> None:
    ids = [await queue.add_job("a", {"i": i}) for i in range(5)]
    assert [j.id for j in await queue.get_all_jobs()] == ids[::-1]
    assert [j.id for j in await queue.get_all_jobs(limit=2, offset=1)] == [
        ids[3],
        ids[2],
    ]
    assert await queue.get_all_jobs(limit=0) == []
    assert await queue.get_all_jobs(limit=10, offset=5) == []


async def test_get_jobs_by_job_type_and_priority(queue: dq.JobQueue) -> None:
    a = await queue.add_job("email", {}, priority=1)
    b = await queue.add_job("email", {}, priority=2)
    await queue.add_job("sms", {}, priority=2)
    assert [j.id for j in await queue.get_jobs(job_type="email")] == [b, a]
    assert [
        j.id for j in await queue.get_jobs({"job_type": "email", "priority": 2})
    ] == [b]


async def test_get_jobs_by_run_at_exact_and_ranges(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    t0 = clock.now()
    times = [t0 + timedelta(minutes=m) for m in range(4)]
    ids = [await queue.add_job("a", {}, run_at=t) for t in times]

    async def found(run_at: object) -> list[int]:
        return sorted(j.id for j in await queue.get_jobs(run_at=run_at))

    assert await found(times[1]) == [ids[1]]
    assert await found({"eq": times[2]}) == [ids[2]]
    assert await found({"gt": times[1]}) == ids[2:]
    assert await found({"gte": times[1]}) == ids[1:]
    assert await found({"lt": times[2]}) == ids[:2]
    assert await found({"lte": times[2]}) == ids[:3]
    assert await found(dq.TimeRange(gt=times[0], lt=times[3])) == ids[1:3]


async def test_tag_modes(queue: dq.JobQueue) -> None:
    ab = await queue.add_job("a", {}, tags=["a", "b"])
    a = await queue.add_job("a", {}, tags=["a"])
    bc = await queue.add_job("a", {}, tags=["b", "c"])
    none = await queue.add_job("a", {})

    async def by(values: list[str], mode: str) -> list[int]:
        return sorted(j.id for j in await queue.get_jobs_by_tags(values, mode))

    assert await by(["a"], "all") == [ab, a]
    assert await by(["a", "b"], "all") == [ab]
    assert await by(["a", "c"], "any") == [ab, a, bc]
    assert await by(["a"], "none") == [bc, none]
    assert await by(["b", "a"], "exact") == [ab]
    assert await by(["a"], "exact") == [a]
    filtered = await queue.get_jobs(tags=dq.TagFilter(["c"], "any"))
    assert [j.id for j in filtered] == [bc]


async def test_get_jobs_by_status(queue: dq.JobQueue) -> None:
    keep = await queue.add_job("a", {})
    gone = await queue.add_job("a", {})
    await queue.cancel_job(gone)
    assert [j.id for j in await queue.get_jobs_by_status("pending")] == [keep]
    assert [j.id for j in await queue.get_jobs_by_status(dq.JobStatus.CANCELLED)] == [
        gone
    ]
    assert [j.id for j in await queue.get_jobs(status="cancelled", job_type="a")] == [
        gone
    ]


async def test_filters_combine_with_and(queue: dq.JobQueue, clock: FakeClock) -> None:
    later = clock.now() + timedelta(hours=1)
    match = await queue.add_job("email", {}, priority=3, tags=["x"], run_at=later)
    await queue.add_job("email", {}, priority=3, tags=["y"], run_at=later)
    await queue.add_job("email", {}, priority=1, tags=["x"], run_at=later)
    await queue.add_job("sms", {}, priority=3, tags=["x"], run_at=later)
    await queue.add_job("email", {}, priority=3, tags=["x"])
    jobs = await queue.get_jobs(
        job_type="email",
        priority=3,
        tags={"values": ["x"], "mode": "any"},
        run_at={"gte": later},
    )
    assert [j.id for j in jobs] == [match]


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda q: q.get_jobs(color="red"), TypeError, "color"),
        (
            lambda q: q.get_jobs(tags={"values": ["a"], "mode": "some"}),
            ValueError,
            "mode",
        ),
        (lambda q: q.get_jobs_by_tags(["a"], "most"), ValueError, "mode"),
        (lambda q: q.get_jobs(limit=-1), ValueError, "limit"),
        (lambda q: q.get_jobs(offset=-5), ValueError, "offset"),
        (lambda q: q.get_jobs(run_at={"after": 1}), TypeError, "after"),
        (lambda q: q.get_jobs_by_status("done"), ValueError, "status"),
    ],
)
async def test_bad_filters_are_rejected(
    queue: dq.JobQueue, call: object, error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        await call(queue)  # type: ignore[operator]


async def test_search_jobs_finds_payload_text_within_the_filters(
    queue: dq.JobQueue,
) -> None:
    bounce = await queue.add_job("mail", {"to": "Bounce@Example.com"}, tags=["eu"])
    sale = await queue.add_job("mail", {"subject": "50%_off"})
    other = await queue.add_job("mail", {"subject": "50 percent off"})
    report = await queue.add_job("report", {"to": "bounce@example.com"})
    await queue.cancel_job(report)

    async def ids(text: str, *args: object, **kwargs: object) -> list[int]:
        found = await queue.search_jobs(text, *args, **kwargs)  # type: ignore[arg-type]
        # No store indexes the payloads by default: the newest jobs are read.
        assert (found.indexed, found.exhausted) == (False, True)
        assert found.scanned == len(await queue.get_jobs(*args, **kwargs))  # type: ignore[arg-type]
        return [job.id for job in found.jobs]

    assert await ids("BOUNCE@example") == [report, bounce]
    assert await ids("bounce", {"job_type": "mail"}) == [bounce]
    assert await ids("bounce", {"tags": ["eu"]}) == [bounce]
    assert await ids("bounce", status="cancelled") == [report]
    # Wildcards of any query language are plain text.
    assert await ids("50%_") == [sale]
    assert await ids("50_") == []  # as LIKE, "_" would match "50%" and "50 "
    assert await ids("50") == [other, sale]
    assert await ids("nowhere") == []
    assert [j.id for j in (await queue.search_jobs("o", limit=1)).jobs] == [report]
    with pytest.raises(ValueError, match="text"):
        await queue.search_jobs("")
    with pytest.raises(ValueError, match="limit"):
        await queue.search_jobs("a", limit=0)


async def test_search_jobs_without_an_index_reads_the_newest_2000(
    queue: dq.JobQueue,
) -> None:
    await queue.add_job("old", {"needle": True})
    await queue.add_jobs([dq.JobSpec("new", {"n": n}) for n in range(2000)])

    found = await queue.search_jobs("needle")

    assert (found.jobs, found.indexed, found.scanned, found.exhausted) == (
        [],
        False,
        2000,
        False,
    )
    assert [
        j.job_type
        for j in (await queue.search_jobs("needle", {"job_type": "old"})).jobs
    ] == ["old"]
