"""One shape for every background loop (processor, supervisor).

``start_in_background()`` creates the task; ``stop()`` asks it to end and is
never lost, even when called before the task has taken its first step,
because the stop flag is cleared only by ``start_in_background()`` and
``run()``, never inside the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod

logger = logging.getLogger("dataqueue")


class Looper(ABC):
    """A loop that runs until ``stop()``; subclasses write ``_loop()``."""

    def __init__(self) -> None:
        self._stop_requested = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def stopping(self) -> bool:
        """True once ``stop()`` was called (until the next start)."""
        return self._stop_requested.is_set()

    @abstractmethod
    async def _loop(self) -> None:
        """Work until ``self.stopping``; wait with ``self._pause()``."""

    async def run(self) -> None:
        """Run in the current task until ``stop()``."""
        self._stop_requested.clear()
        await self._loop()

    def start_in_background(self) -> None:
        """Run the loop as a task on the running event loop."""
        if self.is_running():
            return
        self._stop_requested.clear()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    def stop(self) -> None:
        """Ask the loop to end; work in progress is finished (see drain)."""
        self._stop_requested.set()

    def is_running(self) -> bool:
        """True while the background task runs."""
        return self._task is not None and not self._task.done()

    async def _pause(self, seconds: float | None) -> None:
        """Sleep up to ``seconds`` (None: until stopped), waking at ``stop()``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_requested.wait(), seconds)

    async def _join(self, timeout: float | None) -> None:
        """Wait for the background task to end; cancel it after ``timeout``."""
        task, self._task = self._task, None
        if task is None:
            return
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        elif not task.cancelled() and task.exception() is not None:
            logger.error(
                "%s stopped with an error",
                type(self).__name__,
                exc_info=task.exception(),
            )
