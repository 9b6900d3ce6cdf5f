"""Attempt: one call of a handler under its deadline, ending in a result.

An attempt writes nothing itself except through its context's leased
writer (progress, prolong); what it ended in is handed to the outcome writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import threading
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from dataqueue import _validate as v
from dataqueue._commands import Lease
from dataqueue.backends.protocol import Backend
from dataqueue.errors import JobTimeoutError
from dataqueue.models import FailureReason, JobRecord
from dataqueue.processor.context import (
    AbortSignal,
    Deadline,
    JobContext,
    LeasedWriter,
    SyncJobContext,
    WriterHooks,
)
from dataqueue.processor.durable import WaitRequest, WaitSignal
from dataqueue.types import Handler


def _takes_context(handler: Handler) -> bool:
    """True when the handler accepts a second positional argument (ctx)."""
    try:
        params = inspect.signature(handler).parameters.values()
    except (TypeError, ValueError):
        return True
    positional = [
        p
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in positional)


def _is_async(handler: Handler) -> bool:
    call = getattr(handler, "__call__", None)  # noqa: B004 - callable objects
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(call)


@dataclass(frozen=True, slots=True)
class HandlerSpec:
    """A handler and how to call it, worked out once per processor."""

    function: Handler
    takes_context: bool
    is_async: bool

    @classmethod
    def of(cls, function: Handler) -> HandlerSpec:
        return cls(function, _takes_context(function), _is_async(function))


@dataclass(frozen=True, slots=True)
class Succeeded:
    value: Any


@dataclass(frozen=True, slots=True)
class Raised:
    message: str
    reason: FailureReason
    error: BaseException | None = None
    traceback: str | None = None


@dataclass(frozen=True, slots=True)
class Abandoned:
    """The attempt was stopped without an outcome of its own (its lease was
    lost, or the worker is shutting down and releases the job)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Suspended:
    """The handler waits (a time or a token); it runs again from the top."""

    request: WaitRequest


AttemptResult = Succeeded | Raised | Abandoned | Suspended


class ChildError(Exception):
    """The handler raised in a force-kill child process; the message and the
    traceback are the child's."""

    def __init__(self, message: str, traceback: str | None = None) -> None:
        super().__init__(message)
        self.traceback = traceback


def error_message(error: BaseException) -> str:
    """The error as recorded: any text a handler raises must be storable."""
    text = str(error)
    if not isinstance(error, ChildError):
        text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return v.storable_text(text)


def error_traceback(error: BaseException) -> str:
    """The error's traceback as recorded: its last ``MAX_TRACEBACK_BYTES``
    (the innermost frames, where a handler's bug usually is)."""
    if isinstance(error, ChildError) and error.traceback is not None:
        return error.traceback
    text = "".join(traceback.format_exception(error))
    data = text.encode("utf-8", "replace")
    if len(data) > v.MAX_TRACEBACK_BYTES:
        text = data[-v.MAX_TRACEBACK_BYTES :].decode("utf-8", "ignore")
    return v.storable_text(text, v.MAX_TRACEBACK_BYTES)


def _handler_failed(error: BaseException) -> Raised:
    return Raised(
        error_message(error),
        FailureReason.HANDLER_ERROR,
        error,
        error_traceback(error),
    )


