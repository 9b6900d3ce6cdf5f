"""The values that flow through dataqueue: jobs, events, filters, tokens,
flows and workers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, TypedDict

from dataqueue.types import Duration, JSONValue


class JobStatus(StrEnum):
    """Where a job is in its life.

    ``pending`` waits to be claimed; ``processing`` is held by a worker;
    ``completed`` finished; ``failed`` either waits for its next attempt
    (``next_attempt_at`` is set) or has used all attempts; ``cancelled`` was
    stopped by a user; ``waiting`` sleeps until a time or a token.
    """

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    WAITING = "waiting"


class FailureReason(StrEnum):
    """Why the last attempt of a job failed."""

    TIMEOUT = "timeout"
    HANDLER_ERROR = "handler_error"
    NO_HANDLER = "no_handler"
    WORKER_LOST = "worker_lost"


class EventType(StrEnum):
    """The kinds of entry in a job's event log."""

    ADDED = "added"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    RETRIED = "retried"
    EDITED = "edited"
    PROLONGED = "prolonged"
    WAITING = "waiting"
    RESUMED = "resumed"
    DEAD_LETTERED = "dead_lettered"
    DEDUPLICATED = "deduplicated"
    HELD = "held"
    RELEASED = "released"


TagMode = Literal["all", "any", "none", "exact"]
TAG_MODES: tuple[TagMode, ...] = ("all", "any", "none", "exact")


@dataclass(frozen=True, slots=True)
class TagFilter:
    """Select jobs by tags: ``all`` (default), ``any``, ``none`` or ``exact``."""

    values: list[str]
    mode: TagMode = "all"


@dataclass(frozen=True, slots=True)
class TimeRange:
    """Select jobs whose ``run_at`` lies in a range; unset bounds are open."""

    gt: datetime | None = None
    gte: datetime | None = None
    lt: datetime | None = None
    lte: datetime | None = None
    eq: datetime | None = None


DedupeMode = Literal["until_done", "throttle", "debounce"]
DEDUPE_MODES: tuple[DedupeMode, ...] = ("until_done", "throttle", "debounce")


@dataclass(frozen=True, slots=True)
class Dedupe:
    """Collapse adds that share ``key``.

    ``until_done``: while a job with the key is unfinished (pending,
    processing, waiting, or failed with a retry planned), a later add
    returns its id; ``window``, if given, frees the key sooner.
    ``throttle``: for ``window`` after a job with the key was added, later
    adds return its id. ``debounce``: the job runs ``window`` after the
    last add (unless ``run_at``/``delay`` says otherwise); a later add
    within the window, while the job is still pending, replaces its payload
    and moves its ``run_at``, and returns its id.
    """

    key: str
    window: Duration | None = None
    mode: DedupeMode = "until_done"


@dataclass(frozen=True, slots=True)
class BatchRef:
    """The job at ``index`` of the same ``add_jobs`` call (``batch_ref``)."""

    index: int


def batch_ref(index: int) -> BatchRef:
    """Refer to the ``index``-th job (from 0) of the same ``add_jobs`` call
    in a ``depends_on``; it becomes that job's id once inserted."""
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise ValueError(f"batch_ref: index must be an int >= 0, got {index!r}")
    return BatchRef(index)


