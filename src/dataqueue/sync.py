"""SyncJobQueue: every JobQueue method, blocking.

The async queue runs on a private event loop in a daemon thread, so the
caller's own loop (if any) is never touched, and Django or Flask views can
call it directly.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

from dataqueue import _validate as v
from dataqueue.events import Callback
from dataqueue.models import JobSpec
from dataqueue.processor import Processor
from dataqueue.processor.metrics import ProcessorMetrics
from dataqueue.queue import JobQueue
from dataqueue.supervisor import MaintenanceResult, Supervisor
from dataqueue.types import Duration, Handlers

P = ParamSpec("P")
R = TypeVar("R")


class _LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="dataqueue-sync", daemon=True
        )
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, R]) -> R:
        if threading.current_thread() is self._thread:
            raise RuntimeError("SyncJobQueue cannot be called from its own loop thread")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


def _blocking(
    method: Callable[Concatenate[JobQueue, P], Awaitable[R]],
) -> Callable[Concatenate[SyncJobQueue, P], R]:
    def call(self: SyncJobQueue, /, *args: P.args, **kwargs: P.kwargs) -> R:
        async def invoke() -> R:
            return await method(self._queue, *args, **kwargs)

        return self._thread.run(invoke())

    functools.update_wrapper(call, method)
    return call


class SyncJobQueue:
    """A blocking JobQueue. Create it with ``dataqueue.connect_sync()``."""

    def __init__(self, queue: JobQueue) -> None:
        self._queue = queue
        self._thread = _LoopThread()

    def __enter__(self) -> SyncJobQueue:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the queue and stop its loop thread."""
        self._thread.run(self._queue.close())
        self._thread.stop()

    migrate = _blocking(JobQueue.migrate)
    open = _blocking(JobQueue.open)

    def add_job(
        self, job_type: str, payload: Any = None, *, db: Any = None, **options: Any
    ) -> int:
        if self._caller_thread_db(db) is not None:
            (job_id,) = self.add_jobs([JobSpec(job_type, payload, **options)], db=db)
            return job_id
        return self._thread.run(
            self._queue.add_job(job_type, payload, db=db, **options)
        )

    def add_jobs(self, specs: Sequence[JobSpec], *, db: Any = None) -> list[int]:
        add_on_caller_thread = self._caller_thread_db(db)
        if add_on_caller_thread is None:
            return self._thread.run(self._queue.add_jobs(specs, db=db))
        jobs = v.new_jobs(specs, now=self._queue.clock.now())
        self._thread.run(self._queue.open())
        return list(add_on_caller_thread(jobs, now=self._queue.clock.now(), db=db))

    # Same names, signatures and docs as the async methods.
    functools.update_wrapper(add_job, JobQueue.add_job)
    functools.update_wrapper(add_jobs, JobQueue.add_jobs)

    def _caller_thread_db(self, db: Any) -> Callable[..., Sequence[int]] | None:
        """The store's insert that runs on the caller's own ``sqlite3``
        connection, which belongs to the caller's thread; None otherwise."""
        import sqlite3  # here: a queue on another store never loads it

        if not isinstance(db, sqlite3.Connection):
            return None
        add: Callable[..., Sequence[int]] | None = getattr(
            self._queue.backend, "add_jobs_sync", None
        )
        return add

    get_job = _blocking(JobQueue.get_job)
    get_jobs = _blocking(JobQueue.get_jobs)
    get_jobs_by_status = _blocking(JobQueue.get_jobs_by_status)
    get_all_jobs = _blocking(JobQueue.get_all_jobs)
    get_jobs_by_tags = _blocking(JobQueue.get_jobs_by_tags)
    get_job_events = _blocking(JobQueue.get_job_events)
    count_jobs = _blocking(JobQueue.count_jobs)
    wait_for_job = _blocking(JobQueue.wait_for_job)
    start_flow = _blocking(JobQueue.start_flow)
    get_flow = _blocking(JobQueue.get_flow)
    list_flows = _blocking(JobQueue.list_flows)
    retry_job = _blocking(JobQueue.retry_job)
    cancel_job = _blocking(JobQueue.cancel_job)
    edit_job = _blocking(JobQueue.edit_job)
    edit_all_pending_jobs = _blocking(JobQueue.edit_all_pending_jobs)
    cancel_all_upcoming_jobs = _blocking(JobQueue.cancel_all_upcoming_jobs)
    reclaim_stuck_jobs = _blocking(JobQueue.reclaim_stuck_jobs)
    cleanup_old_jobs = _blocking(JobQueue.cleanup_old_jobs)
    cleanup_old_job_events = _blocking(JobQueue.cleanup_old_job_events)
    expire_timed_out_tokens = _blocking(JobQueue.expire_timed_out_tokens)
    complete_token = _blocking(JobQueue.complete_token)
    get_token = _blocking(JobQueue.get_token)
    add_cron_job = _blocking(JobQueue.add_cron_job)
    get_cron_job = _blocking(JobQueue.get_cron_job)
    get_cron_job_by_name = _blocking(JobQueue.get_cron_job_by_name)
    list_cron_jobs = _blocking(JobQueue.list_cron_jobs)
    pause_cron_job = _blocking(JobQueue.pause_cron_job)
    resume_cron_job = _blocking(JobQueue.resume_cron_job)
    edit_cron_job = _blocking(JobQueue.edit_cron_job)
    remove_cron_job = _blocking(JobQueue.remove_cron_job)
    enqueue_due_cron_jobs = _blocking(JobQueue.enqueue_due_cron_jobs)
    list_workers = _blocking(JobQueue.list_workers)
    quiet_worker = _blocking(JobQueue.quiet_worker)
    get_minute_stats = _blocking(JobQueue.get_minute_stats)
    get_held_counts = _blocking(JobQueue.get_held_counts)
    search_jobs = _blocking(JobQueue.search_jobs)
    delete_jobs = _blocking(JobQueue.delete_jobs)
    record_action = _blocking(JobQueue.record_action)
    get_actions = _blocking(JobQueue.get_actions)
    get_queue_stats = _blocking(JobQueue.get_queue_stats)
    set_limits = _blocking(JobQueue.set_limits)
    clear_limits = _blocking(JobQueue.clear_limits)
    get_limits = _blocking(JobQueue.get_limits)
    pause = _blocking(JobQueue.pause)
    resume = _blocking(JobQueue.resume)

    @functools.wraps(JobQueue.on)
    def on(self, event: str, callback: Callback) -> Callable[[], None]:
        # Listeners run on the queue's loop thread (a def on a worker thread).
        return self._queue.on(event, callback)

    @functools.wraps(JobQueue.once)
    def once(self, event: str, callback: Callback) -> Callable[[], None]:
        return self._queue.once(event, callback)

    @functools.wraps(JobQueue.off)
    def off(self, event: str, callback: Callback) -> None:
        self._queue.off(event, callback)

    @functools.wraps(JobQueue.remove_all_listeners)
    def remove_all_listeners(self, event: str | None = None) -> None:
        self._queue.remove_all_listeners(event)

    @property
    def backend(self) -> Any:
        return self._queue.backend

    @property
    def clock(self) -> Any:
        return self._queue.clock

    def get_pool(self) -> Any:
        """The psycopg pool of a PostgreSQL queue; ``BackendError`` elsewhere."""
        return self._queue.get_pool()

    def get_redis_client(self) -> Any:
        """The redis-py client of a Redis queue; ``BackendError`` elsewhere."""
        return self._queue.get_redis_client()

    def create_processor(self, handlers: Handlers, **options: Any) -> SyncProcessor:
        """A blocking processor; the options of ``JobQueue.create_processor``."""
        return SyncProcessor(self, self._queue.create_processor(handlers, **options))

    def create_supervisor(self, **options: Any) -> SyncSupervisor:
        """A blocking supervisor; the options of ``JobQueue.create_supervisor``."""
        return SyncSupervisor(self, self._queue.create_supervisor(**options))


