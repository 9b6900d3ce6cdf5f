"""The WSGI form: the ASGI app on a2wsgi's loop thread, with an async queue
used only there, or a blocking queue on its own loop thread."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client
from werkzeug.wrappers import Response

import dataqueue as dq
from dataqueue.dashboard import create_wsgi_app
from tests.conftest import drop_namespace, namespace, store_options
from tests.dashboard.conftest import BASE
from tests.dashboard.jobs import HANDLERS

TOKEN = "the-access-token-of-the-wsgi-tests"
LOOPBACK = {"REMOTE_ADDR": "127.0.0.1"}


@pytest.fixture
def options(store: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """``connect()`` arguments of a migrated namespace on the test's store."""
    ns = namespace()
    chosen = store_options(store, tmp_path, ns)
    with dq.connect_sync(**chosen) as setup:
        setup.migrate()
    try:
        yield chosen
    finally:
        asyncio.run(drop_namespace(store, ns))


@pytest.fixture
def sync_queue(options: dict[str, Any]) -> Iterator[dq.SyncJobQueue]:
    with dq.connect_sync(**options) as queue:
        yield queue


class LocalClient(Client):
    """A WSGI test client from 127.0.0.1 that reads each answer whole while
    the app is still up."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("buffered", True)
        kwargs.setdefault(
            "environ_base", {**LOOPBACK, "HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}
        )
        return super().open(*args, **kwargs)


@contextmanager
def wsgi_client(
    queue: dq.JobQueue | dq.SyncJobQueue, **create: Any
) -> Iterator[Client]:
    app = create_wsgi_app(queue, HANDLERS, access_token=TOKEN, **create)
    try:
        yield LocalClient(app, Response)
    finally:
        loop = app.loop
        if isinstance(queue, dq.JobQueue):
            asyncio.run_coroutine_threadsafe(queue.close(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        while loop.is_running():
            time.sleep(0.01)
        loop.close()


def csrf_token(client: Client, base: str = BASE) -> str:
    page = client.get(base + "/")
    assert page.status_code == 200
    match = re.search(r'name="dataqueue-csrf" content="([^"]+)"', page.text)
    assert match
    return match.group(1)


def post(client: Client, path: str, token: str) -> Any:
    return client.post(
        path,
        headers={"Origin": "http://localhost", "X-DataQueue-CSRF": token},
    )


def test_an_async_queue_runs_on_the_wsgi_apps_own_loop(
    options: dict[str, Any], sync_queue: dq.SyncJobQueue
) -> None:
    job_id = sync_queue.add_job("echo", {"from": "wsgi"})

    with wsgi_client(dq.connect(**options)) as client:
        listed = client.get(f"{BASE}/api/jobs")
        ran = post(client, f"{BASE}/api/process", csrf_token(client))
        shown = client.get(f"{BASE}/api/jobs/{job_id}")

    assert [job["id"] for job in listed.json["jobs"]] == [job_id]
    assert ran.json == {"processed": 1}
    assert shown.json["job"]["output"] == {"echo": {"from": "wsgi"}}
    job = sync_queue.get_job(job_id)
    assert job is not None and job.status is dq.JobStatus.COMPLETED


def test_a_blocking_queue_serves_reads_writes_and_streams(
    sync_queue: dq.SyncJobQueue,
) -> None:
    finished = sync_queue.add_job("echo", {})
    sync_queue.create_processor(HANDLERS).start()
    pending = sync_queue.add_job("echo", {})

    with wsgi_client(sync_queue) as client:
        token = csrf_token(client)
        counts = client.get(f"{BASE}/api/counts")
        cancelled = post(client, f"{BASE}/api/jobs/{pending}/cancel", token)
        stream = client.get(f"{BASE}/api/jobs/{finished}/stream")
        refused = client.get(
            f"{BASE}/api/jobs", environ_base={"REMOTE_ADDR": "198.51.100.4"}
        )

    assert (counts.json["counts"]["completed"], counts.json["counts"]["pending"]) == (
        1,
        1,
    )
    assert cancelled.json["job"]["status"] == "cancelled"
    # Who cancelled it reaches the store through the blocking queue's thread.
    (event,) = [
        e for e in sync_queue.get_job_events(pending) if e.event_type == "cancelled"
    ]
    assert event.metadata == {"by": "access-token"}
    assert stream.headers["content-type"].startswith("text/event-stream")
    events = [block.split("\n")[0] for block in stream.text.split("\n\n") if block]
    assert events == ["event: job", "event: end"]
    assert refused.status_code == 403
    assert refused.headers["content-security-policy"].startswith("default-src 'self'")


def test_mounted_under_a_dispatcher_the_page_knows_its_path(
    sync_queue: dq.SyncJobQueue,
) -> None:
    job_id = sync_queue.add_job("echo", {})
    with wsgi_client(sync_queue, base_path="/ignored") as dashboard:
        site = DispatcherMiddleware(
            lambda environ, start: [], {"/ops/queue": dashboard.application}
        )
        client = LocalClient(site, Response)
        token = csrf_token(client, "/ops/queue")
        page = client.get("/ops/queue/")
        ran = post(client, "/ops/queue/api/process", token)

    assert '<meta name="dataqueue-base" content="/ops/queue">' in page.text
    assert ran.json == {"processed": 1}
    job = sync_queue.get_job(job_id)
    assert job is not None and json.dumps(job.output) == '{"echo": {}}'
