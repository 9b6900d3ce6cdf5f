"""``create_app`` and ``create_wsgi_app``: the dashboard as an ASGI or WSGI app."""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Mapping
from http.cookies import SimpleCookie
from typing import Any, cast
from urllib.parse import urlencode

from a2wsgi import ASGIMiddleware
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dataqueue.dashboard._http import Endpoint, error_response
from dataqueue.dashboard._queue import QueueView
from dataqueue.dashboard.api import (
    JSON_ENDPOINTS,
    MAX_STREAMS,
    MAX_STREAMS_PER_CLIENT,
    Dashboard,
)
from dataqueue.dashboard.audit import IDENTITY_KEY, identity_of
from dataqueue.dashboard.openapi import OPENAPI_ENDPOINT, openapi_document
from dataqueue.dashboard.operate import OPERATE_ENDPOINTS
from dataqueue.dashboard.pages import PAGE_ENDPOINTS, STATIC_DIR, read_index_html
from dataqueue.dashboard.security import (
    ACCESS_QUERY,
    BASIC_REALM,
    SECURITY_HEADERS,
    Auth,
    allows,
    carries_token,
    check_auth,
    cookie_name,
    csrf_token,
    loopback_refusal,
    new_access_token,
    new_csrf_secret,
    new_session,
    write_refusal,
)
from dataqueue.dashboard.streams import STREAM_ENDPOINTS
from dataqueue.queue import JobQueue
from dataqueue.sync import SyncJobQueue
from dataqueue.types import Handlers
from dataqueue.web import StreamLimits

logger = logging.getLogger("dataqueue.dashboard")

