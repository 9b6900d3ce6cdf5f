"""Stored limits and pauses, and the rule every store applies when it claims.

A job type may carry a ``concurrency`` cap (how many of its jobs run at
once, across every worker), a ``rate`` (how many may start per period: a
token bucket kept in the store), the same two per group key of the type
(``group_concurrency``, ``group_rate``), and a pause. A processor may also
cap every group key at ``group_concurrency`` running jobs, whatever their
type (upstream DataQueue's ``groupConcurrency``).

``Gate`` is the rule. A store builds one per claim from the stored limits
and what runs now (``Usage``), then walks the due jobs in claim order
(``walk``): a job of a type nothing limits is taken; any other is offered to
the gate, which takes it (counting its slot, spending its tokens) or holds
it with a reason. The jobs passed over are marked held (``pending_reason``
and a ``held`` event) only where the walk met them, so a held line costs a
claim at most ``limit`` rows, never a rewrite of every held job:

1. each paused type has its first ``limit`` due pending jobs (by id: a
   cheap index range, where claim order would sort the whole held line)
   marked ``paused``;
2. the walk goes through the due jobs in claim order, leaving out the
   types and groups that can take nothing (``Gate.exclusions``, derived at
   the start and again after each hold), until ``limit`` jobs are taken:
   the jobs it meets and cannot take are the ones marked. A type that fills
   up during a claim therefore has the job just behind its running ones
   marked; the jobs further back keep no mark until they reach the front.

The memory, SQLite and PostgreSQL stores run this very code in their atomic
step (fetching candidates with their own queries); the Redis store runs its
port in Lua. ``tests/conformance/test_limits.py`` checks every store against
it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

HoldReason = Literal[
    "paused",
    "concurrency_limit",
    "rate_limit",
    "group_concurrency_limit",
    "group_rate_limit",
]
"""Why a due job was not claimed; kept in its ``pending_reason``."""

HOLD_REASONS: tuple[HoldReason, ...] = (
    "paused",
    "concurrency_limit",
    "rate_limit",
    "group_concurrency_limit",
    "group_rate_limit",
)

SLOT_REASONS = frozenset({"concurrency_limit", "group_concurrency_limit"})
"""Holds that end when a running job ends (not at a time)."""

ALL_TYPES = "*"
"""The job type under which ``pause()`` (no argument) is stored."""


@dataclass(frozen=True, slots=True)
class Rate:
    """``count`` starts per ``per`` seconds: a token bucket holding at most
    ``count`` tokens, refilled at ``count / per`` tokens a second.

    Example:
        ``dq.Rate(100, per=60)``: 100 a minute, and at most 100 at once.
    """

    count: int
    per: float = 1.0

    @property
    def per_second(self) -> float:
        return self.count / self.per


@dataclass(frozen=True, slots=True)
class Limits:
    """The stored limits of one job type (``"*"``: the pause of every type).

    ``None`` means no such limit. ``group_concurrency`` and ``group_rate``
    apply to each group key of the type separately; jobs added without a
    ``group`` are not held by them.
    """

    job_type: str
    concurrency: int | None = None
    rate: Rate | None = None
    group_concurrency: int | None = None
    group_rate: Rate | None = None
    paused: bool = False

    @property
    def is_empty(self) -> bool:
        """Nothing limited and not paused: the store keeps no row."""
        return (
            self.concurrency is None
            and self.rate is None
            and self.group_concurrency is None
            and self.group_rate is None
            and not self.paused
        )

    @property
    def by_group(self) -> bool:
        return self.group_concurrency is not None or self.group_rate is not None


LIMIT_FIELDS: tuple[str, ...] = (
    "concurrency",
    "rate",
    "group_concurrency",
    "group_rate",
    "paused",
)
"""What ``set_limits``, ``clear_limits``, ``pause`` and ``resume`` change."""


def changed(
    stored: Limits | None, job_type: str, values: Mapping[str, object]
) -> Limits:
    """``stored`` (None: no row) with ``values`` (names of ``LIMIT_FIELDS``)
    put in place."""
    return replace(stored or Limits(job_type), **values)  # type: ignore[arg-type]


def relevant(limits: Iterable[Limits], job_types: Sequence[str] | None) -> list[Limits]:
    """The limits a claim of ``job_types`` (None: every type) must obey."""
    return [
        limit
        for limit in limits
        if job_types is None
        or limit.job_type in job_types
        or (limit.job_type == ALL_TYPES and limit.paused)
    ]


@dataclass(frozen=True, slots=True)
class Bucket:
    """A token bucket as stored: ``tokens`` at time ``at``."""

    tokens: float
    at: datetime


BucketKey = tuple[str, str | None]
"""(job type, group key); group None: the type's own bucket."""


