"""Handlers of the served dashboard's "Process jobs" button and of the
processors the tests run themselves."""

from __future__ import annotations

import threading
from typing import Any

import dataqueue as dq


async def send_email(payload: Any, ctx: dq.JobContext) -> dict[str, Any]:
    return {"sent_to": payload["to"]}


async def always_fails(payload: Any, ctx: dq.JobContext) -> None:
    raise RuntimeError("the mail server said no")


async def needs_approval(payload: Any, ctx: dq.JobContext) -> dict[str, Any]:
    token = await ctx.create_token(timeout="1h", tags=["approval"])
    answer = await ctx.wait_for_token(token.id)
    return {"approved": answer.output}


HANDLERS = {
    "send_email": send_email,
    "always_fails": always_fails,
    "needs_approval": needs_approval,
}


class ProgressGate:
    """A handler that reports progress one step at a time, each step let
    through by the test, so the page can be watched between steps."""

    def __init__(self, steps: list[int]) -> None:
        self.steps = steps
        self._go = threading.Semaphore(0)

    def release(self) -> None:
        self._go.release()

    def handler(self, payload: Any, ctx: dq.SyncJobContext) -> dict[str, Any]:
        for percent in self.steps:
            if not self._go.acquire(timeout=30):
                raise TimeoutError("the test never let the next step through")
            ctx.set_progress(percent)
        self._go.acquire(timeout=30)
        return {"rows": 1200}
