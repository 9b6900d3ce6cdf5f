"""The one contract every store implements.

Decisions (retry times, whether a failure is final, what an edit means) are
made in Python before a backend is called; a backend performs each state
change atomically with the values it is given. What each change of status
means (its from-statuses, event metadata, error entry, barrier outcome) is
``dataqueue._transitions``; a store appends what it builds. Every
time-dependent method takes ``now`` so that one clock drives every store.

Shared rules, true of every backend:

* A job is *due* when it is ``pending`` with ``run_at <= now`` (and not
  held by its dependencies: ``pending_reason`` ``'dependency'``), or
  ``failed`` with ``next_attempt_at <= now``. Due jobs are claimed by
  ``priority`` (high first), then ``run_at``, then ``id``.
* Dependencies: a job added with ``depends_on`` is held (``held`` event)
  while ``_transitions.dependency_hold`` says so. Every call that changes a
  job a held job waits on (``settle_and_claim``, ``cancel_job``,
  ``cancel_jobs``, ``reclaim_stuck_jobs``) applies, in the same atomic
  step, ``_transitions.depends_on``: a doomed prerequisite cancels its held
  dependents (``cancelled`` ``{"reason", "prerequisite"}``), transitively;
  otherwise a dependent is released (``released``) once nothing holds it.
* Every change of state appends one event to the job's log. ``added``:
  ``{"job_type"}`` (a cron job's adds ``cron_job_id``, ``cron_due_at`` and
  ``cron_skipped``); ``processing``: ``{"worker_id", "attempt"}``;
  ``completed``: the ``metadata`` given; ``failed``: ``{"message",
  "failure_reason", "next_attempt_at"}`` (ISO text or null); ``cancelled``:
  ``{}``; ``retried``: ``{}`` (``{"reclaimed_from"}`` for a stuck job,
  ``{"released_by"}`` for one given back); ``edited``: the changed fields;
  ``added``, ``cancelled``, ``retried``, ``edited`` and a completed token's
  ``resumed`` add ``"by"`` when the call was made for someone
  (``_actor.acting_as``; the builders read it at the call, so a store
  builds these metadata per call, on the caller's context);
  ``prolonged``: ``{"timeout"}``; ``waiting``: ``{"wait_until"}`` (ISO text)
  or ``{"token_id"}``; ``resumed``: ``{"wait_until"}``, or ``{"token_id",
  "timed_out"}``; ``dead_lettered``: ``{"dead_letter_job_type",
  "dead_letter_job_id"}``. Each is built by ``_transitions``; a value the
  store learns only in its atomic step (an attempt's number, the worker or
  time it reads, a new letter's id) it writes between the two parts of the
  builder's ``_transitions.metadata_template``, as JSON.
* A ``waiting`` job is due again once ``wait_until <= now`` (the claim takes
  it, with a ``resumed`` event and ``run_at = wait_until``), or at once when
  the token it waits on is completed or expires.
* Deleting a job deletes its events.
* A flow step *finishes for good* when its job becomes ``completed``
  (outcome ``success``), ``failed`` with no next attempt, or ``cancelled``
  (outcome ``fail``) — whichever call makes that change (``settle_and_claim``,
  ``reclaim_stuck_jobs``, ``cancel_job``, ``cancel_jobs``). In the same atomic
  step the store records the step's outcome, unless the step already has one
  or its flow is no longer ``running`` (then nothing happens: duplicates and
  late outcomes are ignored), and decrements the flow's ``remaining_steps``.
  The flow becomes ``ready`` when ``remaining_steps`` reaches 0, or at its
  first ``fail`` when its policy is ``abort`` (``aborted`` set). One call's
  outcomes reach the barrier in order (a batch's in its order, a bulk
  cancel's or a reclaim's by job id), so under ``abort`` its first fail
  decides and the rest are not recorded. A ``ready``
  flow's join is enqueued exactly once by ``enqueue_flow_join``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from dataqueue._commands import (
    ClaimRequest,
    CronChanges,
    CronTick,
    Exchange,
    HeartbeatAnswer,
    JobChanges,
    JobFilter,
    Lease,
    LimitChanges,
    NewCronJob,
    NewFlow,
    NewJob,
    NewToken,
    NewWorker,
    Outcome,
    StoredFlow,
    WorkerBeat,
)
from dataqueue.cron import CronJob, CronStatus
from dataqueue.errors import BackendError
from dataqueue.limits import Limits
from dataqueue.models import (
    FlowRecord,
    FlowStatus,
    HeldCounts,
    JobEvent,
    JobRecord,
    JobStatus,
    JobTypeStats,
    MinuteStats,
    RecordedAction,
    Token,
    WorkerInfo,
)
from dataqueue.types import JSONValue


class Wakeup(Protocol):
    """A subscription to "a job was added" signals."""

    async def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True if a signal came."""
        ...

    async def close(self) -> None: ...


