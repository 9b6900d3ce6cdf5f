"""Run one claimed job: call its handler, enforce its timeout, record the result."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dataqueue import _validate as v
from dataqueue.errors import JobTimeoutError
from dataqueue.models import FailureReason, JobRecord
from dataqueue.processor.context import JobContext, TimeoutCallback
from dataqueue.retry import next_attempt_at
from dataqueue.types import Handler, JSONValue

if TYPE_CHECKING:
    from dataqueue.processor.loop import Processor

logger = logging.getLogger("dataqueue")


def takes_context(handler: Callable[..., Any]) -> bool:
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


def is_async(handler: Callable[..., Any]) -> bool:
    call = getattr(handler, "__call__", None)  # noqa: B004 - callable objects
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(call)


def encode_output(value: Any) -> tuple[JSONValue, dict[str, JSONValue]]:
    """The output to store, and the ``completed`` event's metadata."""
    if value is None:
        return None, {}
    try:
        output = v.check_json(value, "handler", "return value")
    except (TypeError, ValueError) as error:
        return None, {"output_dropped": f"not JSON: {error}"}
    size = len(v.to_json_text(output).encode())
    if size > v.MAX_OUTPUT_BYTES:
        limit = v.MAX_OUTPUT_BYTES
        return None, {"output_dropped": f"{size} bytes is over the {limit} byte limit"}
    return output, {}


class ChildError(Exception):
    """The handler raised in a force-kill child process; the message is the child's."""


def error_message(error: BaseException) -> str:
    text = str(error)
    if isinstance(error, ChildError):
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class JobRun:
    """One attempt of one job on this processor."""

    def __init__(self, processor: Processor, job: JobRecord) -> None:
        self.processor = processor
        self.job = job
        self.timeout_callbacks: list[TimeoutCallback] = []
        self.deadline: float | None = None
        self.context = JobContext(self)

    @property
    def _loop_time(self) -> float:
        return asyncio.get_running_loop().time()

    async def prolong(self, seconds: float | None) -> None:
        timeout = seconds if seconds is not None else self.job.timeout
        if self.job.timeout is None or timeout is None:
            return
        self.deadline = self._loop_time + timeout
        store = self.processor.store
        await store.prolong_job(
            self.job.id, self.processor.worker_id, timeout, now=self.processor.now()
        )

    async def set_progress(self, percent: int) -> None:
        await self.processor.store.set_progress(
            self.job.id, percent, now=self.processor.now()
        )

    async def execute(self) -> None:
        job = self.job
        started = time.perf_counter()
        handler = self.processor.handlers.get(job.job_type)
        if handler is None:
            await self._fail(
                f"no handler for job type {job.job_type!r}", FailureReason.NO_HANDLER
            )
            return
        try:
            result = await self._call_with_timeout(handler)
        except JobTimeoutError as error:
            await self._fail(str(error), FailureReason.TIMEOUT, error)
        except Exception as error:
            logger.error("job %s (%s) raised", job.id, job.job_type, exc_info=error)
            await self._fail(error_message(error), FailureReason.HANDLER_ERROR, error)
        else:
            output, metadata = encode_output(result)
            if "output_dropped" in metadata:
                logger.warning(
                    "job %s: output not stored: %s", job.id, metadata["output_dropped"]
                )
            await self.processor.store.complete_job(
                job.id,
                self.processor.worker_id,
                output,
                metadata,
                now=self.processor.now(),
            )
            logger.info(
                "job %s (%s) completed in %.3fs",
                job.id,
                job.job_type,
                time.perf_counter() - started,
            )

    async def _call_with_timeout(self, handler: Handler) -> Any:
        if self.job.force_kill_on_timeout:
            from dataqueue.processor.forcekill import run_in_child

            return await run_in_child(self, handler)
        task = asyncio.ensure_future(self._call(handler))
        if self.job.timeout is None:
            return await task
        self.deadline = self._loop_time + self.job.timeout
        while True:
            remaining = self.deadline - self._loop_time
            if remaining > 0:
                await asyncio.wait({task}, timeout=remaining)
                if task.done():
                    return task.result()
                continue  # the deadline may have been prolonged meanwhile
            extension = await self._ask_for_more_time()
            if extension:
                await self.prolong(extension)
                continue
            self.context.signal.abort("timeout")
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            raise JobTimeoutError(f"job timed out after {self.job.timeout:g}s")

    async def _ask_for_more_time(self) -> float:
        for callback in self.timeout_callbacks:
            extra = callback()
            if inspect.isawaitable(extra):
                extra = await extra
            if extra:
                return float(extra)
        return 0.0

    async def _call(self, handler: Handler) -> Any:
        args: tuple[Any, ...] = (self.job.payload,)
        if takes_context(handler):
            args += (self.context,)
        if is_async(handler):
            return await handler(*args)
        return await asyncio.to_thread(handler, *args)

    async def _fail(
        self, message: str, reason: FailureReason, error: BaseException | None = None
    ) -> None:
        job = self.job
        now = self.processor.now()
        retry_at = next_attempt_at(
            now,
            job.attempts,
            job.max_attempts,
            job.retry_delay,
            job.retry_backoff,
            job.retry_delay_max,
        )
        await self.processor.store.fail_job(
            job.id, self.processor.worker_id, message, reason, retry_at, now=now
        )
        if retry_at is None:
            logger.info(
                "job %s (%s) failed for good: %s", job.id, job.job_type, message
            )
        else:
            logger.info(
                "job %s (%s) failed (%s); retry at %s",
                job.id,
                job.job_type,
                message,
                retry_at.isoformat(),
            )
        if error is not None:
            self.processor.report_error(error)
