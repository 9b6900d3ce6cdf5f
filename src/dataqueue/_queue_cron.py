"""The queue's cron methods: recurring schedules and the jobs they enqueue.

Kept beside ``queue.py`` (``JobQueue`` inherits them) so that each file
holds one concern; see ``docs/cron.md``.
"""

from __future__ import annotations

from typing import Any

from dataqueue import _validate as v
from dataqueue._runtime import Runtime
from dataqueue.backends.protocol import Backend
from dataqueue.cron import CronJob, CronStatus
from dataqueue.types import Duration, JSONValue

# A guarded cron write fails only when a concurrent edit changed the
# expression or timezone in between; a few fresh reads settle it.
CRON_WRITE_ATTEMPTS = 5


class CronSchedules:
    """``add_cron_job`` and the other schedule methods of ``JobQueue``."""

    _runtime: Runtime

    async def _store(self) -> Backend:
        return await self._runtime.store()

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
        if_exists: str = "error",
        dead_letter_job_type: str | None = None,
    ) -> int:
        """Add a recurring schedule and return its id.

        Args:
            schedule_name: Unique name (see ``if_exists``).
            cron_expression: Five fields (``"0 9 * * 1-5"``) or an alias
                (``@hourly``, ``@daily``, ``@weekly``, ``@monthly``, ``@yearly``).
            job_type / payload: The job each run enqueues.
            timezone: IANA zone the expression is read in (default UTC).
            allow_overlap: Enqueue even while an earlier instance is pending,
                processing or waiting (default False: skip that run).
            max_attempts / priority / timeout / tags / retry_* /
                dead_letter_job_type: Copied onto every enqueued job (a job
                that fails for good adds a job of ``dead_letter_job_type``).
            if_exists: When a schedule of that name exists: ``"error"``
                (``ValueError``), ``"update"`` (it takes these values, as
                ``edit_cron_job`` would, and keeps its id and status) or
                ``"skip"`` (it stays as it is). With ``"update"`` an app
                declares its schedules at every start.

        Example:
            ``await queue.add_cron_job("report", "0 9 * * *", "report", {},
            timezone="Europe/Berlin", if_exists="update")``
        """
        where = "add_cron_job"
        on_taken = v.if_exists(if_exists, where)
        fields = {
            "cron_expression": cron_expression,
            "job_type": job_type,
            "payload": payload,
            "timezone": timezone,
            "allow_overlap": allow_overlap,
            "max_attempts": max_attempts,
            "priority": priority,
            "timeout": timeout,
            "tags": tags,
            "retry_delay": retry_delay,
            "retry_backoff": retry_backoff,
            "retry_delay_max": retry_delay_max,
            "dead_letter_job_type": dead_letter_job_type,
        }
        store = await self._store()
        for _ in range(CRON_WRITE_ATTEMPTS):
            now = self._runtime.now()
            schedule = v.new_cron_job(schedule_name=schedule_name, now=now, **fields)
            cron_job_id = await store.add_cron_job(schedule, now=now)
            if cron_job_id is not None:
                return cron_job_id
            existing = await store.get_cron_job_by_name(schedule.schedule_name)
            if existing is None:
                continue  # removed in between: add it again
            if on_taken == "error":
                raise ValueError(
                    f"{where}: a schedule named {schedule_name!r} already exists; "
                    "names are unique (if_exists='update' or 'skip' keeps it)"
                )
            if on_taken == "update":
                await self.edit_cron_job(existing.id, **fields)
            return existing.id
        raise ValueError(f"{where}: {schedule_name!r} kept being added and removed")

    async def get_cron_job(self, cron_job_id: int) -> CronJob | None:
        """The schedule with this id, or None."""
        v.check_id(cron_job_id, "get_cron_job", "cron_job_id")
        return await (await self._store()).get_cron_job(cron_job_id)

    async def get_cron_job_by_name(self, schedule_name: str) -> CronJob | None:
        """The schedule with this name, or None."""
        name = v.check_schedule_name(schedule_name, "get_cron_job_by_name")
        return await (await self._store()).get_cron_job_by_name(name)

    async def list_cron_jobs(
        self, status: CronStatus | str | None = None
    ) -> list[CronJob]:
        """Every schedule, or only the ``"active"`` or ``"paused"`` ones."""
        wanted = None if status is None else v.cron_status(status, "list_cron_jobs")
        return await (await self._store()).list_cron_jobs(wanted)

    async def pause_cron_job(self, cron_job_id: int) -> None:
        """Stop enqueueing from this schedule until it is resumed."""
        v.check_id(cron_job_id, "pause_cron_job", "cron_job_id")
        store = await self._store()
        await store.pause_cron_job(cron_job_id, now=self._runtime.now())

    async def resume_cron_job(self, cron_job_id: int) -> None:
        """Enqueue again from the next run after now; runs missed while
        paused are not made up."""
        v.check_id(cron_job_id, "resume_cron_job", "cron_job_id")
        store = await self._store()
        for _ in range(CRON_WRITE_ATTEMPTS):
            schedule = await store.get_cron_job(cron_job_id)
            if schedule is None or schedule.status is not CronStatus.PAUSED:
                return
            now = self._runtime.now()
            next_run_at = v.first_run(schedule.cron_expression, schedule.timezone, now)
            expected = (schedule.cron_expression, schedule.timezone)
            if await store.resume_cron_job(cron_job_id, next_run_at, expected, now=now):
                return

    async def edit_cron_job(self, cron_job_id: int, /, **updates: Any) -> None:
        """Change fields of a schedule; the next run is recomputed when
        ``cron_expression`` or ``timezone`` changes. Jobs already enqueued
        are not changed.

        Editable: cron_expression, job_type, payload, timezone, allow_overlap,
        max_attempts, priority, timeout, tags, retry_delay, retry_backoff,
        retry_delay_max, dead_letter_job_type (None: none).
        """
        where = "edit_cron_job"
        v.check_id(cron_job_id, where, "cron_job_id")
        store = await self._store()
        for _ in range(CRON_WRITE_ATTEMPTS):
            schedule = await store.get_cron_job(cron_job_id)
            if schedule is None:
                return
            now = self._runtime.now()
            changes = v.cron_changes(updates, schedule, now, where)
            if not changes.values:
                return
            if await store.edit_cron_job(cron_job_id, changes, now=now):
                return

    async def remove_cron_job(self, cron_job_id: int) -> None:
        """Delete a schedule; the jobs it already enqueued stay."""
        v.check_id(cron_job_id, "remove_cron_job", "cron_job_id")
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
        return await self._runtime.enqueue_due_cron_jobs()
