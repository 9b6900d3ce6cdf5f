"""Attempts that run alone: a job whose earlier attempt was lost with its
worker (``_transitions.lost_before``) may be the job that killed it, so it
runs with no other attempt of this processor beside it, one such job at a
time, and the processor claims nothing until it has ended. In a processor's
loop it also waits until the outcomes of the attempts before it are
written. A job that kills its worker then takes only itself down, and its
neighbours of the first crash run again without it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager

from dataqueue._transitions import lost_before
from dataqueue.models import JobRecord


class RunsAlone:
    def __init__(self) -> None:
        self._ids: set[int] = set()
        self._one_at_a_time = asyncio.Lock()
        self._changed: asyncio.Future[None] | None = None

    @property
    def waiting(self) -> bool:
        """Whether a job that runs alone is claimed and not yet ended: the
        processor claims no more until then."""
        return bool(self._ids)

    def admit(self, job: JobRecord) -> bool:
        """Note a claimed job; True when it runs alone."""
        if lost_before(job):
            self._ids.add(job.id)
            return True
        return False

    def ended(self, job_id: int) -> None:
        """An attempt of this processor ended (or never started)."""
        self._ids.discard(job_id)
        self.changed()

    def changed(self) -> None:
        """What a waiting turn depends on changed: look again."""
        changed, self._changed = self._changed, None
        if changed is not None and not changed.done():
            changed.set_result(None)

    @asynccontextmanager
    async def turn(
        self, running: Callable[[], Collection[int]], settled: Callable[[], bool]
    ) -> AsyncIterator[None]:
        """One at a time, and each once every attempt in ``running`` (the
        processor's, this one's included) that does not run alone has ended
        and ``settled()`` holds (the one before it too, then)."""
        async with self._one_at_a_time:
            while any(i not in self._ids for i in running()) or not settled():
                if self._changed is None:
                    self._changed = asyncio.get_running_loop().create_future()
                # wait() leaves the shared future be if this task is cancelled
                await asyncio.wait([self._changed])
            yield
