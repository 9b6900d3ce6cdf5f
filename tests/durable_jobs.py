"""Handlers for the durable tests that must be importable by module path
(force-kill children and `dataqueue worker` subprocesses)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dataqueue as dq


def force_killed_durable(payload: Any, ctx: Any) -> list[str]:
    """Every durable call raises UnsupportedInForceKill in a force-kill child."""
    refused = []
    calls = {
        "run": lambda: ctx.run("s", lambda: 1),
        "wait_for": lambda: ctx.wait_for(seconds=1),
        "wait_until": lambda: ctx.wait_until(datetime(2030, 1, 1, tzinfo=UTC)),
        "create_token": lambda: ctx.create_token(),
        "wait_for_token": lambda: ctx.wait_for_token("tok"),
    }
    for name, call in calls.items():
        try:
            call()
        except dq.UnsupportedInForceKill:
            refused.append(name)
    return refused


def _record(kind: str, n: int) -> None:
    folder = Path(os.environ["DQ_TEST_RUNS_DIR"])
    with open(folder / f"{kind}-{os.getpid()}.txt", "a", encoding="utf-8") as f:
        f.write(f"{n}\n")


async def two_steps(payload: dict[str, Any], ctx: dq.JobContext) -> list[str]:
    """Dies between its two steps the first time (a crash after step one)."""
    n = payload["n"]

    def first() -> str:
        _record("first", n)
        return "charged"

    charged = await ctx.run("first", first)
    crashed = Path(os.environ["DQ_TEST_RUNS_DIR"]) / f"crashed-{n}"
    if not crashed.exists():
        crashed.touch()
        os._exit(1)

    def second() -> str:
        _record("second", n)
        return "shipped"

    shipped = await ctx.run("second", second)
    return [str(charged), str(shipped)]


handlers = {"two_steps": two_steps}