@dataclass(frozen=True, slots=True)
class DependsOn:
    """Hold a job until other jobs are done (both kinds must be clear).

    ``job_ids``: every job listed (an id, or ``batch_ref(i)`` inside
    ``add_jobs``) has completed. ``tags``: no other pending, processing or
    waiting job carries every one of these tags (a drain). A listed job
    that fails for good or is cancelled cancels the job, and its own
    dependents after it.
    """

    job_ids: list[int | BatchRef] | None = None
    tags: list[str] | None = None


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One job for ``add_jobs`` (and a step or join of a flow)."""

    job_type: str
    payload: JSONValue = None
    priority: int = 0
    run_at: datetime | None = None
    max_attempts: int = 3
    timeout: Duration | None = None
    force_kill_on_timeout: bool = False
    tags: list[str] | None = None
    idempotency_key: str | None = None
    retry_delay: Duration | None = None
    retry_backoff: bool | None = None
    retry_delay_max: Duration | None = None
    entity: Entity | None = None
    delay: Duration | None = None
    dead_letter_job_type: str | None = None
    dedupe: Dedupe | dict[str, Any] | None = None
    group: str | None = None
    depends_on: DependsOn | dict[str, Any] | None = None


class Entity(TypedDict):
    """The domain object a job (or a flow) works on, for projections."""

    id: str
    type: str


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A job as stored. ``timeout`` and ``retry_*`` are in seconds."""

    id: int
    job_type: str
    payload: Any
    status: JobStatus
    created_at: datetime
    updated_at: datetime
    locked_at: datetime | None
    locked_by: str | None
    attempts: int
    max_attempts: int
    next_attempt_at: datetime | None
    priority: int
    run_at: datetime
    pending_reason: str | None
    error_history: list[dict[str, str]]
    timeout: float | None
    force_kill_on_timeout: bool
    failure_reason: FailureReason | None
    completed_at: datetime | None
    started_at: datetime | None
    last_retried_at: datetime | None
    last_failed_at: datetime | None
    last_cancelled_at: datetime | None
    tags: list[str]
    idempotency_key: str | None
    progress: int | None
    output: Any
    step_data: dict[str, Any] | None
    retry_delay: float | None
    retry_backoff: bool | None
    retry_delay_max: float | None
    wait_until: datetime | None
    wait_token_id: str | None
    flow_id: str | None
    # Set on jobs enqueued by a cron schedule: its id and the due time.
    cron_job_id: int | None = None
    cron_due_at: datetime | None = None
    # A flow step's place in its flow (``flow_id`` names the flow).
    flow_step_index: int | None = None
    entity: Entity | None = None
    # Where the job goes once it fails for good: a new job of this type,
    # whose id and creation time are kept here when it was made.
    dead_letter_job_type: str | None = None
    dead_letter_job_id: int | None = None
    dead_lettered_at: datetime | None = None
    # The key of ``dedupe=`` the job was added with.
    dedupe_key: str | None = None
    # The group key given at add (upstream ``group.id``): limits per group.
    group_id: str | None = None
    # ``depends_on`` as stored: the prerequisite jobs' ids and drain tags.
    depends_on_job_ids: list[int] | None = None
    depends_on_tags: list[str] | None = None

    @property
    def is_final(self) -> bool:
        """Completed, cancelled, or failed with no attempt left: nothing
        more will happen to the job unless someone retries it."""
        if self.status is JobStatus.FAILED:
            return self.next_attempt_at is None
        return self.status in (JobStatus.COMPLETED, JobStatus.CANCELLED)


@dataclass(frozen=True, slots=True)
class JobEvent:
    """One entry of a job's event log."""

    id: int
    job_id: int
    event_type: EventType
    created_at: datetime
    metadata: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Token:
    """A waitpoint that a job waits on until someone completes it.

    ``status`` is ``waiting``, then either ``completed`` (by
    ``complete_token``, with its ``output``) or ``timed_out`` (past
    ``timeout_at``, or its job was cancelled), never both."""

    id: str
    job_id: int | None
    status: Literal["waiting", "completed", "timed_out"]
    output: Any
    timeout_at: datetime | None
    created_at: datetime
    completed_at: datetime | None
    tags: list[str]


@dataclass(frozen=True, slots=True)
class TokenResult:
    """What ``ctx.wait_for_token`` returns: ``ok`` with the ``output`` given
    to ``complete_token``, or ``ok=False`` with ``error="timeout"``."""

    ok: bool
    output: Any = None
    error: Literal["timeout"] | None = None


class FlowStatus(StrEnum):
    """Where a flow is: its steps run (``running``); its barrier was met,
    it was aborted or it timed out and its join is being enqueued
    (``ready``); its join job exists (``joined``)."""

    RUNNING = "running"
    READY = "ready"
    JOINED = "joined"


FailurePolicy = Literal["continue", "abort"]
FAILURE_POLICIES: tuple[FailurePolicy, ...] = ("continue", "abort")
StepOutcome = Literal["success", "fail"]


