"""A real job_status_app over SQLite for the dataqueue-react tests.

Serves the status app under ``/api`` and, under ``/control``, the routes the
tests steer jobs with, by the handles it hands out. Jobs of type ``steered`` are run by a processor in
this process, one command at a time: each progress, complete or fail command
sent for a job is carried out by its running handler. Jobs of any other type
stay pending (no handler runs them). ``GET /control/hits`` counts the
requests the status app received per path, so tests can prove that polling
stopped. Prints ``listening on <url>`` once it serves.

Usage: python server.py DATABASE_FILE
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from collections import Counter, defaultdict
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

import dataqueue as dq
from dataqueue.web import job_handle, job_status_app

Command = tuple[str, Any]
SECRET = "dataqueue-react-test-secret"


class HitCounter:
    """Counts requests per path in ``hits`` on their way to ``app``."""

    def __init__(self, app: ASGIApp, hits: Counter[str]) -> None:
        self.app = app
        self.hits = hits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.hits[scope["path"]] += 1
        await self.app(scope, receive, send)


def control_app(
    queue: dq.JobQueue, commands: dict[int, asyncio.Queue[Command]], hits: Counter[str]
) -> Starlette:
    ids: dict[str, int] = {}

    async def add(request: Request) -> JSONResponse:
        body = await request.json()
        job_id = await queue.add_job(
            body.get("job_type", "steered"),
            None,
            max_attempts=body.get("max_attempts", 1),
            retry_delay=0,
        )
        handle = job_handle(job_id, secret=SECRET, expires_in=3600)
        ids[handle] = job_id
        return JSONResponse({"handle": handle})

    async def command(request: Request) -> JSONResponse:
        job_id = ids[request.path_params["handle"]]
        kind = request.path_params["kind"]
        if kind == "cancel":
            await queue.cancel_job(job_id)
        else:
            commands[job_id].put_nowait((kind, await request.json()))
        return JSONResponse({"ok": True})

    async def count(request: Request) -> JSONResponse:
        return JSONResponse({"count": hits[request.query_params["path"]]})

    return Starlette(
        routes=[
            Route("/jobs", add, methods=["POST"]),
            Route("/jobs/{handle}/{kind}", command, methods=["POST"]),
            Route("/hits", count),
        ]
    )


async def serve(database: str) -> None:
    commands: dict[int, asyncio.Queue[Command]] = defaultdict(asyncio.Queue)

    async def steered(payload: Any, ctx: dq.JobContext) -> Any:
        while True:
            kind, body = await commands[ctx.job_id].get()
            if kind == "progress":
                await ctx.set_progress(body["progress"])
            elif kind == "complete":
                return body.get("output")
            elif kind == "fail":
                raise RuntimeError(body["message"])

    async with dq.connect(f"sqlite:///{database}") as queue:
        processor = queue.create_processor(
            {"steered": steered}, job_type="steered", concurrency=50, poll_interval=0.05
        )
        hits: Counter[str] = Counter()
        app = Starlette(
            routes=[
                Mount("/api", job_status_app(queue, secret=SECRET, poll_interval=0.05)),
                Mount("/control", control_app(queue, commands, hits)),
            ]
        )
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        # Listening now: connections made before uvicorn accepts them wait.
        listener.listen()
        host, port = listener.getsockname()
        server = uvicorn.Server(
            uvicorn.Config(
                HitCounter(app, hits), log_level="warning", timeout_graceful_shutdown=1
            )
        )
        processor.start_in_background()
        print(f"listening on http://{host}:{port}", flush=True)
        try:
            await server.serve(sockets=[listener])
        finally:
            await processor.stop_and_drain(1)


if __name__ == "__main__":
    # Failed attempts are the tests' own fail commands; their tracebacks are noise.
    logging.getLogger("dataqueue").setLevel(logging.CRITICAL)
    asyncio.run(serve(sys.argv[1]))