def tokens_at(bucket: Bucket | None, rate: Rate, now: datetime) -> float:
    """The tokens in a bucket at ``now``: refilled since it was stored, at
    most ``rate.count``; a bucket never stored is full."""
    if bucket is None:
        return float(rate.count)
    elapsed = max((now - bucket.at).total_seconds(), 0.0)
    return min(float(rate.count), bucket.tokens + elapsed * rate.per_second)


def next_token_at(tokens: float, rate: Rate, now: datetime) -> datetime:
    """When a bucket holding ``tokens`` (< 1) at ``now`` holds one."""
    return now + timedelta(seconds=max(1.0 - tokens, 0.0) / rate.per_second)


@dataclass(frozen=True, slots=True)
class Usage:
    """What runs now, as the store counts it (``processing`` jobs).

    ``running``: per limited job type; ``group_running``: per (type, group
    key) of the types limited by group; ``any_group_running``: per group key
    whatever the type (only when the claim caps groups); ``buckets``: the
    stored token buckets of the limited types.
    """

    running: Mapping[str, int] = field(default_factory=dict)
    group_running: Mapping[tuple[str, str], int] = field(default_factory=dict)
    any_group_running: Mapping[str, int] = field(default_factory=dict)
    buckets: Mapping[BucketKey, Bucket] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Exclusions:
    """What can take no job now: types (with why), (type, group) pairs and
    group keys (under the claim's own group cap). A store leaves them out
    of the candidates it fetches."""

    types: Mapping[str, HoldReason]
    groups: frozenset[tuple[str, str]]
    any_groups: frozenset[str]

    def excludes(self, job_type: str, group: str | None) -> bool:
        if job_type in self.types:
            return True
        if group is None:
            return False
        return (job_type, group) in self.groups or group in self.any_groups


