"""The dashboard's routes, relative to where it is mounted.

Pages (``index.html`` with the base path and CSRF token filled in; the
front-end routes between them itself):
    GET  /  /jobs/{job_id}  /cron  /flows  /flows/{flow_id}  /workers
    GET  /static/{path}                  the front-end's files

JSON (every answer an object; errors are ``{"error": "..."}``):
    GET  /api/jobs                       status, job_type, tags, tag_mode, limit, offset
    GET  /api/counts                     jobs per status (job_type, tags, tag_mode)
    GET  /api/job-types                  job types with a handler or a schedule
    GET  /api/jobs/{job_id}
    GET  /api/jobs/{job_id}/events
    GET  /api/jobs/{job_id}/tokens
    POST /api/jobs/{job_id}/cancel       pending or waiting jobs, else 409
    POST /api/jobs/{job_id}/retry        failed or cancelled jobs, else 409
    POST /api/tokens/{token_id}/complete body {"output": <JSON>}
    POST /api/process                    runs one batch: {"processed": n}
    GET  /api/cron  /api/cron/{cron_id}  schedules with their next runs
    POST /api/cron/{cron_id}/pause  /api/cron/{cron_id}/resume
    GET  /api/flows  /api/flows/{flow_id}
    GET  /api/workers
    GET  /api/openapi.json               this list, with every schema

Server-sent events:
    GET  /api/stream                     "changed" {"counts"} when the jobs
                                         list (same filters) or counts change
    GET  /api/jobs/{job_id}/stream       "job" {"job"} at each change, then
                                         "end" after a final state
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, fields, make_dataclass
from datetime import datetime
from types import GenericAlias
from typing import Any, get_type_hints

from starlette.requests import Request
from starlette.responses import Response

from dataqueue.cron import CronJob, CronStatus, next_run_after, normalize_expression
from dataqueue.cron import zone as cron_zone
from dataqueue.dashboard import audit
from dataqueue.dashboard._http import (
    MAX_ID,
    Answer,
    Endpoint,
    Param,
    id_param,
    json_response,
)
from dataqueue.dashboard._json import compact
from dataqueue.dashboard._queue import ApiError, QueueView
from dataqueue.errors import TokenError
from dataqueue.models import (
    FlowRecord,
    FlowStatus,
    JobEvent,
    JobRecord,
    JobStatus,
    Token,
    WorkerInfo,
)
from dataqueue.web import StreamLimits

NEXT_RUNS = 5
MAX_BODY_BYTES = 2 * 1024 * 1024
# A listed job carries this much of its payload, output and last error: a
# page of jobs stays small whatever they hold (the job's route has it all).
PREVIEW_CHARS = 200
_LISTED_WHOLE = tuple(
    (field.name, hint)
    for field in fields(JobRecord)
    if (hint := get_type_hints(JobRecord)[field.name])
    and field.name not in ("payload", "output", "step_data", "error_history")
)
# Built from JobRecord's fields, so the two cannot drift apart.
JobSummary: type = make_dataclass(
    "JobSummary",
    [
        *_LISTED_WHOLE,
        ("payload_preview", str),
        ("output_preview", str | None),
        ("last_error", str | None),
    ],
    namespace={
        "__doc__": "A listed job: every field of a job but its payload, output, "
        f"step data and error history, of which the first {PREVIEW_CHARS} "
        "characters of the payload's and output's JSON, and of the last "
        "error's message, are shown (the job's own route has them whole)."
    },
    frozen=True,
)


def preview(text: str) -> str:
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def summary(job: JobRecord) -> Any:
    """What a list shows of ``job`` (a ``JobSummary``)."""
    last = job.error_history[-1].get("message") if job.error_history else None
    return JobSummary(
        **{name: getattr(job, name) for name, _ in _LISTED_WHOLE},
        payload_preview=preview(compact(job.payload)),
        output_preview=None if job.output is None else preview(compact(job.output)),
        last_error=None if last is None else preview(str(last)),
    )


_TOKEN_STEP = re.compile(r"__token_([0-9]+)")


@dataclass(frozen=True)
class Dashboard:
    """What every handler works with."""

    queue: QueueView
    index_html: str
    openapi: dict[str, Any]
    streams: StreamLimits


@dataclass(frozen=True, slots=True)
class CronSchedule(CronJob):
    """A cron schedule with its next due times (empty while paused)."""

    next_runs: list[datetime]


# -- parameters ---------------------------------------------------------------

NAME = {"type": "string", "minLength": 1, "maxLength": 255}
JOB_ID = id_param("job_id", "job")
CRON_ID = id_param("cron_id", "cron schedule")
FLOW_ID = Param(
    "flow_id", "path", {"type": "string", "format": "uuid"}, "The flow's id."
)
TOKEN_ID = Param(
    "token_id",
    "path",
    {**NAME, "pattern": "^[A-Za-z0-9_.:-]+$"},
    "The token's id (as ctx.create_token made it: tok_ and hex digits).",
)
STATUS = Param(
    "status",
    "query",
    {"type": "string", "enum": [status.value for status in JobStatus]},
    "Only jobs with this status.",
)
JOB_TYPE = Param("job_type", "query", NAME, "Only jobs of this type.")
TAGS = Param(
    "tags",
    "query",
    {"type": "array", "items": NAME, "maxItems": 100},
    "Tags to match (repeat the parameter for several).",
)
TAG_MODE = Param(
    "tag_mode",
    "query",
    {"type": "string", "enum": ["all", "any", "none", "exact"], "default": "all"},
    "How the tags match: all of them, any, none, or exactly these.",
)
LIMIT = Param(
    "limit",
    "query",
    {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
    "Page size.",
)
OFFSET = Param(
    "offset",
    "query",
    {"type": "integer", "minimum": 0, "maximum": MAX_ID, "default": 0},
    "How many to skip.",
)
FLOW_STATUS = Param(
    "status",
    "query",
    {"type": "string", "enum": [status.value for status in FlowStatus]},
    "Only flows with this status.",
)
JOB_FILTERS = (JOB_TYPE, TAGS, TAG_MODE)
LIST_PARAMS = (STATUS, *JOB_FILTERS, LIMIT, OFFSET)

# -- answers ------------------------------------------------------------------

JOB = {"job": JobRecord}
SCHEDULE = {"schedule": CronSchedule}
BAD_QUERY = Answer(400, "A query parameter is malformed or out of range.")
NOT_FOUND = Answer(404, "No such resource (or a malformed id).")
CONFLICT = Answer(409, "The job's status does not allow this; nothing changed.")
REFUSED = Answer(403, "Cross-origin, or without the page's CSRF token.")
TOO_MANY = Answer(429, "Too many open event streams (per app, or from this client).")
# Event streams open at once: each reads the store about once a second.
MAX_STREAMS = 200
MAX_STREAMS_PER_CLIENT = 10


def job_filters(args: Mapping[str, Any]) -> dict[str, Any]:
    """The ``get_jobs``/``count_jobs`` filters of the request's parameters."""
    filters: dict[str, Any] = {}
    if args["job_type"] is not None:
        filters["job_type"] = args["job_type"]
    if args["tags"]:
        filters["tags"] = {"values": args["tags"], "mode": args["tag_mode"]}
    return filters


