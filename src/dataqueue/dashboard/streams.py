"""Live updates as server-sent events, built on ``dataqueue.web``'s
event-stream response (heartbeats, closing on disconnect).

No store tells another process that a job changed, so each stream reads the
store on a timer and sends only when what it read differs from the last
read: the list stream reads the counts, the page the client shows and the
live workers (three cheap queries a second), the job stream one job twice a
second (``dataqueue.web.job_updates``, which waits out a store outage).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response

from dataqueue.dashboard._http import EVENT_STREAM, Answer, Endpoint
from dataqueue.dashboard._json import dumps
from dataqueue.dashboard._queue import ApiError, QueueView
from dataqueue.dashboard.api import (
    BAD_QUERY,
    JOB_ID,
    LIST_PARAMS,
    NOT_FOUND,
    TOO_MANY,
    Dashboard,
    job_filters,
    job_or_404,
)
from dataqueue.models import JobRecord
from dataqueue.web import ServerSentEvent, event_stream

logger = logging.getLogger("dataqueue.dashboard")

LIST_POLL_SECONDS = 1.0
JOB_POLL_SECONDS = 0.5


async def stream_jobs(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    release = _stream_slot(dashboard, request)
    return event_stream(_list_changes(dashboard.queue, args), on_close=release)


def _stream_slot(dashboard: Dashboard, request: Request) -> Callable[[], None]:
    release = dashboard.streams.acquire(request)
    if release is None:
        raise ApiError(429, "too many open event streams; close other tabs or retry")
    return release


async def _list_changes(
    queue: QueueView, args: Mapping[str, Any]
) -> AsyncIterator[ServerSentEvent]:
    filters = job_filters(args)
    seen: object = None
    while True:
        try:
            # Two reads, not one snapshot: a change between them is seen
            # (and sent) again by the next poll. Counts last, as they are
            # what the event carries.
            page = await queue.get_jobs(
                filters, args["status"], args["limit"], args["offset"]
            )
            workers = await queue.list_workers()
            counts = await queue.count_jobs(filters)
        except ApiError as error:
            # The browser reconnects by itself; it finds the store back or
            # not then.
            logger.warning("dashboard list stream ends: %s", error.message)
            return
        state = (
            counts,
            [(job.id, job.status, job.progress, job.updated_at) for job in page],
            # Who runs and what: a worker starting, stopping or taking a job.
            [(worker.id, worker.running_job_ids) for worker in workers],
        )
        if state != seen:
            seen = state
            yield ServerSentEvent(dumps({"counts": counts}), event="changed")
        await asyncio.sleep(LIST_POLL_SECONDS)


async def stream_job(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    job = await job_or_404(dashboard, args["job_id"])
    # A closed stream makes EventSource reconnect; 204 is the answer that
    # stops it, given when the client has already seen the final state.
    seen = request.headers.get("last-event-id")
    if seen is not None and job.is_final and seen == _version(_encode(job)):
        return Response(status_code=204)
    release = _stream_slot(dashboard, request)
    return event_stream(_job_changes(dashboard.queue, job.id), on_close=release)


async def _job_changes(queue: QueueView, job_id: int) -> AsyncIterator[ServerSentEvent]:
    last: JobRecord | None = None
    async for last in queue.job_updates(job_id, JOB_POLL_SECONDS):
        text = _encode(last)
        yield ServerSentEvent(text, event="job", id=_version(text))
    reason = "final" if last is not None and last.is_final else "deleted"
    yield ServerSentEvent(dumps({"reason": reason}), event="end")


def _encode(job: JobRecord) -> str:
    return dumps({"job": job})


def _version(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


STREAM_ENDPOINTS = (
    Endpoint(
        "GET",
        "/api/stream",
        stream_jobs,
        'Server-sent events: a `changed` event with `{"counts"}` at once and '
        "whenever the counts or the jobs of the page with these filters change, "
        "or a worker starts, stops or takes up other jobs.",
        LIST_PARAMS,
        (
            Answer(
                200,
                "An endless event stream.",
                {"changed": {"counts": dict[str, int]}},
                EVENT_STREAM,
            ),
            BAD_QUERY,
            TOO_MANY,
        ),
    ),
    Endpoint(
        "GET",
        "/api/jobs/{job_id}/stream",
        stream_job,
        'Server-sent events: a `job` event with `{"job"}` now and at each '
        "change, then `end` once the job is final (completed, cancelled, or "
        "failed with no attempt left) or deleted.",
        (JOB_ID,),
        (
            Answer(
                200,
                "The job's event stream.",
                {
                    "job": {"job": JobRecord},
                    "end": {"reason": Literal["final", "deleted"]},
                },
                EVENT_STREAM,
            ),
            Answer(204, "The client already saw the final state (Last-Event-ID)."),
            NOT_FOUND,
            TOO_MANY,
        ),
    ),
)