class SyncProcessor:
    """A blocking Processor; background runs use the queue's loop thread."""

    def __init__(self, queue: SyncJobQueue, processor: Processor) -> None:
        self._queue = queue
        self.processor = processor

    def _call(self, coro: Coroutine[Any, Any, R]) -> R:
        return self._queue._thread.run(coro)

    def start(self) -> int:
        return self._call(self.processor.start())

    def run(self) -> None:
        self._call(self.processor.run())

    def start_in_background(self) -> None:
        async def begin() -> None:
            self.processor.start_in_background()

        self._call(begin())

    def stop(self) -> None:
        self._queue._thread.loop.call_soon_threadsafe(self.processor.stop)

    def stop_and_drain(self, timeout: Duration = 30) -> None:
        self._call(self.processor.stop_and_drain(timeout))

    def is_running(self) -> bool:
        return self.processor.is_running()

    def metrics(self) -> ProcessorMetrics:
        return self.processor.metrics()


class SyncSupervisor:
    """A blocking Supervisor."""

    def __init__(self, queue: SyncJobQueue, supervisor: Supervisor) -> None:
        self._queue = queue
        self.supervisor = supervisor

    def start(self) -> MaintenanceResult:
        return self._queue._thread.run(self.supervisor.start())

    def start_in_background(self) -> None:
        async def begin() -> None:
            self.supervisor.start_in_background()

        self._queue._thread.run(begin())

    def stop_and_drain(self, timeout: Duration = 30) -> None:
        self._queue._thread.run(self.supervisor.stop_and_drain(timeout))