ENDPOINTS: tuple[Endpoint, ...] = (
    *PAGE_ENDPOINTS,
    *JSON_ENDPOINTS,
    *OPERATE_ENDPOINTS,
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
    access_token: str | None = None,
    read_only: bool = False,
) -> Starlette:
    """The dashboard as an ASGI (Starlette) app.

    Args:
        queue: The queue to show, from ``dq.connect()`` (used on the
            server's event loop) or ``dq.connect_sync()``. The app never
            closes it.
        handlers: Job type to handler; "Process jobs" runs one batch with
            them (of these job types only). Without handlers the page has
            no "Process jobs" button.
        base_path: Where the app is reached when it is not mounted by a
            router that sets the ASGI ``root_path`` (FastAPI's and
            Starlette's ``mount`` do; a hand-written dispatcher may not).
        auth: ``None`` serves loopback clients that show the access token
            only (never through a proxy). A callable ``(request) -> bool``
            (or an async one) lets a request in when it returns exactly True;
            a ``("user", "password")`` pair asks for HTTP Basic credentials.
        processor_options: Keyword arguments of ``queue.create_processor``
            for "Process jobs" (``batch_size``, ``concurrency``, ``job_type``...).
        csrf_secret: The secret the CSRF token is derived from (16 bytes or
            more). By default a random one per app; give the same value in
            every process when several serve the dashboard.
        access_token: With ``auth=None``, the token a browser shows once as
            ``?token=`` (then kept in a cookie) or an API client as
            ``Authorization: Bearer``. By default a random one per app, read
            from ``app.state.access_token``.
        read_only: Show everything, change nothing: every POST is refused
            (403) and the page offers no action.

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
    if checked_auth is not None and access_token is not None:
        raise ValueError("create_app: access_token is for auth=None only")
    token = None if checked_auth is not None else new_access_token(access_token)
    if token is not None and access_token is None:
        logger.warning(
            "dataqueue dashboard created without auth=: it serves only loopback "
            "requests that show its random access token (app.state.access_token); "
            "give auth= to let your users in"
        )
    if not isinstance(read_only, bool):
        raise TypeError(
            f"create_app: read_only must be True or False, got {read_only!r}"
        )
    view = QueueView(queue, handlers, processor_options or {})
    dashboard = Dashboard(
        queue=view,
        index_html=read_index_html(
            can_process=bool(view.handlers), read_only=read_only
        ),
        openapi=openapi_document(ENDPOINTS, basic_auth=isinstance(checked_auth, tuple)),
        streams=StreamLimits(MAX_STREAMS, MAX_STREAMS_PER_CLIENT, "create_app"),
    )
    routes: list[BaseRoute] = [endpoint.route(dashboard) for endpoint in ENDPOINTS]
    routes.append(Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"))
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                Guard,
                base_path=base,
                auth=checked_auth,
                access_token=token,
                csrf_secret=new_csrf_secret(csrf_secret),
                read_only=read_only,
            )
        ],
        exception_handlers={HTTPException: _http_error},
    )
    app.state.access_token = token
    return app


def create_wsgi_app(
    queue: JobQueue | SyncJobQueue,
    handlers: Handlers,
    base_path: str = "/admin/dataqueue",
    auth: Auth | None = None,
    processor_options: Mapping[str, Any] | None = None,
    *,
    csrf_secret: str | bytes | None = None,
    access_token: str | None = None,
    read_only: bool = False,
) -> ASGIMiddleware:
    """The dashboard as a WSGI app (for Flask and other WSGI servers); the
    same arguments as ``create_app``.

    The ASGI app runs on an event loop in a thread of its own (a2wsgi's):
    an async ``queue`` from ``dq.connect()`` is used only there, a
    ``SyncJobQueue`` on its own loop thread as always.
    """
    app = create_app(
        queue,
        handlers,
        base_path,
        auth,
        processor_options,
        csrf_secret=csrf_secret,
        access_token=access_token,
        read_only=read_only,
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
    (see ``security``), keep the browser's session, add the security headers
    to every answer, and turn an unexpected error into a JSON 500 that
    carries them too."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        base_path: str,
        auth: Auth | None,
        access_token: str | None,
        csrf_secret: bytes,
        read_only: bool,
    ) -> None:
        self.app = app
        self.read_only = read_only
        self.base_path = base_path
        self.auth = auth
        self.access_token = access_token
        self.access_cookie = cookie_name("access", access_token or csrf_secret)
        self.csrf_secret = csrf_secret
        self.session_cookie = cookie_name("session", csrf_secret)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            # Nothing here speaks websocket; refuse before any check is
            # skipped for a scope that is not HTTP.
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope = self._mounted(scope)
        request = Request(scope)
        cookies: list[str] = []
        session = request.cookies.get(self.session_cookie)
        if session is None or len(session) > 64:
            session = new_session()
            cookies.append(self._cookie(request, self.session_cookie, session))
        scope["dataqueue.csrf_token"] = csrf_token(self.csrf_secret, session)
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
                headers.extend((b"set-cookie", cookie.encode()) for cookie in cookies)
                message = {**message, "headers": headers}
            await send(message)

        try:
            refusal = await self._refusal(request, cookies)
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
            return {**scope}
        local = path[len(root) :] if path.startswith(root) else path
        if local == base or local.startswith(base + "/"):
            return {**scope, "root_path": root + base}
        return {**scope}

    def _cookie(self, request: Request, name: str, value: str) -> str:
        cookie: SimpleCookie = SimpleCookie()
        cookie[name] = value
        morsel = cookie[name]
        morsel["path"] = request.scope.get("root_path") or "/"
        morsel["httponly"] = True
        morsel["samesite"] = "Strict"
        if request.url.scheme == "https":
            morsel["secure"] = True
        return morsel.OutputString()

    async def _refusal(self, request: Request, cookies: list[str]) -> Response | None:
        if self.access_token is not None:
            refusal = self._access_refusal(request, self.access_token, cookies)
            if refusal is not None:
                return refusal
        elif self.auth is not None and not await allows(self.auth, request):
            if isinstance(self.auth, tuple):
                response = error_response(401, "authentication required")
                response.headers["WWW-Authenticate"] = BASIC_REALM
                return response
            return error_response(403, "forbidden: auth= refused this request")
        request.scope[IDENTITY_KEY] = identity_of(
            request,
            basic=isinstance(self.auth, tuple),
            token=self.access_token is not None,
        )
        if request.method not in SAFE_METHODS:
            if self.read_only:
                return error_response(403, "this dashboard is read-only")
            # A session made by this very request has no page, so no token.
            known = self.session_cookie in request.cookies
            token = request.scope["dataqueue.csrf_token"] if known else None
            reason = write_refusal(request, token)
            if reason is not None:
                return error_response(403, reason)
        return None

    def _access_refusal(
        self, request: Request, token: str, cookies: list[str]
    ) -> Response | None:
        """Without ``auth``: loopback only, and only with the access token.
        ``?token=`` is traded for a cookie and a redirect to the URL without
        it, so it stays out of the history and of Referer headers."""
        reason = loopback_refusal(request)
        if reason is not None:
            return error_response(403, reason)
        shown = request.query_params.get(ACCESS_QUERY)
        if shown is not None and request.method in SAFE_METHODS:
            if not hmac.compare_digest(shown.encode(), token.encode()):
                return error_response(403, "wrong access token")
            cookies.append(self._cookie(request, self.access_cookie, token))
            rest = [
                (key, value)
                for key, value in request.query_params.multi_items()
                if key != ACCESS_QUERY
            ]
            location = request.url.path + (f"?{urlencode(rest)}" if rest else "")
            return RedirectResponse(location, status_code=303)
        if not carries_token(request, token, self.access_cookie):
            return error_response(
                403,
                "this dashboard asks for its access token: open the URL that "
                "`dataqueue dashboard` printed (it ends in ?token=...), or send "
                "Authorization: Bearer <token>",
            )
        return None
