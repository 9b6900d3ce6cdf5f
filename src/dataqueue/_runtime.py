"""Runtime: what the queue facade, processors and supervisors share.

One store, one clock, opened once. Processors and supervisors hold a Runtime,
never the ``JobQueue`` facade, so the facade can be built on top of them
without an import cycle. The maintenance operations live here because both
the facade and the supervisor run them, with values already validated.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from dataqueue._clock import Clock
from dataqueue.backends.protocol import Backend

CLEANUP_BATCH_SIZE = 1000
"""Rows deleted per statement by the cleanup operations."""

WORKER_LOST_MESSAGE = "worker lost: its lease was not refreshed for {seconds:g}s"


class Runtime:
    """A store and a clock, opened on first use."""

    def __init__(self, backend: Backend, clock: Clock) -> None:
        self.backend = backend
        self.clock = clock
        self._opened = False
        self._opening: asyncio.Lock | None = None

    def now(self) -> datetime:
        return self.clock.now()

    async def store(self) -> Backend:
        """The backend, opened (and its schema checked) once."""
        if self._opened:
            return self.backend
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if not self._opened:
                await self.backend.open()
                self._opened = True
        return self.backend

    async def close(self) -> None:
        await self.backend.close()
        self._opened = False

    async def migrate(self) -> None:
        await self.backend.migrate()
        self._opened = False

    # -- maintenance ------------------------------------------------------

    async def reclaim_stuck_jobs(self, threshold_seconds: float) -> int:
        store = await self.store()
        message = WORKER_LOST_MESSAGE.format(seconds=threshold_seconds)
        return await store.reclaim_stuck_jobs(
            threshold_seconds, message, now=self.now()
        )

    async def cleanup_old_jobs(self, keep_seconds: float) -> int:
        store = await self.store()
        before = self.now() - timedelta(seconds=keep_seconds)
        return await store.cleanup_old_jobs(before, CLEANUP_BATCH_SIZE)

    async def cleanup_old_job_events(self, keep_seconds: float) -> int:
        store = await self.store()
        before = self.now() - timedelta(seconds=keep_seconds)
        return await store.cleanup_old_job_events(before, CLEANUP_BATCH_SIZE)

    async def expire_timed_out_tokens(self) -> int:
        store = await self.store()
        return await store.expire_timed_out_tokens(now=self.now())
