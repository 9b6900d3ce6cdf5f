"""Validated values handed to a store.

``dataqueue._validate`` builds the jobs, filters, edits and cron schedules
from public arguments; the runtime builds the cron ticks and the processor
the rest. Backends trust every field: a value reaching them
has already been checked and normalized.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, TypeAlias

from dataqueue.models import (
    DedupeMode,
    Entity,
    FailurePolicy,
    FailureReason,
    FlowRecord,
    JobRecord,
    JobStatus,
    TagFilter,
    TimeRange,
    WorkerInfo,
)
from dataqueue.types import JSONValue


@dataclass(frozen=True, slots=True)
class NewJob:
    """A validated job ready to be inserted."""

    job_type: str
    payload: JSONValue
    priority: int
    run_at: datetime | None
    max_attempts: int
    timeout: float | None
    force_kill_on_timeout: bool
    tags: list[str]
    idempotency_key: str | None
    retry_delay: float | None
    retry_backoff: bool | None
    retry_delay_max: float | None
    flow_id: str | None = None
    flow_step_index: int | None = None
    entity: Entity | None = None
    cron: CronRun | None = None
    trace_context: dict[str, str] | None = None
    dead_letter_job_type: str | None = None
    dead_letter_of: int | None = None
    """A dead letter's failed job (named in its ``added`` event; not stored)."""
    dedupe: DedupeRule | None = None
    group_id: str | None = None
    depends_on: Dependencies | None = None


@dataclass(frozen=True, slots=True)
class Dependencies:
    """``depends_on`` of a new job, validated: ``job_ids`` of jobs that
    must exist already, ``batch_indexes`` of jobs of the same ``add_jobs``
    call (the store stores their ids), and drain ``tags``. The store
    refuses the whole call (``DependencyError``, nothing written) when a
    listed id does not exist, and holds the job (``_transitions.
    dependency_hold``) while its prerequisites are unfinished."""

    job_ids: tuple[int, ...] = ()
    batch_indexes: tuple[int, ...] = ()
    tags: tuple[str, ...] = ()

    def resolved(self, batch_ids: Sequence[int]) -> list[int]:
        """Every prerequisite's id, given the ids of the call's jobs."""
        return sorted({*self.job_ids, *(batch_ids[i] for i in self.batch_indexes)})


@dataclass(frozen=True, slots=True)
class DedupeRule:
    """``dedupe=`` of a new job, decided in Python (``_transitions``).

    The store keeps one record per ``key``: the job that holds it and when
    the hold ends (``expires_at``; None: only when the job finishes). In
    the same atomic step as the insert it reads the record and its job and
    asks ``_transitions.dedupe_holds``: if the key is held, no job is
    inserted and the holder's id is returned (a ``debounce`` also gives the
    holder this job's payload and ``run_at``, renews the record's
    ``expires_at`` and appends ``metadata`` as a ``deduplicated`` event);
    otherwise the job is inserted and the record names it.
    """

    key: str
    mode: DedupeMode
    expires_at: datetime | None
    metadata: dict[str, JSONValue]


@dataclass(frozen=True, slots=True)
class CronRun:
    """Where a job enqueued by a cron schedule comes from: the schedule, the
    due time it is for, and how many earlier due times it stands in for."""

    cron_job_id: int
    due_at: datetime
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class JobFilter:
    """A validated conjunction of filters; ``None`` fields do not filter."""

    job_type: str | None = None
    priority: int | None = None
    run_at: TimeRange | None = None
    tags: TagFilter | None = None
    status: JobStatus | None = None


EDITABLE_FIELDS: tuple[str, ...] = (
    "payload",
    "priority",
    "max_attempts",
    "run_at",
    "timeout",
    "tags",
    "retry_delay",
    "retry_backoff",
    "retry_delay_max",
    "dead_letter_job_type",
)


