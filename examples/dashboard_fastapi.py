"""The dashboard mounted in a FastAPI app.

The app adds jobs from its own route (``POST /signup``); the dashboard,
mounted at ``/admin/dataqueue``, shows them and runs them ("Process jobs").
FastAPI's ``mount`` tells the dashboard where it lives, so its links follow.

Run it: ``python examples/dashboard_fastapi.py [sqlite:///dashboard.db] [8000]``
with ``DATAQUEUE_DASHBOARD_TOKEN`` set to a long random string, and open
http://127.0.0.1:8000/admin/dataqueue/?token=<that string>. Without
``auth=`` the dashboard answers loopback clients that show this token only;
see docs/dashboard.md for auth.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

import dataqueue as dq
from dataqueue.dashboard import create_app

URL = sys.argv[1] if len(sys.argv) > 1 else "sqlite:///dashboard.db"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000

queue = dq.connect(URL)


async def send_welcome(payload: dict[str, Any], ctx: dq.JobContext) -> dict[str, Any]:
    await ctx.set_progress(50)
    return {"sent_to": payload["to"]}


handlers = {"send_welcome": send_welcome}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await queue.migrate()  # needed once on PostgreSQL; harmless elsewhere
    yield
    await queue.close()


app = FastAPI(lifespan=lifespan)
app.mount(
    "/admin/dataqueue",
    create_app(
        queue,
        handlers,
        processor_options={"batch_size": 20},
        access_token=os.environ.get("DATAQUEUE_DASHBOARD_TOKEN"),
    ),
)


@app.post("/signup")
async def signup(email: str) -> dict[str, int]:
    job_id = await queue.add_job("send_welcome", {"to": email}, tags=["welcome"])
    return {"job_id": job_id}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=PORT)
