"""What a handler can ask of the job it runs.

``HandlerContext`` is the one shape: ``JobContext`` implements it for
``async def`` handlers (writing methods are awaited), ``SyncJobContext`` for
plain ``def`` handlers running in a thread (the same methods block until
written), and the force-kill child has its own (see ``forcekill.py``).
Every write goes through the attempt's ``LeasedWriter``: fenced by its lease.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from dataqueue import _validate as v
from dataqueue._commands import Lease, NewFlow
from dataqueue.backends.protocol import Backend
from dataqueue.models import (
    Entity,
    FailurePolicy,
    JobRecord,
    JobSpec,
    Token,
    TokenResult,
)
from dataqueue.processor.durable import Durable, WaitRequest, WaitSignal, wait_seconds
from dataqueue.types import Duration, JSONValue

logger = logging.getLogger("dataqueue")

TimeoutCallback = Callable[[], "float | int | Awaitable[float | int | None] | None"]
R = TypeVar("R")


class AbortSignal:
    """Set when the attempt must stop: ``reason`` is ``"timeout"``,
    ``"lease_lost"`` (the job was taken from this worker) or ``"shutdown"``.

    ``aborted`` may be read from any thread; ``wait()`` from the event loop.
    """

    def __init__(self) -> None:
        self.reason: str | None = None
        # Made by the first wait(): most attempts are never waited on.
        self._event: asyncio.Event | None = None

    @property
    def aborted(self) -> bool:
        return self.reason is not None

    def abort(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
            if self._event is not None:
                self._event.set()

    async def wait(self) -> None:
        """Return once the signal is aborted."""
        if self.reason is not None:
            return
        if self._event is None:
            self._event = asyncio.Event()
        await self._event.wait()


@dataclass(frozen=True, slots=True)
class WriterHooks:
    """A processor's side of its attempts' writes, made once per processor:
    its clock, and whom to tell of a lost lease, of progress and output the
    store accepted (the ``job:progress`` and ``job:output`` events) and of
    a flow a handler started (``job:added``, the flow's projection)."""

    now: Callable[[], datetime]
    lease_lost: Callable[[Lease], None]
    progressed: Callable[[JobRecord, int], None]
    output_stored: Callable[[JobRecord, JSONValue], None]
    flow_started: Callable[[NewFlow, list[int]], None]


class LeasedWriter:
    """The writes one attempt may make, each fenced by its lease.

    A write that finds the lease lost aborts the attempt's signal with
    ``"lease_lost"`` instead of changing anything.
    """

    def __init__(
        self,
        store: Backend,
        job: JobRecord,
        lease: Lease,
        signal: AbortSignal,
        hooks: WriterHooks,
    ) -> None:
        self.store = store
        self.job = job
        self.lease = lease
        self.signal = signal
        self._hooks = hooks

    def now(self) -> datetime:
        return self._hooks.now()

    def lease_lost(self) -> None:
        if not self.signal.aborted:
            self._hooks.lease_lost(self.lease)
        self.signal.abort("lease_lost")

    def flow_started(self, flow: NewFlow, step_ids: list[int]) -> None:
        self._hooks.flow_started(flow, step_ids)

    async def prolong(self, timeout: float) -> None:
        if not await self.store.prolong_job(self.lease, timeout, now=self.now()):
            self.lease_lost()

    async def set_progress(self, percent: int) -> None:
        if not await self.store.set_progress(self.lease, percent, now=self.now()):
            self.lease_lost()
        else:
            self._hooks.progressed(self.job, percent)

    async def set_output(self, output: JSONValue) -> None:
        if not await self.store.set_output(self.lease, output, now=self.now()):
            self.lease_lost()
        else:
            self._hooks.output_stored(self.job, output)


class Deadline:
    """An attempt's deadline: its timeout, the callbacks asked for more time
    when it comes, and when that is (the loop's time, set when the handler
    is called). The attempt and its context share it, so that neither
    refers to the other and an attempt that ended is freed at once, not by
    the garbage collector."""

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self.callbacks: list[TimeoutCallback] = []
        self.at: float | None = None

    def extend(self, seconds: float) -> None:
        """Move the deadline to ``seconds`` from now."""
        self.at = asyncio.get_running_loop().time() + seconds


class HandlerContext(Protocol):
    """What every handler context offers (awaitable or blocking)."""

    @property
    def job_id(self) -> int: ...

    @property
    def job(self) -> JobRecord: ...

    @property
    def signal(self) -> AbortSignal: ...

    def on_timeout(self, callback: TimeoutCallback) -> None: ...


def output_value(job_type: str, value: Any) -> JSONValue:
    """A ``set_output`` value: JSON, at most the output limit."""
    where = f"set_output({v.show(job_type, 60)})"
    return v.check_json(value, where, "output", max_bytes=v.MAX_OUTPUT_BYTES)


def progress_value(percent: Any) -> int:
    if isinstance(percent, bool) or not isinstance(percent, int | float):
        raise TypeError(f"set_progress: percent must be a number, got {percent!r}")
    if not 0 <= percent <= 100:
        raise ValueError(f"set_progress: percent must be 0-100, got {percent!r}")
    return round(percent)


class JobContext:
    """Handed to an ``async def`` handler that takes ``(payload, ctx)``."""

    def __init__(self, job: JobRecord, writer: LeasedWriter, deadline: Deadline):
        self._job = job
        self._writer = writer
        self._deadline = deadline
        self.durable = Durable(job, writer)
        # What set_output stored last: the job's output in place of the
        # handler's return value.
        self.output: JSONValue = None
        self.output_set = False

    @property
    def job_id(self) -> int:
        return self._job.id

    @property
    def job(self) -> JobRecord:
        """The job as it was claimed."""
        return self._job

    @property
    def signal(self) -> AbortSignal:
        """Aborted at the deadline, on a lost lease, or at shutdown."""
        return self._writer.signal

    async def prolong(self, seconds: Duration | None = None) -> None:
        """Move the deadline to ``seconds`` from now (default: the job's own
        timeout) and record a ``prolonged`` event. Does nothing for a job
        without a timeout."""
        extension = v.optional_seconds(seconds, "prolong", "seconds", allow_zero=False)
        timeout = extension if extension is not None else self._deadline.timeout
        if self._deadline.timeout is None or timeout is None:
            return
        self._deadline.extend(timeout)
        await self._writer.prolong(timeout)

    def on_timeout(self, callback: TimeoutCallback) -> None:
        """Call ``callback()`` at the deadline; a positive number of seconds it
        returns extends the deadline, None or 0 lets the timeout fire."""
        self._deadline.callbacks.append(callback)

    async def set_progress(self, percent: float) -> None:
        """Report progress, 0-100 (rounded); a failed write is logged, not raised."""
        value = progress_value(percent)
        try:
            await self._writer.set_progress(value)
        except Exception:
            logger.warning(
                "job %s: could not save progress", self.job_id, exc_info=True
            )

    async def set_output(self, value: Any) -> None:
        """Store ``value`` (JSON) as the job's output now; when the job
        completes it keeps this output, not the handler's return value (the
        last call wins). A value that is not JSON raises; a failed write is
        logged, not raised."""
        output = output_value(self._job.job_type, value)
        self.output, self.output_set = output, True
        try:
            await self._writer.set_output(output)
        except Exception:
            logger.warning("job %s: could not save output", self.job_id, exc_info=True)

    # -- durable steps and waits (see durable.py) ---------------------------

    async def run(self, name: str, fn: Callable[[], Any]) -> Any:
        """Run step ``name`` once: ``fn`` (sync or async) is called and its
        JSON result stored before this returns; when the handler runs again
        (after a wait, a retry or a lost worker) the stored result is
        returned without calling ``fn``. Names are unique per handler run."""
        return await self.durable.run(name, fn)

    async def wait_for(
        self,
        duration: Duration | None = None,
        *,
        seconds: float = 0,
        minutes: float = 0,
        hours: float = 0,
        days: float = 0,
        weeks: float = 0,
        months: float = 0,
        years: float = 0,
    ) -> None:
        """Suspend the job for this long (the parts add up; a month is 30
        days, a year 365). The handler stops here and runs again from the
        top when the time has come; zero does not suspend."""
        total = wait_seconds(
            duration,
            seconds=seconds,
            minutes=minutes,
            hours=hours,
            days=days,
            weeks=weeks,
            months=months,
            years=years,
        )
        _suspend_if(self.durable.wait_for(total))

    async def wait_until(self, when: datetime) -> None:
        """Suspend the job until ``when`` (timezone-aware); a past time does
        not suspend."""
        _suspend_if(self.durable.wait_until(when))

    async def create_token(
        self, timeout: Duration | str | None = None, tags: list[str] | None = None
    ) -> Token:
        """A new token for this job, to hand to whoever completes it with
        ``queue.complete_token(token.id, output)``. ``timeout``: seconds, a
        timedelta or text like ``"10m"``, ``"48h"``, ``"7d"``. Durable: a
        re-run gets the token it created before."""
        return await self.durable.create_token(timeout, tags)

    async def wait_for_token(self, token_id: str) -> TokenResult:
        """Suspend until the token is completed (``ok``, ``output``) or
        expires (``ok=False``, ``error="timeout"``); a token already resolved
        returns at once."""
        outcome = await self.durable.wait_for_token(token_id)
        if isinstance(outcome, WaitRequest):
            raise WaitSignal(outcome)
        return outcome

    async def start_flow(
        self,
        steps: Sequence[JobSpec],
        join: JobSpec,
        failure_policy: FailurePolicy = "continue",
        timeout: Duration | None = None,
        entity: Entity | None = None,
    ) -> str:
        """Start a flow from this handler, as ``queue.start_flow`` does.
        Durable: a re-run gets the flow it started before."""
        return await self.durable.start_flow(
            steps, join, failure_policy, timeout, entity
        )


def _suspend_if(request: WaitRequest | None) -> None:
    if request is not None:
        raise WaitSignal(request)


class SyncJobContext:
    """Handed to a plain ``def`` handler (running in a worker thread): the
    same methods as ``JobContext``, blocking until the write is done."""

    def __init__(self, context: JobContext, loop: asyncio.AbstractEventLoop) -> None:
        self._context = context
        self._loop = loop

    def _wait(self, coro: Awaitable[R]) -> R:
        async def call() -> R:
            return await coro

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result()

    @property
    def job_id(self) -> int:
        return self._context.job_id

    @property
    def job(self) -> JobRecord:
        """The job as it was claimed."""
        return self._context.job

    @property
    def signal(self) -> AbortSignal:
        """Check ``signal.aborted`` between units of work."""
        return self._context.signal

    def prolong(self, seconds: Duration | None = None) -> None:
        """Blocking ``JobContext.prolong``."""
        self._wait(self._context.prolong(seconds))

    def on_timeout(self, callback: TimeoutCallback) -> None:
        """As ``JobContext.on_timeout`` (the callback runs on the event loop)."""
        self._context.on_timeout(callback)

    def set_progress(self, percent: float) -> None:
        """Blocking ``JobContext.set_progress``."""
        progress_value(percent)
        self._wait(self._context.set_progress(percent))

    def set_output(self, value: Any) -> None:
        """Blocking ``JobContext.set_output``."""
        output_value(self._context.job.job_type, value)
        self._wait(self._context.set_output(value))

    def run(self, name: str, fn: Callable[[], Any]) -> JSONValue:
        """Blocking ``JobContext.run``: ``fn`` runs in this handler's thread."""
        durable = self._context.durable
        done, result = durable.begin_step(name)
        if done:
            return result
        value = fn()
        if isinstance(value, Awaitable):
            value = self._wait(value)
        return self._wait(durable.save_step(str(name), value))

    def wait_for(
        self,
        duration: Duration | None = None,
        *,
        seconds: float = 0,
        minutes: float = 0,
        hours: float = 0,
        days: float = 0,
        weeks: float = 0,
        months: float = 0,
        years: float = 0,
    ) -> None:
        """As ``JobContext.wait_for``: the handler stops here (by raising
        through it) and runs again from the top when the time has come."""
        total = wait_seconds(
            duration,
            seconds=seconds,
            minutes=minutes,
            hours=hours,
            days=days,
            weeks=weeks,
            months=months,
            years=years,
        )
        _suspend_if(self._context.durable.wait_for(total))

    def wait_until(self, when: datetime) -> None:
        """As ``JobContext.wait_until``."""
        _suspend_if(self._context.durable.wait_until(when))

    def create_token(
        self, timeout: Duration | str | None = None, tags: list[str] | None = None
    ) -> Token:
        """Blocking ``JobContext.create_token``."""
        return self._wait(self._context.create_token(timeout, tags))

    def wait_for_token(self, token_id: str) -> TokenResult:
        """As ``JobContext.wait_for_token``."""
        outcome = self._wait(self._context.durable.wait_for_token(token_id))
        if isinstance(outcome, WaitRequest):
            raise WaitSignal(outcome)
        return outcome

    def start_flow(
        self,
        steps: Sequence[JobSpec],
        join: JobSpec,
        failure_policy: FailurePolicy = "continue",
        timeout: Duration | None = None,
        entity: Entity | None = None,
    ) -> str:
        """Blocking ``JobContext.start_flow``."""
        return self._wait(
            self._context.start_flow(steps, join, failure_policy, timeout, entity)
        )
