"""Supervisor: the maintenance loop. Safe to run in many places at once,
because every step is a single atomic store operation."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import astuple, dataclass
from datetime import timedelta
from typing import Any

from dataqueue import _validate as v
from dataqueue._looper import Looper
from dataqueue._outage import OutageLog
from dataqueue._runtime import Runtime
from dataqueue.events import check_callback
from dataqueue.types import Duration

logger = logging.getLogger("dataqueue")


@dataclass(frozen=True, slots=True)
class MaintenanceResult:
    """What one supervisor pass did."""

    reclaimed_jobs: int
    cleaned_jobs: int
    cleaned_events: int
    expired_tokens: int
    enqueued_cron_jobs: int = 0
    enqueued_flow_joins: int = 0
    removed_workers: int = 0


class Supervisor(Looper):
    """Reclaims jobs of lost workers, deletes old jobs and events, expires
    tokens, enqueues due cron schedules, times out flows and enqueues the
    joins of ready ones, removes workers silent for ``dead_worker_timeout``
    from the registry. Create it with ``queue.create_supervisor()``."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        interval: Duration = 60,
        stuck_jobs_timeout_minutes: float | timedelta = 1,
        cleanup_jobs_days_to_keep: float | timedelta | None = 30,
        cleanup_events_days_to_keep: float | timedelta | None = 30,
        on_error: Callable[[BaseException], Any] | None = None,
        dead_worker_timeout: Duration | None = None,
    ) -> None:
        super().__init__()
        options = v.supervisor_options(
            interval=interval,
            stuck_jobs_timeout_minutes=stuck_jobs_timeout_minutes,
            cleanup_jobs_days_to_keep=cleanup_jobs_days_to_keep,
            cleanup_events_days_to_keep=cleanup_events_days_to_keep,
        )
        self.runtime = runtime
        self.interval = options.interval
        self.stuck_seconds = options.stuck_seconds
        self.keep_jobs_seconds = options.keep_jobs_seconds
        self.keep_events_seconds = options.keep_events_seconds
        check_callback(on_error, "create_supervisor", "on_error")
        self.on_error = on_error
        # A worker silent as long as a stuck job's lease is gone too.
        self.dead_worker_seconds = (
            self.stuck_seconds
            if dead_worker_timeout is None
            else v.to_seconds(
                dead_worker_timeout,
                "create_supervisor",
                "dead_worker_timeout",
                allow_zero=False,
                maximum=v.MAX_JOB_DURATION_SECONDS,
            )
        )
        self._outage = OutageLog("supervisor")

    async def start(self) -> MaintenanceResult:
        """Run one pass and return what it did. Each step runs even when an
        earlier one failed; the first failure is raised after the pass."""
        failures: list[Exception] = []

        async def step(call: Callable[[], Awaitable[int]]) -> int:
            try:
                return await call()
            except Exception as error:
                failures.append(error)
                # Once per outage: the loop retries every second meanwhile.
                if not self._outage.failing:
                    self._report_error(error)
                return 0

        runtime = self.runtime
        keep_jobs, keep_events = self.keep_jobs_seconds, self.keep_events_seconds
        result = MaintenanceResult(
            reclaimed_jobs=await step(
                lambda: runtime.reclaim_stuck_jobs(self.stuck_seconds)
            ),
            cleaned_jobs=0
            if keep_jobs is None
            else await step(lambda: runtime.cleanup_old_jobs(keep_jobs)),
            cleaned_events=0
            if keep_events is None
            else await step(lambda: runtime.cleanup_old_job_events(keep_events)),
            expired_tokens=await step(runtime.expire_timed_out_tokens),
            # Here too, so that schedules fire while every processor is busy.
            enqueued_cron_jobs=await step(runtime.enqueue_due_cron_jobs),
            # Flow deadlines, and joins whose dispatching processor died.
            enqueued_flow_joins=await step(runtime.settle_flows),
            removed_workers=await step(
                lambda: runtime.remove_dead_workers(self.dead_worker_seconds)
            ),
        )
        if any(astuple(result)):
            logger.info("supervisor: %s", result)
        if failures:
            raise failures[0]
        return result

    def _report_error(self, error: BaseException) -> None:
        """Hand a failed step's error to ``on_error`` and the ``error`` event."""
        self.runtime.error(error)
        if self.on_error is None:
            return
        try:
            self.on_error(error)
        except Exception:
            logger.exception("on_error callback raised")

    async def _loop(self) -> None:
        while not self.stopping:
            try:
                await self.start()
            except Exception as error:
                await self._pause(self._outage.failed(error))
                continue
            self._outage.recovered()
            await self._pause(self.interval)

    async def stop_and_drain(self, timeout: Duration = 30) -> None:
        """Stop the loop, letting a pass in progress finish (up to ``timeout``)."""
        seconds = v.to_seconds(timeout, "stop_and_drain", "timeout")
        self.stop()
        await self._join(seconds)
