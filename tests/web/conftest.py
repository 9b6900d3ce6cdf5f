"""Serving an ASGI app for real (uvicorn on a free loopback port, in the
test's event loop, so it shares the test's queue), reading its events, and
a Redis queue whose connection can be cut."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import uvicorn
from starlette.types import ASGIApp

import dataqueue as dq
from dataqueue.web import job_handle
from tests.conftest import (
    REDIS_URL,
    drop_namespace,
    eventually,
    namespace,
    open_store,
    store_options,
)
from tests.faults import StoreProxy


@asynccontextmanager
async def served(
    app: ASGIApp, headers: dict[str, str] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``app`` served over HTTP on 127.0.0.1, sending ``headers``
    with every request."""
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
            base_url=f"http://127.0.0.1:{port}", timeout=10, headers=headers
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


@asynccontextmanager
async def cuttable_queues(
    tmp_path: Path,
) -> AsyncIterator[tuple[dq.JobQueue, dq.JobQueue, StoreProxy]]:
    """Two queues on one Redis namespace: one reached directly, one through
    a proxy that can be cut. Redis fails a read at once; PostgreSQL raises
    the same StoreUnavailableError after its pool's 10 s wait."""
    store = "redis"
    ns = namespace()
    direct = await open_store(store, tmp_path, None, ns)
    target = urlsplit(REDIS_URL)
    assert target.hostname is not None and target.port is not None
    async with StoreProxy(target.hostname, target.port) as proxy:
        options = store_options(store, tmp_path, ns)
        options["url"] = _through(proxy, options["url"])
        flaky = dq.connect(**options)
        try:
            yield direct, flaky, proxy
        finally:
            await flaky.close()
            await direct.close()
            await drop_namespace(store, ns)


def _through(proxy: StoreProxy, url: str) -> str:
    parts = urlsplit(url)
    credentials, _, _ = parts.netloc.rpartition("@")
    host = f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=f"{credentials}@{host}".lstrip("@")))


SECRET = "status-app-test-secret-0123456789"


def handle_of(queue: dq.JobQueue, job_id: int, expires_in: float = 3600) -> str:
    """A handle for ``job_id`` made at the queue's (test) clock's now."""
    return job_handle(
        job_id, secret=SECRET, expires_in=expires_in, now=queue.clock.now()
    )
