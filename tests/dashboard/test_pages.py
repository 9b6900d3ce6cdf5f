"""The HTML page on every client-side route, the front-end's files, and the
mount point the page is told about."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

import dataqueue as dq
from dataqueue.dashboard import create_app
from dataqueue.dashboard.pages import STATIC_DIR
from tests.dashboard.conftest import BASE, DashboardClient, bearing
from tests.dashboard.jobs import HANDLERS


@pytest.fixture
def store() -> str:
    """Pages and files do not depend on the store: SQLite only."""
    return "sqlite"


@pytest.mark.parametrize(
    "route",
    [
        "/",
        "/queues",
        "/jobs",
        "/jobs/1",
        "/cron",
        "/flows",
        "/flows/00000000-0000-4000-8000-000000000000",
        "/workers",
    ],
)
async def test_every_client_side_route_serves_the_page_filled_in(
    dash: DashboardClient, route: str
) -> None:
    answer = await dash.get(route)

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "no-store"
    assert f'<meta name="dataqueue-base" content="{BASE}">' in answer.text
    assert f'<meta name="dataqueue-csrf" content="{await dash.page_token()}">' in (
        answer.text
    )
    assert "__DATAQUEUE_" not in answer.text


async def test_the_front_ends_files_are_served_with_their_types(
    dash: DashboardClient,
) -> None:
    for name, media_type in [
        ("app.js", "text/javascript"),
        ("app.css", "text/css"),
        ("favicon.svg", "image/svg+xml"),
    ]:
        answer = await dash.get(f"/static/{name}")
        assert answer.status_code == 200, name
        assert answer.headers["content-type"].startswith(media_type), name
        assert answer.content == (STATIC_DIR / name).read_bytes()


async def test_a_mount_elsewhere_is_the_pages_base_path(queue: dq.JobQueue) -> None:
    dashboard, headers = bearing(create_app(queue, HANDLERS))
    site = Starlette(routes=[Mount("/ops/queue", app=dashboard)])
    job_id = await queue.add_job("echo", {})
    transport = httpx.ASGITransport(app=site, client=("127.0.0.1", 1))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://localhost", headers=headers
    ) as client:
        page = await client.get("/ops/queue/")
        job = await client.get(f"/ops/queue/api/jobs/{job_id}")
        document = await client.get("/ops/queue/api/openapi.json")

    assert '<meta name="dataqueue-base" content="/ops/queue">' in page.text
    assert job.json()["job"]["id"] == job_id
    assert document.json()["servers"] == [{"url": "/ops/queue"}]


async def test_at_the_root_the_base_path_is_empty(queue: dq.JobQueue) -> None:
    app, headers = bearing(create_app(queue, HANDLERS, base_path="/"))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://localhost", headers=headers
    ) as client:
        page = await client.get("/")
        listed = await client.get("/api/jobs")

    assert '<meta name="dataqueue-base" content="">' in page.text
    assert listed.status_code == 200


async def test_the_base_path_without_a_slash_leads_to_the_page(
    dash: DashboardClient,
) -> None:
    answer = await dash.http.get(BASE, follow_redirects=True)

    assert answer.status_code == 200
    assert str(answer.url).endswith(f"{BASE}/")