class Gate:
    """One claim's view of the limits: which due jobs it may take.

    Args:
        limits: The stored limits (any order; ``"*"`` for the pause of all).
        usage: What runs now.
        now: The claim's time.
        group_concurrency: The claiming processor's cap per group key (all
            types together), or None.
        job_types: The types the claim takes (None: every type).
    """

    def __init__(
        self,
        limits: Iterable[Limits],
        usage: Usage,
        now: datetime,
        group_concurrency: int | None = None,
        job_types: Sequence[str] | None = None,
    ) -> None:
        self._limits = {limit.job_type: limit for limit in limits}
        self._all_paused = ALL_TYPES in self._limits and self._limits[ALL_TYPES].paused
        self._running = dict(usage.running)
        self._group_running = dict(usage.group_running)
        self._any_group_running = dict(usage.any_group_running)
        self._stored = dict(usage.buckets)
        self._tokens: dict[BucketKey, float] = {}
        self._spent: set[BucketKey] = set()
        self._now = now
        self._group_concurrency = group_concurrency
        self._job_types = None if job_types is None else frozenset(job_types)
        self.wake_at: datetime | None = None
        """The earliest time a job held by a rate may start."""
        self.waits_for_slot = False
        """Some job is held until a running one ends."""

    @property
    def is_open(self) -> bool:
        """Nothing limits this claim: the store's plain claim will do."""
        return not self._limits and self._group_concurrency is None

    def governs(self, job_type: str, group: str | None) -> bool:
        """Whether anything may hold a job of this type and group."""
        if self._all_paused or job_type in self._limits:
            return True
        return group is not None and self._group_concurrency is not None

    def _bucket(self, key: BucketKey, rate: Rate) -> float:
        if key not in self._tokens:
            self._tokens[key] = tokens_at(self._stored.get(key), rate, self._now)
        return self._tokens[key]

    def _reason(self, job_type: str, group: str | None) -> HoldReason | None:
        """Why a job of this type and group cannot start now (None: it can)."""
        limit = self._limits.get(job_type)
        if self._all_paused or (limit is not None and limit.paused):
            return "paused"
        if limit is not None:
            if (
                limit.concurrency is not None
                and self._running.get(job_type, 0) >= limit.concurrency
            ):
                return "concurrency_limit"
            if (
                limit.rate is not None
                and self._bucket((job_type, None), limit.rate) < 1
            ):
                return "rate_limit"
        if group is None:
            return None
        group_cap = None if limit is None else limit.group_concurrency
        running = self._group_running.get((job_type, group), 0)
        if group_cap is not None and running >= group_cap:
            return "group_concurrency_limit"
        cap = self._group_concurrency
        if cap is not None and self._any_group_running.get(group, 0) >= cap:
            return "group_concurrency_limit"
        group_rate = None if limit is None else limit.group_rate
        if group_rate is not None and self._bucket((job_type, group), group_rate) < 1:
            return "group_rate_limit"
        return None

    def _note_hold(self, job_type: str, group: str | None, reason: HoldReason) -> None:
        """Remember when the hold may end: a rate's next token, or a slot."""
        if reason in SLOT_REASONS:
            self.waits_for_slot = True
            return
        if reason == "paused":
            return
        limit = self._limits[job_type]
        if reason == "rate_limit":
            key: BucketKey = (job_type, None)
            rate = limit.rate
        else:
            key, rate = (job_type, group), limit.group_rate
        assert rate is not None
        at = next_token_at(self._bucket(key, rate), rate, self._now)
        if self.wake_at is None or at < self.wake_at:
            self.wake_at = at

    def offer(self, job_type: str, group: str | None) -> HoldReason | None:
        """Take a due job (None: its slot is counted, its tokens spent) or
        say why it is held."""
        reason = self._reason(job_type, group)
        if reason is not None:
            self._note_hold(job_type, group, reason)
            return reason
        limit = self._limits.get(job_type)
        self._running[job_type] = self._running.get(job_type, 0) + 1
        if group is not None:
            pair = (job_type, group)
            self._group_running[pair] = self._group_running.get(pair, 0) + 1
            self._any_group_running[group] = self._any_group_running.get(group, 0) + 1
        if limit is not None and limit.rate is not None:
            self._spend((job_type, None), limit.rate)
        if limit is not None and limit.group_rate is not None and group is not None:
            self._spend((job_type, group), limit.group_rate)
        return None

    def _spend(self, key: BucketKey, rate: Rate) -> None:
        self._tokens[key] = self._bucket(key, rate) - 1
        self._spent.add(key)

    def exclusions(self) -> Exclusions:
        """The types, groups and group keys that can take no job now. Each
        counts as a hold for ``wake_at`` and ``waits_for_slot``: a store
        leaves their jobs out of its candidates without offering them."""
        types: dict[str, HoldReason] = {}
        for job_type in self._limits:
            if job_type == ALL_TYPES:
                continue
            reason = self._reason(job_type, None)
            if reason is not None:
                types[job_type] = reason
                self._note_hold(job_type, None, reason)
        groups: set[tuple[str, str]] = set()
        for (job_type, group), running in self._group_running.items():
            limit = self._limits.get(job_type)
            cap = None if limit is None else limit.group_concurrency
            if cap is not None and running >= cap and job_type not in types:
                groups.add((job_type, group))
                self.waits_for_slot = True
        for bucket_type, bucket_group in {*self._stored, *self._tokens}:
            limit = self._limits.get(bucket_type)
            if bucket_group is None or limit is None or limit.group_rate is None:
                continue
            pair = (bucket_type, bucket_group)
            if bucket_type in types or pair in groups:
                continue
            if self._bucket(pair, limit.group_rate) < 1:
                groups.add(pair)
                self._note_hold(bucket_type, bucket_group, "group_rate_limit")
        any_groups: set[str] = set()
        if self._group_concurrency is not None:
            for group, running in self._any_group_running.items():
                if running >= self._group_concurrency:
                    any_groups.add(group)
                    self.waits_for_slot = True
        return Exclusions(types, frozenset(groups), frozenset(any_groups))

    def all_paused(self) -> bool:
        return self._all_paused

    def takes_none_of(self, exclusions: Exclusions) -> bool:
        """Every type the claim takes is excluded: no candidate to look for."""
        types = self._job_types
        return types is not None and types <= exclusions.types.keys()

    def fence(self, limit: int) -> dict[str, int] | None:
        """The caps under which a store may make the next claim of up to
        ``limit`` jobs as if no limit applied, or None: it walks.

        When a claim's only limits are concurrency caps (no rate, no group
        limit, no pause, no cap per group key) and each type runs at most
        ``cap - limit`` jobs, the walk offers the first ``limit`` due jobs
        to a gate with room for every one: it takes exactly what a claim
        with no limits takes and holds none. A store checks that fence (the
        stored limits are still these caps, and what runs leaves the room)
        atomically in that claim, and walks when it fails. None when
        another limit applies, or when a type has less room than ``limit``
        now (counting what this claim took).
        """
        if self._group_concurrency is not None or not self._limits:
            return None
        caps: dict[str, int] = {}
        for job_type, stored in self._limits.items():
            cap = stored.concurrency
            if cap is None or stored.rate is not None or stored.by_group:
                return None
            if stored.paused or self._running.get(job_type, 0) + limit > cap:
                return None
            caps[job_type] = cap
        return caps

    def spent(self) -> dict[BucketKey, Bucket]:
        """The buckets this claim took tokens from, to store back."""
        return {key: Bucket(self._tokens[key], self._now) for key in self._spent}


