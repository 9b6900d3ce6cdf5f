"""The job status app a site mounts for its own users.

Routes (relative to where it is mounted), each named by a job handle
(``job_handle``), never by a job id:

- ``GET /jobs/{handle}``: the job as JSON (``job_status_json``).
- ``GET /jobs/{handle}/stream``: ``text/event-stream`` of ``job`` events,
  one each time that JSON changes; ends after a final state.

A malformed, forged or unknown handle (a raw id among them) is a 404, an
expired one a 410, a refused ``auth`` a 403, too many open streams a 429 and
an unreachable store a 503, all as ``{"error": ...}``.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TypeAlias

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dataqueue.errors import StoreUnavailableError
from dataqueue.models import JobRecord
from dataqueue.queue import JobQueue
from dataqueue.types import JSONValue
from dataqueue.web._handles import HandleError, Secret, check_secrets, read_handle
from dataqueue.web._stream import (
    ServerSentEvent,
    StreamLimits,
    event_stream,
    job_updates,
)

Auth: TypeAlias = Callable[[Request], bool | Awaitable[bool]]
"""Decides whether a request may read a job: only ``True`` lets it in. It is
asked only for a valid handle; ``request.state.job_id`` is the job's id
(the job may no longer exist)."""

# Every answer: no sniffing a JSON body into something else, never cached,
# never framed, and no Referer carrying a handle to another site.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def job_status_json(
    job: JobRecord, *, show_errors: bool = False
) -> dict[str, JSONValue]:
    """What a site's users see of a job: an allow-list of fields, never the
    payload, the job type, the id or worker details.

    ``error`` is the message of the last failed attempt when ``show_errors``
    is true, else ``None`` (exception text can hold anything: SQL, paths,
    other users' data); ``failure_reason`` says why in one word.
    ``next_attempt_at`` is set while a failed job waits for another attempt.
    Times are ISO 8601 in UTC."""
    error = job.error_history[-1].get("message") if job.error_history else None
    return {
        "status": job.status.value,
        "progress": job.progress,
        "output": job.output,
        "error": error if show_errors else None,
        "failure_reason": job.failure_reason.value if job.failure_reason else None,
        "created_at": _iso(job.created_at),
        "updated_at": _iso(job.updated_at),
        "completed_at": _iso(job.completed_at),
        "next_attempt_at": _iso(job.next_attempt_at),
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def job_status_app(
    queue: JobQueue,
    *,
    secret: Secret | Sequence[Secret],
    auth: Auth | None = None,
    show_errors: bool = False,
    poll_interval: float = 0.5,
    max_streams: int = 1000,
    max_streams_per_client: int = 20,
) -> Starlette:
    """An ASGI app serving ``GET /jobs/{handle}`` and ``GET /jobs/{handle}/stream``.

    Args:
        queue: The queue to read jobs from; the app never closes it.
        secret: The secret ``job_handle`` signs with (16 bytes or more). A
            list rotates secrets: the first is current, all are accepted.
        auth: An extra check per request with a valid handle, before the
            job is read: only a ``True`` result (or awaitable of one) lets it
            through, anything else answers 403.
        show_errors: Also show the last attempt's raw error message.
        poll_interval: Seconds between reads of a streamed job.
        max_streams: Event streams open at once in this app; more are 429.
        max_streams_per_client: Event streams open at once per client
            address (behind a proxy, run the server so that it sets the
            client address from the proxy's header, e.g. uvicorn's
            ``--proxy-headers --forwarded-allow-ips``).
    """
    if not isinstance(queue, JobQueue):
        raise TypeError(
            "job_status_app: queue must be the async JobQueue of dq.connect(), "
            f"got {type(queue).__name__}"
        )
    keys = check_secrets(secret, "job_status_app")
    if auth is not None and not callable(auth):
        raise TypeError(
            "job_status_app: auth must be a callable or None, "
            f"got {type(auth).__name__}"
        )
    if not poll_interval > 0:
        raise ValueError(
            "job_status_app: poll_interval must be above 0 seconds, "
            f"got {poll_interval!r}"
        )
    limits = StreamLimits(max_streams, max_streams_per_client, "job_status_app")

    async def requested_job(request: Request) -> JobRecord:
        try:
            job_id = read_handle(request.path_params["handle"], keys, queue.clock.now())
        except HandleError as error:
            if error.expired:
                raise HTTPException(410, str(error)) from None
            raise HTTPException(404, "job not found") from None
        request.state.job_id = job_id
        # Asked before the lookup, so a refused caller cannot tell which
        # jobs exist.
        if auth is not None and not await _allows(auth, request):
            raise HTTPException(403, "forbidden")
        try:
            job = await queue.get_job(job_id)
        except StoreUnavailableError as error:
            raise HTTPException(503, "the job store is unavailable") from error
        if job is None:
            raise HTTPException(404, "job not found")
        return job

    async def read_job(request: Request) -> Response:
        job = await requested_job(request)
        return JSONResponse(job_status_json(job, show_errors=show_errors))

    async def stream_job(request: Request) -> Response:
        job = await requested_job(request)
        # A closed stream makes EventSource reconnect; a 204 is the one answer
        # that stops it, given once the client has seen the final state.
        seen = request.headers.get("last-event-id")
        text = _encode(job, show_errors)
        if seen is not None and job.is_final and seen == _version(text):
            return Response(status_code=204)
        release = limits.acquire(request)
        if release is None:
            raise HTTPException(429, "too many open job streams; try again later")
        return event_stream(
            _status_events(queue, job.id, poll_interval, show_errors),
            on_close=release,
        )

    app = Starlette(
        routes=[
            Route("/jobs/{handle}", read_job),
            Route("/jobs/{handle}/stream", stream_job),
        ],
        exception_handlers={HTTPException: _error_response},
    )
    app.add_middleware(_SecurityHeaders)
    return app


class _SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [
                    (name.lower().encode(), value.encode())
                    for name, value in SECURITY_HEADERS.items()
                    if name.lower().encode() not in names
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _allows(auth: Auth, request: Request) -> bool:
    verdict = auth(request)
    if inspect.isawaitable(verdict):
        verdict = await verdict
    # Exactly True: a truthy string such as "denied" must not open the job.
    return verdict is True


async def _error_response(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return JSONResponse(
        {"error": error.detail}, status_code=error.status_code, headers=error.headers
    )


async def _status_events(
    queue: JobQueue, job_id: int, poll_interval: float, show_errors: bool
) -> AsyncIterator[ServerSentEvent]:
    sent: str | None = None
    async for job in job_updates(queue, job_id, poll_interval=poll_interval):
        # Records also change in fields users do not see (heartbeats).
        text = _encode(job, show_errors)
        if text != sent:
            sent = text
            yield ServerSentEvent(text, event="job", id=_version(text))


def _encode(job: JobRecord, show_errors: bool) -> str:
    return json.dumps(
        job_status_json(job, show_errors=show_errors),
        separators=(",", ":"),
        ensure_ascii=False,
    )


def _version(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
