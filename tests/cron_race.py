"""One process of the cron race test: two queues (two processors' worth of
callers) on one store, enqueueing due schedules at shared simulated instants."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import dataqueue as dq

QUEUES_PER_PROCESS = 2


class StepClock:
    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current


def race(options: dict[str, Any], barrier: Any, start: datetime, ticks: int) -> int:
    """Return how many jobs this process enqueued."""
    return asyncio.run(_race(options, barrier, start, ticks))


async def _race(
    options: dict[str, Any], barrier: Any, start: datetime, ticks: int
) -> int:
    clock = StepClock(start)
    queues = [dq.connect(**options, clock=clock) for _ in range(QUEUES_PER_PROCESS)]
    enqueued = 0
    try:
        for tick in range(1, ticks + 1):
            clock.current = start + timedelta(minutes=tick)
            # Every caller of every process is at this instant before any
            # of them enqueues.
            barrier.wait()
            counts = await asyncio.gather(
                *(queue.enqueue_due_cron_jobs() for queue in queues)
            )
            enqueued += sum(counts)
    finally:
        for queue in queues:
            await queue.close()
    return enqueued
