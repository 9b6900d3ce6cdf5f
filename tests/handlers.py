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


NOT_A_HANDLER_MAP = {"a": 5}


async def report_in_child(payload: Any, ctx: Any) -> str:
    await ctx.set_output({"pages": 3})
    return "ignored: set_output wins"
