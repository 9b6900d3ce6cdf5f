"""One process of the dedupe race test: two queues (two connections) on one
store, each adding with the same dedupe key at the same moment, round after
round."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import dataqueue as dq

QUEUES_PER_PROCESS = 2


def race(
    options: dict[str, Any], barrier: Any, mode: str, rounds: int
) -> list[list[int]]:
    """The ids each of this process's callers got, per round."""
    return asyncio.run(_race(options, barrier, mode, rounds))


async def _race(
    options: dict[str, Any], barrier: Any, mode: str, rounds: int
) -> list[list[int]]:
    queues = [dq.connect(**options) for _ in range(QUEUES_PER_PROCESS)]
    window = None if mode == "until_done" else 3600
    got: list[list[int]] = []
    try:
        for n in range(rounds):
            dedupe = dq.Dedupe(f"round:{n}", window=window, mode=mode)  # type: ignore[arg-type]
            # Every caller of every process is at this round before any adds.
            barrier.wait()
            ids = await asyncio.gather(
                *(
                    queue.add_job("race", {"by": f"{os.getpid()}:{i}"}, dedupe=dedupe)
                    for i, queue in enumerate(queues)
                )
            )
            got.append(list(ids))
    finally:
        for queue in queues:
            await queue.close()
    return got