class JobStore(Protocol):
    """Adding, reading, changing and cleaning up jobs."""

    @abstractmethod
    async def add_jobs(
        self, jobs: Sequence[NewJob], *, now: datetime, db: Any = None
    ) -> list[int]:
        """Insert jobs in one round trip; ``ids[i]`` belongs to ``jobs[i]``.

        A job whose ``idempotency_key`` is taken gets the existing job's id
        and changes nothing; so does a job whose ``dedupe`` key is held (see
        ``DedupeRule``: concurrent adds with one key are serialized, and a
        debounce moves the holder). A job's ``depends_on`` is stored with
        its batch indexes resolved to ids; an id no job has raises
        ``DependencyError`` and nothing of the call is written. ``run_at`` of
        None means ``now``. A job's ``cron`` is stored as its ``cron_job_id``
        and ``cron_due_at``; the ``added`` event carries
        ``_transitions.added_metadata(job)``. With ``db`` the insert runs on
        the caller's connection, inside its transaction.
        Idle processors are woken.
        """

    @abstractmethod
    async def get_job(self, job_id: int) -> JobRecord | None: ...

    @abstractmethod
    async def get_jobs(
        self, where: JobFilter, limit: int, offset: int
    ) -> list[JobRecord]:
        """Jobs matching every filter, newest (highest id) first."""

    @abstractmethod
    async def find_in_payloads(
        self, text: str, where: JobFilter, limit: int
    ) -> list[JobRecord] | None:
        """Jobs matching ``where`` whose payload's JSON text (as the store
        writes it) holds ``text`` in any case, newest first, at most
        ``limit``, read through an index of the payloads' text. None when
        the store has no such index (only PostgreSQL may, when its
        operator created it) or the indexed read ran out of time: the
        caller then reads the newest jobs itself."""

    @abstractmethod
    async def get_job_events(self, job_id: int) -> list[JobEvent]:
        """The job's events, oldest first."""

    @abstractmethod
    async def count_jobs(self, where: JobFilter) -> dict[JobStatus, int]:
        """How many jobs match ``where`` (its ``status`` ignored), per
        status; every status is present, 0 when none."""

    @abstractmethod
    async def job_type_stats(
        self, *, now: datetime, since: datetime
    ) -> list[JobTypeStats]:
        """Per job type that has jobs, by type name: its counts per status,
        the ``run_at`` of its oldest pending job due at ``now``, its jobs
        completed at or after ``since`` and those whose last failure is at or
        after ``since`` (``since`` is a whole minute at most an hour before
        ``now``). Work bounded by the number of types and statuses, not jobs,
        where the store can keep counts (Redis); one grouped read on SQL."""

    @abstractmethod
    async def retry_job(self, job_id: int, *, now: datetime) -> bool:
        """A ``failed`` or ``cancelled`` job becomes ``pending`` and due now
        (an earlier ``run_at`` is kept, so it keeps its place in line);
        any other job (a ``processing`` one above all) is left alone.

        Clears ``next_attempt_at``, sets ``last_retried_at``, records a
        ``retried`` event ``{}``.
        """

    @abstractmethod
    async def cancel_job(self, job_id: int, *, now: datetime) -> bool:
        """A ``pending`` or ``waiting`` job becomes ``cancelled``; its tokens
        still ``waiting`` become ``timed_out``."""

    @abstractmethod
    async def edit_jobs(
        self, target: int | JobFilter, changes: JobChanges, *, now: datetime
    ) -> int:
        """Apply ``changes`` to one pending job, or to every pending job that
        matches a filter; returns how many were edited."""

    @abstractmethod
    async def cancel_jobs(self, where: JobFilter, *, now: datetime) -> list[int]:
        """Cancel every ``pending`` or ``waiting`` job matching the filter,
        expiring their waiting tokens as ``cancel_job`` does; returns the ids
        of the jobs cancelled, in id order."""

    @abstractmethod
    async def reclaim_stuck_jobs(
        self, max_processing_seconds: float, message: str, *, now: datetime
    ) -> list[int]:
        """Take back ``processing`` jobs whose lease was not refreshed for
        longer than the threshold (or than their own longer ``timeout``):
        their worker is gone. The lost attempt counts as used.

        A job with attempts left becomes ``pending``, due now (``run_at =
        now``, so it goes behind jobs already waiting), with a ``retried``
        event ``{"reclaimed_from": <locked_by>}`` (``_transitions.
        reclaimed_metadata``; a store that reads ``locked_by`` in its atomic
        step writes its ``metadata_template``, the worker's id as JSON
        between the two parts). A job that has used ``max_attempts``
        becomes ``failed`` for good with ``failure_reason = worker_lost``,
        ``{"message", "timestamp"}`` appended to ``error_history`` and a
        ``failed`` event, as ``Failure`` does; if it names a
        ``dead_letter_job_type``, its dead letter
        (``_transitions.lost_worker_letter`` of the job as read) is added and
        linked in the same atomic step, as a ``Failure``'s ``dead_letter``
        is. Both clear the lock and the lease. Returns the ids of the jobs
        taken back, in id order.
        """

    @abstractmethod
    async def delete_jobs(self, job_ids: Sequence[int]) -> list[int]:
        """Delete those of these jobs that are finished (completed,
        cancelled, failed for good) with their events, as
        ``cleanup_old_jobs`` does; returns the ids deleted, in id order."""

    @abstractmethod
    async def cleanup_old_jobs(self, before: datetime, batch_size: int) -> int:
        """Delete finished jobs (completed, cancelled, failed for good) last
        updated before ``before``, ``batch_size`` rows at a time."""

    @abstractmethod
    async def cleanup_old_job_events(self, before: datetime, batch_size: int) -> int:
        """Delete events created before ``before``, in batches."""

    @abstractmethod
    async def cleanup_old_flows(self, before: datetime, batch_size: int) -> int:
        """Delete ``joined`` flows last updated before ``before``, with their
        step records, ``batch_size`` flows at a time; returns how many.
        Their jobs are left to ``cleanup_old_jobs``."""


