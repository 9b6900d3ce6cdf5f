"""The job status app a site mounts for its own users.

Routes (relative to where it is mounted):

- ``GET /jobs/{id}``: the job as JSON (``job_status_json``).
- ``GET /jobs/{id}/stream``: ``text/event-stream`` of ``job`` events, one
  each time that JSON changes; ends after a final state.

A non-numeric or unknown id is a 404, a refused ``auth`` a 403 and an
unreachable store a 503, all as ``{"error": ...}``.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeAlias

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dataqueue.errors import StoreUnavailableError
from dataqueue.models import JobRecord
from dataqueue.queue import JobQueue
from dataqueue.types import JSONValue
from dataqueue.web._stream import ServerSentEvent, event_stream, job_updates

Auth: TypeAlias = Callable[[Request], bool | Awaitable[bool]]
"""Decides whether a request may read a job. It is asked only for a valid id:
``int(request.path_params["job_id"])`` is a positive 64-bit integer, though
no such job may exist."""

# Ids every store keeps: positive 64-bit integers.
_ID = re.compile(r"[0-9]{1,19}")
_MAX_ID = 2**63 - 1


def job_status_json(job: JobRecord) -> dict[str, JSONValue]:
    """What a site's users see of a job: no payload, no worker details.

    ``error`` is the message of the last failed attempt; ``next_attempt_at``
    is set while a failed job waits for another attempt. Times are ISO 8601
    in UTC."""
    return {
        "id": job.id,
        "job_type": job.job_type,
        "status": job.status.value,
        "progress": job.progress,
        "output": job.output,
        "error": job.error_history[-1].get("message") if job.error_history else None,
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
    queue: JobQueue, auth: Auth | None = None, *, poll_interval: float = 0.5
) -> Starlette:
    """An ASGI app serving ``GET /jobs/{id}`` and ``GET /jobs/{id}/stream``.

    Args:
        queue: The queue to read jobs from; the app never closes it.
        auth: Called with each request for a valid id, before the job is
            read; a false result (or awaitable of one) answers 403. ``None``
            lets every request through.
        poll_interval: Seconds between reads of a streamed job.
    """
    if not isinstance(queue, JobQueue):
        raise TypeError(
            "job_status_app: queue must be the async JobQueue of dq.connect(), "
            f"got {type(queue).__name__}"
        )
    if not poll_interval > 0:
        raise ValueError(
            "job_status_app: poll_interval must be above 0 seconds, "
            f"got {poll_interval!r}"
        )

    async def requested_job(request: Request) -> JobRecord:
        text = request.path_params["job_id"]
        job_id = int(text) if _ID.fullmatch(text) else 0
        if not 0 < job_id <= _MAX_ID:
            raise HTTPException(404, "job not found")
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
        return JSONResponse(job_status_json(job), headers={"Cache-Control": "no-store"})

    async def stream_job(request: Request) -> Response:
        job = await requested_job(request)
        # A closed stream makes EventSource reconnect; a 204 is the one answer
        # that stops it, given once the client has seen the final state.
        seen = request.headers.get("last-event-id")
        if seen is not None and job.is_final and seen == _version(_encode(job)):
            return Response(status_code=204)
        return event_stream(_status_events(queue, job.id, poll_interval))

    return Starlette(
        routes=[
            Route("/jobs/{job_id}", read_job),
            Route("/jobs/{job_id}/stream", stream_job),
        ],
        exception_handlers={HTTPException: _error_response},
    )


async def _allows(auth: Auth, request: Request) -> bool:
    verdict = auth(request)
    if inspect.isawaitable(verdict):
        verdict = await verdict
    return bool(verdict)


async def _error_response(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return JSONResponse(
        {"error": error.detail}, status_code=error.status_code, headers=error.headers
    )


async def _status_events(
    queue: JobQueue, job_id: int, poll_interval: float
) -> AsyncIterator[ServerSentEvent]:
    sent: str | None = None
    async for job in job_updates(queue, job_id, poll_interval=poll_interval):
        # Records also change in fields users do not see (heartbeats).
        text = _encode(job)
        if text != sent:
            sent = text
            yield ServerSentEvent(text, event="job", id=_version(text))


def _encode(job: JobRecord) -> str:
    return json.dumps(job_status_json(job), separators=(",", ":"), ensure_ascii=False)


def _version(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