async def job_or_404(dashboard: Dashboard, job_id: int) -> JobRecord:
    job = await dashboard.queue.get_job(job_id)
    if job is None:
        raise ApiError(404, f"there is no job {job_id}")
    return job


# -- jobs ---------------------------------------------------------------------


async def list_jobs(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    limit, offset = args["limit"], args["offset"]
    # One more than asked for tells whether another page follows.
    jobs = await dashboard.queue.get_jobs(
        job_filters(args), args["status"], limit + 1, offset
    )
    return json_response(
        {
            "jobs": jobs[:limit],
            "has_more": len(jobs) > limit,
            "limit": limit,
            "offset": offset,
        },
        # In the encoding thread: a preview encodes the whole payload first.
        prepare=lambda page: {**page, "jobs": [summary(job) for job in page["jobs"]]},
    )


async def count_jobs(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    counts = await dashboard.queue.count_jobs(job_filters(args))
    return json_response({"counts": counts, "total": sum(counts.values())})


async def list_job_types(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    schedules = await dashboard.queue.list_cron_jobs()
    names = set(dashboard.queue.handlers) | {s.job_type for s in schedules}
    return json_response({"job_types": sorted(names)})


async def get_job(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    return json_response({"job": await job_or_404(dashboard, args["job_id"])})


async def get_job_events(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    job = await job_or_404(dashboard, args["job_id"])
    return json_response({"events": await dashboard.queue.get_job_events(job.id)})


async def get_job_tokens(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    """The tokens the job created (``step_data["__token_<n>"]``, in order)
    and the one it waits on."""
    job = await job_or_404(dashboard, args["job_id"])
    created = sorted(
        (int(match.group(1)), token_id)
        for key, token_id in (job.step_data or {}).items()
        if (match := _TOKEN_STEP.fullmatch(key)) and isinstance(token_id, str)
    )
    ids = [token_id for _, token_id in created]
    if job.wait_token_id is not None and job.wait_token_id not in ids:
        ids.append(job.wait_token_id)
    tokens = [await dashboard.queue.get_token(token_id) for token_id in ids]
    return json_response({"tokens": [token for token in tokens if token is not None]})


async def cancel_job(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    return await _change_job(
        dashboard,
        request,
        "cancel_job",
        args["job_id"],
        dashboard.queue.cancel_job,
        "only pending or waiting jobs can be cancelled",
    )


async def retry_job(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    return await _change_job(
        dashboard,
        request,
        "retry_job",
        args["job_id"],
        dashboard.queue.retry_job,
        "only failed or cancelled jobs can be retried",
    )


async def _change_job(
    dashboard: Dashboard,
    request: Request,
    action: str,
    job_id: int,
    change: Callable[[int], Awaitable[bool]],
    refusal: str,
) -> Response:
    """The job after ``change``; 409 with its status when the store refused
    the change (it decides, atomically), 404 when there is no such job."""
    with audit.acting(request):
        changed = await change(job_id)
    if changed:
        await audit.record(dashboard.queue, request, action, job_id=job_id)
        return json_response({"job": await job_or_404(dashboard, job_id)})
    job = await job_or_404(dashboard, job_id)
    raise ApiError(409, f"job {job.id} is {job.status.value}; {refusal}")


async def process_jobs(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    if not dashboard.queue.handlers:
        raise ApiError(
            409,
            "this dashboard was given no handlers, so it runs no jobs: pass "
            "them to create_app (or run `dataqueue worker`)",
        )
    processed = await dashboard.queue.process_one_batch()
    await audit.record(dashboard.queue, request, "process_jobs", processed=processed)
    return json_response({"processed": processed})


# -- tokens -------------------------------------------------------------------


async def complete_token(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    token_id = args["token_id"]
    body = await json_body(request)
    if not isinstance(body, dict) or set(body) - {"output"}:
        raise ApiError(400, 'the body must be a JSON object {"output": <any JSON>}')
    if await dashboard.queue.get_token(token_id) is None:
        raise ApiError(404, f"there is no token {token_id!r}")
    try:
        with audit.acting(request):
            await dashboard.queue.complete_token(token_id, body.get("output"))
    except TokenError as error:
        raise ApiError(409, str(error)) from error
    await audit.record(dashboard.queue, request, "complete_token", token_id=token_id)
    return json_response({"token": await dashboard.queue.get_token(token_id)})


async def json_body(request: Request) -> Any:
    """The request's JSON body (an empty one is ``{}``), at most
    ``MAX_BODY_BYTES``."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(413, f"the body is over {MAX_BODY_BYTES} bytes")
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except ValueError as error:
        raise ApiError(400, f"the body is not JSON: {error}") from None
    except RecursionError:
        raise ApiError(400, "the body's JSON is nested too deeply") from None


# -- cron ---------------------------------------------------------------------


def with_next_runs(schedule: CronJob) -> CronSchedule:
    runs: list[datetime] = []
    if schedule.status is CronStatus.ACTIVE and schedule.next_run_at is not None:
        where = f"cron schedule {schedule.schedule_name!r}"
        expression = normalize_expression(schedule.cron_expression, where)
        tz = cron_zone(schedule.timezone, where)
        runs.append(schedule.next_run_at)
        while len(runs) < NEXT_RUNS:
            try:
                runs.append(next_run_after(expression, tz, runs[-1]))
            except ValueError:  # the expression fires no more
                break
    values = {field.name: getattr(schedule, field.name) for field in fields(schedule)}
    return CronSchedule(**values, next_runs=runs)


async def schedule_or_404(dashboard: Dashboard, cron_id: int) -> CronJob:
    schedule = await dashboard.queue.get_cron_job(cron_id)
    if schedule is None:
        raise ApiError(404, f"there is no cron schedule {cron_id}")
    return schedule


async def list_cron(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    schedules = await dashboard.queue.list_cron_jobs()
    return json_response({"schedules": [with_next_runs(s) for s in schedules]})


async def get_cron(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    schedule = await schedule_or_404(dashboard, args["cron_id"])
    return json_response({"schedule": with_next_runs(schedule)})


async def pause_cron(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    schedule = await schedule_or_404(dashboard, args["cron_id"])
    await dashboard.queue.pause_cron_job(schedule.id)
    await audit.record(dashboard.queue, request, "pause_cron", cron_id=schedule.id)
    schedule = await schedule_or_404(dashboard, schedule.id)
    return json_response({"schedule": with_next_runs(schedule)})


async def resume_cron(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    schedule = await schedule_or_404(dashboard, args["cron_id"])
    await dashboard.queue.resume_cron_job(schedule.id)
    await audit.record(dashboard.queue, request, "resume_cron", cron_id=schedule.id)
    schedule = await schedule_or_404(dashboard, schedule.id)
    return json_response({"schedule": with_next_runs(schedule)})


# -- flows and workers --------------------------------------------------------


async def list_flows(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    limit, offset = args["limit"], args["offset"]
    flows = await dashboard.queue.list_flows(args["status"], limit + 1, offset)
    return json_response(
        {
            "flows": flows[:limit],
            "has_more": len(flows) > limit,
            "limit": limit,
            "offset": offset,
        }
    )


async def get_flow(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    flow = await dashboard.queue.get_flow(args["flow_id"])
    if flow is None:
        raise ApiError(404, f"there is no flow {args['flow_id']}")
    return json_response({"flow": flow})


async def list_workers(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    return json_response({"workers": await dashboard.queue.list_workers()})


# -- the table ----------------------------------------------------------------


def page_of(name: str, items: Any) -> dict[str, Any]:
    return {name: items, "has_more": bool, "limit": int, "offset": int}


JSON_ENDPOINTS = (
    Endpoint(
        "GET",
        "/api/jobs",
        list_jobs,
        "List jobs, newest first.",
        LIST_PARAMS,
        (
            Answer(
                200, "A page of jobs.", page_of("jobs", GenericAlias(list, JobSummary))
            ),
            BAD_QUERY,
        ),
    ),
    Endpoint(
        "GET",
        "/api/counts",
        count_jobs,
        "Count jobs per status (every status present).",
        JOB_FILTERS,
        (
            Answer(200, "Counts per status.", {"counts": dict[str, int], "total": int}),
            BAD_QUERY,
        ),
    ),
    Endpoint(
        "GET",
        "/api/job-types",
        list_job_types,
        "Job types the dashboard has handlers for, and those of cron schedules.",
        answers=(Answer(200, "Sorted job types.", {"job_types": list[str]}),),
    ),
    Endpoint(
        "GET",
        "/api/jobs/{job_id}",
        get_job,
        "One job with every field.",
        (JOB_ID,),
        (Answer(200, "The job.", JOB), NOT_FOUND),
    ),
    Endpoint(
        "GET",
        "/api/jobs/{job_id}/events",
        get_job_events,
        "The job's event log, oldest first.",
        (JOB_ID,),
        (Answer(200, "The events.", {"events": list[JobEvent]}), NOT_FOUND),
    ),
    Endpoint(
        "GET",
        "/api/jobs/{job_id}/tokens",
        get_job_tokens,
        "The tokens the job created and the one it waits on.",
        (JOB_ID,),
        (Answer(200, "The tokens.", {"tokens": list[Token]}), NOT_FOUND),
    ),
    Endpoint(
        "POST",
        "/api/jobs/{job_id}/cancel",
        cancel_job,
        "Cancel a pending or waiting job.",
        (JOB_ID,),
        (Answer(200, "The job after cancelling.", JOB), REFUSED, NOT_FOUND, CONFLICT),
    ),
    Endpoint(
        "POST",
        "/api/jobs/{job_id}/retry",
        retry_job,
        "Run a failed or cancelled job again now.",
        (JOB_ID,),
        (Answer(200, "The job after the retry.", JOB), REFUSED, NOT_FOUND, CONFLICT),
    ),
    Endpoint(
        "POST",
        "/api/tokens/{token_id}/complete",
        complete_token,
        "Complete a waiting token; the job waiting on it runs again.",
        (TOKEN_ID,),
        (
            Answer(200, "The completed token.", {"token": Token}),
            Answer(400, 'The body is not {"output": <JSON>} or not storable.'),
            REFUSED,
            NOT_FOUND,
            Answer(409, "The token was already completed or timed out."),
            Answer(413, "The body is too large."),
        ),
        body={
            "type": "object",
            "properties": {"output": {"description": "Any JSON value."}},
            "additionalProperties": False,
        },
    ),
    Endpoint(
        "POST",
        "/api/process",
        process_jobs,
        "Run one batch of due jobs with the dashboard's handlers.",
        answers=(Answer(200, "How many jobs ran.", {"processed": int}), REFUSED),
    ),
    Endpoint(
        "GET",
        "/api/cron",
        list_cron,
        "Every cron schedule with its next runs.",
        answers=(Answer(200, "The schedules.", {"schedules": list[CronSchedule]}),),
    ),
    Endpoint(
        "GET",
        "/api/cron/{cron_id}",
        get_cron,
        "One cron schedule with its next runs.",
        (CRON_ID,),
        (Answer(200, "The schedule.", SCHEDULE), NOT_FOUND),
    ),
    Endpoint(
        "POST",
        "/api/cron/{cron_id}/pause",
        pause_cron,
        "Stop enqueueing from a schedule.",
        (CRON_ID,),
        (Answer(200, "The paused schedule.", SCHEDULE), REFUSED, NOT_FOUND),
    ),
    Endpoint(
        "POST",
        "/api/cron/{cron_id}/resume",
        resume_cron,
        "Enqueue again from the next run after now.",
        (CRON_ID,),
        (Answer(200, "The resumed schedule.", SCHEDULE), REFUSED, NOT_FOUND),
    ),
    Endpoint(
        "GET",
        "/api/flows",
        list_flows,
        "List flows, newest first (their steps are in /api/flows/{flow_id}).",
        (FLOW_STATUS, LIMIT, OFFSET),
        (
            Answer(200, "A page of flows.", page_of("flows", list[FlowRecord])),
            BAD_QUERY,
        ),
    ),
    Endpoint(
        "GET",
        "/api/flows/{flow_id}",
        get_flow,
        "One flow with its steps.",
        (FLOW_ID,),
        (Answer(200, "The flow.", {"flow": FlowRecord}), NOT_FOUND),
    ),
    Endpoint(
        "GET",
        "/api/workers",
        list_workers,
        "Live workers with their heartbeats and running jobs.",
        answers=(Answer(200, "The workers.", {"workers": list[WorkerInfo]}),),
    ),
)