class WorkStore(Protocol):
    """What a processor needs: claim under a lease, settle outcomes, keep
    leases fresh, give jobs back.

    Every write of a running attempt carries its ``Lease`` and changes the
    job only while the job is ``processing`` under that lease's token; a
    write under a lost lease changes nothing and says so (False, or the job
    missing from the returned ids).
    """

    @abstractmethod
    async def settle_and_claim(
        self,
        outcomes: Sequence[Outcome],
        claim: ClaimRequest | None,
        *,
        now: datetime,
    ) -> Exchange:
        """Write ``outcomes``, then claim, in one round trip.

        Each ``Completion`` makes its job ``completed`` with its output and a
        ``completed`` event carrying its metadata. Each ``Failure`` makes its
        job ``failed``: ``{"message", "timestamp"}`` appended to
        ``error_history``, ``failure_reason``, ``last_failed_at``,
        ``next_attempt_at`` set (None: failed for good), and a ``failed``
        event. Each ``Suspension`` stores its ``step_data``, gives back the
        attempt (``attempts - 1``) and makes its job ``waiting`` with
        ``wait_until`` or ``wait_token_id`` and a ``waiting`` event; when its
        token is no longer ``waiting`` (completed or expired meanwhile) the
        job becomes ``pending`` with ``run_at = now`` instead, with a
        ``resumed`` event after the ``waiting`` one. All three clear the lock
        and the lease. A ``Failure`` with a ``dead_letter`` adds it (as
        ``add_jobs`` does) in the same atomic step, and its job keeps the
        letter's id and time with a ``dead_lettered`` event.

        Then, if ``claim`` is given, ``waiting`` jobs whose ``wait_until`` has
        come become ``pending`` (see the module rules), and up to
        ``claim.limit`` due jobs (of ``claim.job_types`` when set) move to
        ``processing``: ``locked_by``, ``locked_at = now``, the lease token,
        ``attempts + 1``, ``started_at`` (first claim only),
        ``next_attempt_at`` and ``pending_reason`` cleared, and a
        ``processing`` event (after a ``released`` event ``{"reason"}`` for a
        job whose ``pending_reason`` was set). No job is
        ever held by two claims at once.

        Stored limits and pauses (``LimitStore``) relevant to the claim's
        types, and ``claim.group_concurrency``, decide which due jobs the
        claim takes: the store applies ``limits.walk`` with a
        ``limits.Gate`` built from them and from what runs now, atomically
        with respect to every other claim (the counts it reads cannot change
        before its claim is written), stores the buckets the gate spent, and
        marks the jobs the walk held: ``pending_reason`` set and a ``held``
        event ``{"reason"}``. ``Exchange.wake_at`` and ``waits_for_slot``
        report the gate's. A claim no limit applies to never reads more than
        whether one does. A claimed row that cannot be decoded
        is returned as a ``BrokenJob`` (still claimed), never raised.
        """

    @abstractmethod
    async def heartbeat(self, leases: Sequence[Lease], *, now: datetime) -> list[int]:
        """Refresh ``locked_at`` of every job still held under its lease, in
        one call; return the ids of those jobs (the others were lost)."""

    @abstractmethod
    async def release_jobs(self, leases: Sequence[Lease], *, now: datetime) -> int:
        """Give jobs back unfinished (a worker shutting down): each job still
        held under its lease becomes ``pending``, due now (an earlier
        ``run_at`` is kept), with its attempt
        restored (``attempts - 1``) and the lock cleared, and a ``retried``
        event ``{"released_by": <locked_by>}`` (``_transitions.
        released_metadata``). Returns how many."""

    @abstractmethod
    async def prolong_job(self, lease: Lease, timeout: float, *, now: datetime) -> bool:
        """Refresh ``locked_at`` and record a ``prolonged`` event
        ``{"timeout"}``; False when the lease is lost."""

    @abstractmethod
    async def set_progress(self, lease: Lease, progress: int, *, now: datetime) -> bool:
        """Store a progress percentage (0-100); False when the lease is lost."""

    @abstractmethod
    async def set_output(
        self, lease: Lease, output: JSONValue, *, now: datetime
    ) -> bool:
        """Store the job's output before it completes (``ctx.set_output``);
        False when the lease is lost."""

    @abstractmethod
    async def subscribe(self) -> Wakeup:
        """Signals for idle processors: one arrives soon after a job is added."""

    @abstractmethod
    async def subscribe_finished(self) -> Wakeup:
        """Signals for ``wait_for_job``: one arrives soon after any job
        becomes final (completed, cancelled, or failed with no next
        attempt). Signals carry no payload; waiters read their job again."""


