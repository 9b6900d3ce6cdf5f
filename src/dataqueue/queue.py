"""JobQueue: the async facade. Validate, decide in Python, then call the store."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any

from dataqueue import _cron_validate as cv
from dataqueue import _validate as v
from dataqueue._clock import Clock, SystemClock
from dataqueue._cron_commands import CronTick
from dataqueue.backends.protocol import Backend
from dataqueue.cron import (
    CronJob,
    CronStatus,
    normalize_expression,
    plan_due_run,
    zone,
)
from dataqueue.models import JobEvent, JobRecord, JobSpec, JobStatus, NewJob
from dataqueue.types import Duration, Handlers, JSONValue

if TYPE_CHECKING:
    from dataqueue.processor import Processor
    from dataqueue.supervisor import Supervisor

CLEANUP_BATCH_SIZE = 1000
# A guarded cron write fails only when a concurrent edit changed the
# expression or timezone in between; a few fresh reads settle it.
CRON_WRITE_ATTEMPTS = 5

logger = logging.getLogger("dataqueue")


def _cron_tick(schedule: CronJob, now: datetime) -> CronTick:
    """The enqueue of a due schedule: one job for the newest due time, the
    earlier missed ones counted as skipped."""
    assert schedule.next_run_at is not None
    where = f"cron schedule {schedule.schedule_name!r}"
    plan = plan_due_run(
        normalize_expression(schedule.cron_expression, where),
        zone(schedule.timezone, where),
        schedule.next_run_at,
        now,
    )
    job = NewJob(
        job_type=schedule.job_type,
        payload=schedule.payload,
        priority=schedule.priority,
        run_at=None,
        max_attempts=schedule.max_attempts,
        timeout=schedule.timeout,
        force_kill_on_timeout=False,
        tags=list(schedule.tags),
        idempotency_key=None,
        retry_delay=schedule.retry_delay,
        retry_backoff=schedule.retry_backoff,
        retry_delay_max=schedule.retry_delay_max,
    )
    return CronTick(
        schedule_id=schedule.id,
        claimed_run_at=schedule.next_run_at,
        due_at=plan.due_at,
        skipped=plan.skipped,
        next_run_at=plan.next_run_at,
        job=job,
        event={
            "job_type": schedule.job_type,
            "cron_job_id": schedule.id,
            "cron_due_at": plan.due_at.isoformat(),
            "cron_skipped": plan.skipped,
        },
    )


class JobQueue:
    """A queue of jobs in one store. Create it with ``dataqueue.connect()``."""

    def __init__(self, backend: Backend, *, clock: Clock | None = None) -> None:
        self._backend = backend
        self._clock: Clock = clock or SystemClock()
        self._opened = False

    @property
    def backend(self) -> Backend:
        """The store behind this queue."""
        return self._backend

    @property
    def clock(self) -> Clock:
        """Where this queue reads the time."""
        return self._clock

    async def _store(self) -> Backend:
        if not self._opened:
            await self._backend.open()
            self._opened = True
        return self._backend

    async def __aenter__(self) -> JobQueue:
        await self._store()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Release what the queue opened (never a pool or client you passed in)."""
        await self._backend.close()
        self._opened = False

    async def migrate(self) -> None:
        """Create or upgrade the store's schema (PostgreSQL needs this once)."""
        await self._backend.migrate()

    def get_pool(self) -> Any:
        """The psycopg pool of a PostgreSQL queue; ``BackendError`` elsewhere."""
        return self._backend.get_pool()

    def get_redis_client(self) -> Any:
        """The redis-py client of a Redis queue; ``BackendError`` elsewhere."""
        return self._backend.get_redis_client()

    # -- adding -----------------------------------------------------------

    async def add_job(
        self,
        job_type: str,
        payload: JSONValue = None,
        *,
        priority: int = 0,
        run_at: datetime | None = None,
        max_attempts: int = 3,
        timeout: Duration | None = None,
        force_kill_on_timeout: bool = False,
        tags: list[str] | None = None,
        idempotency_key: str | None = None,
        retry_delay: Duration | None = None,
        retry_backoff: bool | None = None,
        retry_delay_max: Duration | None = None,
        db: Any = None,
    ) -> int:
        """Add one job and return its id.

        Args:
            job_type: Which handler runs it.
            payload: JSON data handed to the handler.
            priority: Higher runs first.
            run_at: Not before this aware datetime (default: now).
            max_attempts: Attempts before the job fails for good.
            timeout: Seconds (or timedelta) one attempt may take.
            force_kill_on_timeout: Run in a child process killed at the deadline.
            tags: Labels for searching and bulk changes.
            idempotency_key: A second add with the same key returns the first id.
            retry_delay / retry_backoff / retry_delay_max: Retry timing.
            db: A connection in an open transaction to enqueue within.

        Example:
            ``job_id = await queue.add_job("email", {"to": "a@x.com"})``
        """
        spec = JobSpec(
            job_type,
            payload,
            priority=priority,
            run_at=run_at,
            max_attempts=max_attempts,
            timeout=timeout,
            force_kill_on_timeout=force_kill_on_timeout,
            tags=tags,
            idempotency_key=idempotency_key,
            retry_delay=retry_delay,
            retry_backoff=retry_backoff,
            retry_delay_max=retry_delay_max,
        )
        (job_id,) = await self.add_jobs([spec], db=db)
        return job_id

    async def add_jobs(self, specs: Sequence[JobSpec], *, db: Any = None) -> list[int]:
        """Add many jobs in one round trip; ``ids[i]`` belongs to ``specs[i]``."""
        jobs = []
        for spec in specs:
            if not isinstance(spec, JobSpec):
                raise TypeError(f"add_jobs: expected JobSpec items, got {spec!r}")
            jobs.append(v.new_job(spec))
        if not jobs:
            return []
        store = await self._store()
        return await store.add_jobs(jobs, now=self._clock.now(), db=db)

    # -- reading ----------------------------------------------------------

    async def get_job(self, job_id: int) -> JobRecord | None:
        """The job with this id, or None."""
        v.check_int(job_id, "get_job", "job_id")
        return await (await self._store()).get_job(job_id)

    async def get_jobs(
        self,
        /,
        filters: Mapping[str, Any] | None = None,
        limit: int = 100,
        offset: int = 0,
        *,
        status: JobStatus | str | None = None,
        **filter_kwargs: Any,
    ) -> list[JobRecord]:
        """Jobs matching every filter (``job_type``, ``priority``, ``run_at``,
        ``tags``, ``status``), newest first.

        Filters may be given as a dict or as keywords:
        ``get_jobs(job_type="email", tags={"values": ["a"], "mode": "any"})``.
        """
        where = v.job_filter({**(filters or {}), **filter_kwargs}, "get_jobs", status)
        limit, offset = v.check_page(limit, offset, "get_jobs")
        return await (await self._store()).get_jobs(where, limit, offset)

    async def get_jobs_by_status(
        self, status: JobStatus | str, limit: int = 100, offset: int = 0
    ) -> list[JobRecord]:
        """Jobs with this status, newest first."""
        return await self.get_jobs(None, limit, offset, status=status)

    async def get_all_jobs(self, limit: int = 100, offset: int = 0) -> list[JobRecord]:
        """Every job, newest first."""
        return await self.get_jobs(None, limit, offset)

    async def get_jobs_by_tags(
        self,
        tags: list[str],
        mode: str = "all",
        limit: int = 100,
        offset: int = 0,
    ) -> list[JobRecord]:
        """Jobs whose tags match ``tags`` in ``mode`` (all, any, none, exact)."""
        return await self.get_jobs(
            {"tags": {"values": tags, "mode": mode}}, limit, offset
        )

    async def get_job_events(self, job_id: int) -> list[JobEvent]:
        """The job's event log, oldest first."""
        v.check_int(job_id, "get_job_events", "job_id")
        return await (await self._store()).get_job_events(job_id)

    # -- changing ---------------------------------------------------------

    async def retry_job(self, job_id: int) -> None:
        """Run a failed (or stuck processing) job again now."""
        v.check_int(job_id, "retry_job", "job_id")
        await (await self._store()).retry_job(job_id, now=self._clock.now())

    async def cancel_job(self, job_id: int) -> None:
        """Cancel a pending or waiting job; other jobs are left alone."""
        v.check_int(job_id, "cancel_job", "job_id")
        await (await self._store()).cancel_job(job_id, now=self._clock.now())

    async def edit_job(self, job_id: int, /, **updates: Any) -> None:
        """Change fields of a pending job; does nothing to other jobs.

        Editable: payload, priority, max_attempts, run_at, timeout, tags,
        retry_delay, retry_backoff, retry_delay_max. ``None`` clears
        ``run_at`` (run now), ``timeout`` and ``tags``.
        """
        v.check_int(job_id, "edit_job", "job_id")
        changes = v.job_changes(updates, "edit_job")
        if changes.values:
            await (await self._store()).edit_jobs(
                job_id, changes, now=self._clock.now()
            )

    async def edit_all_pending_jobs(
        self, /, filters: Mapping[str, Any] | None = None, **updates: Any
    ) -> int:
        """Edit every pending job matching ``filters``; returns how many."""
        where = v.job_filter(filters, "edit_all_pending_jobs")
        changes = v.job_changes(updates, "edit_all_pending_jobs")
        if not changes.values:
            return 0
        store = await self._store()
        return await store.edit_jobs(where, changes, now=self._clock.now())

    async def cancel_all_upcoming_jobs(
        self, /, filters: Mapping[str, Any] | None = None, **filter_kwargs: Any
    ) -> int:
        """Cancel every pending or waiting job matching the filters."""
        where = v.job_filter(
            {**(filters or {}), **filter_kwargs}, "cancel_all_upcoming_jobs"
        )
        store = await self._store()
        return await store.cancel_jobs(where, now=self._clock.now())

    # -- maintenance ------------------------------------------------------

    async def reclaim_stuck_jobs(self, max_processing_minutes: float = 10) -> int:
        """Return jobs stuck in ``processing`` to ``pending``; returns how many.

        A job whose own ``timeout`` is longer than the threshold is given
        that long instead.
        """
        minutes = v.to_seconds(max_processing_minutes, "reclaim_stuck_jobs", "minutes")
        store = await self._store()
        return await store.reclaim_stuck_jobs(minutes * 60, now=self._clock.now())

    async def cleanup_old_jobs(self, days_to_keep: float = 30) -> int:
        """Delete finished jobs older than ``days_to_keep``; returns how many."""
        days = v.to_seconds(days_to_keep, "cleanup_old_jobs", "days_to_keep")
        before = self._clock.now() - timedelta(days=days)
        return await (await self._store()).cleanup_old_jobs(before, CLEANUP_BATCH_SIZE)

    async def cleanup_old_job_events(self, days_to_keep: float = 30) -> int:
        """Delete events older than ``days_to_keep``; returns how many."""
        days = v.to_seconds(days_to_keep, "cleanup_old_job_events", "days_to_keep")
        before = self._clock.now() - timedelta(days=days)
        store = await self._store()
        return await store.cleanup_old_job_events(before, CLEANUP_BATCH_SIZE)

    async def expire_timed_out_tokens(self) -> int:
        """Time out tokens past their deadline and wake their jobs."""
        store = await self._store()
        return await store.expire_timed_out_tokens(now=self._clock.now())

    # -- workers ----------------------------------------------------------

    def create_processor(
        self,
        handlers: Handlers,
        *,
        worker_id: str | None = None,
        batch_size: int = 10,
        concurrency: int = 3,
        poll_interval: Duration = 5,
        on_error: Any = None,
        verbose: bool = False,
        job_type: str | list[str] | None = None,
    ) -> Processor:
        """A processor that runs this queue's jobs with ``handlers``."""
        from dataqueue.processor import Processor

        return Processor(
            self,
            handlers,
            worker_id=worker_id,
            batch_size=batch_size,
            concurrency=concurrency,
            poll_interval=poll_interval,
            on_error=on_error,
            verbose=verbose,
            job_type=job_type,
        )

    def create_supervisor(
        self,
        *,
        interval: Duration = 60,
        stuck_jobs_timeout_minutes: float = 10,
        cleanup_jobs_days_to_keep: float | None = 30,
        cleanup_events_days_to_keep: float | None = 30,
    ) -> Supervisor:
        """A maintenance loop: reclaim stuck jobs, clean up, expire tokens."""
        from dataqueue.supervisor import Supervisor

        return Supervisor(
            self,
            interval=interval,
            stuck_jobs_timeout_minutes=stuck_jobs_timeout_minutes,
            cleanup_jobs_days_to_keep=cleanup_jobs_days_to_keep,
            cleanup_events_days_to_keep=cleanup_events_days_to_keep,
        )

    # -- cron ---------------------------------------------------------------

    async def add_cron_job(
        self,
        schedule_name: str,
        cron_expression: str,
        job_type: str,
        payload: JSONValue,
        timezone: str = "UTC",
        allow_overlap: bool = False,
        max_attempts: int = 3,
        priority: int = 0,
        timeout: Duration | None = None,
        tags: list[str] | None = None,
        retry_delay: Duration | None = None,
        retry_backoff: bool | None = None,
        retry_delay_max: Duration | None = None,
    ) -> int:
        """Add a recurring schedule and return its id.

        Args:
            schedule_name: Unique name; a taken one raises ``ValueError``.
            cron_expression: Five fields (``"0 9 * * 1-5"``) or an alias
                (``@hourly``, ``@daily``, ``@weekly``, ``@monthly``, ``@yearly``).
            job_type / payload: The job each run enqueues.
            timezone: IANA zone the expression is read in (default UTC).
            allow_overlap: Enqueue even while an earlier instance is pending,
                processing or waiting (default False: skip that run).
            max_attempts / priority / timeout / tags / retry_*: Copied onto
                every enqueued job.

        Example:
            ``await queue.add_cron_job("report", "0 9 * * *", "report", {},
            timezone="Europe/Berlin")``
        """
        now = self._clock.now()
        schedule = cv.new_cron_job(
            schedule_name=schedule_name,
            cron_expression=cron_expression,
            job_type=job_type,
            payload=payload,
            timezone=timezone,
            allow_overlap=allow_overlap,
            max_attempts=max_attempts,
            priority=priority,
            timeout=timeout,
            tags=tags,
            retry_delay=retry_delay,
            retry_backoff=retry_backoff,
            retry_delay_max=retry_delay_max,
            now=now,
        )
        cron_job_id = await (await self._store()).add_cron_job(schedule, now=now)
        if cron_job_id is None:
            raise ValueError(
                f"add_cron_job: a schedule named {schedule_name!r} already exists; "
                "names are unique (edit_cron_job changes an existing one)"
            )
        return cron_job_id

    async def get_cron_job(self, cron_job_id: int) -> CronJob | None:
        """The schedule with this id, or None."""
        v.check_int(cron_job_id, "get_cron_job", "id")
        return await (await self._store()).get_cron_job(cron_job_id)

    async def get_cron_job_by_name(self, schedule_name: str) -> CronJob | None:
        """The schedule with this name, or None."""
        name = cv.check_schedule_name(schedule_name, "get_cron_job_by_name")
        return await (await self._store()).get_cron_job_by_name(name)

    async def list_cron_jobs(
        self, status: CronStatus | str | None = None
    ) -> list[CronJob]:
        """Every schedule, or only the ``"active"`` or ``"paused"`` ones."""
        wanted = None if status is None else cv.cron_status(status, "list_cron_jobs")
        return await (await self._store()).list_cron_jobs(wanted)

    async def pause_cron_job(self, cron_job_id: int) -> None:
        """Stop enqueueing from this schedule until it is resumed."""
        v.check_int(cron_job_id, "pause_cron_job", "id")
        store = await self._store()
        await store.pause_cron_job(cron_job_id, now=self._clock.now())

    async def resume_cron_job(self, cron_job_id: int) -> None:
        """Enqueue again from the next run after now; runs missed while
        paused are not made up."""
        v.check_int(cron_job_id, "resume_cron_job", "id")
        store = await self._store()
        for _ in range(CRON_WRITE_ATTEMPTS):
            schedule = await store.get_cron_job(cron_job_id)
            if schedule is None or schedule.status is not CronStatus.PAUSED:
                return
            now = self._clock.now()
            next_run_at = cv.first_run(schedule.cron_expression, schedule.timezone, now)
            expected = (schedule.cron_expression, schedule.timezone)
            if await store.resume_cron_job(cron_job_id, next_run_at, expected, now=now):
                return

    async def edit_cron_job(self, cron_job_id: int, /, **updates: Any) -> None:
        """Change fields of a schedule; the next run is recomputed when
        ``cron_expression`` or ``timezone`` changes. Jobs already enqueued
        are not changed.

        Editable: cron_expression, job_type, payload, timezone, allow_overlap,
        max_attempts, priority, timeout, tags, retry_delay, retry_backoff,
        retry_delay_max.
        """
        where = "edit_cron_job"
        v.check_int(cron_job_id, where, "id")
        store = await self._store()
        for _ in range(CRON_WRITE_ATTEMPTS):
            schedule = await store.get_cron_job(cron_job_id)
            if schedule is None:
                return
            now = self._clock.now()
            changes = cv.cron_changes(updates, schedule, now, where)
            if not changes.values:
                return
            if await store.edit_cron_job(cron_job_id, changes, now=now):
                return

    async def remove_cron_job(self, cron_job_id: int) -> None:
        """Delete a schedule; the jobs it already enqueued stay."""
        v.check_int(cron_job_id, "remove_cron_job", "id")
        await (await self._store()).remove_cron_job(cron_job_id)

    async def enqueue_due_cron_jobs(self) -> int:
        """Enqueue one job per due schedule; returns how many were enqueued.

        Processors call this before each claim and supervisors on each pass,
        so it is rarely needed by hand. However many callers run it at once,
        each due time enqueues one job. After downtime that spanned several
        due times, one job is enqueued for the newest of them; the others are
        counted in the job's ``added`` event (``cron_skipped``) and in the
        schedule's ``skipped_runs``.
        """
        store = await self._store()
        now = self._clock.now()
        due = await store.get_due_cron_jobs(now=now)
        if not due:
            return 0
        ticks = []
        for schedule in due:
            try:
                ticks.append(_cron_tick(schedule, now))
            except ValueError:
                # One unusable schedule (say, a zone dropped from the tz
                # database) must not hold back the others.
                logger.exception("cron schedule %s skipped", schedule.schedule_name)
        return len(await store.enqueue_cron_jobs(ticks, now=now))
