"""The one contract every store implements.

Decisions (retry times, whether a failure is final, what an edit means) are
made in Python before a backend is called; a backend performs each state
change atomically with the values it is given. Every time-dependent method
takes ``now`` so that one clock drives all three stores.

Shared rules, true of every backend:

* A job is *due* when it is ``pending`` with ``run_at <= now``, or ``failed``
  with ``next_attempt_at <= now``. Due jobs are claimed by ``priority`` (high
  first), then ``run_at``, then ``id``.
* Every change of state appends one event to the job's log. ``added``:
  ``{"job_type"}`` (a cron job's adds ``cron_job_id``, ``cron_due_at`` and
  ``cron_skipped``); ``processing``: ``{"worker_id", "attempt"}``;
  ``completed``: the ``metadata`` given; ``failed``: ``{"message",
  "failure_reason", "next_attempt_at"}``; ``cancelled``: ``{}``; ``retried``:
  ``{}`` (or ``{"reclaimed_from"}`` for a stuck job); ``edited``: the changed
  fields; ``prolonged``: ``{"timeout"}``.
* Deleting a job deletes its events.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from dataqueue._cron_commands import CronChanges, CronTick, NewCronJob
from dataqueue.cron import CronJob, CronStatus
from dataqueue.errors import BackendError
from dataqueue.models import (
    FailureReason,
    JobChanges,
    JobEvent,
    JobFilter,
    JobRecord,
    NewJob,
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
        and changes nothing. ``run_at`` of None means ``now``. With ``db`` the
        insert runs on the caller's connection, inside its transaction.
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
    async def get_job_events(self, job_id: int) -> list[JobEvent]:
        """The job's events, oldest first."""

    @abstractmethod
    async def retry_job(self, job_id: int, *, now: datetime) -> bool:
        """A ``failed`` or ``processing`` job becomes ``pending`` and due now.

        Clears the lock and ``next_attempt_at``, sets ``last_retried_at``.
        """

    @abstractmethod
    async def cancel_job(self, job_id: int, *, now: datetime) -> bool:
        """A ``pending`` or ``waiting`` job becomes ``cancelled``."""

    @abstractmethod
    async def edit_jobs(
        self, target: int | JobFilter, changes: JobChanges, *, now: datetime
    ) -> int:
        """Apply ``changes`` to one pending job, or to every pending job that
        matches a filter; returns how many were edited."""

    @abstractmethod
    async def cancel_jobs(self, where: JobFilter, *, now: datetime) -> int:
        """Cancel every ``pending`` or ``waiting`` job matching the filter."""

    @abstractmethod
    async def reclaim_stuck_jobs(
        self, max_processing_seconds: float, *, now: datetime
    ) -> int:
        """``processing`` jobs locked longer than the threshold (or than their
        own longer ``timeout``) go back to ``pending``."""

    @abstractmethod
    async def cleanup_old_jobs(self, before: datetime, batch_size: int) -> int:
        """Delete finished jobs (completed, cancelled, failed for good) last
        updated before ``before``, ``batch_size`` rows at a time."""

    @abstractmethod
    async def cleanup_old_job_events(self, before: datetime, batch_size: int) -> int:
        """Delete events created before ``before``, in batches."""

    @abstractmethod
    async def expire_timed_out_tokens(self, *, now: datetime) -> int:
        """Waiting tokens past ``timeout_at`` become ``timed_out``; the jobs
        waiting on them become ``pending`` again."""


class WorkStore(Protocol):
    """What a processor needs: claim, finish, report."""

    @abstractmethod
    async def claim_batch(
        self,
        worker_id: str,
        batch_size: int,
        job_types: Sequence[str] | None,
        *,
        now: datetime,
    ) -> list[JobRecord]:
        """Atomically move up to ``batch_size`` due jobs to ``processing``.

        Sets ``locked_by``, ``locked_at = now``, ``attempts + 1``,
        ``started_at`` (first claim only); clears ``next_attempt_at`` and
        ``pending_reason``. Returns the updated records in claim order.
        No job is ever returned to two callers at once.
        """

    @abstractmethod
    async def complete_job(
        self,
        job_id: int,
        worker_id: str,
        output: JSONValue,
        metadata: dict[str, JSONValue],
        *,
        now: datetime,
    ) -> bool:
        """A job still held by ``worker_id`` becomes ``completed``."""

    @abstractmethod
    async def fail_job(
        self,
        job_id: int,
        worker_id: str,
        message: str,
        reason: FailureReason,
        next_attempt_at: datetime | None,
        *,
        now: datetime,
    ) -> bool:
        """A job still held by ``worker_id`` becomes ``failed``, with the
        error appended to ``error_history``; it runs again at
        ``next_attempt_at`` unless that is None."""

    @abstractmethod
    async def prolong_job(
        self, job_id: int, worker_id: str, timeout: float, *, now: datetime
    ) -> None:
        """Refresh ``locked_at`` and record a ``prolonged`` event."""

    @abstractmethod
    async def set_progress(self, job_id: int, progress: int, *, now: datetime) -> None:
        """Store a progress percentage (0-100)."""

    @abstractmethod
    async def subscribe(self) -> Wakeup:
        """Signals for idle processors: one arrives soon after a job is added."""


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
        (see ``CronTick``). A tick already claimed by another caller, or whose
        schedule was paused, removed or re-timed meanwhile, changes nothing.
        Returns the ids of the jobs inserted; wakes idle processors."""


class Backend(JobStore, WorkStore, CronStore, Protocol):
    """A store: PostgreSQL, Redis or SQLite."""

    name: str

    @abstractmethod
    async def open(self) -> None:
        """Connect, and check that the schema is usable."""

    @abstractmethod
    async def close(self) -> None:
        """Release what the backend created; never what the caller passed in."""

    @abstractmethod
    async def migrate(self) -> None:
        """Create or upgrade the schema; safe to run twice and concurrently."""

    def get_pool(self) -> Any:
        raise BackendError(
            f"get_pool() is only available on PostgreSQL, not {self.name}"
        )

    def get_redis_client(self) -> Any:
        raise BackendError(
            f"get_redis_client() is only available on Redis, not {self.name}"
        )