class WaitStore(Protocol):
    """Durable steps and tokens: the writes of a running attempt (fenced by
    its lease like every other), and the token calls of the queue.

    A token is ``waiting``, then ``completed`` or ``timed_out``: one
    conditional change of the token decides which, so a completion racing an
    expiry (or two of either) leaves exactly one outcome, and only that
    change makes the job waiting on it due (exactly once).
    """

    @abstractmethod
    async def save_step(
        self, lease: Lease, step_data: dict[str, JSONValue], *, now: datetime
    ) -> bool:
        """Replace the job's ``step_data``; False when the lease is lost."""

    @abstractmethod
    async def create_token(
        self,
        lease: Lease,
        token: NewToken,
        step_data: dict[str, JSONValue],
        *,
        now: datetime,
    ) -> bool:
        """Create a ``waiting`` token for the lease's job and store
        ``step_data`` (which records it), together; False (and nothing
        written) when the lease is lost."""

    @abstractmethod
    async def get_token(self, token_id: str) -> Token | None: ...

    @abstractmethod
    async def complete_token(
        self, token_id: str, output: JSONValue, *, now: datetime
    ) -> str | None:
        """A ``waiting`` token becomes ``completed`` with ``output``; the job
        waiting on it becomes ``pending`` with ``run_at = now`` and a
        ``resumed`` event ``{"token_id", "timed_out": false}``, and idle
        processors are woken. (``wait_until`` and ``wait_token_id`` stay as
        the record of a job's last wait.)

        Returns None when completed; otherwise nothing changes and the
        token's status is returned (``"completed"`` or ``"timed_out"``), or
        ``"unknown"`` when there is no such token."""

    async def expire_timed_out_tokens(self, *, now: datetime) -> int:
        """Waiting tokens past ``timeout_at`` become ``timed_out``; the jobs
        waiting on them become ``pending`` as in ``complete_token`` (with
        ``"timed_out": true``). Returns how many tokens expired."""


