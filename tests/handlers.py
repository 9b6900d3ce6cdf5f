"""Handlers importable by module path, for force-kill and worker tests."""

from __future__ import annotations

import time
from typing import Any


def hang_forever(payload: Any) -> None:
    while True:
        time.sleep(1)


async def square_with_progress(payload: dict[str, int], ctx: Any) -> int:
    await ctx.set_progress(50)
    return payload["n"] ** 2


def explode(payload: Any) -> None:
    raise RuntimeError("exploded in child")
