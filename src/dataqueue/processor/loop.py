"""Processor: keep ``concurrency`` attempts running, claim as slots free up.

Each turn of the loop makes one store call, ``settle_and_claim``: it writes
the outcomes of the attempts that ended since the last turn and claims jobs
for the free slots (at most ``batch_size``). Before a claim, due cron
schedules are enqueued (at most once per ``CRON_CHECK_INTERVAL``), so that
their jobs can be in that very claim. A full claim is followed by the
next turn at once; otherwise the loop waits until an attempt ends, a job is
added (the store's wake-up), ``poll_interval`` passes, or ``stop()``;
after a short claim whose jobs a rate held, an attempt that ends only has
its outcome written, and the claim waits for the rate's next token.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import secrets
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from dataqueue import _trace
from dataqueue import _validate as v
from dataqueue._commands import BrokenJob, Claimed, ClaimRequest, Lease
from dataqueue._looper import Looper
from dataqueue._outage import OutageLog
from dataqueue._runtime import Runtime
from dataqueue.backends.protocol import Backend, Wakeup
from dataqueue.errors import DataQueueError
from dataqueue.events import ProcessorHooks, QueueEvent
from dataqueue.joblog import JobLogContext, current_job
from dataqueue.models import EventType, JobRecord
from dataqueue.processor.alone import RunsAlone
from dataqueue.processor.attempt import (
    Abandoned,
    Attempt,
    AttemptResult,
    HandlerSpec,
    Raised,
    Succeeded,
    Suspended,
)
from dataqueue.processor.context import WriterHooks
from dataqueue.processor.lease import LeaseKeeper
from dataqueue.processor.metrics import MetricsRecorder, ProcessorMetrics
from dataqueue.processor.outcome import OutcomeWriter
from dataqueue.processor.registry import WorkerRegistration
from dataqueue.types import Duration, Handlers, JSONValue

logger = logging.getLogger("dataqueue")

HEARTBEAT_INTERVAL = 10.0
"""Seconds between lease refreshes; the supervisor's stuck threshold (60 s by
default) allows several missed beats before a job counts as abandoned."""

CRON_CHECK_INTERVAL = timedelta(seconds=1)
"""How often (by the queue's clock) a processor looks for due cron schedules
before a claim: a busy processor claims far more often than that, and a
schedule's job is at most this late on its account (the supervisor enqueues
too). Each look is one store call when nothing is due."""

SETTLE_GRACE = 10.0
"""Seconds a stopping processor keeps trying to write its last outcomes and
releases when the store is unreachable."""


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Processor(Looper):
    """Runs jobs of one queue. Create it with ``queue.create_processor()``."""

    def __init__(
        self,
        runtime: Runtime,
        handlers: Handlers,
        *,
        worker_id: str | None = None,
        batch_size: int = 10,
        concurrency: int = 3,
        poll_interval: Duration = 5,
        on_error: Callable[[BaseException], Any] | None = None,
        verbose: bool = False,
        job_type: str | Sequence[str] | None = None,
        heartbeat_interval: Duration = HEARTBEAT_INTERVAL,
        on_job_start: Callable[[QueueEvent], Any] | None = None,
        on_job_complete: Callable[[QueueEvent], Any] | None = None,
        on_job_fail: Callable[[QueueEvent], Any] | None = None,
        group_concurrency: int | None = None,
    ) -> None:
        super().__init__()
        options = v.processor_options(
            handlers,
            worker_id=worker_id,
            batch_size=batch_size,
            concurrency=concurrency,
            poll_interval=poll_interval,
            on_error=on_error,
            verbose=verbose,
            job_type=job_type,
            heartbeat_interval=heartbeat_interval,
            group_concurrency=group_concurrency,
        )
        self.runtime = runtime
        self.handlers = options.handlers
        self._specs = {name: HandlerSpec.of(fn) for name, fn in self.handlers.items()}
        self.worker_id = options.worker_id or default_worker_id()
        self.batch_size = options.batch_size
        self.concurrency = options.concurrency
        self.poll_interval = options.poll_interval
        self.on_error = options.on_error
        self.verbose = options.verbose
        self.job_types = options.job_types
        self.group_concurrency = options.group_concurrency
        self._attempts: dict[int, tuple[Attempt, asyncio.Task[AttemptResult]]] = {}
        self._hooks = ProcessorHooks(
            runtime.callbacks,
            on_job_start=on_job_start,
            on_job_complete=on_job_complete,
            on_job_fail=on_job_fail,
        )
        self._metrics = MetricsRecorder(self.worker_id, self.concurrency)
        self._writer_hooks = WriterHooks(
            self.now,
            self.lease_lost,
            self._progressed,
            self._output_stored,
            runtime.flow_started,
        )
        self._outcomes = OutcomeWriter(
            self.report_error,
            worker_id=self.worker_id,
            after_flush=self._after_flush,
            reports_claims=self._reports_claims,
        )
        self._to_release: list[Lease] = []
        self._attempt_ended = asyncio.Event()
        self._alone = RunsAlone()
        self._exchanging = False
        self._outage = OutageLog(f"processor {self.worker_id}")
        self._leases = LeaseKeeper(self, options.heartbeat_interval)
        self._registration = WorkerRegistration(
            runtime,
            worker_id=self.worker_id,
            job_types=self.job_types,
            concurrency=self.concurrency,
            interval=options.heartbeat_interval,
            running_job_ids=lambda: list(self._attempts),
            metrics=self._metrics,
        )
        self._drain_deadline: float | None = None
        # What the last claim said of the jobs its limits held back.
        self._held_until: datetime | None = None
        self._held_for_slot = False
        self._claim_short = False
        self._only_attempt_ended = False
        self._slot_freed: Wakeup | None = None
        self._cron_checked_at: datetime | None = None
        self._cron_failing = False

    def now(self) -> datetime:
        return self.runtime.now()

    def report_error(self, error: BaseException, job: JobRecord | None = None) -> None:
        """Hand a handler's error to ``on_error`` and the ``error`` event."""
        self.runtime.error(error, job=job, worker_id=self.worker_id)
        if self.on_error is None:
            return
        try:
            self.on_error(error)
        except Exception:
            logger.exception("on_error callback raised")

    def metrics(self) -> ProcessorMetrics:
        """What this processor runs now and has done since it was created."""
        return self._metrics.snapshot()

    def _reports_claims(self) -> bool:
        """Whether anyone is told of claims: ``on_job_start``, a
        ``job:processing`` listener, or the projection provider."""
        runtime = self.runtime
        return (
            self._hooks.wants("job:processing")
            or runtime.events.wants("job:processing")
            or runtime.projections.enabled
        )

    def _after_flush(self, events: list[QueueEvent]) -> None:
        """The changes a flush confirmed: count them, call the hooks, emit
        the queue's events and report projections (none of which waits)."""
        try:
            self._metrics.record(events)
            self._hooks.fire(events)
            self.runtime.announce(events)
        except Exception:
            logger.exception("processor %s: reporting a flush failed", self.worker_id)

    # -- leases -----------------------------------------------------------

    def live_leases(self) -> list[Lease]:
        """Leases to keep fresh: running attempts and unwritten outcomes."""
        leases = [attempt.lease for attempt, _ in self._attempts.values()]
        leases.extend(self._outcomes.leases())
        return leases

    def lease_lost(self, lease: Lease) -> None:
        """The store says ``lease`` no longer holds: stop its attempt."""
        entry = self._attempts.get(lease.job_id)
        if entry is None or entry[0].lease != lease:
            return
        attempt = entry[0]
        if not attempt.signal.aborted:
            logger.warning(
                "job %s: the job was taken from this worker (lease lost: reclaimed "
                "or cancelled); stopping its attempt",
                lease.job_id,
            )
        attempt.interrupt("lease_lost")

    # -- one batch ----------------------------------------------------------

    async def start(self) -> int:
        """Claim one batch, run it (at most ``concurrency`` at a time), record
        the outcomes and return how many jobs ran."""
        store = await self.runtime.store()
        await self._enqueue_due_cron_jobs()
        claimed, claimed_at = await self._exchange(store, self._claim(self.batch_size))
        if not claimed:
            return 0
        slots = asyncio.Semaphore(self.concurrency)
        keep_leases = not self._leases.is_running()
        if keep_leases:
            self._leases.start_in_background()
        try:
            tasks = [self._launch(store, job, claimed_at, slots) for job in claimed]
            # A task stop() cancelled before its first step ends cancelled
            # (its job is given back by _give_back_if_never_ran): it must not
            # end the batch.
            batch = asyncio.gather(
                *(t for t in tasks if t is not None), return_exceptions=True
            )
            await self._give_back_at_stop(store, batch)
            results = await batch
            await self._settle_remaining(store)
        finally:
            if keep_leases:
                await self._leases.close()
        if not self._registration.is_running():
            await self._record_minute_stats()
        return sum(
            not isinstance(result, Abandoned | BaseException) for result in results
        )

    async def _record_minute_stats(self) -> None:
        """A batch run outside the loop has no heartbeat to carry its
        per-minute stats: hand them over now (or at the next chance)."""
        try:
            await self._registration.record_stats()
        except Exception as error:
            logger.warning(
                "processor %s: per-minute stats not recorded yet: %s",
                self.worker_id,
                error,
            )

    async def _give_back_at_stop(
        self,
        store: Backend,
        batch: asyncio.Future[list[AttemptResult | BaseException]],
    ) -> None:
        """Until ``batch`` ends: at ``stop()``, give the claimed jobs that
        have not started back at once, not when the running ones finish."""
        stopped = asyncio.ensure_future(self._stop_requested.wait())
        either: set[asyncio.Future[Any]] = {batch, stopped}
        try:
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if batch.done():
            return
        # The interrupted attempts end within a step of the loop.
        waiting = [
            task for attempt, task in self._attempts.values() if not attempt.started
        ]
        if waiting:
            await asyncio.wait(waiting)
        await self._settle_remaining(store)

    # -- the loop -----------------------------------------------------------

    async def stop_and_drain(self, timeout: Duration = 30) -> None:
        """Stop claiming; claimed jobs not yet started go back to ``pending``
        at once; running jobs get ``timeout`` seconds to finish, then are
        stopped and released back to ``pending``. Returns when the loop ended."""
        seconds = v.to_seconds(timeout, "stop_and_drain", "timeout")
        self._drain_deadline = asyncio.get_running_loop().time() + seconds
        self.stop()
        await self._join(seconds + SETTLE_GRACE + 5)

    def stop(self) -> None:
        """Stop claiming; running jobs finish (see ``stop_and_drain``)."""
        super().stop()
        # Claimed jobs that have not started go back at once.
        for attempt, task in list(self._attempts.values()):
            if not attempt.started:
                attempt.interrupt("shutdown")
                task.cancel()

    async def _loop(self) -> None:
        store = await self._open_store()
        if store is None:
            return
        wakeup = await store.subscribe()
        self._leases.start_in_background()
        self._registration.start_in_background()
        try:
            while not self.stopping:
                await self._turn(store, wakeup)
        finally:
            try:
                await self._drain(store)
            finally:
                await self._leases.close()
                await self._registration.close()
                await wakeup.close()
                if self._slot_freed is not None:
                    await self._slot_freed.close()
                    self._slot_freed = None
                self._drain_deadline = None

    async def _open_store(self) -> Backend | None:
        while not self.stopping:
            try:
                store = await self.runtime.store()
            except Exception as error:
                await self._pause(self._outage.failed(error))
                continue
            self._outage.recovered()
            return store
        return None

    async def _turn(self, store: Backend, wakeup: Wakeup) -> None:
        self._attempt_ended.clear()
        free = 0 if self._alone.waiting else self.concurrency - len(self._attempts)
        claim = self._claim(min(free, self.batch_size)) if free > 0 else None
        deferred = claim is not None and self._rate_holds()
        if deferred:
            claim = None  # the outcomes are written; the claim waits its token
        if claim is None and not self._outcomes:
            if deferred:
                await self._wait(wakeup, self._idle_timeout())
            else:
                await self._wait(None, None)
            return
        if claim is not None:
            await self._enqueue_due_cron_jobs()
        try:
            claimed, claimed_at = await self._exchange(store, claim)
        except Exception as error:
            await self._pause(self._outage.failed(error))
            return
        self._outage.recovered()
        for job in claimed:
            self._launch(store, job, claimed_at)
        if claim is not None:
            self._claim_short = len(claimed) < claim.limit
            if not self._claim_short:
                return
        if len(self._attempts) >= self.concurrency:
            await self._wait(None, self.poll_interval)
            return
        await self._wait(wakeup, self._idle_timeout(), await self._slot_wakeup(store))

    def _rate_holds(self) -> bool:
        """Whether a claim now would find what the last one found: it came
        back short with a rate holding jobs until ``_held_until``, and
        since then only attempts of this processor ended (no job added, no
        slot waited for). Then the claim waits for that time, so that a
        rate costs about one claim per token, not two; only when it comes
        within ``poll_interval``, so that a job that became due meanwhile
        (its ``run_at``, a retry, a released dependent: none of them wakes
        the processor) waits no longer than polling would have made it."""
        until = self._held_until
        if until is None or not (
            self._only_attempt_ended and self._claim_short and not self._held_for_slot
        ):
            return False
        now = self.now()
        return now < until <= now + timedelta(seconds=self.poll_interval)

    def _idle_timeout(self) -> float:
        """How long an idle processor waits for a signal before it claims
        again: ``poll_interval``, or less when the claim's limits said a
        held job may start sooner (a rate's next token)."""
        until = self._held_until
        if until is None:
            return self.poll_interval
        soon = (until - self.now()).total_seconds()
        return min(self.poll_interval, max(soon, 0.0))

    async def _slot_wakeup(self, store: Backend) -> Wakeup | None:
        """Signals of finished jobs, while a limit holds jobs until a
        running one ends (subscribed at the first such hold)."""
        if not self._held_for_slot:
            return None
        if self._slot_freed is None:
            self._slot_freed = await store.subscribe_finished()
        return self._slot_freed

    async def _wait(
        self,
        wakeup: Wakeup | None,
        poll_interval: float | None,
        slot_freed: Wakeup | None = None,
    ) -> None:
        """Until an attempt ends, ``stop()``, or (with free slots) a job is
        added, a job a limit waited for ends, or ``poll_interval`` passes."""
        waiters: list[asyncio.Future[bool]] = [
            asyncio.ensure_future(self._attempt_ended.wait()),
            asyncio.ensure_future(self._stop_requested.wait()),
        ]
        for signal in (wakeup, slot_freed):
            if signal is not None:
                waiters.append(asyncio.ensure_future(signal.wait(poll_interval or 0)))
        try:
            done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            self._only_attempt_ended = done == {waiters[0]}
        finally:
            for waiter in waiters:
                waiter.cancel()
            for waiter in waiters:
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter

    async def _enqueue_due_cron_jobs(self) -> None:
        """Enqueue due cron schedules before a claim, unless this processor
        did so less than ``CRON_CHECK_INTERVAL`` ago (a clock set back counts
        as time passed). A failure never stops the claim; the first of a run
        of failures is logged (a store outage is reported by the claim)."""
        now = self.now()
        last = self._cron_checked_at
        if last is not None and last <= now < last + CRON_CHECK_INTERVAL:
            return
        self._cron_checked_at = now
        try:
            await self.runtime.enqueue_due_cron_jobs()
        except Exception as error:
            if not self._cron_failing:
                logger.warning(
                    "processor %s: enqueueing due cron jobs failed: %s",
                    self.worker_id,
                    error,
                )
            self._cron_failing = True
            return
        self._cron_failing = False

    async def _enqueue_flow_joins(self, flow_ids: list[str]) -> None:
        """Enqueue the joins of the flows this processor's outcomes made
        ready. On failure the supervisor's sweep enqueues them."""
        try:
            await self.runtime.enqueue_flow_joins(flow_ids)
        except Exception as error:
            logger.warning(
                "processor %s: enqueueing flow joins failed (the supervisor will "
                "enqueue them): %s",
                self.worker_id,
                error,
            )

    def _claim(self, limit: int) -> ClaimRequest | None:
        """A claim of up to ``limit`` jobs; None for a processor given no
        handlers (it could run nothing it claimed) or asked to stop taking
        jobs (``queue.quiet_worker``)."""
        if self.job_types == () or self._registration.quiet:
            return None
        return ClaimRequest(
            self.worker_id,
            secrets.token_hex(16),
            limit,
            self.job_types,
            self.group_concurrency,
        )

    async def _exchange(
        self, store: Backend, claim: ClaimRequest | None
    ) -> tuple[list[tuple[Claimed, Lease]], datetime]:
        """Write the buffered outcomes and claim, in one store call. Returns
        the jobs claimed with their leases, and the time of the exchange:
        the store's time of the claim (the jobs' ``processing`` events)."""
        outcomes = self._outcomes.take()
        now = self.now()
        self._exchanging = True
        try:
            exchange = await store.settle_and_claim(outcomes, claim, now=now)
        except BaseException:
            self._outcomes.restore(outcomes)
            raise
        finally:
            self._exchanging = False
            self._alone.changed()
        self._outcomes.written(outcomes, exchange.settled, exchange.claimed, now)
        if exchange.ready_flows:
            await self._enqueue_flow_joins(exchange.ready_flows)
        if self.verbose:
            logger.info(
                "processor %s: wrote %d outcome(s), claimed %d job(s)",
                self.worker_id,
                len(outcomes),
                len(exchange.claimed),
            )
        if claim is None:
            return [], now
        self._held_until = exchange.wake_at
        self._held_for_slot = exchange.waits_for_slot
        return [(job, Lease(job.id, claim.token)) for job in exchange.claimed], now

    # -- attempts -----------------------------------------------------------

    def _progressed(self, job: JobRecord, percent: int) -> None:
        if self.verbose:
            logger.info("job %s (%s) progress %d%%", job.id, job.job_type, percent)
        self._attempt_event("job:progress", job, progress=percent)

    def _output_stored(self, job: JobRecord, output: JSONValue) -> None:
        self._attempt_event("job:output", job, output=output)

    def _attempt_event(self, name: str, job: JobRecord, **fields: Any) -> None:
        """Emit a running attempt's write (progress, output) when listened to."""
        if self.runtime.events.wants(name):
            self.runtime.events.emit(
                QueueEvent(
                    name,
                    job.id,
                    job.job_type,
                    job=job,
                    worker_id=self.worker_id,
                    at=self.now(),
                    **fields,
                )
            )

    def _launch(
        self,
        store: Backend,
        claimed: tuple[Claimed, Lease],
        claimed_at: datetime,
        slots: asyncio.Semaphore | None = None,
    ) -> asyncio.Task[AttemptResult] | None:
        job, lease = claimed
        if isinstance(job, BrokenJob):
            self._outcomes.broken(job, lease)
            return None
        handler = self._specs.get(job.job_type)
        attempt = Attempt(job, lease, handler, store, self._writer_hooks)
        run = self._run(attempt, claimed_at, slots, self._alone.admit(job))
        task = asyncio.get_running_loop().create_task(run)
        task.add_done_callback(functools.partial(self._give_back_if_never_ran, attempt))
        self._attempts[job.id] = (attempt, task)
        return task

    def _settled(self, slots: asyncio.Semaphore | None) -> Callable[[], bool]:
        """What a job that runs alone also waits for, once the other
        attempts have ended: in the loop (no ``slots``), their outcomes
        written, so that if it kills the worker no neighbour runs again for
        want of its outcome; a batch of ``start()`` writes them at its end."""
        if slots is not None:
            return lambda: True
        return lambda: not self._outcomes and not self._exchanging

    def _give_back_if_never_ran(
        self, attempt: Attempt, task: asyncio.Task[AttemptResult]
    ) -> None:
        """A task cancelled (by ``stop()``) before its first step never ran
        ``_run``, nor its cleanup: its job goes back like any attempt
        stopped before it started."""
        entry = self._attempts.get(attempt.job.id)
        if entry is not None and entry[1] is task:
            del self._attempts[attempt.job.id]
            self._alone.ended(attempt.job.id)
            self._to_release.append(attempt.lease)
            self._attempt_ended.set()

    async def _run(
        self,
        attempt: Attempt,
        claimed_at: datetime,
        slots: asyncio.Semaphore | None,
        alone: bool,
    ) -> AttemptResult:
        job = attempt.job
        # Epoch nanoseconds for the claim's span, read only when traced.
        claimed_ns = None if _trace.active is None else time.time_ns()
        # The attempt runs as its own task, in a copy of the context: the job
        # stays on this task's (and its handler's) log lines only.
        current_job.set(
            JobLogContext(job.id, job.job_type, job.attempts, self.worker_id)
        )
        try:
            if slots is None and not alone:
                # Launched into a free slot: it starts at the time of its
                # claim, without a clock read of its own.
                result, started = await self._begin(attempt, claimed_at, claimed_ns)
            else:
                turn = (
                    self._alone.turn(self._attempts.keys, self._settled(slots))
                    if alone
                    else contextlib.nullcontext()
                )
                async with turn, slots or contextlib.nullcontext():
                    # It may have waited for its turn or its slot: it starts now.
                    result, started = await self._begin(attempt, self.now(), claimed_ns)
        except asyncio.CancelledError:
            result = Abandoned(attempt.signal.reason or "shutdown")
        finally:
            self._attempts.pop(job.id, None)
            self._alone.ended(job.id)
            self._metrics.attempt_ended(job.id)
            self._attempt_ended.set()
        match result:
            case Succeeded():
                seconds = time.perf_counter() - started
                self._outcomes.succeeded(job, attempt.lease, result, seconds)
            case Raised():
                seconds = time.perf_counter() - started
                self._outcomes.failed(job, attempt.lease, result, self.now(), seconds)
            case Suspended():
                self._outcomes.suspended(job, attempt.lease, result)
            case Abandoned(reason="shutdown"):
                self._to_release.append(attempt.lease)
            case Abandoned():
                pass
        return result

    async def _begin(
        self, attempt: Attempt, now: datetime, claimed_ns: int | None
    ) -> tuple[AttemptResult, float]:
        """Start the attempt at ``now`` and run it: its result, and the
        performance counter at its start."""
        job = attempt.job
        if self.stopping:
            attempt.interrupt("shutdown")
        logger.info(
            "job %s (%s) processing, attempt %s", job.id, job.job_type, job.attempts
        )
        started = time.perf_counter()
        self._metrics.attempt_started(job, now)
        tracer = _trace.active
        if tracer is None:
            return await attempt.run(), started
        if claimed_ns is None:  # traced since it was claimed
            claimed_ns = time.time_ns()
        return await self._run_traced(attempt, tracer, claimed_ns), started

    async def _run_traced(
        self, attempt: Attempt, tracer: _trace.Tracer, claimed_ns: int
    ) -> AttemptResult:
        """The attempt inside its consumer spans, continuing the trace of
        the add that stored the job (its ``added`` event keeps the context)."""
        job = attempt.job
        try:
            events = await (await self.runtime.store()).get_job_events(job.id)
        except DataQueueError:
            events = []  # tracing never holds up a job: run it in a new trace
        carrier = next(
            (
                e.metadata.get(_trace.TRACE_CONTEXT_KEY)
                for e in events
                if e.event_type is EventType.ADDED and isinstance(e.metadata, dict)
            ),
            None,
        )
        with tracer.processing(
            job,
            carrier if isinstance(carrier, dict) else None,
            self.worker_id,
            claimed_ns,
        ) as span:
            logged = current_job.get()
            if logged is not None:
                logged.trace_id = tracer.current_trace_id()
            result = await attempt.run()
            if isinstance(result, Raised):
                span.failed(result.message, result.error)
        return result

    # -- stopping -----------------------------------------------------------

    async def _drain(self, store: Backend) -> None:
        """Let running attempts finish until the drain deadline, stop the
        rest, and write every outcome and release before returning."""
        running = [task for _, task in self._attempts.values()]
        if running:
            loop = asyncio.get_running_loop()
            deadline = self._drain_deadline
            timeout = None if deadline is None else max(0.0, deadline - loop.time())
            _, late = await asyncio.wait(running, timeout=timeout)
            if late:
                logger.warning(
                    "processor %s: %d job(s) still running at the drain deadline; "
                    "stopping them and giving them back",
                    self.worker_id,
                    len(late),
                )
                for attempt, task in list(self._attempts.values()):
                    attempt.interrupt("shutdown")
                    task.cancel()
                await asyncio.wait(late)
        await self._settle_remaining(store)

    async def _settle_remaining(self, store: Backend) -> None:
        """Write buffered outcomes and release given-back jobs, retrying
        through a short outage."""
        give_up = time.monotonic() + SETTLE_GRACE
        while self._outcomes or self._to_release:
            try:
                if self._outcomes:
                    await self._exchange(store, None)
                if self._to_release:
                    leases, self._to_release = self._to_release, []
                    try:
                        released = await store.release_jobs(leases, now=self.now())
                    except BaseException:
                        self._to_release[:0] = leases
                        raise
                    logger.info(
                        "processor %s: gave %d job(s) back to pending",
                        self.worker_id,
                        released,
                    )
            except Exception as error:
                if time.monotonic() > give_up:
                    logger.error(
                        "processor %s: could not record %d outcome(s) and %d "
                        "release(s); their jobs will be reclaimed: %s",
                        self.worker_id,
                        len(self._outcomes),
                        len(self._to_release),
                        error,
                    )
                    self._outcomes.discard()
                    self._to_release = []
                    return
                await asyncio.sleep(self._outage.failed(error))
        self._outage.recovered()