class CronStore(Protocol):
    """Recurring schedules and the jobs they enqueue.

    Schedules are listed by id. Next runs are computed in Python (``cron.py``);
    the store keeps them and claims each due time at most once.
    """

    @abstractmethod
    async def add_cron_job(self, schedule: NewCronJob, *, now: datetime) -> int | None:
        """Insert an ``active`` schedule; None (and nothing written) when its
        name is taken."""

    @abstractmethod
    async def get_cron_job(self, cron_job_id: int) -> CronJob | None: ...

    @abstractmethod
    async def get_cron_job_by_name(self, schedule_name: str) -> CronJob | None: ...

    @abstractmethod
    async def list_cron_jobs(self, status: CronStatus | None) -> list[CronJob]:
        """Every schedule (with that status), oldest first."""

    @abstractmethod
    async def edit_cron_job(
        self, cron_job_id: int, changes: CronChanges, *, now: datetime
    ) -> bool:
        """Apply ``changes`` (and their ``next_run_at``, if set), unless
        ``changes.expected`` no longer matches the stored (expression,
        timezone). False when nothing changed."""

    @abstractmethod
    async def pause_cron_job(self, cron_job_id: int, *, now: datetime) -> bool:
        """An ``active`` schedule becomes ``paused``."""

    @abstractmethod
    async def resume_cron_job(
        self,
        cron_job_id: int,
        next_run_at: datetime,
        expected: tuple[str, str],
        *,
        now: datetime,
    ) -> bool:
        """A ``paused`` schedule whose (expression, timezone) is still
        ``expected`` becomes ``active`` with ``next_run_at``; the runs missed
        while paused are not enqueued."""

    @abstractmethod
    async def remove_cron_job(self, cron_job_id: int) -> bool:
        """Delete the schedule; jobs it already enqueued stay."""

    @abstractmethod
    async def get_due_cron_jobs(self, *, now: datetime) -> list[CronJob]:
        """Active schedules with ``next_run_at <= now``, earliest first. One
        cheap call when nothing is due."""

    @abstractmethod
    async def enqueue_cron_jobs(
        self, ticks: Sequence[CronTick], *, now: datetime
    ) -> list[int]:
        """For each tick, atomically: claim its due time and insert its job
        with its ``added`` event as ``add_jobs`` does (see ``CronTick``). A
        tick already claimed by another caller, or whose schedule was paused,
        removed or re-timed meanwhile, changes nothing. Returns the ids of
        the jobs inserted; wakes idle processors."""


class FlowStore(Protocol):
    """Flows: steps that run as ordinary jobs, a barrier kept in the store
    (see the module rules), and a join enqueued once."""

    @abstractmethod
    async def start_flow(self, flow: NewFlow, *, now: datetime) -> list[int]:
        """In one atomic step: insert the flow (``running``,
        ``remaining_steps`` = number of steps) and its steps' jobs as
        ``add_jobs`` does (each with its ``flow_id`` and ``flow_step_index``,
        ``added`` events included); returns the step jobs' ids in order.
        Wakes idle processors."""

    @abstractmethod
    async def get_flow(self, flow_id: str) -> StoredFlow | None:
        """The flow with every step (ordered by ``step_index``): the step
        job's type and current status, the recorded outcome, and for a
        recorded step its job's ``output`` (success) or last error message
        (fail; ``"cancelled"`` for a cancelled job with no error)."""

    @abstractmethod
    async def list_flows(
        self, status: FlowStatus | None, limit: int, offset: int
    ) -> list[FlowRecord]:
        """Flows (with that status), newest first; ``steps`` left empty."""

    @abstractmethod
    async def enqueue_flow_join(
        self, flow_id: str, join: NewJob, *, now: datetime
    ) -> int | None:
        """If the flow is ``ready``: insert ``join`` as ``add_jobs`` does and
        make the flow ``joined`` with its ``join_job_id``, atomically; return
        the join's id. None (nothing written) for any other flow."""

    @abstractmethod
    async def time_out_flows(self, *, now: datetime) -> list[str]:
        """``running`` flows whose ``timeout_at <= now`` become ``ready`` with
        ``timed_out`` set; returns their ids."""

    @abstractmethod
    async def get_ready_flows(self, limit: int) -> list[str]:
        """Ids of ``ready`` flows (whose join is not enqueued yet), oldest
        first: their dispatcher may have died."""