@dataclass(frozen=True, slots=True)
class FlowStep:
    """One step of a flow: its job, and the outcome the barrier recorded
    (None while the step has not finished for good). ``result`` is the
    job's output after a success, ``error`` its last error after a fail."""

    step_index: int
    job_id: int
    job_type: str
    status: JobStatus
    outcome: StepOutcome | None
    result: Any = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class FlowRecord:
    """A flow: steps that run in parallel and a join that runs once after
    them. ``steps`` is filled by ``get_flow`` and empty in listings."""

    id: str
    status: FlowStatus
    failure_policy: FailurePolicy
    total_steps: int
    remaining_steps: int
    aborted: bool
    timed_out: bool
    timeout_at: datetime | None
    join_job_type: str
    join_job_id: int | None
    entity: Entity | None
    created_at: datetime
    updated_at: datetime
    steps: list[FlowStep]


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """A live processor, as its registration and heartbeats describe it.
    ``job_types`` None means every type. ``processed`` and ``failed`` count
    its attempts that completed and that failed (timeouts and jobs it had
    no handler for included) since it started, as of its last heartbeat.
    ``quiet`` is True once ``queue.quiet_worker`` asked it to stop taking
    jobs."""

    id: str
    host: str
    pid: int
    started_at: datetime
    last_heartbeat: datetime
    job_types: list[str] | None
    concurrency: int
    running_job_ids: list[int]
    processed: int = 0
    failed: int = 0
    quiet: bool = False


@dataclass(frozen=True, slots=True)
class MinuteStats:
    """What the workers did with one job type in one minute
    (``queue.get_minute_stats()``), as they reported it.

    Attributes:
        minute: The minute's start (UTC, whole minute).
        job_type: The job type.
        started: Attempts that started in the minute.
        completed: Attempts that completed in the minute.
        failed: Attempts that failed in the minute (timeouts included).
        first_starts: Jobs whose first attempt started in the minute.
        start_delay_seconds: The sum, over those first starts, of the time
            from when the job was due to when it started:
            ``start_delay_seconds / first_starts`` is the mean
            enqueue-to-start latency.
    """

    minute: datetime
    job_type: str
    started: int
    completed: int
    failed: int
    first_starts: int
    start_delay_seconds: float


@dataclass(frozen=True, slots=True)
class RecordedAction:
    """One action an operator took that changed no job's own log (pausing a
    job type, quieting a worker...), as ``queue.record_action`` stored it;
    ``queue.get_actions()`` reads them back, newest first.

    Attributes:
        at: When it was recorded (UTC, by the queue's clock).
        who: Who did it (the dashboard stores its auth identity).
        action: What was done (``"pause"``, ``"quiet_worker"``...).
        details: What it was done to, as JSON (``{"job_type": "email"}``).
    """

    at: datetime
    who: str
    action: str
    details: dict[str, JSONValue]


@dataclass(frozen=True, slots=True)
class JobTypeStats:
    """One job type's numbers at one moment (``queue.get_queue_stats()``).

    Attributes:
        job_type: The job type.
        counts: How many of its jobs are in each status; every status is
            present, 0 when none.
        oldest_pending_at: The ``run_at`` of its longest-waiting pending job
            that is due (None when none is due): ``now - oldest_pending_at``
            is how far the workers of this type are behind.
        completed: Jobs completed in the window asked for.
        failed: Jobs whose last failed attempt falls in the window.
    """

    job_type: str
    counts: dict[JobStatus, int]
    oldest_pending_at: datetime | None
    completed: int
    failed: int


@dataclass(frozen=True, slots=True)
class HeldCounts:
    """The pending jobs held back now, per job type and reason
    (``queue.get_held_counts()``).

    Attributes:
        counts: Job type → ``pending_reason`` (``"paused"``,
            ``"concurrency_limit"``, ``"rate_limit"``,
            ``"group_concurrency_limit"``, ``"group_rate_limit"``,
            ``"dependency"``) → how many of its pending jobs are held for
            it. Types and reasons with none are absent.
        complete: False when the store stopped counting at its bound: the
            numbers are then lower bounds.
    """

    counts: dict[str, dict[str, int]]
    complete: bool


@dataclass(frozen=True, slots=True)
class JobSearch:
    """What ``queue.search_jobs()`` found.

    Attributes:
        jobs: The jobs whose payload holds the text, newest first.
        indexed: True when the store searched every job through an index
            of the payloads' text (PostgreSQL with the optional trigram
            index, see docs/dashboard.md); ``scanned`` is then 0.
        scanned: Otherwise, how many of the newest jobs that match the
            filters were read and searched (at most 2,000).
        exhausted: Whether every job that matches the filters was searched.
    """

    jobs: list[JobRecord]
    indexed: bool
    scanned: int
    exhausted: bool
