"""``create_app`` and ``create_wsgi_app``: the dashboard as an ASGI or WSGI app."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, cast

from a2wsgi import ASGIMiddleware
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dataqueue.dashboard._http import Endpoint, error_response
from dataqueue.dashboard._queue import QueueView
from dataqueue.dashboard.api import JSON_ENDPOINTS, Dashboard
from dataqueue.dashboard.openapi import OPENAPI_ENDPOINT, openapi_document
from dataqueue.dashboard.pages import PAGE_ENDPOINTS, STATIC_DIR, read_index_html
from dataqueue.dashboard.security import (
    BASIC_REALM,
    SECURITY_HEADERS,
    Auth,
    allows,
    check_auth,
    csrf_token,
    loopback_refusal,
    new_csrf_secret,
    write_refusal,
)
from dataqueue.dashboard.streams import STREAM_ENDPOINTS
from dataqueue.queue import JobQueue
from dataqueue.sync import SyncJobQueue
from dataqueue.types import Handlers

logger = logging.getLogger("dataqueue.dashboard")

ENDPOINTS: tuple[Endpoint, ...] = (
    *PAGE_ENDPOINTS,
    *JSON_ENDPOINTS,
    *STREAM_ENDPOINTS,
    OPENAPI_ENDPOINT,
)
_BASE_PATH = re.compile(r"(/[A-Za-z0-9._~-]+)*")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def create_app(
    queue: JobQueue | SyncJobQueue,
    handlers: Handlers,
    base_path: str = "/admin/dataqueue",
    auth: Auth | None = None,
    processor_options: Mapping[str, Any] | None = None,
    *,
    csrf_secret: str | bytes | None = None,
) -> Starlette:
    """The dashboard as an ASGI (Starlette) app.

    Args:
        queue: The queue to show, from ``dq.connect()`` (used on the
            server's event loop) or ``dq.connect_sync()``. The app never
            closes it.
        handlers: Job type to handler; "Process jobs" runs one batch with
            them.
        base_path: Where the app is reached when it is not mounted by a
            router that sets the ASGI ``root_path`` (FastAPI's and
            Starlette's ``mount`` do; a hand-written dispatcher may not).
        auth: ``None`` serves loopback clients only. A callable
            ``(request) -> bool`` (or an async one) lets a request in when it
            returns True; a ``("user", "password")`` pair asks for HTTP Basic
            credentials.
        processor_options: Keyword arguments of ``queue.create_processor``
            for "Process jobs" (``batch_size``, ``concurrency``, ``job_type``...).
        csrf_secret: The secret the CSRF token is derived from (16 bytes or
            more). By default a random one per app; give the same value in
            every process when several serve the dashboard.

    Raises:
        ValueError: A malformed ``base_path``, a short ``csrf_secret`` or bad
            ``processor_options``.
        TypeError: ``queue`` is not a dataqueue queue, or ``auth`` has
            another shape.

    Example:
        ``app.mount("/admin/dataqueue", create_app(queue, handlers))``
    """
    base = _check_base_path(base_path)
    checked_auth = check_auth(auth)
    view = QueueView(queue, handlers, processor_options or {})
    token = csrf_token(new_csrf_secret(csrf_secret))
    dashboard = Dashboard(
        queue=view,
        csrf_token=token,
        index_html=read_index_html(),
        openapi=openapi_document(ENDPOINTS, basic_auth=isinstance(checked_auth, tuple)),
    )
    routes: list[BaseRoute] = [endpoint.route(dashboard) for endpoint in ENDPOINTS]
    routes.append(Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"))
    return Starlette(
        routes=routes,
        middleware=[Middleware(Guard, base_path=base, auth=checked_auth, token=token)],
        exception_handlers={HTTPException: _http_error},
    )


def create_wsgi_app(
    queue: JobQueue | SyncJobQueue,
    handlers: Handlers,
    base_path: str = "/admin/dataqueue",
    auth: Auth | None = None,
    processor_options: Mapping[str, Any] | None = None,
    *,
    csrf_secret: str | bytes | None = None,
) -> ASGIMiddleware:
    """The dashboard as a WSGI app (for Flask and other WSGI servers); the
    same arguments as ``create_app``.

    The ASGI app runs on an event loop in a thread of its own (a2wsgi's):
    an async ``queue`` from ``dq.connect()`` is used only there, a
    ``SyncJobQueue`` on its own loop thread as always.
    """
    app = create_app(
        queue, handlers, base_path, auth, processor_options, csrf_secret=csrf_secret
    )
    # a2wsgi types ASGI messages as TypedDicts, Starlette as plain mappings.
    return ASGIMiddleware(cast(Any, app))


def _check_base_path(base_path: object) -> str:
    if not isinstance(base_path, str):
        raise TypeError(f"create_app: base_path must be a str, got {base_path!r}")
    base = base_path.rstrip("/")
    if not _BASE_PATH.fullmatch(base):
        raise ValueError(
            "create_app: base_path must be a URL path such as '/admin/dataqueue' "
            f"(letters, digits and . _ ~ - between slashes), got {base_path!r}"
        )
    return base


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    response = error_response(error.status_code, error.detail)
    response.headers.update(error.headers or {})
    return response


class Guard:
    """Around every request: find the mount point, let in only who may come
    (see ``security``), add the security headers to every answer, and turn
    an unexpected error into a JSON 500 that carries them too."""

    def __init__(
        self, app: ASGIApp, *, base_path: str, auth: Auth | None, token: str
    ) -> None:
        self.app = app
        self.base_path = base_path
        self.auth = auth
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope = self._mounted(scope)
        started = False

        async def send_secured(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                headers.extend(
                    (name.lower().encode(), value.encode())
                    for name, value in SECURITY_HEADERS.items()
                )
                message = {**message, "headers": headers}
            await send(message)

        try:
            refusal = await self._refusal(Request(scope))
            if refusal is not None:
                await refusal(scope, receive, send_secured)
                return
            await self.app(scope, receive, send_secured)
        except Exception:
            if started:
                raise
            logger.exception("dashboard: %s %s failed", scope["method"], scope["path"])
            await error_response(500, "internal error (logged by the server)")(
                scope, receive, send_secured
            )

    def _mounted(self, scope: Scope) -> Scope:
        """Serve under ``base_path`` when no router set the root path (the
        CLI, a hand-written dispatcher): it becomes the root path."""
        root: str = scope.get("root_path", "")
        path: str = scope["path"]
        base = self.base_path
        if not base or root.endswith(base):
            return scope
        local = path[len(root) :] if path.startswith(root) else path
        if local == base or local.startswith(base + "/"):
            return {**scope, "root_path": root + base}
        return scope

    async def _refusal(self, request: Request) -> Response | None:
        if self.auth is None:
            reason = loopback_refusal(request)
            if reason is not None:
                return error_response(403, reason)
        elif not await allows(self.auth, request):
            if isinstance(self.auth, tuple):
                response = error_response(401, "authentication required")
                response.headers["WWW-Authenticate"] = BASIC_REALM
                return response
            return error_response(403, "forbidden: auth= refused this request")
        if request.method not in SAFE_METHODS:
            reason = write_refusal(request, self.token)
            if reason is not None:
                return error_response(403, reason)
        return None
