"""Supervisor: the maintenance loop. Safe to run in many places at once,
because every step is a single atomic store operation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dataqueue import _validate as v
from dataqueue.types import Duration

if TYPE_CHECKING:
    from dataqueue.queue import JobQueue

logger = logging.getLogger("dataqueue")


@dataclass(frozen=True, slots=True)
class MaintenanceResult:
    """What one supervisor pass did."""

    reclaimed_jobs: int
    cleaned_jobs: int
    cleaned_events: int
    expired_tokens: int
    enqueued_cron_jobs: int = 0


class Supervisor:
    """Reclaims stuck jobs, deletes old jobs and events, expires tokens,
    enqueues due cron schedules."""

    def __init__(
        self,
        queue: JobQueue,
        *,
        interval: Duration = 60,
        stuck_jobs_timeout_minutes: float = 10,
        cleanup_jobs_days_to_keep: float | None = 30,
        cleanup_events_days_to_keep: float | None = 30,
    ) -> None:
        where = "create_supervisor"
        self.queue = queue
        self.interval = v.to_seconds(interval, where, "interval", allow_zero=False)
        self.stuck_jobs_timeout_minutes = v.to_seconds(
            stuck_jobs_timeout_minutes, where, "stuck_jobs_timeout_minutes"
        )
        self.cleanup_jobs_days_to_keep = cleanup_jobs_days_to_keep
        self.cleanup_events_days_to_keep = cleanup_events_days_to_keep
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> MaintenanceResult:
        """Run one pass and return what it did."""
        queue = self.queue
        reclaimed = await queue.reclaim_stuck_jobs(self.stuck_jobs_timeout_minutes)
        cleaned_jobs = cleaned_events = 0
        if self.cleanup_jobs_days_to_keep is not None:
            cleaned_jobs = await queue.cleanup_old_jobs(self.cleanup_jobs_days_to_keep)
        if self.cleanup_events_days_to_keep is not None:
            cleaned_events = await queue.cleanup_old_job_events(
                self.cleanup_events_days_to_keep
            )
        expired = await queue.expire_timed_out_tokens()
        # Here too, so that schedules fire while every processor is busy.
        enqueued = await queue.enqueue_due_cron_jobs()
        result = MaintenanceResult(
            reclaimed, cleaned_jobs, cleaned_events, expired, enqueued
        )
        if reclaimed or cleaned_jobs or cleaned_events or expired or enqueued:
            logger.info("supervisor: %s", result)
        return result

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.start()
            except Exception:
                logger.exception("supervisor pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)

    def start_in_background(self) -> None:
        """Run a pass every ``interval`` seconds on the running event loop."""
        if self._task is not None and not self._task.done():
            return
        self._stopping.clear()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    def is_running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop_and_drain(self, timeout: Duration = 30) -> None:
        """Stop the loop, letting a pass in progress finish (up to ``timeout``)."""
        seconds = v.to_seconds(timeout, "stop_and_drain", "timeout")
        self._stopping.set()
        task, self._task = self._task, None
        if task is None:
            return
        done, _ = await asyncio.wait({task}, timeout=seconds)
        if not done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
