"""One process of the dependency race test: a processor on one store runs
prerequisites while other processes run theirs, until every dependent ran."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import dataqueue as dq


def work(options: dict[str, Any], barrier: Any, dependents: int) -> int:
    """Return how many jobs this process ran."""
    return asyncio.run(_work(options, barrier, dependents))


async def _work(options: dict[str, Any], barrier: Any, dependents: int) -> int:
    queue = dq.connect(**options)
    ran = 0

    def count(payload: Any) -> None:
        nonlocal ran
        ran += 1

    processor = queue.create_processor(
        {"prerequisite": count, "dependent": count},
        concurrency=4,
        batch_size=2,
        poll_interval=0.05,
    )
    barrier.wait()
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if await processor.start() == 0:
                done = await queue.get_jobs(
                    job_type="dependent", status="completed", limit=dependents
                )
                if len(done) == dependents:
                    break
                await asyncio.sleep(0.01)
    finally:
        await queue.close()
    return ran
