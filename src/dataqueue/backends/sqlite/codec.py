"""SQLite values: Python values to statement parameters (times as integer
microseconds since the epoch, JSON as text), and rows back to records."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from dataqueue._commands import (
    CRON_EDITABLE_FIELDS,
    EDITABLE_FIELDS,
    BrokenJob,
    Claimed,
    CronChanges,
    JobChanges,
    JobFilter,
    Lease,
    NewCronJob,
    NewJob,
)
from dataqueue._transitions import (
    Transition,
)
from dataqueue.backends._records import (
    CRON_TIME_FIELDS,
    JOB_TIME_FIELDS,
    cron_from_row,
    event_from_row,
    job_from_row,
)
from dataqueue.backends.sqlite.connection import SQL
from dataqueue.cron import CronJob
from dataqueue.models import (
    Entity,
    FlowRecord,
    FlowStatus,
    FlowStep,
    JobEvent,
    JobRecord,
    JobStatus,
    TimeRange,
    Token,
    WorkerInfo,
)
from dataqueue.types import JSONValue

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)
JSON_COLUMNS = frozenset(
    {
        "payload",
        "error_history",
        "tags",
        "output",
        "step_data",
        "depends_on_job_ids",
        "depends_on_tags",
    }
)
# The text dataqueue._validate.to_json_text makes, from one encoder built
# once: event metadata is encoded for every job settled or claimed.
encode_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def to_micros(value: datetime) -> int:
    return (value - EPOCH) // ONE_MICROSECOND


def optional_micros(value: datetime | None) -> int | None:
    return None if value is None else to_micros(value)


def from_micros(value: int | None) -> datetime | None:
    return None if value is None else EPOCH + timedelta(microseconds=value)


def optional_json(value: JSONValue) -> str | None:
    return None if value is None else encode_json(value)


def json_list(values: Iterable[Any]) -> str:
    return encode_json(list(values))


def decode_job(row: sqlite3.Row) -> JobRecord:
    values = dict(zip(row.keys(), row, strict=True))
    for name in JOB_TIME_FIELDS:
        micros = values[name]
        if micros is not None:
            values[name] = EPOCH + timedelta(microseconds=micros)
    for name in JSON_COLUMNS:
        text = values[name]
        if text == "[]":  # most tags and error histories: skip the parser
            values[name] = []
        elif text is not None:
            values[name] = json.loads(text)
    values["entity"] = entity_from(values["entity_id"], values["entity_type"])
    return job_from_row(values)


def entity_from(entity_id: str | None, entity_type: str | None) -> Entity | None:
    """An entity stored as its two columns (both set, or both NULL)."""
    if entity_id is None or entity_type is None:
        return None
    return {"id": entity_id, "type": entity_type}


def decode_cron(row: sqlite3.Row) -> CronJob:
    values: dict[str, Any] = {}
    for name in row.keys():  # noqa: SIM118 - sqlite3.Row is not a Mapping
        value = row[name]
        if name in CRON_TIME_FIELDS:
            value = from_micros(value)
        elif name in ("payload", "tags"):
            value = json.loads(value)
        values[name] = value
    return cron_from_row(values)


def cron_params(schedule: NewCronJob) -> dict[str, Any]:
    return {
        "schedule_name": schedule.schedule_name,
        "cron_expression": schedule.cron_expression,
        "job_type": schedule.job_type,
        "payload": encode_json(schedule.payload),
        "timezone": schedule.timezone,
        "allow_overlap": int(schedule.allow_overlap),
        "max_attempts": schedule.max_attempts,
        "priority": schedule.priority,
        "timeout": schedule.timeout,
        "tags": json_list(schedule.tags),
        "retry_delay": schedule.retry_delay,
        "retry_backoff": (
            None if schedule.retry_backoff is None else int(schedule.retry_backoff)
        ),
        "retry_delay_max": schedule.retry_delay_max,
        "dead_letter_job_type": schedule.dead_letter_job_type,
        "next_run_at": to_micros(schedule.next_run_at),
    }


def cron_change_params(changes: CronChanges) -> dict[str, Any]:
    expected = changes.expected or (None, None)
    params: dict[str, Any] = {
        "next_run_at": optional_micros(changes.next_run_at),
        "expected_expression": expected[0],
        "expected_timezone": expected[1],
    }
    for name in CRON_EDITABLE_FIELDS:
        params[f"set_{name}"] = int(name in changes.values)
        params[name] = None
    for name, value in changes.values.items():
        if name == "payload":
            params[name] = encode_json(value)
        elif name == "tags":
            params[name] = json_list(value)
        elif name in ("allow_overlap", "retry_backoff"):
            params[name] = None if value is None else int(value)
        else:
            params[name] = value
    return params


def decode_event(row: sqlite3.Row) -> JobEvent:
    metadata = row["metadata"]
    return event_from_row(
        {
            "id": row["id"],
            "job_id": row["job_id"],
            "event_type": row["event_type"],
            "created_at": from_micros(row["created_at"]),
            "metadata": None if metadata is None else json.loads(metadata),
        }
    )


def new_job_params(job: NewJob, now: int) -> tuple[Any, ...]:
    """add_jobs's parameters, in the order of its columns (a job with no
    run_at is due now)."""
    entity, cron, dedupe = job.entity, job.cron, job.dedupe
    return (
        job.job_type,
        encode_json(job.payload),
        now,
        now,
        job.max_attempts,
        job.priority,
        now if job.run_at is None else to_micros(job.run_at),
        job.timeout,
        int(job.force_kill_on_timeout),
        json_list(job.tags) if job.tags else "[]",
        job.idempotency_key,
        job.retry_delay,
        None if job.retry_backoff is None else int(job.retry_backoff),
        job.retry_delay_max,
        job.flow_id,
        job.flow_step_index,
        None if entity is None else entity["id"],
        None if entity is None else entity["type"],
        None if cron is None else cron.cron_job_id,
        None if cron is None else to_micros(cron.due_at),
        job.dead_letter_job_type,
        None if dedupe is None else dedupe.key,
        job.group_id,
    )


def filter_params(where: JobFilter) -> dict[str, Any]:
    run_at = where.run_at or TimeRange()
    tags = where.tags
    return {
        "job_type": where.job_type,
        "priority": where.priority,
        "status": None if where.status is None else where.status.value,
        "statuses": None,
        "run_at_gt": optional_micros(run_at.gt),
        "run_at_gte": optional_micros(run_at.gte),
        "run_at_lt": optional_micros(run_at.lt),
        "run_at_lte": optional_micros(run_at.lte),
        "run_at_eq": optional_micros(run_at.eq),
        "tag_mode": None if tags is None else tags.mode,
        "tag_values": None if tags is None else json_list(tags.values),
        "driver_tags": _driver_tags(where),
        "limit": -1,
        "offset": 0,
    }


def _driver_tags(where: JobFilter) -> str | None:
    """The tags whose jobs filter_by.tags starts from: one tag every match
    holds (modes all, exact), or every tag of mode any."""
    tags = where.tags
    if tags is None or tags.mode == "none":
        return None
    return json_list(tags.values if tags.mode == "any" else tags.values[:1])


def change_params(changes: JobChanges, now: int) -> dict[str, Any]:
    values = changes.values
    params: dict[str, Any] = {"now": now}
    for name in EDITABLE_FIELDS:
        params[f"set_{name}"] = int(name in values)
        params[name] = None
    for name, value in values.items():
        if name == "payload":
            params[name] = encode_json(value)
        elif name == "run_at":
            params[name] = optional_micros(value)
        elif name == "tags":
            params[name] = json_list(value or [])
        elif name == "retry_backoff":
            params[name] = None if value is None else int(value)
        else:
            params[name] = value
    return params


def statuses_json(transition: Transition) -> str:
    """The statuses ``transition`` starts from, for ``json_each``."""
    return json_list(sorted(transition.from_statuses))


def held_params(lease: Lease, now: datetime) -> dict[str, Any]:
    """The parameters of a one-job write under ``lease`` (progress, output)."""
    return {"id": lease.job_id, "token": lease.token, "now": to_micros(now)}


def leases_json(leases: Iterable[Lease]) -> str:
    return json_list([lease.job_id, lease.token] for lease in leases)


def from_micros_utc(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


def decode_token(row: sqlite3.Row) -> Token:
    output = row["output"]
    return Token(
        id=row["id"],
        job_id=row["job_id"],
        status=row["status"],
        output=None if output is None else json.loads(output),
        timeout_at=from_micros(row["timeout_at"]),
        created_at=EPOCH + timedelta(microseconds=row["created_at"]),
        completed_at=from_micros(row["completed_at"]),
        tags=json.loads(row["tags"]),
    )


def step_params(
    lease: Lease, step_data: dict[str, JSONValue], now: int
) -> dict[str, Any]:
    return {
        "id": lease.job_id,
        "token": lease.token,
        "step_data": encode_json(step_data),
        "now": now,
    }


def decode_claimed(row: sqlite3.Row) -> Claimed:
    try:
        return decode_job(row)
    except Exception as error:  # any damage to the row makes it a BrokenJob
        return BrokenJob(id=row["id"], error=f"{type(error).__name__}: {error}")


def decode_flow(row: sqlite3.Row, steps: list[FlowStep]) -> FlowRecord:
    return FlowRecord(
        id=row["id"],
        status=FlowStatus(row["status"]),
        failure_policy=row["failure_policy"],
        total_steps=row["total_steps"],
        remaining_steps=row["remaining_steps"],
        aborted=bool(row["aborted"]),
        timed_out=bool(row["timed_out"]),
        timeout_at=from_micros(row["timeout_at"]),
        join_job_type=row["join_job_type"],
        join_job_id=row["join_job_id"],
        entity=entity_from(row["entity_id"], row["entity_type"]),
        created_at=EPOCH + timedelta(microseconds=row["created_at"]),
        updated_at=EPOCH + timedelta(microseconds=row["updated_at"]),
        steps=steps,
    )


def decode_step(row: sqlite3.Row) -> FlowStep:
    """A step (``get_flow.steps``): the output of a success, the last error
    of a fail (``"cancelled"`` for a job cancelled without one)."""
    outcome = row["outcome"]
    status = row["status"]
    result: Any = None
    error: str | None = None
    if outcome == "success" and row["output"] is not None:
        result = json.loads(row["output"])
    elif outcome == "fail":
        error = row["error"]
        if error is None and status == JobStatus.CANCELLED:
            error = "cancelled"
    return FlowStep(
        step_index=row["step_index"],
        job_id=row["job_id"],
        job_type=row["job_type"],
        status=JobStatus(status),
        outcome=outcome,
        result=result,
        error=error,
    )


def decode_worker(row: sqlite3.Row) -> WorkerInfo:
    job_types = row["job_types"]
    return WorkerInfo(
        id=row["id"],
        host=row["host"],
        pid=row["pid"],
        started_at=EPOCH + timedelta(microseconds=row["started_at"]),
        last_heartbeat=EPOCH + timedelta(microseconds=row["last_heartbeat"]),
        job_types=None if job_types is None else json.loads(job_types),
        concurrency=row["concurrency"],
        running_job_ids=json.loads(row["running_job_ids"]),
        processed=row["processed"],
        failed=row["failed"],
        quiet=bool(row["quiet"]),
    )


def filtered_statement(
    name: Literal["get_jobs", "count_jobs"], where: JobFilter, *, statuses: bool = False
) -> str:
    """``name`` starting from the index that fits ``where`` (see
    filter_by.*.sql): the job type and status, the status, the job type,
    the tags, the statuses of a bulk change (``statuses``), or every job."""
    if where.job_type is not None:
        driver = "job_type" if where.status is None else "job_type_status"
    elif where.status is not None:
        driver = "status"
    elif where.tags is not None and where.tags.mode != "none" and where.tags.values:
        driver = "tags"
    else:
        driver = "statuses" if statuses else "none"
    return SQL[name].replace("{driver}", SQL[f"filter_by.{driver}"].rstrip())