@dataclass(frozen=True, slots=True)
class Candidate:
    """A due job as the walk sees it: its id, type, group key and current
    ``pending_reason`` (a hold mark already made)."""

    id: int
    job_type: str
    group: str | None
    pending_reason: str | None = None
    pending: bool = True
    """False for a failed job due for its retry: held, but left unmarked
    (a mark is a pending job's)."""


@dataclass(slots=True)
class Walk:
    """What one claim decided: the jobs to take, in claim order, and the
    jobs to mark held (with why) whose mark is not already that."""

    taken: list[Candidate] = field(default_factory=list)
    held: list[tuple[Candidate, HoldReason]] = field(default_factory=list)

    def hold(self, candidate: Candidate, reason: HoldReason) -> None:
        if candidate.pending and candidate.pending_reason != reason:
            self.held.append((candidate, reason))


Fetch = Callable[[Exclusions, Sequence[int], int], Sequence[Candidate]]
"""A store's query: up to ``n`` due jobs of the claim's types in claim
order, leaving out the excluded types and groups and the given ids."""

FrontOfLine = Callable[[str, int], Sequence[Candidate]]
"""A store's query: the first ``n`` due pending jobs of one type, by id."""


@dataclass(frozen=True, slots=True)
class FetchStep:
    """The walk asks for candidates (``Fetch``)."""

    exclusions: Exclusions
    seen: tuple[int, ...]
    n: int


@dataclass(frozen=True, slots=True)
class FrontStep:
    """The walk asks for a held type's front of line (``FrontOfLine``)."""

    job_type: str
    n: int


WalkSteps = Generator[FetchStep | FrontStep, Sequence[Candidate], Walk]


def walk_steps(gate: Gate, limit: int) -> WalkSteps:
    """Decide one claim of up to ``limit`` jobs (see the module's rule),
    asking the store for rows as it goes: each step yielded is answered
    with the candidates it asks for (``walk`` and ``walk_async`` drive it).

    Candidates are asked for again, with the exclusions derived after the
    holds so far and the ids already taken or held, until ``limit`` jobs
    are taken or fewer come than were asked: each round leaves out at least
    one more type or group, so the rounds are few.
    """
    result = Walk()
    if gate.all_paused():
        nothing = Exclusions({}, frozenset(), frozenset())
        for candidate in (yield FetchStep(nothing, (), limit)):
            result.hold(candidate, "paused")
        return result
    exclusions = gate.exclusions()
    for job_type, reason in sorted(exclusions.types.items()):
        if reason != "paused":
            continue
        for candidate in (yield FrontStep(job_type, limit)):
            result.hold(candidate, reason)
    if gate.takes_none_of(exclusions):
        return result
    seen: list[int] = []
    while len(result.taken) < limit:
        wanted = limit - len(result.taken)
        batch = yield FetchStep(exclusions, tuple(seen), wanted)
        for candidate in batch:
            if len(result.taken) >= limit:
                break
            if exclusions.excludes(candidate.job_type, candidate.group):
                continue
            seen.append(candidate.id)
            if not gate.governs(candidate.job_type, candidate.group):
                result.taken.append(candidate)
                continue
            held_for = gate.offer(candidate.job_type, candidate.group)
            if held_for is None:
                result.taken.append(candidate)
                continue
            result.hold(candidate, held_for)
            exclusions = gate.exclusions()
        # Once a hold leaves out every type the claim takes, no candidate
        # is left to ask for (the store would read the whole held line).
        if len(batch) < wanted or gate.takes_none_of(exclusions):
            break
    return result


def walk(gate: Gate, limit: int, fetch: Fetch, front_of_line: FrontOfLine) -> Walk:
    """``walk_steps`` with a store's queries."""
    steps = walk_steps(gate, limit)
    try:
        step = next(steps)
        while True:
            if isinstance(step, FetchStep):
                step = steps.send(fetch(step.exclusions, step.seen, step.n))
            else:
                step = steps.send(front_of_line(step.job_type, step.n))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def walk_async(
    gate: Gate,
    limit: int,
    fetch: Callable[[Exclusions, Sequence[int], int], Awaitable[Sequence[Candidate]]],
    front_of_line: Callable[[str, int], Awaitable[Sequence[Candidate]]],
) -> Walk:
    """``walk_steps`` with a store's asynchronous queries."""
    steps = walk_steps(gate, limit)
    try:
        step = next(steps)
        while True:
            if isinstance(step, FetchStep):
                rows = await fetch(step.exclusions, step.seen, step.n)
            else:
                rows = await front_of_line(step.job_type, step.n)
            step = steps.send(rows)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
