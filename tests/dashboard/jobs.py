"""Handlers the dashboard tests run (importable by module path for the CLI)."""

from __future__ import annotations

import asyncio
from typing import Any

import dataqueue as dq


class Gate:
    """Where a test holds the ``stepping`` handler at 50% (an event of the
    test's own loop; None lets it through)."""

    event: asyncio.Event | None = None


async def echo(payload: Any) -> Any:
    return {"echo": payload}


async def boom(payload: Any) -> None:
    raise RuntimeError("boom <b>bold</b>")


async def approval(payload: Any, ctx: dq.JobContext) -> Any:
    token = await ctx.create_token(timeout=3600)
    result = await ctx.wait_for_token(token.id)
    return {"approved": result.output}


async def stepping(payload: Any, ctx: dq.JobContext) -> str:
    await ctx.set_progress(50)
    if Gate.event is not None:
        await Gate.event.wait()
    await ctx.set_progress(100)
    return "done"


HANDLERS = {"echo": echo, "boom": boom, "approval": approval, "stepping": stepping}
