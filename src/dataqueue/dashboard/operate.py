"""The routes people on call use beside the jobs list: the overview's
per-minute series, the per-type queues, search, bulk actions, running and
editing a cron schedule, and quieting a worker.

    GET  /api/overview                   per-minute series (window hour|day)
    GET  /api/queues                     one row per job type, with its limits
    POST /api/queues/{job_type}/pause  .../resume    one type
    POST /api/queues/pause  /api/queues/resume       every type
    GET  /api/search                     q (an id, or text of the payload)
    POST /api/jobs/bulk                  retry, cancel or delete: ids, or one
                                         batch of a filter's jobs
    POST /api/cron/{cron_id}/run         enqueue the schedule's job now
    POST /api/cron/{cron_id}/edit        change the expression, zone...
    POST /api/workers/{worker_id}/quiet  ask a worker to stop taking jobs
    GET  /api/activity                   the stored actions, newest first

Every POST is recorded by ``audit.record`` with who made it; the jobs it
changes also record it in their event (``audit.acting``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import GenericAlias
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response

from dataqueue.dashboard import audit
from dataqueue.dashboard._http import Answer, Endpoint, Param, json_response
from dataqueue.dashboard._queue import ApiError
from dataqueue.dashboard.api import (
    BAD_QUERY,
    CRON_ID,
    JOB_FILTERS,
    JOB_TYPE,
    NAME,
    NOT_FOUND,
    REFUSED,
    SCHEDULE,
    STATUS,
    Dashboard,
    JobSummary,
    job_filters,
    json_body,
    schedule_or_404,
    summary,
    with_next_runs,
)
from dataqueue.limits import ALL_TYPES, Limits
from dataqueue.models import JobRecord, JobStatus
from dataqueue.queue_admin import ACTIONS_KEPT

WINDOWS = {"hour": 3600, "day": 86400}
# Stats of the queues page: completions and failures of the last hour.
QUEUE_WINDOW_SECONDS = 3600
# Without an index of the payloads, a search reads at most this many of
# the newest jobs that match its filters (queue.search_jobs).
SEARCH_SCAN = 2000
# One bulk request changes at most this many jobs; the page sends as many
# requests as the confirmed count needs, showing their progress.
BULK_BATCH = 100
BULK_ACTIONS = ("retry", "cancel", "delete")
CRON_EDITABLE = (
    "cron_expression",
    "timezone",
    "payload",
    "priority",
    "max_attempts",
    "timeout",
    "tags",
    "allow_overlap",
)


@dataclass(frozen=True, slots=True)
class MinutePoint:
    """One minute of the overview, every job type added up: attempts
    started, completed and failed, and the mean delay from due to first
    start of the jobs that first started then (None when none did)."""

    minute: datetime
    started: int
    completed: int
    failed: int
    first_starts: int
    mean_start_delay_seconds: float | None


@dataclass(frozen=True, slots=True)
class Activity:
    """One action taken on the dashboard (or stored with
    ``queue.record_action``): when, who did it (the auth identity), what,
    and what it was done to."""

    at: datetime
    who: str
    action: str
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One job type: its jobs per status, how long its oldest due pending
    job has waited, its completions and failures of the last hour
    (``failure_rate``: failed / (completed + failed), None without any), its
    stored limits, whether it is paused (by itself or with every type), and
    how many of its pending jobs are held now per ``pending_reason``
    (``queue.get_held_counts()``; reasons with none are absent)."""

    job_type: str
    counts: dict[str, int]
    oldest_pending_at: datetime | None
    oldest_pending_seconds: float | None
    completed_last_hour: int
    failed_last_hour: int
    throughput_per_minute: float
    failure_rate: float | None
    limits: Limits | None
    paused: bool
    held: dict[str, int]


@dataclass(frozen=True, slots=True)
class BulkResult:
    """One batch of a bulk action: the jobs it changed, how many of the
    batch it left as they were (their status does not allow the action),
    and, for a filter, where the next batch starts and whether this one
    was the last."""

    action: Literal["retry", "cancel", "delete"]
    changed: list[int]
    unchanged: int
    next_offset: int
    done: bool


