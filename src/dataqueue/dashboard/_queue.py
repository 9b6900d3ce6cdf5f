"""One async view of the queue the dashboard was given, async or blocking.

A ``JobQueue`` is awaited on the server's own loop. A ``SyncJobQueue`` runs
on its private loop thread, so its blocking calls are made from a worker
thread and the server's loop never waits on them. Input errors the queue
reports become 400 answers, an unreachable store a 503.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from typing import Any

from dataqueue.cron import CronJob
from dataqueue.errors import StoreUnavailableError
from dataqueue.limits import Limits
from dataqueue.models import (
    FlowRecord,
    HeldCounts,
    JobEvent,
    JobRecord,
    JobSearch,
    JobStatus,
    JobTypeStats,
    MinuteStats,
    RecordedAction,
    Token,
    WorkerInfo,
)
from dataqueue.queue import JobQueue
from dataqueue.sync import SyncJobQueue
from dataqueue.web import job_updates


class ApiError(Exception):
    """An answer other than success: its HTTP status and a one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class QueueView:
    """The queue calls the dashboard makes, each awaitable."""

    def __init__(
        self,
        queue: JobQueue | SyncJobQueue,
        handlers: Mapping[str, Any],
        processor_options: Mapping[str, Any],
    ) -> None:
        if not isinstance(queue, JobQueue | SyncJobQueue):
            raise TypeError(
                "create_app: queue must be a dataqueue JobQueue or SyncJobQueue "
                f"(from dq.connect() or dq.connect_sync()), got {type(queue).__name__}"
            )
        self._queue = queue
        self.handlers = dict(handlers)
        self._processor_options = dict(processor_options)
        self._batches: set[asyncio.Future[int]] = set()
        # Bad processor options fail here, when the app is built, rather
        # than at the first press of "Process jobs".
        queue.create_processor(self.handlers, **self._processor_options)

    def now(self) -> datetime:
        """The time by the queue's clock."""
        return self._queue.clock.now()

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        bound: Callable[..., Any] = getattr(self._queue, method)
        try:
            if isinstance(self._queue, JobQueue):
                return await bound(*args, **kwargs)
            return await asyncio.to_thread(bound, *args, **kwargs)
        except StoreUnavailableError as error:
            raise ApiError(503, f"the store is unavailable: {error}") from error
        except (ValueError, TypeError) as error:
            raise ApiError(400, str(error)) from error

    async def get_job(self, job_id: int) -> JobRecord | None:
        job: JobRecord | None = await self._call("get_job", job_id)
        return job

    def job_updates(
        self, job_id: int, poll_interval: float
    ) -> AsyncIterator[JobRecord]:
        """``dataqueue.web.job_updates`` on this queue: the job now and at
        each change until it is final or gone, waiting out store outages."""
        return job_updates(self._queue, job_id, poll_interval=poll_interval)

    async def get_jobs(
        self, filters: Mapping[str, Any], status: str | None, limit: int, offset: int
    ) -> list[JobRecord]:
        jobs: list[JobRecord] = await self._call(
            "get_jobs", filters, limit, offset, status=status
        )
        return jobs

    async def count_jobs(self, filters: Mapping[str, Any]) -> dict[JobStatus, int]:
        counts: dict[JobStatus, int] = await self._call("count_jobs", filters)
        return counts

    async def get_job_events(self, job_id: int) -> list[JobEvent]:
        events: list[JobEvent] = await self._call("get_job_events", job_id)
        return events

    async def cancel_job(self, job_id: int) -> bool:
        cancelled: bool = await self._call("cancel_job", job_id)
        return cancelled

    async def retry_job(self, job_id: int) -> bool:
        retried: bool = await self._call("retry_job", job_id)
        return retried

    async def get_token(self, token_id: str) -> Token | None:
        token: Token | None = await self._call("get_token", token_id)
        return token

    async def complete_token(self, token_id: str, output: Any) -> None:
        await self._call("complete_token", token_id, output)

    async def list_cron_jobs(self) -> list[CronJob]:
        schedules: list[CronJob] = await self._call("list_cron_jobs")
        return schedules

    async def get_cron_job(self, cron_job_id: int) -> CronJob | None:
        schedule: CronJob | None = await self._call("get_cron_job", cron_job_id)
        return schedule

    async def pause_cron_job(self, cron_job_id: int) -> None:
        await self._call("pause_cron_job", cron_job_id)

    async def resume_cron_job(self, cron_job_id: int) -> None:
        await self._call("resume_cron_job", cron_job_id)

    async def list_flows(
        self, status: str | None, limit: int, offset: int
    ) -> list[FlowRecord]:
        flows: list[FlowRecord] = await self._call("list_flows", status, limit, offset)
        return flows

    async def get_flow(self, flow_id: str) -> FlowRecord | None:
        flow: FlowRecord | None = await self._call("get_flow", flow_id)
        return flow

    async def list_workers(self) -> list[WorkerInfo]:
        workers: list[WorkerInfo] = await self._call("list_workers")
        return workers

    async def get_queue_stats(self, window: float) -> list[JobTypeStats]:
        stats: list[JobTypeStats] = await self._call("get_queue_stats", window)
        return stats

    async def get_minute_stats(
        self, window: float, job_type: str | None
    ) -> list[MinuteStats]:
        stats: list[MinuteStats] = await self._call(
            "get_minute_stats", window, job_type=job_type
        )
        return stats

    async def search_jobs(
        self, text: str, filters: Mapping[str, Any], status: str | None, limit: int
    ) -> JobSearch:
        found: JobSearch = await self._call(
            "search_jobs", text, filters, status=status, limit=limit
        )
        return found

    async def get_held_counts(self) -> HeldCounts:
        held: HeldCounts = await self._call("get_held_counts")
        return held

    async def delete_jobs(self, job_ids: list[int]) -> list[int]:
        deleted: list[int] = await self._call("delete_jobs", job_ids)
        return deleted

    async def add_job(self, job_type: str, payload: Any, **options: Any) -> int:
        job_id: int = await self._call("add_job", job_type, payload, **options)
        return job_id

    async def edit_cron_job(self, cron_job_id: int, **updates: Any) -> None:
        await self._call("edit_cron_job", cron_job_id, **updates)

    async def get_limits(self) -> list[Limits]:
        limits: list[Limits] = await self._call("get_limits")
        return limits

    async def pause(self, job_type: str | None) -> None:
        await self._call("pause", job_type)

    async def resume(self, job_type: str | None) -> None:
        await self._call("resume", job_type)

    async def record_action(
        self, who: str, action: str, details: Mapping[str, Any]
    ) -> None:
        await self._call("record_action", who, action, details)

    async def get_actions(self, limit: int) -> list[RecordedAction]:
        actions: list[RecordedAction] = await self._call("get_actions", limit)
        return actions

    async def quiet_worker(self, worker_id: str) -> bool:
        quieted: bool = await self._call("quiet_worker", worker_id)
        return quieted

    async def process_one_batch(self) -> int:
        """Run one batch with the dashboard's handlers and options; returns
        how many jobs ran."""
        queue = self._queue
        try:
            if isinstance(queue, JobQueue):
                processor = queue.create_processor(
                    self.handlers, **self._processor_options
                )
                # A client that leaves mid-batch must not strand the claimed
                # jobs as "processing": the batch runs to its end regardless
                # (and is kept referenced until then).
                batch = asyncio.ensure_future(processor.start())
                self._batches.add(batch)
                batch.add_done_callback(self._batches.discard)
                return await asyncio.shield(batch)
            blocking = queue.create_processor(self.handlers, **self._processor_options)
            return await asyncio.to_thread(blocking.start)
        except StoreUnavailableError as error:
            raise ApiError(503, f"the store is unavailable: {error}") from error
