"""Handlers for the durable tests that must be importable by module path
(force-kill children and `dataqueue worker` subprocesses)."""

from __future__ import annotations

from datetime import UTC, datetime
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
