"""JobContext: what a handler can ask of the job it is running."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from dataqueue import _validate as v
from dataqueue.models import JobRecord
from dataqueue.types import Duration

if TYPE_CHECKING:
    from dataqueue.processor.execute import JobRun

logger = logging.getLogger("dataqueue")

TimeoutCallback = Callable[[], "float | int | None"]


class AbortSignal:
    """Set when the job must stop (its timeout fired)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.reason: str | None = None

    @property
    def aborted(self) -> bool:
        return self._event.is_set()

    def abort(self, reason: str) -> None:
        if not self.aborted:
            self.reason = reason
            self._event.set()

    async def wait(self) -> None:
        """Return once the signal is aborted."""
        await self._event.wait()


class JobContext:
    """Handed to a handler that takes ``(payload, ctx)``."""

    def __init__(self, run: JobRun) -> None:
        self._run = run
        self.signal = AbortSignal()

    @property
    def job_id(self) -> int:
        return self._run.job.id

    @property
    def job(self) -> JobRecord:
        """The job as it was claimed."""
        return self._run.job

    async def prolong(self, seconds: Duration | None = None) -> None:
        """Move the deadline to ``seconds`` from now (default: the job's own
        timeout). Does nothing for a job without a timeout."""
        extension = v.optional_seconds(seconds, "prolong", "seconds", allow_zero=False)
        await self._run.prolong(extension)

    def on_timeout(self, callback: TimeoutCallback) -> None:
        """Call ``callback()`` at the deadline; a positive number of seconds it
        returns extends the deadline, None or 0 lets the timeout fire."""
        self._run.timeout_callbacks.append(callback)

    async def set_progress(self, percent: float) -> None:
        """Report progress, 0-100 (rounded); a failed write is logged, not raised."""
        if isinstance(percent, bool) or not isinstance(percent, int | float):
            raise TypeError(f"set_progress: percent must be a number, got {percent!r}")
        if not 0 <= percent <= 100:
            raise ValueError(f"set_progress: percent must be 0-100, got {percent!r}")
        try:
            await self._run.set_progress(round(percent))
        except Exception:
            logger.warning(
                "job %s: could not save progress", self.job_id, exc_info=True
            )
