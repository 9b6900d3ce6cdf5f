"""job_status_app mounted the ways docs/web.md shows: under a path of a
FastAPI app, and in Flask through a2wsgi."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from a2wsgi import ASGIMiddleware
from fastapi import FastAPI
from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

import dataqueue as dq
from dataqueue.web import job_handle, job_status_app
from tests.web.conftest import SECRET, handle_of


async def test_fastapi_serves_it_under_a_mount_path(queue: dq.JobQueue) -> None:
    job_id = await queue.add_job("report", None)
    await queue.cancel_job(job_id)
    handle = handle_of(queue, job_id)
    app = FastAPI()
    app.mount("/api", job_status_app(queue, secret=SECRET))

    @app.get("/")
    def home() -> dict[str, str]:
        return {"page": "home"}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://site") as client:
        job = await client.get(f"/api/jobs/{handle}")
        stream = await client.get(f"/api/jobs/{handle}/stream")
        home_page = await client.get("/")
    assert job.json()["status"] == "cancelled"
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert "event: job" in stream.text
    assert home_page.json() == {"page": "home"}


@pytest.fixture
def loop_thread() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running in its own thread, as a2wsgi uses one."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def test_flask_serves_it_through_a2wsgi(
    tmp_path: Path, loop_thread: asyncio.AbstractEventLoop
) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    with dq.connect_sync(url) as views_queue:
        job_id = views_queue.add_job("report", None)
        views_queue.cancel_job(job_id)
        handle = job_handle(job_id, secret=SECRET, expires_in=60)
        # The status app's own async queue, used on a2wsgi's loop only.
        status_queue = dq.connect(url)
        app = Flask(__name__)

        @app.get("/")
        def home() -> str:
            return "home"

        app.wsgi_app = DispatcherMiddleware(
            app.wsgi_app,
            {
                "/api": ASGIMiddleware(
                    job_status_app(status_queue, secret=SECRET), loop=loop_thread
                )
            },
        )
        client = app.test_client()
        try:
            # Buffered: each response is read whole while a2wsgi's loop runs.
            job = client.get(f"/api/jobs/{handle}", buffered=True)
            stream = client.get(f"/api/jobs/{handle}/stream", buffered=True)
            missing = client.get("/api/jobs/abc", buffered=True)
            home_page = client.get("/")
        finally:
            asyncio.run_coroutine_threadsafe(status_queue.close(), loop_thread).result(
                10
            )
    assert job.get_json()["status"] == "cancelled"
    assert stream.mimetype == "text/event-stream"
    assert b"event: job" in stream.data
    assert missing.status_code == 404
    assert home_page.text == "home"
