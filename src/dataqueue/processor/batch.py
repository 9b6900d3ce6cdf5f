"""Batch handlers (tq's multi-job handlers): ``dq.batch(fn, max_size,
max_wait)`` is a handler like any other, so every job still has its own
claim, lease, attempt, timeout, outcome, retries and events. Its attempts
only wait together: the calls that arrive within ``max_wait`` of the first
(at most ``max_size`` of them) become one ``fn(payloads, ctx)`` call, and
each attempt ends in its own element of what ``fn`` returns, or in the
exception ``fn`` raised.

A batch holds the jobs running at the same time, so a processor batches at
most ``concurrency`` jobs (and claims at most ``batch_size`` per turn):
give a batch handler's processor at least ``max_size`` of each.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dataqueue import _validate as v
from dataqueue.models import JobRecord
from dataqueue.processor.context import JobContext
from dataqueue.types import Duration

MAX_BATCH_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class BatchContext:
    """What ``fn`` of a batch handler gets beside the payloads: the jobs (in
    the payloads' order) and each job's own ``JobContext`` (progress,
    output, its abort signal)."""

    jobs: list[JobRecord]
    contexts: list[JobContext]

    @property
    def job_ids(self) -> list[int]:
        return [job.id for job in self.jobs]


@dataclass(slots=True)
class _Call:
    payload: Any
    context: JobContext
    result: asyncio.Future[Any]


@dataclass(slots=True)
class _Gathering:
    """The calls waiting for their batch on one event loop."""

    calls: list[_Call] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


class BatchHandler:
    """A handler of many jobs; make it with ``dataqueue.batch``."""

    def __init__(self, fn: Callable[..., Any], max_size: int, max_wait: float) -> None:
        self.fn = fn
        self.max_size = max_size
        self.max_wait = max_wait
        self._gatherings: dict[asyncio.AbstractEventLoop, _Gathering] = {}

    def __repr__(self) -> str:
        name = getattr(self.fn, "__qualname__", repr(self.fn))
        return f"batch({name}, max_size={self.max_size}, max_wait={self.max_wait})"

    async def __call__(self, payload: Any, ctx: JobContext) -> Any:
        loop = asyncio.get_running_loop()
        gathering = self._gatherings.setdefault(loop, _Gathering())
        call = _Call(payload, ctx, loop.create_future())
        gathering.calls.append(call)
        if len(gathering.calls) >= self.max_size:
            self._start(loop, gathering)
        elif gathering.timer is None:
            gathering.timer = loop.call_later(
                self.max_wait, self._start, loop, gathering
            )
        return await call.result

    def _start(self, loop: asyncio.AbstractEventLoop, gathering: _Gathering) -> None:
        """Run the gathered calls (those still waiting) as one batch."""
        if gathering.timer is not None:
            gathering.timer.cancel()
            gathering.timer = None
        calls = [call for call in gathering.calls if not call.result.done()]
        gathering.calls = []
        if calls:
            loop.create_task(self._run(calls))

    async def _run(self, calls: Sequence[_Call]) -> None:
        context = BatchContext(
            [call.context.job for call in calls], [call.context for call in calls]
        )
        payloads = [call.payload for call in calls]
        try:
            if inspect.iscoroutinefunction(self.fn):
                results = await self.fn(payloads, context)
            else:
                results = await asyncio.to_thread(self.fn, payloads, context)
            results = list(_one_per_job(results, len(calls)))
        except BaseException as error:  # every job's attempt fails with it
            for call in calls:
                if not call.result.done():
                    call.result.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        for call, value in zip(calls, results, strict=True):
            if not call.result.done():
                call.result.set_result(value)


def _one_per_job(results: Any, count: int) -> Sequence[Any]:
    if not isinstance(results, list | tuple) or len(results) != count:
        got = (
            f"{len(results)} result(s)"
            if isinstance(results, list | tuple)
            else type(results).__name__
        )
        raise TypeError(
            f"a batch handler must return one result per job ({count}), got {got}"
        )
    return results


def batch(
    fn: Callable[..., Any], max_size: int = 100, max_wait: Duration = 1.0
) -> BatchHandler:
    """A handler that runs up to ``max_size`` jobs of its type in one call
    of ``fn(payloads, ctx)`` (``ctx`` a ``BatchContext``), gathering the
    jobs that start within ``max_wait`` seconds of the first. ``fn`` (sync
    or async) returns one result per job, in order, each stored as that
    job's output; or raises, and every job of the batch fails with that
    error (each retried by its own ``max_attempts``).

    Example:
        ``handlers = {"index_doc": dq.batch(index_many, max_size=100)}``
    """
    if not callable(fn):
        raise TypeError(f"batch: fn must be callable, got {type(fn).__name__}")
    size = v.check_int(max_size, "batch", "max_size", minimum=1, maximum=MAX_BATCH_SIZE)
    wait = v.to_seconds(max_wait, "batch", "max_wait", maximum=3600)
    return BatchHandler(fn, size, wait)
