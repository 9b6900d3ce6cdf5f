"""Filters over more jobs than a store reads in one step, and offsets up to
the int64 limit: the same answers as over a handful of jobs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

import dataqueue as dq

# Over two of the Redis store's walk budgets (see WALK_BUDGET), so a walk
# crosses call boundaries; every filter below matches jobs on both sides.
MANY = 1_300
INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class Made:
    id: int
    job_type: str
    priority: int
    tags: frozenset[str]
    status: dq.JobStatus


def _spec(i: int) -> dq.JobSpec:
    tags = [tag for tag, every in (("x", 5), ("y", 7)) if i % every == 0]
    return dq.JobSpec("abc"[i % 3], {"i": i}, priority=i % 4, tags=tags)


async def _many_jobs(queue: dq.JobQueue) -> list[Made]:
    """MANY jobs of three types, four priorities and tags x, y, both or none;
    every eleventh cancelled."""
    specs = [_spec(i) for i in range(MANY)]
    ids = await queue.add_jobs(specs)
    made = []
    for i, (job_id, spec) in enumerate(zip(ids, specs, strict=True)):
        status = dq.JobStatus.PENDING
        if i % 11 == 0:
            await queue.cancel_job(job_id)
            status = dq.JobStatus.CANCELLED
        made.append(
            Made(job_id, spec.job_type, i % 4, frozenset(spec.tags or []), status)
        )
    return sorted(made, key=lambda job: job.id, reverse=True)


def _tagged(mode: str, values: set[str]) -> Any:
    def test(job: Made) -> bool:
        match mode:
            case "all":
                return values <= job.tags
            case "any":
                return bool(values & job.tags)
            case "none":
                return not values & job.tags
            case _:
                return values == job.tags

    return test


def _filters() -> list[tuple[dict[str, Any], Any]]:
    """(get_jobs filters, the same test in Python) for each kind of filter."""
    kinds: list[tuple[dict[str, Any], Any]] = [
        ({}, lambda job: True),
        ({"job_type": "b"}, lambda job: job.job_type == "b"),
        ({"priority": 2}, lambda job: job.priority == 2),
        (
            {"job_type": "a", "tags": {"values": ["x"], "mode": "all"}},
            lambda job: job.job_type == "a" and "x" in job.tags,
        ),
    ]
    for mode in ("all", "any", "none", "exact"):
        for values in (["x"], ["x", "y"]):
            kinds.append(
                ({"tags": {"values": values, "mode": mode}}, _tagged(mode, set(values)))
            )
    return kinds


FILTERS = _filters()
STATUSES = (None, dq.JobStatus.PENDING, dq.JobStatus.CANCELLED)


async def test_filtered_pages_and_counts_over_many_jobs(queue: dq.JobQueue) -> None:
    made = await _many_jobs(queue)
    for filters, test in FILTERS:
        for status in STATUSES:
            expected = [
                job.id
                for job in made
                if test(job) and (status is None or job.status == status)
            ]
            where = f"{filters} status={status}"
            assert expected, f"{where} matches nothing: the test is void"
            every = await queue.get_jobs(filters, limit=MANY, status=status)
            assert [job.id for job in every] == expected, where
            # A page that starts and ends past the first walk budget.
            middle = len(expected) // 2
            page = await queue.get_jobs(filters, limit=7, offset=middle, status=status)
            assert [job.id for job in page] == expected[middle : middle + 7], where
            beyond = await queue.get_jobs(filters, offset=len(expected), status=status)
            assert beyond == [], where
        counts = await queue.count_jobs(filters)
        assert {status: n for status, n in counts.items() if n} == {
            status: sum(1 for job in made if test(job) and job.status == status)
            for status in (dq.JobStatus.PENDING, dq.JobStatus.CANCELLED)
        }, filters


async def test_bulk_changes_reach_every_matching_job(queue: dq.JobQueue) -> None:
    made = await _many_jobs(queue)
    pending = [job for job in made if job.status == dq.JobStatus.PENDING]
    tagged_a = {job.id for job in pending if job.job_type == "a" and "x" in job.tags}
    edited = await queue.edit_all_pending_jobs(
        {"job_type": "a", "tags": {"values": ["x"], "mode": "all"}}, priority=50
    )
    assert edited == len(tagged_a)
    assert {job.id for job in await queue.get_jobs(priority=50, limit=MANY)} == (
        tagged_a
    )
    untagged = {job.id for job in pending if not job.tags}
    cancelled = await queue.cancel_all_upcoming_jobs(
        tags={"values": ["x", "y"], "mode": "none"}
    )
    assert cancelled == len(untagged)
    still_pending = await queue.get_jobs_by_status("pending", limit=MANY)
    assert {job.id for job in still_pending} == {job.id for job in pending} - untagged
    assert (await queue.count_jobs())[dq.JobStatus.PENDING] == len(still_pending)


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"status": "pending"},
        {"job_type": "a"},
        {"job_type": "a", "status": "pending"},
        {"priority": 1},
        {"tags": {"values": ["x"], "mode": "all"}},
        {"tags": {"values": ["x", "y"], "mode": "any"}},
        {"tags": {"values": ["x"], "mode": "none"}},
    ],
    ids=repr,
)
async def test_offsets_up_to_the_int64_limit(
    queue: dq.JobQueue, filters: dict[str, Any]
) -> None:
    status = filters.pop("status", None)
    ids = await queue.add_jobs(
        [
            dq.JobSpec("a", {}, priority=1, tags=["x"]),
            dq.JobSpec("a", {}, priority=1, tags=["y"]),
        ]
    )
    matching = [
        job.id for job in await queue.get_jobs(filters, limit=10, status=status)
    ]
    assert matching and set(matching) <= set(ids)
    assert await queue.get_jobs(filters, offset=INT64_MAX, status=status) == []
    rest = await queue.get_jobs(filters, limit=INT64_MAX, offset=1, status=status)
    assert [job.id for job in rest] == matching[1:]


async def test_flow_listing_offsets_up_to_the_int64_limit(queue: dq.JobQueue) -> None:
    flow_id = await queue.start_flow([dq.JobSpec("step", {})], dq.JobSpec("join"))
    assert await queue.list_flows(offset=INT64_MAX) == []
    assert await queue.list_flows("running", offset=INT64_MAX) == []
    every = await queue.list_flows(limit=INT64_MAX)
    assert [flow.id for flow in every] == [flow_id]
