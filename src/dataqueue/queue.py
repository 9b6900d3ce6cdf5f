"""JobQueue: the async facade. Validate, decide in Python, then call the store."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any

from dataqueue import _trace
from dataqueue import _validate as v
from dataqueue._clock import Clock, SystemClock
from dataqueue._commands import NewJob
from dataqueue._queue_cron import CronSchedules
from dataqueue._queue_limits import FlowControl
from dataqueue._runtime import Runtime
from dataqueue.backends.protocol import Backend
from dataqueue.errors import TokenError
from dataqueue.events import Callback, QueueEvent
from dataqueue.flows import check_flow_id, flow_status, new_flow, store_flow
from dataqueue.models import (
    Dedupe,
    DependsOn,
    Entity,
    FailurePolicy,
    FlowRecord,
    FlowStatus,
    JobEvent,
    JobRecord,
    JobSpec,
    JobStatus,
    JobTypeStats,
    Token,
)
from dataqueue.projections import ProjectionSink
from dataqueue.queue_admin import AdminMethods
from dataqueue.types import Duration, Handlers, JSONValue

if TYPE_CHECKING:
    from datetime import datetime

    from dataqueue.processor import Processor
    from dataqueue.supervisor import Supervisor

FINISHED_RECHECK_SECONDS = 5.0
"""How long ``wait_for_job`` trusts the store's notifications before it reads
the job again anyway (a notification lost in a reconnect costs this much)."""


class JobQueue(AdminMethods, CronSchedules, FlowControl):
    """A queue of jobs in one store. Create it with ``dataqueue.connect()``."""

    def __init__(
        self,
        backend: Backend,
        *,
        clock: Clock | None = None,
        projections: ProjectionSink | None = None,
    ) -> None:
        self._runtime = Runtime(backend, clock or SystemClock(), projections)

    @property
    def backend(self) -> Backend:
        """The store behind this queue."""
        return self._runtime.backend

    @property
    def clock(self) -> Clock:
        """Where this queue reads the time."""
        return self._runtime.clock

    async def _store(self) -> Backend:
        return await self._runtime.store()

    async def __aenter__(self) -> JobQueue:
        # The store is opened (and its schema checked) on first use, so that
        # ``async with dq.connect(url) as q: await q.migrate()`` works on a
        # fresh database.
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Connect and check the schema now rather than at first use.

        Raises:
            StoreUnavailableError: the store cannot be reached (yet).
            StoreRefusedError: credentials or database were refused.
            NotMigratedError: PostgreSQL needs ``dataqueue migrate`` first.
        """
        await self._runtime.store()

    async def close(self) -> None:
        """Release what the queue opened (never a pool or client you passed in)."""
        await self._runtime.close()

    async def migrate(self, *, partitioned: bool = False) -> list[str]:
        """Create or upgrade the store's schema (PostgreSQL needs this once);
        returns the names of the migrations it applied (empty: up to date).

        Args:
            partitioned: PostgreSQL only: also move to the partitioned
                history layout, where events are kept in one partition per
                day and cleanup drops whole days (see docs/scaling.md). It
                is kept from then on; ``BackendError`` on other stores.
        """
        partitioned = v.check_bool(partitioned, "migrate", "partitioned")
        return await self._runtime.migrate(partitioned=partitioned)

    def get_pool(self) -> Any:
        """The psycopg pool of a PostgreSQL queue; ``BackendError`` elsewhere."""
        return self.backend.get_pool()

    def get_redis_client(self) -> Any:
        """The redis-py client of a Redis queue; ``BackendError`` elsewhere."""
        return self.backend.get_redis_client()

    # -- adding -----------------------------------------------------------

    async def add_job(
        self,
        job_type: str,
        payload: JSONValue = None,
        *,
        priority: int = 0,
        run_at: datetime | None = None,
        delay: Duration | None = None,
        max_attempts: int = 3,
        timeout: Duration | None = None,
        force_kill_on_timeout: bool = False,
        tags: list[str] | None = None,
        idempotency_key: str | None = None,
        retry_delay: Duration | None = None,
        retry_backoff: bool | None = None,
        retry_delay_max: Duration | None = None,
        entity: Entity | None = None,
        dead_letter_job_type: str | None = None,
        dedupe: Dedupe | dict[str, Any] | None = None,
        group: str | None = None,
        depends_on: DependsOn | dict[str, Any] | None = None,
        db: Any = None,
    ) -> int:
        """Add one job and return its id.

        Args:
            job_type: Which handler runs it.
            payload: JSON data handed to the handler.
            priority: Higher runs first.
            run_at / delay: Not before this aware datetime / this long from now.
            max_attempts: Attempts before the job fails for good.
            timeout: Seconds (or timedelta) one attempt may take.
            force_kill_on_timeout: Run in a child process killed at the deadline.
            tags: Labels for searching and bulk changes.
            idempotency_key: A second add with the same key returns the first id.
            retry_delay / retry_backoff / retry_delay_max: Retry timing.
            entity: ``{"id", "type"}`` of the domain object the job works
                on: its life is reported to the queue's projection provider.
            dead_letter_job_type: Once failed for good, add this type's job.
            dedupe: ``dq.Dedupe(key, window, mode)``: collapse adds by key.
            group: A group key (a tenant, a user): limits per group apply.
            depends_on: Hold the job until these jobs (or a tag drain) are done.
            db: A connection in an open transaction to enqueue within (no
                ``job:added`` event or ``scheduled`` projection: the queue
                cannot see your commit).
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
            entity=entity,
            delay=delay,
            dead_letter_job_type=dead_letter_job_type,
            dedupe=dedupe,
            group=group,
            depends_on=depends_on,
        )
        (job_id,) = await self._insert([v.new_job(spec, now=self._runtime.now())], db)
        return job_id

    async def add_jobs(self, specs: Sequence[JobSpec], *, db: Any = None) -> list[int]:
        """Add many jobs in one round trip; ``ids[i]`` belongs to ``specs[i]``."""
        jobs = v.new_jobs(specs, now=self._runtime.now())
        if not jobs:
            return []
        return await self._insert(jobs, db)

    async def _insert(self, jobs: list[NewJob], db: Any) -> list[int]:
        """Store new jobs (under a producer span when traced) and announce
        them unless they wait for the caller's commit."""
        store = await self._store()
        with _trace.producing("add_jobs", [j.job_type for j in jobs]) as producer:
            if producer is not None:
                carrier = producer.carrier
                jobs = [dataclasses.replace(j, trace_context=carrier) for j in jobs]
            ids = await store.add_jobs(jobs, now=self._runtime.now(), db=db)
            if producer is not None:
                producer.added(ids)
        if db is None:
            self._runtime.jobs_added(jobs, ids)
        return ids

    # -- reading ----------------------------------------------------------

    async def get_job(self, job_id: int) -> JobRecord | None:
        """The job with this id, or None."""
        v.check_id(job_id, "get_job")
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
        where = v.job_filter(filters, "get_jobs", status, filter_kwargs)
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
        v.check_id(job_id, "get_job_events")
        return await (await self._store()).get_job_events(job_id)

    async def count_jobs(
        self, /, filters: Mapping[str, Any] | None = None, **filter_kwargs: Any
    ) -> dict[JobStatus, int]:
        """How many jobs match the filters (``job_type``, ``priority``,
        ``run_at``, ``tags``, as in ``get_jobs``), per status; every status
        is present.

        Example:
            ``(await queue.count_jobs(job_type="email"))[dq.JobStatus.FAILED]``
        """
        where = v.job_filter(filters, "count_jobs", None, filter_kwargs)
        return await (await self._store()).count_jobs(where)

    async def get_queue_stats(self, window: Duration = 300) -> list[JobTypeStats]:
        """Per job type with jobs, by name: counts per status, the ``run_at``
        of the oldest due pending job, and the jobs completed and failed in
        the last ``window`` (at most an hour). The window starts at a whole
        minute, so it may reach up to 59 seconds further back. The store
        reads the whole queue in one call (Redis from counts it keeps).

        Example:
            ``[s.counts[dq.JobStatus.PENDING] for s in await queue.get_queue_stats()]``
        """
        span = v.to_seconds(
            window, "get_queue_stats", "window", allow_zero=False, maximum=3600
        )
        now = self.clock.now()
        since = now - timedelta(seconds=span)
        since = since.replace(second=0, microsecond=0)
        return await (await self._store()).job_type_stats(now=now, since=since)

    async def wait_for_job(
        self, job_id: int, timeout: Duration | None = None
    ) -> JobRecord:
        """Wait until the job is final (completed, cancelled, or failed with
        no attempt left) and return it; woken by the store's notifications.

        Raises:
            TimeoutError: the job was not final after ``timeout`` seconds.
            LookupError: there is no such job (or it was deleted).
        """
        where = "wait_for_job"
        v.check_id(job_id, where)
        seconds = v.optional_seconds(timeout, where, "timeout")
        store = await self._store()
        loop = asyncio.get_running_loop()
        deadline = None if seconds is None else loop.time() + seconds
        # Subscribed before the first read, so a change in between still wakes.
        finished = await store.subscribe_finished()
        try:
            while True:
                job = await store.get_job(job_id)
                if job is None:
                    raise LookupError(f"{where}: there is no job {job_id}")
                if job.is_final:
                    return job
                wait = FINISHED_RECHECK_SECONDS
                if deadline is not None:
                    left = deadline - loop.time()
                    if left <= 0:
                        raise TimeoutError(
                            f"{where}: job {job_id} is still {job.status.value} "
                            f"after {seconds:g}s"
                        )
                    wait = min(wait, left)
                await finished.wait(wait)
        finally:
            await finished.close()

    # -- flows ------------------------------------------------------------

    async def start_flow(
        self,
        steps: Sequence[JobSpec],
        join: JobSpec,
        failure_policy: FailurePolicy = "continue",
        timeout: Duration | None = None,
        entity: Entity | None = None,
    ) -> str:
        """Start a flow: every step runs as an ordinary job; once each has
        finished for good (completed, or failed with no attempt left), the
        ``join`` job runs once with ``payload["flow_results"]``. Returns the
        flow's id.

        Args:
            steps: The step jobs (at least one; no idempotency keys).
            join: The job to run after them; its payload (a dict) gets
                ``flow_results``: ``{"steps": [{"step_index", "job_id",
                "status": "success"|"fail", "result"|"error"}], "aborted",
                "timed_out"}``.
            failure_policy: ``"continue"`` (the join sees every outcome) or
                ``"abort"`` (the join runs at the first final failure).
            timeout: Seconds (or timedelta) after which the join runs with
                what has finished (``timed_out: true``).
            entity: ``{"id", "type"}``: project the flow as one entity task.

        All of a flow's jobs are inserted in one atomic step; bad input
        raises and writes nothing.
        """
        flow = new_flow(
            steps, join, failure_policy, timeout, entity, now=self._runtime.now()
        )
        store = await self._store()
        flow, step_ids = await store_flow(store, flow, self._runtime.now())
        self._runtime.flow_started(flow, step_ids)
        return flow.id

    async def get_flow(self, flow_id: str) -> FlowRecord | None:
        """The flow with each step's state, or None."""
        flow_id = check_flow_id(flow_id, "get_flow")
        stored = await (await self._store()).get_flow(flow_id)
        return None if stored is None else stored.record

    async def list_flows(
        self,
        status: FlowStatus | str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[FlowRecord]:
        """Flows (with this status), newest first; their ``steps`` are left
        empty (``get_flow`` fills them)."""
        wanted = flow_status(status, "list_flows")
        limit, offset = v.check_page(limit, offset, "list_flows")
        return await (await self._store()).list_flows(wanted, limit, offset)

    # -- changing ---------------------------------------------------------

    async def retry_job(self, job_id: int) -> bool:
        """Run a failed or cancelled job again now; returns whether it did.
        Other jobs (a processing one above all) are left alone: the store
        decides, atomically, so there is no need to check the status first."""
        v.check_id(job_id, "retry_job")
        store = await self._store()
        retried = await store.retry_job(job_id, now=self._runtime.now())
        if retried:
            await self._announce_change("job:retried", [job_id])
        return retried

    async def cancel_job(self, job_id: int) -> bool:
        """Cancel a pending or waiting job; returns whether it did. Other
        jobs are left alone: the store decides, atomically."""
        v.check_id(job_id, "cancel_job")
        store = await self._store()
        cancelled = await store.cancel_job(job_id, now=self._runtime.now())
        if cancelled:
            await self._announce_change("job:cancelled", [job_id])
            # A cancelled flow step may be the one its flow waited for.
            await self._runtime.enqueue_ready_flow_joins()
        return cancelled

    async def _announce_change(self, event: str, job_ids: Sequence[int]) -> None:
        """Emit ``event`` for jobs this call changed (and project them)."""
        await self._runtime.announce_changed(
            job_ids,
            (event,),
            lambda job, at: QueueEvent(event, job.id, job.job_type, job=job, at=at),
        )

    async def edit_job(self, job_id: int, /, **updates: Any) -> None:
        """Change fields of a pending job; does nothing to other jobs.

        Editable: payload, priority, max_attempts, run_at, timeout, tags,
        retry_delay, retry_backoff, retry_delay_max, dead_letter_job_type.
        ``None`` clears ``run_at`` (run now), ``timeout``, ``tags`` and
        ``dead_letter_job_type``.
        """
        v.check_id(job_id, "edit_job")
        changes = v.job_changes(updates, "edit_job")
        if changes.values:
            await (await self._store()).edit_jobs(
                job_id, changes, now=self._runtime.now()
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
        return await store.edit_jobs(where, changes, now=self._runtime.now())

    async def cancel_all_upcoming_jobs(
        self, /, filters: Mapping[str, Any] | None = None, **filter_kwargs: Any
    ) -> int:
        """Cancel every pending or waiting job matching the filters."""
        where = v.job_filter(filters, "cancel_all_upcoming_jobs", None, filter_kwargs)
        store = await self._store()
        cancelled = await store.cancel_jobs(where, now=self._runtime.now())
        if cancelled:
            await self._announce_change("job:cancelled", cancelled)
            await self._runtime.enqueue_ready_flow_joins()
        return len(cancelled)

    # -- maintenance ------------------------------------------------------

    async def reclaim_stuck_jobs(
        self, max_processing_minutes: float | timedelta = 1
    ) -> int:
        """Take back jobs whose worker stopped refreshing their lease for
        ``max_processing_minutes`` (minutes, or a timedelta); returns how many.

        A job whose own ``timeout`` is longer is given that long instead. A
        job with attempts left goes back to ``pending``; one whose worker was
        lost ``max_attempts`` times fails for good with ``WORKER_LOST``.
        """
        seconds = v.stuck_threshold(
            max_processing_minutes, "reclaim_stuck_jobs", "max_processing_minutes"
        )
        return await self._runtime.reclaim_stuck_jobs(seconds)

    async def cleanup_old_jobs(self, days_to_keep: float | timedelta = 30) -> int:
        """Delete finished jobs older than ``days_to_keep``; returns how many."""
        seconds = v.days_to_keep(days_to_keep, "cleanup_old_jobs")
        return await self._runtime.cleanup_old_jobs(seconds)

    async def cleanup_old_job_events(self, days_to_keep: float | timedelta = 30) -> int:
        """Delete events older than ``days_to_keep``; returns how many."""
        seconds = v.days_to_keep(days_to_keep, "cleanup_old_job_events")
        return await self._runtime.cleanup_old_job_events(seconds)

    async def expire_timed_out_tokens(self) -> int:
        """Time out tokens past their deadline and wake their jobs."""
        return await self._runtime.expire_timed_out_tokens()

    # -- tokens -----------------------------------------------------------

    async def complete_token(self, token_id: str, output: JSONValue = None) -> None:
        """Complete a waiting token with ``output`` (JSON): the job waiting
        on it runs again at once, and its ``ctx.wait_for_token`` returns
        ``ok=True`` with this output.

        Raises:
            TokenError: the token does not exist, or was already completed or
                expired; nothing changed.
        """
        where = "complete_token"
        token_id = v.check_name(token_id, where, "token_id")
        value = v.check_json(output, where, "output", max_bytes=v.MAX_OUTPUT_BYTES)
        store = await self._store()
        refused = await store.complete_token(token_id, value, now=self._runtime.now())
        if refused == "unknown":
            raise TokenError(f"{where}: there is no token {token_id!r}")
        if refused is not None:
            state = "expired" if refused == "timed_out" else "already completed"
            raise TokenError(f"{where}: token {token_id!r} was {state}")

    async def get_token(self, token_id: str) -> Token | None:
        """The token with this id, or None."""
        token_id = v.check_name(token_id, "get_token", "token_id")
        return await (await self._store()).get_token(token_id)

    # -- events -----------------------------------------------------------

    def on(self, event: str, callback: Callback) -> Callable[[], None]:
        """Call ``callback(dq.QueueEvent)`` after each ``event`` this process
        causes; returns a function that unsubscribes it.

        Events: ``job:added``, ``job:processing``, ``job:completed``,
        ``job:failed`` (``will_retry``), ``job:cancelled``, ``job:retried``,
        ``job:waiting``, ``job:progress``, ``job:output``, ``error``. The
        callback may be a
        ``def`` (run on a small thread pool) or an ``async def``; it never
        delays the queue, and what it raises is logged. See
        docs/observability.md.

        Example:
            ``queue.on("job:failed", lambda e: alert(e.job_id) if not
            e.will_retry else None)``
        """
        return self._runtime.events.on(event, callback)

    def once(self, event: str, callback: Callback) -> Callable[[], None]:
        """``on``, for the next ``event`` only (returns an unsubscriber)."""
        return self._runtime.events.on(event, callback, once=True, where="once")

    def off(self, event: str, callback: Callback) -> None:
        """Unsubscribe ``callback`` from ``event``."""
        self._runtime.events.off(event, callback)

    def remove_all_listeners(self, event: str | None = None) -> None:
        """Unsubscribe every listener of ``event``, or of every event."""
        self._runtime.events.remove_all_listeners(event)

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
        heartbeat_interval: Duration = 10,
        on_job_start: Callback | None = None,
        on_job_complete: Callback | None = None,
        on_job_fail: Callback | None = None,
        group_concurrency: int | None = None,
    ) -> Processor:
        """A processor that runs this queue's jobs with ``handlers``.

        Args:
            handlers: Job type to handler (``async def`` or plain ``def``).
            worker_id: This worker's name in the store (default: host-pid-random).
            batch_size: At most this many jobs per claim.
            concurrency: At most this many jobs running at once.
            poll_interval: Seconds between claims when idle and not woken.
            on_error: Called with each handler error.
            verbose: Log every claim and write at INFO.
            job_type: Only run these job types.
            heartbeat_interval: Seconds between lease refreshes and worker
                registry heartbeats.
            on_job_start / on_job_complete / on_job_fail: Called with a
                ``dq.QueueEvent`` once per claim, completion and failed
                attempt (``will_retry`` says if another follows), after the
                store confirmed it; ``def`` or ``async def``, never fatal,
                never delaying the processor.
            group_concurrency: At most this many jobs of one group key run
                at once, across every worker and type (upstream's
                ``groupConcurrency``).
        """
        from dataqueue.processor import Processor

        return Processor(
            self._runtime,
            handlers,
            worker_id=worker_id,
            batch_size=batch_size,
            concurrency=concurrency,
            poll_interval=poll_interval,
            on_error=on_error,
            verbose=verbose,
            job_type=job_type,
            heartbeat_interval=heartbeat_interval,
            on_job_start=on_job_start,
            on_job_complete=on_job_complete,
            on_job_fail=on_job_fail,
            group_concurrency=group_concurrency,
        )

    def create_supervisor(
        self,
        *,
        interval: Duration = 60,
        stuck_jobs_timeout_minutes: float | timedelta = 1,
        cleanup_jobs_days_to_keep: float | None = 30,
        cleanup_events_days_to_keep: float | None = 30,
        on_error: Any = None,
        dead_worker_timeout: Duration | None = None,
    ) -> Supervisor:
        """A maintenance loop: reclaim stuck jobs, clean up, expire tokens,
        remove dead workers from the registry.

        Args:
            on_error: Called with the error of each failed maintenance step
                (during a store outage, only for the first failing pass).
            dead_worker_timeout: Seconds (or timedelta) without a heartbeat
                after which a worker is removed from ``list_workers()``
                (default: the stuck-jobs threshold).
        """
        from dataqueue.supervisor import Supervisor

        return Supervisor(
            self._runtime,
            interval=interval,
            stuck_jobs_timeout_minutes=stuck_jobs_timeout_minutes,
            cleanup_jobs_days_to_keep=cleanup_jobs_days_to_keep,
            cleanup_events_days_to_keep=cleanup_events_days_to_keep,
            on_error=on_error,
            dead_worker_timeout=dead_worker_timeout,
        )