class LimitStore(Protocol):
    """Limits and pauses per job type, kept in the store so that every
    worker obeys them (see ``dataqueue.limits``)."""

    @abstractmethod
    async def get_limits(self) -> list[Limits]:
        """Every stored row, by job type."""

    @abstractmethod
    async def change_limits(self, changes: LimitChanges, *, now: datetime) -> None:
        """Apply ``changes`` atomically (see ``LimitChanges``); idle
        processors are woken, since held jobs may be due now."""


class WorkerStore(Protocol):
    """The registry of live processors."""

    @abstractmethod
    async def register_worker(self, worker: NewWorker, *, now: datetime) -> None:
        """Record (or replace) the worker under its id."""

    @abstractmethod
    async def heartbeat_worker(
        self, beat: WorkerBeat, *, now: datetime
    ) -> HeartbeatAnswer:
        """Refresh ``last_heartbeat``, what it runs and its counts; answers
        ``"quiet"`` when ``quiet_worker`` asked it to stop taking jobs,
        ``"unregistered"`` when it is not registered (removed as dead: it
        registers again)."""

    @abstractmethod
    async def quiet_worker(self, worker_id: str) -> bool:
        """Ask a registered worker to stop taking jobs (it learns so at its
        next heartbeat); False when there is no such worker."""

    @abstractmethod
    async def unregister_worker(self, worker_id: str) -> None: ...

    @abstractmethod
    async def list_workers(self) -> list[WorkerInfo]:
        """Registered workers, by ``started_at``."""

    @abstractmethod
    async def remove_dead_workers(self, *, before: datetime) -> int:
        """Remove workers whose last heartbeat is older than ``before``."""


class StatsStore(Protocol):
    """Per-minute counts the workers report, kept ``MINUTE_STATS_KEPT``:
    bounded whatever the number of jobs; and the held jobs' counts."""

    @abstractmethod
    async def record_minute_stats(
        self, stats: Sequence[MinuteStats], *, now: datetime
    ) -> None:
        """Add each entry's numbers to those stored for its minute and job
        type (created at 0), and forget minutes older than ``now -
        MINUTE_STATS_KEPT``."""

    @abstractmethod
    async def get_minute_stats(
        self, since: datetime, until: datetime
    ) -> list[MinuteStats]:
        """The stored entries of the minutes from ``since`` to ``until``
        (whole minutes, both included), by minute then job type."""

    @abstractmethod
    async def held_counts(self, limit: int) -> HeldCounts:
        """Pending jobs with a ``pending_reason``, counted per job type and
        reason, reading at most ``limit`` jobs: the SQL stores read the
        held jobs only (an index of them; ``complete`` False when they read
        ``limit``), the memory store looks through its rows, Redis, which
        keeps no such index, reads each type's pending jobs in ``run_at``
        order, type after type by name (``complete`` False when pending
        jobs were left unread)."""


class AuditStore(Protocol):
    """Actions operators took that changed no job (a job's own changes are
    in its events): at most ``keep`` of them, the newest."""

    @abstractmethod
    async def record_action(
        self,
        who: str,
        action: str,
        details: dict[str, JSONValue],
        *,
        now: datetime,
        keep: int,
    ) -> None:
        """Store one action (``at`` is ``now``) and, in the same step, forget
        all but the newest ``keep`` (``keep`` >= 1)."""

    @abstractmethod
    async def get_actions(self, limit: int) -> list[RecordedAction]:
        """The newest ``limit`` actions, newest (last recorded) first."""


class Backend(
    JobStore,
    WorkStore,
    WaitStore,
    CronStore,
    FlowStore,
    WorkerStore,
    StatsStore,
    LimitStore,
    AuditStore,
    Protocol,
):
    """A store: PostgreSQL, Redis or SQLite."""

    name: str

    @abstractmethod
    async def open(self) -> None:
        """Connect, and check that the schema is usable."""

    @abstractmethod
    async def close(self) -> None:
        """Release what the backend created; never what the caller passed in."""

    @abstractmethod
    async def migrate(self) -> list[str]:
        """Create or upgrade the schema; safe to run twice and concurrently.
        Returns the names of the migrations applied (empty: up to date)."""

    async def partition_history(self) -> None:
        """Move to the partitioned history layout (PostgreSQL only)."""
        raise BackendError(
            f"the partitioned history layout is PostgreSQL's, not {self.name}'s"
        )

    def get_pool(self) -> Any:
        raise BackendError(
            f"get_pool() is only available on PostgreSQL, not {self.name}"
        )

    def get_redis_client(self) -> Any:
        raise BackendError(
            f"get_redis_client() is only available on Redis, not {self.name}"
        )
