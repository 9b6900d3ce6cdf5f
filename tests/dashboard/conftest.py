"""A dashboard over the test's queue, and a client that speaks to it like
the dashboard's own page: from loopback, with the access token's cookie,
same origin, with its session's CSRF token."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

import dataqueue as dq
from dataqueue.dashboard import create_app
from dataqueue.dashboard.security import cookie_name
from tests.dashboard.jobs import HANDLERS, Gate

BASE = "/admin/dataqueue"
ORIGIN = "http://127.0.0.1"
CSP = "content-security-policy"


class DashboardClient:
    """An httpx client of one dashboard app, in-process."""

    def __init__(self, client: httpx.AsyncClient, base: str = BASE) -> None:
        self.http = client
        self.base = base
        self.token = ""

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.get(self.base + path, **kwargs)

    async def page_token(self) -> str:
        page = await self.get("/")
        assert page.status_code == 200, page.text
        match = re.search(r'<meta name="dataqueue-csrf" content="([^"]*)">', page.text)
        assert match, "the page has no CSRF meta tag"
        return match.group(1)

    async def post(
        self, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """A POST as the page sends it (same origin, CSRF header), with any
        header replaced or removed (value "") by ``headers``."""
        if not self.token:
            self.token = await self.page_token()
        sent = {"Origin": ORIGIN, "X-DataQueue-CSRF": self.token}
        sent.update(headers or {})
        sent = {name: value for name, value in sent.items() if value}
        return await self.http.post(self.base + path, json=body, headers=sent)


@asynccontextmanager
async def dashboard_client(
    app: Any,
    *,
    client_address: tuple[str, int] = ("127.0.0.1", 40000),
    host: str = "127.0.0.1",
    base: str = BASE,
) -> AsyncIterator[DashboardClient]:
    transport = httpx.ASGITransport(app=app, client=client_address)
    async with httpx.AsyncClient(
        transport=transport, base_url=f"http://{host}"
    ) as client:
        token = access_token_of(app)
        if token is not None:
            client.cookies.set(cookie_name("access", token), token)
        yield DashboardClient(client, base)


def access_token_of(app: Any) -> str | None:
    """The access token of a dashboard made without ``auth=``."""
    token: str | None = app.state.access_token
    return token


def bearing(app: Any) -> tuple[Any, dict[str, str]]:
    """``app`` and the headers that show its access token, for ``served``."""
    return app, {"Authorization": f"Bearer {access_token_of(app)}"}


MakeDashboard = Callable[..., Awaitable[DashboardClient]]


@pytest.fixture
async def make_dashboard(
    queue: dq.JobQueue,
) -> AsyncIterator[MakeDashboard]:
    """``await make_dashboard(**create_app options)``: a client of a new
    dashboard over the test's queue."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(**options: Any) -> DashboardClient:
            app = create_app(queue, options.pop("handlers", HANDLERS), **options)
            return await stack.enter_async_context(dashboard_client(app))

        yield make


@pytest.fixture
async def dash(make_dashboard: MakeDashboard) -> DashboardClient:
    return await make_dashboard()


@pytest.fixture
def gate() -> Iterator[asyncio.Event]:
    """Holds ``stepping`` jobs at 50% until set (set at the end anyway)."""
    Gate.event = asyncio.Event()
    try:
        yield Gate.event
    finally:
        Gate.event.set()
        Gate.event = None