class Attempt:
    """One attempt of one claimed job."""

    def __init__(
        self,
        job: JobRecord,
        lease: Lease,
        handler: HandlerSpec | None,
        store: Backend,
        hooks: WriterHooks,
    ) -> None:
        self.job = job
        self.lease = lease
        self.handler = handler
        self.signal = AbortSignal()
        self.deadline = Deadline(job.timeout)
        self.writer = LeasedWriter(store, job, lease, self.signal, hooks)
        self._context: JobContext | None = None
        self.started = False
        self._call_task: asyncio.Future[Any] | None = None

    @property
    def context(self) -> JobContext:
        """The handler's context, made when first asked for: a handler that
        takes none never needs it."""
        if self._context is None:
            self._context = JobContext(self.job, self.writer, self.deadline)
        return self._context

    def interrupt(self, reason: str) -> None:
        """Stop the handler (``lease_lost`` or ``shutdown``): the signal is
        aborted and an async handler is cancelled; a thread cannot be, and
        sees ``signal.aborted``."""
        self.signal.abort(reason)
        if self._call_task is not None:
            self._call_task.cancel()

    async def run(self) -> AttemptResult:
        self.started = True
        if self.signal.aborted:
            return Abandoned(self.signal.reason or "shutdown")
        if self.handler is None:
            return Raised(
                f"no handler for job type {self.job.job_type!r}",
                FailureReason.NO_HANDLER,
            )
        try:
            value = await self._call_with_timeout(self.handler)
        except WaitSignal as wait:
            return Suspended(wait.request)
        except JobTimeoutError as error:
            return Raised(str(error), FailureReason.TIMEOUT, error)
        except asyncio.CancelledError:
            if self.signal.reason in ("lease_lost", "shutdown"):
                return Abandoned(self.signal.reason)
            raise
        except Exception as error:
            if self.signal.reason in ("lease_lost", "shutdown"):
                return Abandoned(self.signal.reason)
            return _handler_failed(error)
        if inspect.iscoroutine(value):
            return self._unawaited(value)
        context = self._context
        if context is None:
            return Succeeded(value)
        request = context.durable.request
        # A handler that caught the wait (``except BaseException``) still waits.
        if request is not None:
            return Suspended(request)
        return Succeeded(context.output if context.output_set else value)

    def _unawaited(self, coroutine: Coroutine[Any, Any, Any]) -> Raised:
        """A handler returned a coroutine (``lambda p: send(p)`` with an
        async ``send``): its work never ran, so the attempt fails."""
        coroutine.close()  # no "never awaited" warning on top of this error
        name = getattr(coroutine, "__qualname__", "a coroutine")
        return Raised(
            f"handler for {self.job.job_type!r} returned the coroutine {name}() "
            "without awaiting it: make the handler an async def that awaits it "
            f"(async def handler(payload): await {name}(payload))",
            FailureReason.HANDLER_ERROR,
        )

    async def _call_with_timeout(self, handler: HandlerSpec) -> Any:
        if self.job.force_kill_on_timeout:
            from dataqueue.processor.forcekill import run_in_child

            return await run_in_child(self, handler.function)
        task = self._call_task = asyncio.ensure_future(self._call(handler))
        deadline = self.deadline
        if deadline.timeout is None:
            return await task
        loop = asyncio.get_running_loop()
        deadline.at = loop.time() + deadline.timeout
        while True:
            remaining = deadline.at - loop.time()
            if remaining > 0:
                await asyncio.wait({task}, timeout=remaining)
                if task.done():
                    return task.result()
                continue  # the deadline may have been prolonged meanwhile
            extension = await self._ask_for_more_time()
            if extension > 0:
                deadline.extend(extension)
                await self.writer.prolong(extension)
                continue
            self.signal.abort("timeout")
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            raise JobTimeoutError(f"job timed out after {deadline.timeout:g}s")

    async def _ask_for_more_time(self) -> float:
        for callback in self.deadline.callbacks:
            extra = callback()
            if inspect.isawaitable(extra):
                extra = await extra
            if extra:
                return float(extra)
        return 0.0

    async def _call(self, handler: HandlerSpec) -> Any:
        if handler.is_async:
            if handler.takes_context:
                return await handler.function(self.job.payload, self.context)
            return await handler.function(self.job.payload)
        args: tuple[Any, ...] = (self.job.payload,)
        if handler.takes_context:
            args += (SyncJobContext(self.context, asyncio.get_running_loop()),)
        return await in_daemon_thread(
            f"dataqueue-job-{self.job.id}", handler.function, *args
        )


async def in_daemon_thread(name: str, function: Callable[..., Any], *args: Any) -> Any:
    """Run a plain ``def`` handler in a thread of its own, with the caller's
    context variables. The thread is a daemon, so it never holds up the
    process's exit: a worker that gave the job back at its drain deadline
    exits then, not when the handler returns."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()
    context = contextvars.copy_context()

    def settle(error: BaseException | None, value: Any) -> None:
        if future.done():
            return  # the attempt stopped waiting (cancelled)
        if error is None:
            future.set_result(value)
        else:
            future.set_exception(error)

    def target() -> None:
        error: BaseException | None = None
        value = None
        try:
            value = context.run(function, *args)
        except BaseException as raised:
            error = raised
        # The loop is gone when the process stopped without this thread.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, error, value)

    threading.Thread(target=target, name=name, daemon=True).start()
    return await future
