"""Runtime: what the queue facade, processors and supervisors share.

One store, one clock, opened once. Processors and supervisors hold a Runtime,
never the ``JobQueue`` facade, so the facade can be built on top of them
without an import cycle. The maintenance operations and the enqueue of due
cron schedules live here because the facade and the loops all run them, with
values already validated.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from dataqueue._clock import Clock
from dataqueue._commands import CronRun, CronTick, NewJob
from dataqueue.backends.protocol import Backend
from dataqueue.cron import CronJob, normalize_expression, plan_due_run, zone
from dataqueue.flows import join_job
from dataqueue.models import FlowStatus

logger = logging.getLogger("dataqueue")

CLEANUP_BATCH_SIZE = 1000
"""Rows deleted per statement by the cleanup operations."""

READY_FLOWS_PER_SWEEP = 1000
"""Ready flows whose joins one supervisor pass enqueues."""

WORKER_LOST_MESSAGE = "worker lost: its lease was not refreshed for {seconds:g}s"


def cron_tick(schedule: CronJob, now: datetime) -> CronTick:
    """The enqueue of a due schedule: one job for the newest due time, the
    earlier missed ones counted as skipped. ``ValueError`` when the schedule
    can no longer be evaluated (say, a zone dropped from the tz database)."""
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
        cron=CronRun(schedule.id, plan.due_at, plan.skipped),
    )
    return CronTick(
        claimed_run_at=schedule.next_run_at,
        next_run_at=plan.next_run_at,
        job=job,
    )


class Runtime:
    """A store and a clock, opened on first use."""

    def __init__(self, backend: Backend, clock: Clock) -> None:
        self.backend = backend
        self.clock = clock
        self._opened = False
        self._opening: asyncio.Lock | None = None

    def now(self) -> datetime:
        return self.clock.now()

    async def store(self) -> Backend:
        """The backend, opened (and its schema checked) once."""
        if self._opened:
            return self.backend
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if not self._opened:
                await self.backend.open()
                self._opened = True
        return self.backend

    async def close(self) -> None:
        await self.backend.close()
        self._opened = False

    async def migrate(self) -> None:
        await self.backend.migrate()
        self._opened = False

    # -- maintenance ------------------------------------------------------

    async def reclaim_stuck_jobs(self, threshold_seconds: float) -> int:
        store = await self.store()
        message = WORKER_LOST_MESSAGE.format(seconds=threshold_seconds)
        reclaimed = await store.reclaim_stuck_jobs(
            threshold_seconds, message, now=self.now()
        )
        if reclaimed:
            # A flow step whose worker died for good may complete its flow.
            await self.enqueue_ready_flow_joins()
        return reclaimed

    async def cleanup_old_jobs(self, keep_seconds: float) -> int:
        store = await self.store()
        before = self.now() - timedelta(seconds=keep_seconds)
        return await store.cleanup_old_jobs(before, CLEANUP_BATCH_SIZE)

    async def cleanup_old_job_events(self, keep_seconds: float) -> int:
        store = await self.store()
        before = self.now() - timedelta(seconds=keep_seconds)
        return await store.cleanup_old_job_events(before, CLEANUP_BATCH_SIZE)

    async def expire_timed_out_tokens(self) -> int:
        store = await self.store()
        return await store.expire_timed_out_tokens(now=self.now())

    # -- cron ---------------------------------------------------------------

    async def enqueue_due_cron_jobs(self) -> int:
        """Enqueue one job per due schedule; returns how many were enqueued.
        One store call when nothing is due."""
        store = await self.store()
        now = self.now()
        due = await store.get_due_cron_jobs(now=now)
        if not due:
            return 0
        ticks = []
        for schedule in due:
            try:
                ticks.append(cron_tick(schedule, now))
            except ValueError:
                # One unusable schedule must not hold back the others.
                logger.exception("cron schedule %s skipped", schedule.schedule_name)
        if not ticks:
            return 0
        return len(await store.enqueue_cron_jobs(ticks, now=now))

    # -- flows ----------------------------------------------------------------

    async def enqueue_flow_joins(self, flow_ids: list[str]) -> int:
        """Enqueue the joins of these ``ready`` flows; returns how many this
        call enqueued (a flow another caller joined first counts for it)."""
        store = await self.store()
        enqueued = 0
        for flow_id in flow_ids:
            flow = await store.get_flow(flow_id)
            if flow is None or flow.record.status is not FlowStatus.READY:
                continue
            job_id = await store.enqueue_flow_join(
                flow_id, join_job(flow), now=self.now()
            )
            if job_id is not None:
                enqueued += 1
                logger.info(
                    "flow %s: join %s enqueued as job %s%s",
                    flow_id,
                    flow.record.join_job_type,
                    job_id,
                    " (aborted)"
                    if flow.record.aborted
                    else " (timed out)"
                    if flow.record.timed_out
                    else "",
                )
        return enqueued

    async def enqueue_ready_flow_joins(self) -> int:
        """Enqueue the joins of every ``ready`` flow: those a cancel or a
        reclaim made ready, and those whose dispatching processor died."""
        store = await self.store()
        ready = await store.get_ready_flows(READY_FLOWS_PER_SWEEP)
        return await self.enqueue_flow_joins(ready) if ready else 0

    async def settle_flows(self) -> int:
        """Time out flows past their deadline, then enqueue every due join."""
        store = await self.store()
        await store.time_out_flows(now=self.now())
        return await self.enqueue_ready_flow_joins()