@dataclass(frozen=True, slots=True)
class JobChanges:
    """Validated edits to pending jobs: only the fields in ``values`` change.

    ``values`` maps a name of ``EDITABLE_FIELDS`` to its new value; ``run_at``
    of ``None`` means "now", ``tags`` of ``None`` means no tags. ``metadata`` is
    the JSON form recorded in the ``edited`` event.
    """

    values: dict[str, Any]
    metadata: dict[str, JSONValue] = field(default_factory=dict)


# -- cron schedules ----------------------------------------------------------

CRON_EDITABLE_FIELDS: tuple[str, ...] = (
    "cron_expression",
    "job_type",
    "payload",
    "timezone",
    "allow_overlap",
    "max_attempts",
    "priority",
    "timeout",
    "tags",
    "retry_delay",
    "retry_backoff",
    "retry_delay_max",
    "dead_letter_job_type",
)
"""What ``edit_cron_job`` may change (the name is the schedule's identity)."""


@dataclass(frozen=True, slots=True)
class NewCronJob:
    """A validated schedule, with its first run already computed."""

    schedule_name: str
    cron_expression: str
    job_type: str
    payload: JSONValue
    timezone: str
    allow_overlap: bool
    max_attempts: int
    priority: int
    timeout: float | None
    tags: list[str]
    retry_delay: float | None
    retry_backoff: bool | None
    retry_delay_max: float | None
    next_run_at: datetime
    dead_letter_job_type: str | None = None
    """Copied onto every job the schedule enqueues."""


@dataclass(frozen=True, slots=True)
class CronChanges:
    """Validated edits to one schedule: only the fields in ``values`` change.

    When the expression or the time zone changes, ``next_run_at`` is the
    recomputed next run, and ``expected`` the (expression, timezone) it was
    computed from: the store applies the edit only if the schedule still has
    them, so a concurrent edit is never overwritten with a stale next run.
    """

    values: dict[str, Any]
    next_run_at: datetime | None = None
    expected: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class CronTick:
    """One due schedule to enqueue, decided in Python.

    The store claims the due time by moving the schedule's ``next_run_at``
    from ``claimed_run_at`` to ``next_run_at`` (only if it is still active
    and still has ``claimed_run_at``), and in the same atomic step inserts
    ``job`` (whose ``cron`` names the schedule, the due time and the skipped
    count) as ``add_jobs`` does, unless the schedule forbids overlap and one
    of its jobs is pending, processing or waiting. A blocked due time is
    still claimed; it and the ``job.cron.skipped`` ones add to the
    schedule's ``skipped_runs``.
    """

    claimed_run_at: datetime
    next_run_at: datetime
    job: NewJob

    @property
    def run(self) -> CronRun:
        assert self.job.cron is not None
        return self.job.cron


# -- the work of a processor -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lease:
    """The right of one attempt to write to its job.

    Every claim draws a fresh random ``token``; the store keeps it on each job
    it claimed. A write carrying a lease changes the job only while the job is
    ``processing`` under that same token, so an attempt whose job was
    reclaimed, released or cancelled (or a restarted worker reusing the same
    ``worker_id``) can no longer change it.
    """

    job_id: int
    token: str


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    """Take up to ``limit`` due jobs for ``worker_id`` under lease ``token``."""

    worker_id: str
    token: str
    limit: int
    job_types: tuple[str, ...] | None = None
    group_concurrency: int | None = None
    """The processor's cap per group key, over every type (None: none)."""


@dataclass(frozen=True, slots=True)
class Completion:
    """An attempt finished: the job becomes ``completed`` with ``output``;
    ``metadata`` is the ``completed`` event's."""

    lease: Lease
    output: JSONValue
    metadata: dict[str, JSONValue]


@dataclass(frozen=True, slots=True)
class Failure:
    """An attempt failed: the job becomes ``failed``, ``{"message",
    "timestamp"}`` (and the handler's ``"traceback"``, when it raised) is
    appended to its ``error_history``, and it runs again at
    ``next_attempt_at`` (``None``: failed for good)."""

    lease: Lease
    message: str
    reason: FailureReason
    next_attempt_at: datetime | None
    traceback: str | None = None
    dead_letter: NewJob | None = None
    """Failed for good with a dead-letter type: the job to add with the
    failure, atomically; the failed job keeps its id as ``dead_letter_job_id``,
    ``dead_lettered_at`` and a ``dead_lettered`` event
    (``_transitions.dead_lettered_metadata`` of the letter and its id)."""


