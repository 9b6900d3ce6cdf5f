"""Serving an ASGI app for real (uvicorn on a free loopback port, in the
test's event loop, so it shares the test's queue) and reading its events."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import uvicorn
from starlette.types import ASGIApp

from tests.conftest import eventually


@asynccontextmanager
async def served(app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``app`` served over HTTP on 127.0.0.1."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", lifespan="off", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[listener]))

    async def started() -> bool:
        if serving.done():
            serving.result()
        return server.started

    await eventually(started)
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=10
        ) as client:
            yield client
    finally:
        server.should_exit = True
        await serving
        listener.close()


@dataclass
class Received:
    """One block of a ``text/event-stream``: an event, or a comment."""

    event: str | None = None
    id: str | None = None
    data: str | None = None
    comment: str | None = None


async def received(response: httpx.Response) -> AsyncIterator[Received]:
    """The events and comments of a streamed response, until it ends."""
    block = Received()
    async for line in response.aiter_lines():
        if line == "":
            if block != Received():
                yield block
            block = Received()
        elif line.startswith(":"):
            block.comment = line[1:].strip()
        else:
            name, _, value = line.partition(": ")
            assert name in ("event", "id", "data"), line
            if name == "data" and block.data is not None:
                block.data += "\n" + value
            else:
                setattr(block, name, value)
    if block != Received():
        yield block
