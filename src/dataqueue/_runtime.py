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
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from dataqueue._clock import Clock
from dataqueue._commands import CronRun, CronTick, NewFlow, NewJob
from dataqueue.backends.protocol import Backend
from dataqueue.cron import CronJob, normalize_expression, plan_due_run, zone
from dataqueue.events import CLOSE_GRACE, CallbackRunner, EventBus, QueueEvent
from dataqueue.flows import join_job
from dataqueue.models import (
    FailureReason,
    FlowRecord,
    FlowStatus,
    JobRecord,
    JobStatus,
)
from dataqueue.projections import ProjectionSink

logger = logging.getLogger("dataqueue")

CLEANUP_BATCH_SIZE = 1000
"""Rows deleted per statement by the cleanup operations."""

READY_FLOWS_PER_SWEEP = 1000
"""Ready flows whose joins one supervisor pass enqueues."""

WORKER_LOST_MESSAGE = "worker lost: its lease was not refreshed for {seconds:g}s"


def reclaimed_event(job: JobRecord, at: datetime) -> QueueEvent:
    """What a reclaim did to a job: gave it back for another attempt, or
    failed it for good (its worker was lost ``max_attempts`` times)."""
    if (
        job.status is JobStatus.FAILED
        and job.failure_reason is FailureReason.WORKER_LOST
    ):
        message = job.error_history[-1]["message"] if job.error_history else None
        return QueueEvent(
            "job:failed",
            job.id,
            job.job_type,
            job=job,
            error=message,
            failure_reason=job.failure_reason,
            will_retry=False,
            at=at,
        )
    return QueueEvent("job:retried", job.id, job.job_type, job=job, at=at)


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
        dead_letter_job_type=schedule.dead_letter_job_type,
        cron=CronRun(schedule.id, plan.due_at, plan.skipped),
    )
    return CronTick(
        claimed_run_at=schedule.next_run_at,
        next_run_at=plan.next_run_at,
        job=job,
    )


def _cron_ticks(due: list[CronJob], now: datetime) -> list[CronTick]:
    ticks = []
    for schedule in due:
        try:
            ticks.append(cron_tick(schedule, now))
        except ValueError:
            # One unusable schedule must not hold back the others.
            logger.exception("cron schedule %s skipped", schedule.schedule_name)
    return ticks