@dataclass(frozen=True, slots=True)
class Suspension:
    """An attempt waits: the job becomes ``waiting`` until ``wait_until`` or
    until token ``wait_token_id`` is completed or expires (exactly one is
    set), with ``step_data`` (which records the wait's position) stored and
    the attempt its claim took given back. A token that is already resolved
    when this is written makes the job due at once instead."""

    lease: Lease
    step_data: dict[str, JSONValue]
    wait_until: datetime | None = None
    wait_token_id: str | None = None


Outcome: TypeAlias = Completion | Failure | Suspension
"""What an attempt ended in, to be written under its lease."""


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token created by a running attempt, for its own job."""

    id: str
    timeout_at: datetime | None
    tags: list[str]


@dataclass(frozen=True, slots=True)
class BrokenJob:
    """A claimed job whose stored row could not be decoded.

    The store claimed it (it holds the claim's lease) but cannot hand it to a
    handler; the processor fails it for good so that it never holds up the
    rest of its claim.
    """

    id: int
    error: str


Claimed: TypeAlias = JobRecord | BrokenJob


@dataclass(frozen=True, slots=True)
class Exchange:
    """What ``settle_and_claim`` did.

    ``settled[i]`` is True when ``outcomes[i]`` was written (its lease still
    held), False when the job had been taken from the attempt. ``claimed`` are
    the newly claimed jobs, in claim order. ``ready_flows`` are the flows
    whose barrier these outcomes met (or aborted): their joins are due.
    """

    settled: list[bool]
    claimed: list[Claimed]
    ready_flows: list[str] = field(default_factory=list)
    wake_at: datetime | None = None
    """The earliest time a job the claim held by a rate may start."""
    waits_for_slot: bool = False
    """The claim held a job until a running one ends."""


@dataclass(frozen=True, slots=True)
class LimitChanges:
    """Validated changes to the stored limits of ``job_type`` (None: of
    every stored row, which only ``resume()`` does): only the names in
    ``values`` change (``limits.LIMIT_FIELDS``; None removes a limit). A row
    left with nothing limited and no pause is deleted; a changed ``rate`` or
    ``group_rate`` starts with full buckets."""

    job_type: str | None
    values: dict[str, Any]


# -- flows -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewFlow:
    """A validated flow: its steps (each with ``flow_id`` and
    ``flow_step_index`` set) and its join, kept as ``join_spec`` (opaque
    JSON text the store keeps and gives back) until the barrier is met."""

    id: str
    steps: list[NewJob]
    join_job_type: str
    join_spec: str
    failure_policy: FailurePolicy
    timeout_at: datetime | None
    entity: Entity | None


@dataclass(frozen=True, slots=True)
class StoredFlow:
    """A flow as the store keeps it: the public record, and the join's
    ``join_spec`` as given to ``start_flow``."""

    record: FlowRecord
    join_spec: str


# -- workers -----------------------------------------------------------------

NewWorker: TypeAlias = WorkerInfo
"""A processor registering itself: ``started_at`` and ``last_heartbeat`` are
its start time, ``running_job_ids`` empty."""


@dataclass(frozen=True, slots=True)
class WorkerBeat:
    """A heartbeat: the jobs the worker runs now and its counts since it
    started (``WorkerInfo.processed`` and ``failed``)."""

    worker_id: str
    running_job_ids: list[int]
    processed: int
    failed: int


HeartbeatAnswer: TypeAlias = Literal["unregistered", "running", "quiet"]
"""What a heartbeat learns: the worker is not registered (removed as dead:
it registers again), runs on, or was asked to stop taking jobs."""

MINUTE_STATS_KEPT = timedelta(hours=25)
"""How long a store keeps per-minute stats: a day, and an hour of slack."""
