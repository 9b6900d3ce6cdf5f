"""Rows as the memory store keeps them, and the records it hands out.

A row is a plain dict. JSON values (payloads, outputs, step data, event
metadata) are kept as JSON text, as the other stores keep them: what comes
back is what a round trip through JSON gives (a tuple comes back a list,
an int key a str), and never the caller's own object.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from dataqueue._commands import BrokenJob, Claimed, JobFilter, NewCronJob, NewJob
from dataqueue._transitions import DEPENDENCY
from dataqueue.backends._records import (
    CRON_FIELDS,
    JOB_FIELDS,
    cron_from_row,
    event_from_row,
    job_from_row,
)
from dataqueue.cron import CronJob
from dataqueue.models import (
    Entity,
    FlowRecord,
    FlowStatus,
    FlowStep,
    JobEvent,
    JobRecord,
    JobStatus,
    Token,
    WorkerInfo,
)
from dataqueue.types import JSONValue

Row = dict[str, Any]

encode_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
JOB_JSON_FIELDS = ("payload", "output", "step_data")


def optional_json(value: JSONValue) -> str | None:
    return None if value is None else encode_json(value)


def decode_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


# -- jobs --------------------------------------------------------------------


def new_job_row(job_id: int, job: NewJob, now: Any) -> Row:
    """A ``pending`` job as ``add_jobs`` inserts it (``run_at`` None: now)."""
    row: Row = dict.fromkeys(JOB_FIELDS)
    row.update(
        id=job_id,
        job_type=job.job_type,
        payload=encode_json(job.payload),
        status=JobStatus.PENDING.value,
        created_at=now,
        updated_at=now,
        attempts=0,
        max_attempts=job.max_attempts,
        priority=job.priority,
        run_at=now if job.run_at is None else job.run_at,
        error_history=[],
        timeout=job.timeout,
        force_kill_on_timeout=job.force_kill_on_timeout,
        tags=list(job.tags),
        idempotency_key=job.idempotency_key,
        retry_delay=job.retry_delay,
        retry_backoff=job.retry_backoff,
        retry_delay_max=job.retry_delay_max,
        flow_id=job.flow_id,
        flow_step_index=job.flow_step_index,
        entity=copy_entity(job.entity),
        cron_job_id=None if job.cron is None else job.cron.cron_job_id,
        cron_due_at=None if job.cron is None else job.cron.due_at,
        dead_letter_job_type=job.dead_letter_job_type,
        dedupe_key=None if job.dedupe is None else job.dedupe.key,
        group_id=job.group_id,
        lease_token=None,
        has_dependents=False,
    )
    return row


def job_record(row: Row) -> JobRecord:
    values = dict(row)
    for name in JOB_JSON_FIELDS:
        values[name] = decode_json(row[name])
    values["error_history"] = [dict(entry) for entry in row["error_history"]]
    values["entity"] = copy_entity(row["entity"])
    return job_from_row(values)


def claimed_record(row: Row) -> Claimed:
    """A claimed job; a row damaged behind the store's back (its payload
    text overwritten) is a ``BrokenJob`` rather than a failed claim."""
    try:
        return job_record(row)
    except Exception as error:  # any damage to the row makes it a BrokenJob
        return BrokenJob(id=row["id"], error=f"{type(error).__name__}: {error}")


def copy_entity(entity: Entity | None) -> Entity | None:
    return None if entity is None else {"id": entity["id"], "type": entity["type"]}


def matches(row: Row, where: JobFilter) -> bool:
    """Whether a job passes every filter of ``where`` (tags as sets: ``all``
    has every value, ``any`` at least one, ``none`` none, ``exact`` the same
    set)."""
    if where.job_type is not None and row["job_type"] != where.job_type:
        return False
    if where.priority is not None and row["priority"] != where.priority:
        return False
    if where.status is not None and row["status"] != where.status.value:
        return False
    if where.run_at is not None:
        run_at, bounds = row["run_at"], where.run_at
        if bounds.gt is not None and not run_at > bounds.gt:
            return False
        if bounds.gte is not None and not run_at >= bounds.gte:
            return False
        if bounds.lt is not None and not run_at < bounds.lt:
            return False
        if bounds.lte is not None and not run_at <= bounds.lte:
            return False
        if bounds.eq is not None and run_at != bounds.eq:
            return False
    if where.tags is not None:
        tags, values = set(row["tags"]), where.tags.values
        shared = len(tags.intersection(values))
        match where.tags.mode:
            case "any":
                return shared > 0
            case "none":
                return shared == 0
            case "all":
                return shared == len(values)
            case "exact":
                return shared == len(values) == len(tags)
    return True


def is_due(row: Row, now: Any) -> bool:
    """``pending`` with ``run_at <= now`` (unless held by its
    dependencies), or ``failed`` with ``next_attempt_at <= now``."""
    if row["status"] == JobStatus.PENDING:
        return row["pending_reason"] != DEPENDENCY and bool(row["run_at"] <= now)
    if row["status"] == JobStatus.FAILED:
        retry_at = row["next_attempt_at"]
        return retry_at is not None and bool(retry_at <= now)
    return False


ClaimKey = tuple[int, Any, int]


def claim_order(row: Row) -> ClaimKey:
    """Priority (high first), then ``run_at``, then id."""
    return (-row["priority"], row["run_at"], row["id"])


def in_line(row: Row) -> bool:
    """Whether a claim may take the job once it is due (``is_due``)."""
    if row["status"] == JobStatus.PENDING:
        return True
    return row["status"] == JobStatus.FAILED and row["next_attempt_at"] is not None


def event_record(event: Row) -> JobEvent:
    return event_from_row({**event, "metadata": decode_json(event["metadata"])})


# -- tokens, cron, flows -------------------------------------------------------


def token_record(row: Row) -> Token:
    return Token(
        id=row["id"],
        job_id=row["job_id"],
        status=row["status"],
        output=decode_json(row["output"]),
        timeout_at=row["timeout_at"],
        created_at=row["created_at"],
        completed_at=row["completed_at"],
        tags=list(row["tags"]),
    )


def new_cron_row(cron_id: int, schedule: NewCronJob, now: Any) -> Row:
    row: Row = dict.fromkeys(CRON_FIELDS)
    row.update(
        id=cron_id,
        schedule_name=schedule.schedule_name,
        cron_expression=schedule.cron_expression,
        job_type=schedule.job_type,
        payload=encode_json(schedule.payload),
        timezone=schedule.timezone,
        allow_overlap=schedule.allow_overlap,
        status="active",
        max_attempts=schedule.max_attempts,
        priority=schedule.priority,
        timeout=schedule.timeout,
        tags=list(schedule.tags),
        retry_delay=schedule.retry_delay,
        retry_backoff=schedule.retry_backoff,
        retry_delay_max=schedule.retry_delay_max,
        dead_letter_job_type=schedule.dead_letter_job_type,
        next_run_at=schedule.next_run_at,
        skipped_runs=0,
        created_at=now,
        updated_at=now,
    )
    return row


def cron_record(row: Row) -> CronJob:
    return cron_from_row(
        {**row, "payload": decode_json(row["payload"]), "tags": list(row["tags"])}
    )


def flow_record(flow: Row, steps: list[FlowStep]) -> FlowRecord:
    return FlowRecord(
        id=flow["id"],
        status=FlowStatus(flow["status"]),
        failure_policy=flow["failure_policy"],
        total_steps=flow["total_steps"],
        remaining_steps=flow["remaining_steps"],
        aborted=flow["aborted"],
        timed_out=flow["timed_out"],
        timeout_at=flow["timeout_at"],
        join_job_type=flow["join_job_type"],
        join_job_id=flow["join_job_id"],
        entity=copy_entity(flow["entity"]),
        created_at=flow["created_at"],
        updated_at=flow["updated_at"],
        steps=steps,
    )


def flow_step(step_index: int, outcome: str | None, job: Row) -> FlowStep:
    """A step as ``get_flow`` shows it: the output of a success, the last
    error of a fail (``"cancelled"`` for a job cancelled without one)."""
    result: Any = None
    error: str | None = None
    if outcome == "success":
        result = decode_json(job["output"])
    elif outcome == "fail":
        history = job["error_history"]
        error = history[-1]["message"] if history else None
        if error is None and job["status"] == JobStatus.CANCELLED:
            error = "cancelled"
    return FlowStep(
        step_index=step_index,
        job_id=job["id"],
        job_type=job["job_type"],
        status=JobStatus(job["status"]),
        outcome=outcome,  # type: ignore[arg-type]
        result=result,
        error=error,
    )


def copy_worker(worker: WorkerInfo) -> WorkerInfo:
    """A worker whose lists are its own, so no caller shares the store's."""
    return replace(
        worker,
        job_types=None if worker.job_types is None else list(worker.job_types),
        running_job_ids=list(worker.running_job_ids),
    )