WINDOW = Param(
    "window",
    "query",
    {"type": "string", "enum": list(WINDOWS), "default": "hour"},
    "The last hour or the last day.",
)
QUERY = Param(
    "q",
    "query",
    {"type": "string", "minLength": 1, "maxLength": 200},
    f"A job id (7 or #7), or text to find in the payloads (any case) of the "
    f"jobs that match the other filters: every one through PostgreSQL's "
    f"optional trigram index, else the newest {SEARCH_SCAN}.",
    required=True,
)
SEARCH_LIMIT = Param(
    "limit",
    "query",
    {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
    "Most matches to return.",
)
ACTIVITY_LIMIT = Param(
    "limit",
    "query",
    {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
    "Most actions to return.",
)
QUEUE_TYPE = Param("job_type", "path", {**NAME, "pattern": "^[^/*]+$"}, "The job type.")
PAUSED = Answer(
    200,
    "Stored; workers claim accordingly from their next claim.",
    {"job_type": str | None, "paused": bool},
)
WORKER_ID = Param(
    "worker_id",
    "path",
    {**NAME, "pattern": "^[^\\s/]+$"},
    "The worker's id.",
)


# -- reading ------------------------------------------------------------------


async def overview(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    span = WINDOWS[args["window"]]
    stats = await dashboard.queue.get_minute_stats(span, args["job_type"])
    now = dashboard.queue.now().replace(second=0, microsecond=0)
    first = now - timedelta(seconds=span - 60)
    sums: dict[datetime, list[float]] = {}
    for entry in stats:
        row = sums.setdefault(entry.minute, [0, 0, 0, 0, 0.0])
        row[0] += entry.started
        row[1] += entry.completed
        row[2] += entry.failed
        row[3] += entry.first_starts
        row[4] += entry.start_delay_seconds
    points = []
    for index in range(span // 60):
        minute = first + timedelta(minutes=index)
        started, completed, failed, firsts, delays = sums.get(minute, [0] * 5)
        points.append(
            MinutePoint(
                minute,
                int(started),
                int(completed),
                int(failed),
                int(firsts),
                round(delays / firsts, 3) if firsts else None,
            )
        )
    return json_response({"window": args["window"], "minutes": points})


async def queues(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    stats = await dashboard.queue.get_queue_stats(QUEUE_WINDOW_SECONDS)
    held = await dashboard.queue.get_held_counts()
    stored = {limits.job_type: limits for limits in await dashboard.queue.get_limits()}
    every = stored.pop(ALL_TYPES, None)
    all_paused = every is not None and every.paused
    now = dashboard.queue.now()
    by_type = {entry.job_type: entry for entry in stats}
    rows = []
    for job_type in sorted(set(by_type) | set(stored) | set(held.counts)):
        entry = by_type.get(job_type)
        counts = {s.value: 0 for s in JobStatus}
        if entry is not None:
            counts = {status.value: n for status, n in entry.counts.items()}
        completed = entry.completed if entry else 0
        failed = entry.failed if entry else 0
        oldest = entry.oldest_pending_at if entry else None
        limits = stored.get(job_type)
        paused = all_paused or (limits is not None and limits.paused)
        rows.append(
            QueueRow(
                job_type=job_type,
                counts=counts,
                oldest_pending_at=oldest,
                oldest_pending_seconds=None
                if oldest is None
                else max(0.0, (now - oldest).total_seconds()),
                completed_last_hour=completed,
                failed_last_hour=failed,
                throughput_per_minute=round(completed / 60, 3),
                failure_rate=round(failed / (completed + failed), 4)
                if completed + failed
                else None,
                limits=limits,
                paused=paused,
                held=held.counts.get(job_type, {}),
            )
        )
    return json_response(
        {"queues": rows, "all_paused": all_paused, "held_complete": held.complete}
    )


async def pause_queue(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    return await _pausing(dashboard, request, args.get("job_type"), paused=True)


async def resume_queue(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    return await _pausing(dashboard, request, args.get("job_type"), paused=False)


async def _pausing(
    dashboard: Dashboard, request: Request, job_type: str | None, *, paused: bool
) -> Response:
    if paused:
        await dashboard.queue.pause(job_type)
    else:
        await dashboard.queue.resume(job_type)
    action = "pause" if paused else "resume"
    await audit.record(
        dashboard.queue, request, action, job_type=job_type or "every type"
    )
    return json_response({"job_type": job_type, "paused": paused})


def _id_in(text: str) -> int | None:
    digits = text.strip().removeprefix("#")
    if digits.isdigit() and 0 < len(digits) <= 18:
        return int(digits)
    return None


async def search(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    text, limit = args["q"], args["limit"]
    filters, status = job_filters(args), args["status"]
    found: list[JobRecord] = []
    job_id = _id_in(text)
    if job_id is not None:
        job = await dashboard.queue.get_job(job_id)
        if job is not None:
            found.append(job)
    searched = await dashboard.queue.search_jobs(text, filters, status, limit)
    found += [job for job in searched.jobs if job.id != job_id]
    return json_response(
        {
            "jobs": found[:limit],
            "indexed": searched.indexed,
            "scanned": searched.scanned,
            "scan_limit": SEARCH_SCAN,
            "exhausted": searched.exhausted,
        },
        prepare=lambda page: {**page, "jobs": [summary(job) for job in page["jobs"]]},
    )


async def activity(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    actions = await dashboard.queue.get_actions(args["limit"])
    return json_response(
        {
            "actions": [
                Activity(a.at, a.who, a.action, dict(a.details)) for a in actions
            ],
            "kept": ACTIONS_KEPT,
        }
    )


# -- acting -------------------------------------------------------------------


async def bulk(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    body = await json_body(request)
    if not isinstance(body, dict) or body.get("action") not in BULK_ACTIONS:
        raise ApiError(400, f"action must be one of {list(BULK_ACTIONS)}")
    action = body["action"]
    if ("ids" in body) == ("filter" in body):
        raise ApiError(400, "give either ids (a list of job ids) or a filter")
    if "ids" in body:
        ids = _ids(body["ids"])
        offset, status, done = 0, None, True
    else:
        filters, status, offset = _filter(body)
        page = await dashboard.queue.get_jobs(filters, status, BULK_BATCH, offset)
        ids = [job.id for job in page]
        done = len(ids) < BULK_BATCH
    with audit.acting(request):
        changed = await _apply(dashboard, action, ids)
    unchanged = len(ids) - len(changed)
    # Changed jobs leave a filter on their status (a retried job is no
    # longer failed); on every status they stay, and the next batch skips
    # them.
    stays = len(ids) if status is None and action != "delete" else unchanged
    if changed:
        await audit.record(dashboard.queue, request, f"bulk_{action}", job_ids=changed)
    return json_response(
        BulkResult(action, changed, unchanged, offset + stays, done or not ids)
    )


def _ids(value: Any) -> list[int]:
    if (
        not isinstance(value, list)
        or len(value) > BULK_BATCH
        or not all(type(i) is int and 0 < i < 2**63 for i in value)
    ):
        raise ApiError(400, f"ids must be a list of at most {BULK_BATCH} job ids")
    return sorted(set(value))


def _filter(body: dict[str, Any]) -> tuple[dict[str, Any], str | None, int]:
    given = body["filter"]
    offset = body.get("offset", 0)
    if not isinstance(given, dict) or type(offset) is not int or offset < 0:
        raise ApiError(400, "filter must be an object and offset an integer >= 0")
    status = given.get("status")
    if status is not None and status not in {s.value for s in JobStatus}:
        raise ApiError(400, f"filter.status: not a status: {status!r}")
    tags = given.get("tags") or []
    args = {
        "job_type": given.get("job_type") or None,
        "tags": tags,
        "tag_mode": given.get("tag_mode", "all"),
    }
    return job_filters(args), status, offset


async def _apply(dashboard: Dashboard, action: str, ids: list[int]) -> list[int]:
    queue = dashboard.queue
    if action == "delete":
        return await queue.delete_jobs(ids) if ids else []
    change = queue.retry_job if action == "retry" else queue.cancel_job
    return [job_id for job_id in ids if await change(job_id)]


async def run_cron(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    schedule = await schedule_or_404(dashboard, args["cron_id"])
    with audit.acting(request):
        job_id = await dashboard.queue.add_job(
            schedule.job_type,
            schedule.payload,
            priority=schedule.priority,
            max_attempts=schedule.max_attempts,
            timeout=schedule.timeout,
            tags=schedule.tags or None,
            retry_delay=schedule.retry_delay,
            retry_backoff=schedule.retry_backoff,
            retry_delay_max=schedule.retry_delay_max,
            dead_letter_job_type=schedule.dead_letter_job_type,
        )
    await audit.record(
        dashboard.queue, request, "run_cron", cron_id=schedule.id, job_id=job_id
    )
    return json_response({"job_id": job_id})


async def edit_cron(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    body = await json_body(request)
    if not isinstance(body, dict) or not body or set(body) - set(CRON_EDITABLE):
        raise ApiError(
            400, f"the body must be an object of fields among {list(CRON_EDITABLE)}"
        )
    schedule = await schedule_or_404(dashboard, args["cron_id"])
    await dashboard.queue.edit_cron_job(schedule.id, **body)
    await audit.record(
        dashboard.queue, request, "edit_cron", cron_id=schedule.id, changes=body
    )
    schedule = await schedule_or_404(dashboard, schedule.id)
    return json_response({"schedule": with_next_runs(schedule)})


async def quiet_worker(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    worker_id = args["worker_id"]
    if not await dashboard.queue.quiet_worker(worker_id):
        raise ApiError(404, f"there is no worker {worker_id!r}")
    await audit.record(dashboard.queue, request, "quiet_worker", worker_id=worker_id)
    return json_response({"worker_id": worker_id, "quiet": True})


OPERATE_ENDPOINTS = (
    Endpoint(
        "GET",
        "/api/overview",
        overview,
        "Per minute, what the workers started, completed and failed, and the "
        "mean delay from due to first start, every job type added up.",
        (WINDOW, JOB_TYPE),
        (
            Answer(
                200,
                "Every minute of the window, oldest first.",
                {"window": str, "minutes": list[MinutePoint]},
            ),
            BAD_QUERY,
        ),
    ),
    Endpoint(
        "GET",
        "/api/activity",
        activity,
        "The actions taken on the dashboard (pause, resume, bulk changes, "
        "cron and worker actions...), with who took them, newest first; the "
        "store keeps the newest `kept`.",
        (ACTIVITY_LIMIT,),
        (
            Answer(
                200,
                "The newest actions, newest first.",
                {"actions": list[Activity], "kept": int},
            ),
            BAD_QUERY,
        ),
    ),
    Endpoint(
        "GET",
        "/api/queues",
        queues,
        "One row per job type with jobs: depth by status, oldest pending "
        "age, throughput and failure rate of the last hour, limits, pause, "
        "and held jobs per reason.",
        answers=(
            Answer(
                200,
                "The job types with jobs or limits, by name; whether every "
                "type is paused; whether the held counts are complete (false: "
                "the store stopped at its bound, and they are lower bounds).",
                {"queues": list[QueueRow], "all_paused": bool, "held_complete": bool},
            ),
        ),
    ),
    Endpoint(
        "POST",
        "/api/queues/{job_type}/pause",
        pause_queue,
        "Stop claiming jobs of this type; running jobs finish.",
        (QUEUE_TYPE,),
        (PAUSED, REFUSED, NOT_FOUND),
    ),
    Endpoint(
        "POST",
        "/api/queues/{job_type}/resume",
        resume_queue,
        "Claim jobs of this type again.",
        (QUEUE_TYPE,),
        (PAUSED, REFUSED, NOT_FOUND),
    ),
    Endpoint(
        "POST",
        "/api/queues/pause",
        pause_queue,
        "Stop claiming jobs of every type; running jobs finish.",
        answers=(PAUSED, REFUSED),
        name="pause_every_queue",
    ),
    Endpoint(
        "POST",
        "/api/queues/resume",
        resume_queue,
        "Claim jobs of every type again (ends every pause).",
        answers=(PAUSED, REFUSED),
        name="resume_every_queue",
    ),
    Endpoint(
        "GET",
        "/api/search",
        search,
        "Find jobs by id or by text in their payload (every job through "
        "PostgreSQL's optional trigram index of the payloads, else the newest "
        f"{SEARCH_SCAN} jobs that match the filters).",
        (QUERY, STATUS, *JOB_FILTERS, SEARCH_LIMIT),
        (
            Answer(
                200,
                "The matches, the id first, then newest first; whether an "
                "index searched every job, else how many were read.",
                {
                    "jobs": GenericAlias(list, JobSummary),
                    "indexed": bool,
                    "scanned": int,
                    "scan_limit": int,
                    "exhausted": bool,
                },
            ),
            BAD_QUERY,
        ),
    ),
    Endpoint(
        "POST",
        "/api/jobs/bulk",
        bulk,
        f"Retry, cancel or delete up to {BULK_BATCH} jobs: the ids given, or "
        "the next batch of a filter's jobs from an offset.",
        answers=(
            Answer(200, "What this batch did.", BulkResult),
            Answer(400, "The body is malformed."),
            REFUSED,
        ),
        body={
            "type": "object",
            "properties": {
                "action": {"type": "string", "enum": list(BULK_ACTIONS)},
                "ids": {
                    "type": "array",
                    "maxItems": BULK_BATCH,
                    "items": {"type": "integer", "minimum": 1},
                },
                "filter": {
                    "type": "object",
                    "properties": {
                        "status": STATUS.schema,
                        "job_type": NAME,
                        "tags": {"type": "array", "items": NAME},
                        "tag_mode": {"enum": ["all", "any", "none", "exact"]},
                    },
                    "additionalProperties": False,
                },
                "offset": {"type": "integer", "minimum": 0},
            },
            "required": ["action"],
            "additionalProperties": False,
        },
    ),
    Endpoint(
        "POST",
        "/api/cron/{cron_id}/run",
        run_cron,
        "Enqueue the schedule's job now, with the schedule's options.",
        (CRON_ID,),
        (Answer(200, "The new job's id.", {"job_id": int}), REFUSED, NOT_FOUND),
    ),
    Endpoint(
        "POST",
        "/api/cron/{cron_id}/edit",
        edit_cron,
        "Change a schedule; its next runs are recomputed.",
        (CRON_ID,),
        (
            Answer(200, "The schedule after the change.", SCHEDULE),
            Answer(400, "The body is malformed, or a value is not valid."),
            REFUSED,
            NOT_FOUND,
            Answer(413, "The body is too large."),
        ),
        body={
            "type": "object",
            "properties": {
                "cron_expression": {"type": "string"},
                "timezone": {"type": "string"},
                "payload": {"description": "Any JSON value."},
                "priority": {"type": "integer"},
                "max_attempts": {"type": "integer", "minimum": 1},
                "timeout": {"type": ["number", "null"]},
                "tags": {"type": ["array", "null"], "items": NAME},
                "allow_overlap": {"type": "boolean"},
            },
            "additionalProperties": False,
        },
    ),
    Endpoint(
        "POST",
        "/api/workers/{worker_id}/quiet",
        quiet_worker,
        "Ask a worker to stop taking jobs (it finishes what it runs).",
        (WORKER_ID,),
        (
            Answer(200, "The request is stored.", {"worker_id": str, "quiet": bool}),
            REFUSED,
            NOT_FOUND,
        ),
    ),
)