class Runtime:
    """A store and a clock, opened on first use; the queue's event
    listeners and projection provider."""

    def __init__(
        self,
        backend: Backend,
        clock: Clock,
        projections: ProjectionSink | None = None,
    ) -> None:
        self.backend = backend
        self.clock = clock
        self._opened = False
        self._opening: asyncio.Lock | None = None
        self.callbacks = CallbackRunner()
        self.events = EventBus(self.callbacks)
        self.projections = projections or ProjectionSink()

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
        # Callbacks and the provider may use the store (or its pool): first.
        await self.projections.drain(CLOSE_GRACE)
        await self.callbacks.drain(CLOSE_GRACE)
        await self.backend.close()
        self._opened = False

    # -- events and projections ---------------------------------------------

    def announce(self, events: Sequence[QueueEvent]) -> None:
        """Tell listeners and the projection provider about changes the
        store confirmed (a processor's flush, a cancel, a retry)."""
        self.events.emit_all(events)
        self.projections.report(self.projections.from_events(events, self.now()))

    async def announce_changed(
        self,
        job_ids: Sequence[int],
        names: Sequence[str],
        describe: Callable[[JobRecord, datetime], QueueEvent],
    ) -> None:
        """Announce jobs a queue or supervisor call changed, read back from
        the store (which returns only their ids), when anyone listens for
        one of ``names`` or projections are on."""
        if not (
            any(self.events.wants(name) for name in names) or self.projections.enabled
        ):
            return
        store = await self.store()
        now = self.now()
        changed = []
        for job_id in job_ids:
            job = await store.get_job(job_id)
            if job is not None:
                changed.append(describe(job, now))
        self.announce(changed)

    def jobs_added(self, jobs: Sequence[NewJob], ids: Sequence[int]) -> None:
        """``job:added`` and ``scheduled`` for jobs just inserted (a job
        that an idempotency key made a duplicate within the call, once)."""
        first: dict[int, NewJob] = {}
        for job, job_id in zip(jobs, ids, strict=True):
            first.setdefault(job_id, job)
        added = [(job, job_id) for job_id, job in first.items()]
        now = self.now()
        if self.events.wants("job:added"):
            self.events.emit_all(
                QueueEvent("job:added", job_id, job.job_type, at=now)
                for job, job_id in added
            )
        self.projections.report(
            self.projections.scheduled(
                [job for job, _ in added], [job_id for _, job_id in added], now
            )
        )

    def flow_started(self, flow: NewFlow, step_ids: Sequence[int]) -> None:
        """``job:added`` for the steps; ``processing`` for a flow's entity."""
        self.jobs_added(flow.steps, step_ids)
        self.projections.report(self.projections.flow_started(flow, self.now()))

    def flow_joined(self, flow: FlowRecord, join: NewJob, join_id: int) -> None:
        """``job:added`` for the join; ``failed`` for the entity of a flow
        that was aborted or timed out (the join of a flow that ran to its
        end projects the flow when it finishes)."""
        self.jobs_added([join], [join_id])
        self.projections.report(self.projections.flow_ended_early(flow, self.now()))

    def error(
        self,
        error: BaseException,
        *,
        job: JobRecord | None = None,
        worker_id: str | None = None,
    ) -> None:
        """An ``error`` event (beside a processor's or supervisor's on_error)."""
        if self.events.wants("error"):
            self.events.emit(
                QueueEvent(
                    "error",
                    None if job is None else job.id,
                    None if job is None else job.job_type,
                    job=job,
                    worker_id=worker_id,
                    error=str(error),
                    exception=error,
                    at=self.now(),
                )
            )

    async def migrate(self, *, partitioned: bool = False) -> list[str]:
        applied = await self.backend.migrate()
        if partitioned:
            await self.backend.partition_history()
        self._opened = False
        return applied

    # -- maintenance ------------------------------------------------------

    async def reclaim_stuck_jobs(self, threshold_seconds: float) -> int:
        store = await self.store()
        message = WORKER_LOST_MESSAGE.format(seconds=threshold_seconds)
        reclaimed = await store.reclaim_stuck_jobs(
            threshold_seconds, message, now=self.now()
        )
        if reclaimed:
            await self.announce_changed(
                reclaimed, ("job:retried", "job:failed"), reclaimed_event
            )
            # A flow step whose worker died for good may complete its flow.
            await self.enqueue_ready_flow_joins()
        return len(reclaimed)

    async def cleanup_old_jobs(self, keep_seconds: float) -> int:
        """Delete finished jobs, and joined flows, older than that; returns
        how many jobs."""
        store = await self.store()
        before = self.now() - timedelta(seconds=keep_seconds)
        jobs = await store.cleanup_old_jobs(before, CLEANUP_BATCH_SIZE)
        flows = await store.cleanup_old_flows(before, CLEANUP_BATCH_SIZE)
        if flows:
            logger.info("cleanup: %d joined flow(s) deleted", flows)
        return jobs

    async def cleanup_old_job_events(self, keep_seconds: float) -> int:
        store = await self.store()
        before = self.now() - timedelta(seconds=keep_seconds)
        return await store.cleanup_old_job_events(before, CLEANUP_BATCH_SIZE)

    async def expire_timed_out_tokens(self) -> int:
        store = await self.store()
        return await store.expire_timed_out_tokens(now=self.now())

    async def remove_dead_workers(self, silent_seconds: float) -> int:
        store = await self.store()
        before = self.now() - timedelta(seconds=silent_seconds)
        return await store.remove_dead_workers(before=before)

    # -- cron ---------------------------------------------------------------

    async def enqueue_due_cron_jobs(self) -> int:
        """Enqueue one job per due schedule; returns how many were enqueued.
        One store call when nothing is due."""
        store = await self.store()
        now = self.now()
        due = await store.get_due_cron_jobs(now=now)
        if not due:
            return 0
        # Off the event loop: heartbeats and handlers keep running while a
        # schedule that was down for long finds its newest due time.
        ticks = await asyncio.to_thread(_cron_ticks, due, now)
        if not ticks:
            return 0
        ids = await store.enqueue_cron_jobs(ticks, now=now)
        if ids and self.events.wants("job:added"):
            # The store returns only ids; a schedule's job type is read back.
            for job_id in ids:
                job = await store.get_job(job_id)
                if job is not None:
                    self.events.emit(
                        QueueEvent("job:added", job_id, job.job_type, at=now)
                    )
        return len(ids)

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
            join = join_job(flow)
            job_id = await store.enqueue_flow_join(flow_id, join, now=self.now())
            if job_id is not None:
                enqueued += 1
                self.flow_joined(flow.record, join, job_id)
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
