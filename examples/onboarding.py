"""An onboarding sequence as one durable handler.

A welcome email now, tips a day later, a survey a week after that. Each
email is a step, so it is sent once however often the handler runs again;
the waits pause the job without holding a worker.

Run it: ``python examples/onboarding.py [sqlite:///onboarding.db]``. It uses a
fake clock to move through the eight days in a moment; in production leave
``clock`` out and run ``dataqueue worker examples.onboarding:handlers``.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from typing import Any

import dataqueue as dq
from dataqueue.testing import FakeClock

outbox: list[str] = []


async def send_email(to: str, subject: str) -> str:
    outbox.append(f"{subject} -> {to}")
    return f"sent {subject!r}"


async def onboarding(payload: dict[str, Any], ctx: dq.JobContext) -> list[Any]:
    to = payload["email"]
    receipts = [await ctx.run("welcome", lambda: send_email(to, "Welcome!"))]
    await ctx.wait_for(days=1)
    receipts.append(await ctx.run("tips", lambda: send_email(to, "Three tips")))
    await ctx.wait_for(weeks=1)
    receipts.append(await ctx.run("survey", lambda: send_email(to, "How is it going?")))
    return receipts


handlers = {"onboarding": onboarding}


async def main(url: str) -> None:
    clock = FakeClock()
    async with dq.connect(url, clock=clock) as queue:
        await queue.migrate()
        job_id = await queue.add_job("onboarding", {"email": "ann@example.com"})
        worker = queue.create_processor(handlers)
        for step in [timedelta(0), timedelta(days=1), timedelta(weeks=1)]:
            clock.advance(step)
            await worker.start()
            job = await queue.get_job(job_id)
            assert job is not None
            print(f"{clock.now():%Y-%m-%d}: {job.status.value}, outbox: {outbox}")
        events = [e.event_type.value for e in await queue.get_job_events(job_id)]
        print("events:", " ".join(events))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "sqlite:///onboarding.db"))
