"""The limits' rule (``dataqueue.limits``) with no store: token buckets,
the gate's reasons and counts, the exclusions and the walk."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

import dataqueue as dq
from dataqueue.limits import (
    Bucket,
    Candidate,
    Exclusions,
    Gate,
    Limits,
    Rate,
    Usage,
    changed,
    next_token_at,
    relevant,
    tokens_at,
    walk,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_bucket_never_stored_is_full_and_refills_up_to_its_count() -> None:
    rate = Rate(10, per=5)  # 2 a second
    assert tokens_at(None, rate, NOW) == 10
    assert tokens_at(Bucket(0.5, NOW), rate, NOW + timedelta(seconds=1)) == 2.5
    assert tokens_at(Bucket(9.0, NOW), rate, NOW + timedelta(seconds=60)) == 10
    assert tokens_at(Bucket(3.0, NOW), rate, NOW - timedelta(seconds=9)) == 3
    assert next_token_at(0.5, rate, NOW) == NOW + timedelta(seconds=0.25)


def test_the_gate_counts_what_it_takes_and_says_why_it_holds() -> None:
    gate = Gate([Limits("a", concurrency=2)], Usage(running={"a": 1}), NOW)
    assert gate.offer("a", None) is None
    assert gate.offer("a", None) == "concurrency_limit"
    assert gate.waits_for_slot and gate.wake_at is None
    assert not gate.governs("b", "g") and gate.offer("b", None) is None


def test_a_rate_hold_says_when_the_next_token_comes() -> None:
    limits = [Limits("a", rate=Rate(1, per=4))]
    gate = Gate(limits, Usage(buckets={("a", None): Bucket(0.25, NOW)}), NOW)
    assert gate.offer("a", None) == "rate_limit"
    assert gate.wake_at == NOW + timedelta(seconds=3)
    assert gate.spent() == {}


def test_taking_spends_the_type_and_the_group_bucket() -> None:
    limits = [Limits("a", rate=Rate(5), group_rate=Rate(1, per=10))]
    gate = Gate(limits, Usage(), NOW)
    assert gate.offer("a", "g") is None
    assert gate.offer("a", "g") == "group_rate_limit"
    assert gate.offer("a", "h") is None
    assert gate.spent() == {
        ("a", None): Bucket(3.0, NOW),
        ("a", "g"): Bucket(0.0, NOW),
        ("a", "h"): Bucket(0.0, NOW),
    }


@pytest.mark.parametrize(
    ("limits", "usage", "cap", "expected"),
    [
        ([Limits("a", paused=True)], Usage(), None, "paused"),
        ([Limits("*", paused=True)], Usage(), None, "paused"),
        (
            [Limits("a", concurrency=1)],
            Usage(running={"a": 1}),
            None,
            "concurrency_limit",
        ),
        (
            [Limits("a", group_concurrency=1)],
            Usage(group_running={("a", "g"): 1}),
            None,
            "group_concurrency_limit",
        ),
        ([], Usage(any_group_running={"g": 2}), 2, "group_concurrency_limit"),
        ([Limits("a", group_concurrency=5)], Usage(), None, None),
    ],
)
def test_every_reason_a_job_is_held(
    limits: list[Limits], usage: Usage, cap: int | None, expected: str | None
) -> None:
    assert Gate(limits, usage, NOW, cap).offer("a", "g") == expected


def test_exclusions_name_the_types_and_groups_that_can_take_nothing() -> None:
    limits = [
        Limits("a", concurrency=1),
        Limits("b", group_concurrency=1, group_rate=Rate(1, per=60)),
        Limits("c", paused=True),
    ]
    usage = Usage(
        running={"a": 1},
        group_running={("b", "busy"): 1},
        any_group_running={"x": 3},
        buckets={("b", "spent"): Bucket(0.0, NOW)},
    )
    gate = Gate(limits, usage, NOW, group_concurrency=3)
    exclusions = gate.exclusions()
    assert exclusions == Exclusions(
        {"a": "concurrency_limit", "c": "paused"},
        frozenset({("b", "busy"), ("b", "spent")}),
        frozenset({"x"}),
    )
    assert exclusions.excludes("b", "busy") and not exclusions.excludes("b", "free")
    assert exclusions.excludes("d", "x") and not exclusions.excludes("d", None)
    assert gate.waits_for_slot and gate.wake_at == NOW + timedelta(seconds=60)


def rows(*specs: tuple[str, str | None]) -> list[Candidate]:
    return [Candidate(n, t, g) for n, (t, g) in enumerate(specs, start=1)]


def run(
    gate: Gate, limit: int, due: list[Candidate]
) -> tuple[list[int], list[tuple[int, str]], int]:
    """The walk over ``due`` (claim order); how many rows it fetched."""
    fetched = 0

    def fetch(exclusions: Exclusions, seen: Sequence[int], n: int) -> list[Candidate]:
        nonlocal fetched
        batch = [
            c
            for c in due
            if c.id not in seen and not exclusions.excludes(c.job_type, c.group)
        ][:n]
        fetched += len(batch)
        return batch

    def front(job_type: str, n: int) -> list[Candidate]:
        return [c for c in due if c.job_type == job_type][:n]

    result = walk(gate, limit, fetch, front)
    return (
        [c.id for c in result.taken],
        [(c.id, reason) for c, reason in result.held],
        fetched,
    )


def test_the_walk_passes_a_full_group_to_reach_the_others() -> None:
    due = rows(*[("a", "big")] * 50, ("a", "s1"), ("a", "s2"), ("b", None))
    gate = Gate([Limits("a", group_concurrency=1)], Usage(), NOW)
    taken, held, fetched = run(gate, 4, due)
    assert taken == [1, 51, 52, 53]
    assert held == [(2, "group_concurrency_limit")]
    assert fetched < 20, "the big group is left out, not read row by row"


def test_a_paused_type_has_its_front_of_line_marked_once() -> None:
    due = rows(*[("a", None)] * 5, ("b", None))
    due[0] = Candidate(1, "a", None, pending_reason="paused")
    gate = Gate([Limits("a", paused=True)], Usage(), NOW)
    taken, held, _ = run(gate, 3, due)
    assert taken == [6]
    assert held == [(2, "paused"), (3, "paused")], "job 1 is marked already"


def test_every_type_paused_holds_the_first_jobs_in_line() -> None:
    due = rows(("a", None), ("b", None), ("c", None))
    taken, held, _ = run(Gate([Limits("*", paused=True)], Usage(), NOW), 2, due)
    assert taken == [] and held == [(1, "paused"), (2, "paused")]


def test_a_failed_job_due_again_is_held_but_never_marked() -> None:
    due = [Candidate(1, "a", None), Candidate(2, "a", None, pending=False)]
    gate = Gate([Limits("a", concurrency=1)], Usage(), NOW)
    assert run(gate, 5, due)[:2] == ([1], [])


def test_limits_change_one_field_at_a_time_and_claims_read_their_own() -> None:
    stored = changed(None, "a", {"concurrency": 3})
    assert changed(stored, "a", {"rate": Rate(1)}) == Limits("a", 3, Rate(1))
    assert changed(stored, "a", {"concurrency": None}).is_empty
    every = [Limits("a", 1), Limits("b", 2), Limits("*", paused=True)]
    assert relevant(every, ("a",)) == [every[0], every[2]]
    assert relevant(every, None) == every


def test_a_claim_whose_every_type_is_held_reads_no_candidate() -> None:
    gate = Gate(
        [Limits("a", concurrency=1)], Usage(running={"a": 1}), NOW, job_types=("a",)
    )
    taken, held, fetched = run(gate, 5, rows(("a", None), ("a", None)))
    assert (taken, held, fetched) == ([], [], 0)
    assert gate.waits_for_slot


@pytest.mark.parametrize("seed", range(200))
def test_a_claim_within_its_fence_takes_the_first_due_jobs_and_holds_none(
    seed: int,
) -> None:
    """What lets a store claim behind ``Gate.fence`` instead of walking:
    under concurrency caps alone, a claim of ``limit`` jobs that finds each
    type running at most ``cap - limit`` takes the first ``limit`` due jobs,
    as a claim with no limits would."""
    rng = random.Random(seed)
    limit = rng.randint(1, 6)
    caps = {
        t: rng.randint(limit, limit + 4) for t in rng.sample("abc", rng.randint(1, 3))
    }
    limits = [Limits(t, concurrency=cap) for t, cap in caps.items()]
    running = {t: rng.randint(0, cap - limit) for t, cap in caps.items()}
    due = rows(*[(rng.choice("abcd"), rng.choice(("g", None))) for _ in range(12)])
    gate = Gate(limits, Usage(running=running), NOW)
    taken, held, _ = run(gate, limit, due)
    assert taken == [c.id for c in due[:limit]] and held == []
    before = Gate(limits, Usage(running=running), NOW)
    assert before.fence(limit) == caps


def test_only_concurrency_caps_with_room_make_a_fence() -> None:
    def fence(*limits: Limits, running: int = 0, group_concurrency: int | None = None):
        usage = Usage(running={"a": running})
        return Gate(limits, usage, NOW, group_concurrency).fence(5)

    assert fence(Limits("a", concurrency=10), Limits("b", concurrency=7)) == {
        "a": 10,
        "b": 7,
    }
    assert fence(Limits("a", concurrency=10), running=5) == {"a": 10}
    assert fence(Limits("a", concurrency=10), running=6) is None
    assert fence(Limits("a", concurrency=10, rate=Rate(100))) is None
    assert fence(Limits("a", concurrency=10, group_concurrency=3)) is None
    assert fence(Limits("a", concurrency=10, paused=True)) is None
    assert fence(Limits("a", rate=Rate(100))) is None
    assert fence(Limits("a", concurrency=10), Limits("*", paused=True)) is None
    assert fence(Limits("a", concurrency=10), group_concurrency=3) is None
    assert fence() is None


async def test_an_idle_processor_sleeps_until_a_held_job_may_start() -> None:
    from dataqueue.testing import FakeClock

    clock = FakeClock(NOW)
    queue = dq.connect("memory://", clock=clock)
    processor = queue.create_processor({"a": lambda payload: None}, poll_interval=5)
    await queue.set_limits("a", rate=dq.Rate(1, per=2))
    await queue.add_jobs([dq.JobSpec("a"), dq.JobSpec("a")])
    assert await processor.start() == 1
    assert processor._idle_timeout() == 2.0  # the next token, not the poll
    clock.advance(10)
    assert processor._idle_timeout() == 0.0
    await queue.clear_limits("a")
    assert await processor.start() == 1
    assert processor._idle_timeout() == 5.0
    await queue.close()


@pytest.mark.parametrize(("value", "error"), [(0, ValueError), (1.5, TypeError)])
def test_group_concurrency_must_be_a_positive_int(
    value: object, error: type[Exception]
) -> None:
    # upstream: 'Processor option "groupConcurrency" must be a positive integer'
    queue = dq.connect("memory://")
    with pytest.raises(error, match="group_concurrency"):
        queue.create_processor({"a": lambda payload: None}, group_concurrency=value)  # type: ignore[arg-type]
