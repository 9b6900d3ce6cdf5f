"""A real dashboard in a real browser.

The dashboard runs under uvicorn in a thread of its own, with an async queue
opened on that thread's loop, on a free loopback port. Each test seeds and
watches the same store through a blocking queue of its own, and drives the
page with Playwright through Debian's Chromium (never a downloaded browser).
Screenshots go to ``$DATAQUEUE_ARTIFACTS`` (default: ``artifacts/`` here).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    sync_playwright,
)

import dataqueue as dq
from dataqueue.dashboard import create_app
from dataqueue.dashboard.security import cookie_name
from tests.conftest import drop_namespace, namespace, open_store, store_options
from tests.dashboard.browser import handlers

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BASE_PATH = "/admin/dataqueue"
ARTIFACTS = Path(
    os.environ.get("DATAQUEUE_ARTIFACTS") or Path(__file__).parent / "artifacts"
)
LAPTOP = {"width": 1366, "height": 860}
# Every test's dashboard takes this token; each browser context holds its
# cookie, as after opening the URL the CLI prints.
ACCESS_TOKEN = secrets.token_urlsafe(32)


@dataclass
class Dashboard:
    """A served dashboard: its page URL, a blocking queue on its store, and
    the ``connect`` arguments of that store (to open more queues on it)."""

    url: str
    queue: dq.SyncJobQueue
    store: str
    options: dict[str, Any]

    def at(self, path: str) -> str:
        """The address of the dashboard route ``path`` (``/``, ``/cron``...)."""
        return self.url + path


class Server:
    """uvicorn serving ``create_app`` on a loop of its own, in a thread."""

    def __init__(
        self, store: str, tmp_path: Path, ns: str, *, read_only: bool = False
    ) -> None:
        self._read_only = read_only
        self._tmp_path = tmp_path
        self._ns = ns
        self._store = store
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self._server: uvicorn.Server | None = None
        self._started = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._started.wait(30) or self._failure is not None:
            raise RuntimeError("the dashboard did not start") from self._failure

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(30)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:
            self._failure = error
            self._started.set()

    async def _serve(self) -> None:
        queue = await open_store(self._store, self._tmp_path, None, self._ns)
        try:
            app = create_app(
                queue,
                handlers.HANDLERS,
                base_path=BASE_PATH,
                access_token=ACCESS_TOKEN,
                read_only=self._read_only,
            )
            config = uvicorn.Config(
                app,
                log_level="warning",
                ws="none",
                lifespan="off",
                timeout_graceful_shutdown=1,
            )
            self._server = uvicorn.Server(config)
            serving = asyncio.ensure_future(self._server.serve(sockets=[self._socket]))
            while not self._server.started and not serving.done():
                await asyncio.sleep(0.01)
            self._started.set()
            await serving
        finally:
            await queue.close()
            # Here, not in the test's thread: Playwright's loop runs there.
            await drop_namespace(self._store, self._ns)


def serve(
    store: str, tmp_path: Path, *, read_only: bool = False
) -> Iterator[Dashboard]:
    ns = namespace()
    server = Server(store, tmp_path, ns, read_only=read_only)
    server.start()
    options = store_options(store, tmp_path, ns)
    queue = dq.connect_sync(**options)
    try:
        url = f"http://127.0.0.1:{server.port}{BASE_PATH}"
        yield Dashboard(url, queue, store, options)
    finally:
        queue.close()
        server.stop()


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``check`` until it holds; fail after ``timeout`` seconds (the
    blocking twin of ``tests.conftest.eventually``)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition still false after {timeout}s")
        time.sleep(0.02)


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[Dashboard]:
    """The dashboard on SQLite."""
    yield from serve("sqlite", tmp_path)


@pytest.fixture
def read_only_dashboard(tmp_path: Path) -> Iterator[Dashboard]:
    """A read-only dashboard on SQLite."""
    yield from serve("sqlite", tmp_path, read_only=True)


@pytest.fixture(
    params=[
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def server_store_dashboard(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Dashboard]:
    """The dashboard on PostgreSQL, then on Redis."""
    yield from serve(str(request.param), tmp_path)


# Package scope, not session: while Playwright's sync API is open its event
# loop counts as running in this thread, which async tests elsewhere refuse.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        raise RuntimeError(
            f"{CHROMIUM} is missing; install it with: apt-get install -y chromium"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@dataclass
class PageProblems:
    """What went wrong inside the page: script errors, console errors
    (CSP violations among them)."""

    messages: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)

    def allow(self, fragment: str) -> None:
        self.allowed.append(fragment)

    def unexpected(self) -> list[str]:
        return [m for m in self.messages if not any(a in m for a in self.allowed)]


@pytest.fixture
def problems() -> PageProblems:
    return PageProblems()


@pytest.fixture
def page(browser: Browser, problems: PageProblems) -> Iterator[Page]:
    context = signed_in(browser, viewport=LAPTOP, color_scheme="light")
    opened = context.new_page()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.messages.append(message.text)

    opened.on("console", on_console)
    opened.on("pageerror", lambda error: problems.messages.append(str(error)))
    opened.set_default_timeout(10_000)
    try:
        yield opened
    finally:
        context.close()
    assert problems.unexpected() == []


def signed_in(browser: Browser, **options: Any) -> BrowserContext:
    """A browser context holding the dashboards' access cookie, as after
    opening the URL with ``?token=`` once."""
    context = browser.new_context(**options)
    context.add_cookies(
        [
            {
                "name": cookie_name("access", ACCESS_TOKEN),
                "value": ACCESS_TOKEN,
                "url": "http://127.0.0.1",
            }
        ]
    )
    return context


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def snap(artifacts: Path) -> Callable[[Page, str], Path]:
    """Save a full-page screenshot named ``name`` among the artifacts."""

    def take(page: Page, name: str) -> Path:
        target = artifacts / f"{name}.png"
        page.screenshot(path=str(target), full_page=True)
        return target

    return take
