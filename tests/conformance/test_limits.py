"""Stored limits, pauses and groups, on every store.

Claims are made with the store's own ``settle_and_claim`` (as a processor
makes them) so that each test says exactly which jobs one claim takes and
which it holds; the FakeClock drives the rate buckets. The last test plays
random limits, jobs, claims and completions on the store and on the
in-memory store (whose claim is ``limits.walk`` with no store in the way)
in lockstep, and requires the same claims and holds.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

import dataqueue as dq
from dataqueue._commands import ClaimRequest, Completion, Exchange, Lease
from tests.conftest import FakeClock, eventually

_tokens = itertools.count()


async def claim(
    queue: dq.JobQueue,
    clock: FakeClock,
    limit: int = 10,
    job_types: tuple[str, ...] | None = None,
    group_concurrency: int | None = None,
    done: list[dq.JobRecord] = (),  # type: ignore[assignment]
) -> tuple[list[dq.JobRecord], Exchange]:
    """Complete ``done`` (claimed earlier), then claim up to ``limit``."""
    token = f"lease-{next(_tokens)}"
    outcomes = [Completion(Lease(job.id, job_token(job)), None, {}) for job in done]
    request = ClaimRequest("w", token, limit, job_types, group_concurrency)
    exchange = await queue.backend.settle_and_claim(
        outcomes, request if limit else None, now=clock.now()
    )
    claimed = [job for job in exchange.claimed if isinstance(job, dq.JobRecord)]
    for job in claimed:
        _leases[job.id] = token
    return claimed, exchange


_leases: dict[int, str] = {}


def job_token(job: dq.JobRecord) -> str:
    return _leases[job.id]


def names(jobs: list[dq.JobRecord]) -> list[Any]:
    return sorted(job.payload for job in jobs)


async def reason(queue: dq.JobQueue, job_id: int) -> str | None:
    job = await queue.get_job(job_id)
    assert job is not None
    assert job.status is dq.JobStatus.PENDING and job.attempts == 0
    return job.pending_reason


async def event_types(queue: dq.JobQueue, job_id: int) -> list[str]:
    return [e.event_type.value for e in await queue.get_job_events(job_id)]


async def test_a_concurrency_limit_caps_running_jobs_and_other_types_flow(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    await queue.set_limits("a", concurrency=2)
    a = [await queue.add_job("a", f"a{n}") for n in range(4)]
    await queue.add_job("b", "b0")
    first, exchange = await claim(queue, clock)
    assert names(first) == ["a0", "a1", "b0"]
    assert exchange.waits_for_slot and exchange.wake_at is None
    # The claim passed over a2 (marked held); a3 was never looked at.
    assert await reason(queue, a[2]) == "concurrency_limit"
    assert await reason(queue, a[3]) is None
    assert await event_types(queue, a[2]) == ["added", "held"]
    (held,) = [e for e in await queue.get_job_events(a[2]) if e.event_type == "held"]
    assert held.metadata == {"reason": "concurrency_limit"}

    again, _ = await claim(queue, clock)
    assert again == []
    assert await event_types(queue, a[2]) == ["added", "held"], "marked once"

    done = [job for job in first if job.payload == "a0"]
    after, _ = await claim(queue, clock, done=done)
    assert names(after) == ["a2"]
    assert await event_types(queue, a[2]) == ["added", "held", "released", "processing"]
    job = await queue.get_job(a[2])
    assert job is not None and job.pending_reason is None and job.attempts == 1


MakeQueue = Callable[..., Awaitable[dq.JobQueue]]


async def test_a_claim_obeys_limits_changed_elsewhere_since_its_last_claim(
    make_queue: MakeQueue, clock: FakeClock
) -> None:
    """A store may remember the limits its last claim found (PostgreSQL
    claims behind their fence, ``Gate.fence``): what another process
    changed or took since must still hold the next claim."""
    here, there = await make_queue(clock), await make_queue(clock)
    await here.set_limits("a", concurrency=4)
    await here.add_jobs([dq.JobSpec("a", f"a{n}") for n in range(10)])
    first, _ = await claim(here, clock, limit=2)
    assert names(first) == ["a0", "a1"]
    taken, _ = await claim(there, clock, limit=2)
    assert names(taken) == ["a2", "a3"]
    full, exchange = await claim(here, clock, limit=2)
    assert full == [] and exchange.waits_for_slot, "the room was taken elsewhere"

    await claim(there, clock, 0, done=first + taken)
    await there.pause("a")
    paused, _ = await claim(here, clock, limit=2)
    assert paused == []
    await there.resume("a")
    await there.set_limits("a", concurrency=1)
    one, _ = await claim(here, clock, limit=2)
    assert names(one) == ["a4"]
    await there.set_limits("a", concurrency=10, rate=dq.Rate(1, per=60))
    rated, exchange = await claim(here, clock, limit=2)
    assert names(rated) == ["a5"] and exchange.wake_at is not None


async def test_concurrent_claims_never_take_more_than_the_concurrency_limit(
    make_queue: MakeQueue, clock: FakeClock
) -> None:
    """Claims of three queues, four at a time each, with room for several
    batches: together they take exactly the limit, never more."""
    queues = [await make_queue(clock) for _ in range(3)]
    await queues[0].set_limits("a", concurrency=23)
    await queues[0].add_jobs([dq.JobSpec("a", n) for n in range(60)])

    async def claimer(queue: dq.JobQueue) -> int:
        total = 0
        while True:
            claimed, exchange = await claim(queue, clock, limit=5)
            total += len(claimed)
            if not claimed and exchange.waits_for_slot:
                return total

    totals = await asyncio.gather(*(claimer(q) for q in queues for _ in range(4)))
    assert sum(totals) == 23
    counts = await queues[0].count_jobs(job_type="a")
    assert counts[dq.JobStatus.PROCESSING] == 23


async def test_a_rate_limit_is_a_token_bucket_kept_in_the_store(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    await queue.set_limits("a", rate=dq.Rate(2, per=10))
    ids = [await queue.add_job("a", n) for n in range(6)]
    first, exchange = await claim(queue, clock)
    assert names(first) == [0, 1]
    assert exchange.wake_at == clock.now() + timedelta(seconds=5)
    assert not exchange.waits_for_slot
    assert await reason(queue, ids[2]) == "rate_limit"
    clock.advance(4)
    assert (await claim(queue, clock))[0] == []
    clock.advance(1)
    assert names((await claim(queue, clock))[0]) == [2]
    clock.advance(60)  # the bucket holds at most 2
    assert names((await claim(queue, clock))[0]) == [3, 4]


async def test_a_paused_type_is_not_claimed_until_resumed(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    await queue.pause("a")
    a = await queue.add_job("a", "a")
    await queue.add_job("b", "b")
    assert await queue.get_limits() == [dq.Limits("a", paused=True)]
    claimed, exchange = await claim(queue, clock)
    assert names(claimed) == ["b"]
    assert exchange.wake_at is None and not exchange.waits_for_slot
    assert await reason(queue, a) == "paused"
    await queue.resume("a")
    assert await queue.get_limits() == []
    assert names((await claim(queue, clock))[0]) == ["a"]


async def test_pause_without_a_type_pauses_every_type(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    await queue.set_limits("a", concurrency=3)
    await queue.pause("a")
    await queue.pause()
    a = await queue.add_job("a", "a")
    b = await queue.add_job("b", "b")
    assert [limit.job_type for limit in await queue.get_limits()] == ["*", "a"]
    assert (await claim(queue, clock))[0] == []
    assert await reason(queue, a) == "paused"
    assert await reason(queue, b) == "paused"
    await queue.resume()
    assert await queue.get_limits() == [dq.Limits("a", concurrency=3)]
    assert names((await claim(queue, clock))[0]) == ["a", "b"]


async def test_group_concurrency_of_a_type_applies_per_group_key(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    await queue.set_limits("a", group_concurrency=1)
    for group, count in (("g1", 3), ("g2", 2), (None, 2)):
        for n in range(count):
            await queue.add_job("a", f"{group}-{n}", group=group)
    await queue.add_job("b", "b-g1", group="g1")
    first, exchange = await claim(queue, clock)
    assert names(first) == ["None-0", "None-1", "b-g1", "g1-0", "g2-0"]
    assert exchange.waits_for_slot
    job = await queue.get_job(first[0].id)
    assert job is not None and job.group_id == first[0].group_id
    done = [job for job in first if job.payload == "g1-0"]
    assert names((await claim(queue, clock, done=done))[0]) == ["g1-1"]


async def test_a_processors_group_concurrency_spans_every_type(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    # upstream: "enforces global per-group limits across workers"
    await queue.add_job("email", "a-1", group="tenant-a")
    await queue.add_job("email", "a-2", group="tenant-a")
    await queue.add_job("sms", "a-3", group="tenant-a")
    await queue.add_job("email", "b-1", group="tenant-b")
    first, _ = await claim(queue, clock, group_concurrency=1)
    assert names(first) == ["a-1", "b-1"]
    assert (await claim(queue, clock, group_concurrency=1))[0] == []
    done = [job for job in first if job.payload == "a-1"]
    after, _ = await claim(queue, clock, group_concurrency=1, done=done)
    assert names(after) == ["a-2"]


async def test_ungrouped_jobs_are_not_held_by_group_concurrency(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    # upstream: "keeps ungrouped jobs unaffected by groupConcurrency"
    for n in range(2):
        await queue.add_job("email", f"u{n}")
        await queue.add_job("email", f"c{n}", group="tenant-c")
    claimed, _ = await claim(queue, clock, group_concurrency=1)
    assert names(claimed) == ["c0", "u0", "u1"]


async def test_a_group_rate_gives_each_group_its_own_bucket(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    await queue.set_limits("a", group_rate=dq.Rate(1, per=2))
    for n in range(2):
        await queue.add_job("a", f"x{n}", group="x")
        await queue.add_job("a", f"y{n}", group="y")
    first, exchange = await claim(queue, clock)
    assert names(first) == ["x0", "y0"]
    assert exchange.wake_at == clock.now() + timedelta(seconds=2)
    clock.advance(2)
    assert names((await claim(queue, clock))[0]) == ["x1", "y1"]


async def test_a_claim_passes_over_a_big_group_to_reach_the_small_ones(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    """Fairness: 1,000 jobs of one group ahead of ten groups of 10, one job
    per group at a time: every small group's job starts before the big
    group's 100th."""
    specs = [dq.JobSpec("a", ["big", n], group="big") for n in range(1000)]
    specs += [
        dq.JobSpec("a", [f"small{g}", n], group=f"small{g}")
        for g in range(10)
        for n in range(10)
    ]
    await queue.add_jobs(specs)
    await queue.set_limits("a", group_concurrency=1)
    started: list[str] = []
    running: list[dq.JobRecord] = []
    while len(started) < 200:
        claimed, _ = await claim(queue, clock, limit=5, done=running)
        assert claimed, "nothing claimable"
        started += [job.payload[0] for job in claimed]
        running = claimed
    big_100th = [i for i, group in enumerate(started) if group == "big"][99]
    assert len(started[:big_100th]) - 99 == 100, "every small job before it"


async def test_limits_are_changed_one_at_a_time_and_none_removes_one(
    queue: dq.JobQueue,
) -> None:
    limits = await queue.set_limits("a", concurrency=5, rate=dq.Rate(100, per=60))
    assert limits == dq.Limits("a", concurrency=5, rate=dq.Rate(100, 60.0))
    limits = await queue.set_limits("a", group_concurrency=2, rate=None)
    assert limits == dq.Limits("a", concurrency=5, group_concurrency=2)
    await queue.pause("a")
    await queue.clear_limits("a")
    assert await queue.get_limits() == [dq.Limits("a", paused=True)]
    await queue.resume("a")
    assert await queue.get_limits() == []


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        ({"concurrency": 0}, ValueError, "concurrency"),
        ({"concurrency": "3"}, TypeError, "concurrency"),
        ({"rate": 5}, TypeError, "dq.Rate"),
        ({"rate": dq.Rate(0, per=1)}, ValueError, "rate.count"),
        ({"group_rate": dq.Rate(1, per=0)}, ValueError, "group_rate.per"),
    ],
)
async def test_bad_limits_are_refused_naming_the_argument(
    queue: dq.JobQueue, call: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        await queue.set_limits("a", **call)
    with pytest.raises(ValueError, match="per job type"):
        await queue.set_limits("*", concurrency=1)
    assert await queue.get_limits() == []


async def test_a_processor_sleeps_on_a_closed_limit_and_runs_held_jobs_after(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    await queue.set_limits("a", concurrency=1)
    ids = [await queue.add_job("a", n) for n in range(3)]
    ran: list[int] = []
    processor = queue.create_processor(
        {"a": lambda payload: ran.append(payload)}, concurrency=3
    )
    assert await processor.start() == 1
    assert await processor.start() == 1
    assert ran == [0, 1]
    job = await queue.get_job(ids[2])
    assert job is not None and job.status is dq.JobStatus.PENDING


def scenario(seed: int) -> list[tuple[str, Any]]:
    rng = random.Random(seed)
    rate = lambda: dq.Rate(rng.randint(1, 3), per=rng.choice((1, 2, 5)))  # noqa: E731
    steps: list[tuple[str, Any]] = []
    for _ in range(40):
        kind = rng.choice(["add", "add", "claim", "claim", "finish", "tick", "limit"])
        if kind == "add":
            steps.append(
                (
                    "add",
                    [
                        (rng.choice("abc"), rng.choice(("g1", "g2", "g3", None)))
                        for _ in range(rng.randint(1, 6))
                    ],
                )
            )
        elif kind == "claim":
            steps.append(("claim", (rng.randint(1, 6), rng.choice((None, None, 1, 2)))))
        elif kind == "finish":
            steps.append(("finish", rng.random()))
        elif kind == "tick":
            steps.append(("tick", rng.choice((0.5, 1, 3))))
        else:
            job_type = rng.choice("ab")
            options = rng.choice(
                [
                    {"concurrency": rng.randint(1, 3)},
                    {"rate": rate()},
                    {"group_concurrency": rng.randint(1, 2)},
                    {"group_rate": rate()},
                    {"concurrency": None, "rate": None},
                    "pause",
                    "resume",
                ]
            )
            steps.append(("limit", (job_type, options)))
    return steps


async def play(
    queue: dq.JobQueue, clock: FakeClock, steps: list[tuple[str, Any]]
) -> list[Any]:
    """The claims and holds a run makes, by each job's number in the run."""
    seen: list[Any] = []
    running: list[dq.JobRecord] = []
    number: dict[int, int] = {}
    for kind, arg in steps:
        if kind == "add":
            first = len(number)
            ids = await queue.add_jobs(
                [dq.JobSpec(t, first + i, group=g) for i, (t, g) in enumerate(arg)]
            )
            number.update({job_id: first + i for i, job_id in enumerate(ids)})
        elif kind == "claim":
            limit, group_concurrency = arg
            claimed, exchange = await claim(
                queue, clock, limit, group_concurrency=group_concurrency
            )
            running += claimed
            seen.append(
                (
                    sorted(number[job.id] for job in claimed),
                    exchange.wake_at,
                    exchange.waits_for_slot,
                )
            )
            jobs = await queue.get_jobs(status=dq.JobStatus.PENDING, limit=1000)
            seen.append(sorted((number[j.id], str(j.pending_reason)) for j in jobs))
        elif kind == "finish":
            cut = int(len(running) * arg)
            done, running = running[:cut], running[cut:]
            await claim(queue, clock, 0, done=done)
        elif kind == "tick":
            clock.advance(arg)
        else:
            job_type, options = arg
            if options == "pause":
                await queue.pause(job_type)
            elif options == "resume":
                await queue.resume(job_type)
            else:
                await queue.set_limits(job_type, **options)
    return seen


@pytest.mark.parametrize("seed", range(4))
async def test_every_store_claims_and_holds_as_the_rule_says(
    queue: dq.JobQueue, clock: FakeClock, seed: int
) -> None:
    steps = scenario(seed)
    reference_clock = FakeClock(clock.now())
    reference = dq.connect("memory://", clock=reference_clock)
    try:
        expected = await play(reference, reference_clock, steps)
    finally:
        await reference.close()
    assert await play(queue, clock, steps) == expected


async def test_freed_group_slots_refill_while_a_slow_job_runs(
    queue: dq.JobQueue,
) -> None:
    """upstream: "should refill freed group slots while a slow job runs,
    honoring groupConcurrency (continuous pool)"."""
    release = asyncio.Event()
    running: list[int] = []
    most = 0
    fast_done = 0

    async def handler(payload: dict[str, bool]) -> None:
        nonlocal most, fast_done
        running.append(1)
        most = max(most, len(running))
        try:
            if payload.get("slow"):
                await release.wait()
            else:
                fast_done += 1
        finally:
            running.pop()

    slow = await queue.add_job("test", {"slow": True}, priority=10, group="pipe")
    for _ in range(5):
        await queue.add_job("test", {}, group="pipe")
    processor = queue.create_processor(
        {"test": handler}, batch_size=10, concurrency=2, group_concurrency=2,
        poll_interval=0.05,
    )  # fmt: skip
    processor.start_in_background()
    try:

        async def every_fast_job_done() -> bool:
            return fast_done == 5

        await eventually(every_fast_job_done)
        job = await queue.get_job(slow)
        assert job is not None and job.status is dq.JobStatus.PROCESSING
        assert most <= 2
    finally:
        release.set()
        await processor.stop_and_drain(10)


async def test_a_limited_claim_resumes_a_time_wait_before_it_runs_it(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    await queue.set_limits("w", concurrency=5)

    async def handler(payload: object, ctx: dq.JobContext) -> None:
        await ctx.wait_for(seconds=60)

    job_id = await queue.add_job("w", {})
    await queue.create_processor({"w": handler}).start()
    waiting = await queue.get_job(job_id)
    assert waiting is not None and waiting.status == dq.JobStatus.WAITING
    assert waiting.wait_until is not None
    clock.advance(timedelta(seconds=61))
    claimed, _ = await claim(queue, clock, job_types=("w",))
    assert [job.id for job in claimed] == [job_id]
    events = [
        (e.event_type.value, e.metadata) for e in await queue.get_job_events(job_id)
    ]
    assert events[-2:] == [
        ("resumed", {"wait_until": waiting.wait_until.isoformat()}),
        ("processing", {"worker_id": "w", "attempt": 1}),
    ]


async def test_held_counts_say_per_type_how_many_wait_and_why(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    await queue.set_limits("a", concurrency=1)
    a = [await queue.add_job("a", f"a{n}") for n in range(3)]
    await queue.pause("p")
    for n in range(2):
        await queue.add_job("p", f"p{n}")
    first = await queue.add_job("b", "first")
    await queue.add_job("b", "later", depends_on={"job_ids": [first]})
    assert await queue.get_held_counts() == dq.HeldCounts(
        {"b": {"dependency": 1}}, complete=True
    )

    claimed, _ = await claim(queue, clock)

    # a1 was passed over; a2, behind it, was never looked at. Every job of
    # the paused type the claim met is marked.
    assert names(claimed) == ["a0", "first"]
    assert await reason(queue, a[2]) is None
    assert await queue.get_held_counts() == dq.HeldCounts(
        {
            "a": {"concurrency_limit": 1},
            "b": {"dependency": 1},
            "p": {"paused": 2},
        },
        complete=True,
    )
    # Bounded: a store that stops at its bound says so.
    bounded = await queue.backend.held_counts(2)
    assert not bounded.complete
    assert sum(n for held in bounded.counts.values() for n in held.values()) <= 2
