"""Redis values: Python values to script arguments (times as microseconds
since the epoch in text, JSON as text, hashes as field lists), and hashes
back to records."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from dataqueue._commands import (
    BrokenJob,
    Claimed,
    CronChanges,
    CronTick,
    DedupeRule,
    JobChanges,
    JobFilter,
    Lease,
    NewCronJob,
    NewFlow,
    NewJob,
)
from dataqueue._transitions import (
    added_metadata,
    deduplicated_metadata,
    held_for_dependencies_metadata,
)
from dataqueue._validate import to_json_text
from dataqueue.backends import _records
from dataqueue.backends._records import CRON_TIME_FIELDS, JOB_TIME_FIELDS
from dataqueue.cron import CronJob, CronStatus
from dataqueue.limits import Limits, Rate
from dataqueue.models import (
    Entity,
    FlowRecord,
    FlowStatus,
    FlowStep,
    JobRecord,
    JobStatus,
    Token,
    WorkerInfo,
)
from dataqueue.types import JSONValue

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
INT_FIELDS = frozenset(
    {
        "id",
        "attempts",
        "max_attempts",
        "priority",
        "progress",
        "cron_job_id",
        "last_job_id",
        "skipped_runs",
        "flow_step_index",
        "dead_letter_job_id",
    }
)


FLOAT_FIELDS = frozenset({"timeout", "retry_delay", "retry_delay_max"})
BOOL_FIELDS = frozenset({"force_kill_on_timeout", "retry_backoff", "allow_overlap"})
TIME_FIELDS = JOB_TIME_FIELDS | CRON_TIME_FIELDS
JSON_FIELDS = frozenset(
    {
        "payload",
        "output",
        "error_history",
        "tags",
        "step_data",
        "entity",
        "depends_on_job_ids",
        "depends_on_tags",
    }
)


# JSON fields whose NULL is an absent field, like every non-JSON field.
ABSENT_WHEN_NULL = frozenset({"entity", "depends_on_job_ids", "depends_on_tags"})
MINUTE_US = 60_000_000


def micros_text(value: datetime) -> str:
    return str((value - EPOCH) // MICROSECOND)


def time_from(text: str) -> datetime:
    return EPOCH + int(text) * MICROSECOND


def as_text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def encode_field(name: str, value: Any) -> str | None:
    """A job field as stored in its hash; None means the field is absent."""
    if value is None and (name in ABSENT_WHEN_NULL or name not in JSON_FIELDS):
        return None
    if name in JSON_FIELDS:
        return to_json_text(value)
    if name in TIME_FIELDS:
        return micros_text(value)
    if name in BOOL_FIELDS:
        return "1" if value else "0"
    if name in FLOAT_FIELDS:
        return repr(float(value))
    return str(value)


def flag(text: str) -> bool:
    return text == "1"


def json_from(text: str) -> Any:
    # most tags and error histories: skip the parser
    return [] if text == "[]" else json.loads(text)


def same_text(text: str) -> str:
    return text


def decoder(name: str) -> Callable[[str], Any]:
    if name in TIME_FIELDS:
        return time_from
    if name in INT_FIELDS:
        return int
    if name in FLOAT_FIELDS:
        return float
    if name in BOOL_FIELDS:
        return flag
    if name in JSON_FIELDS:
        return json_from
    return same_text


JOB_DECODERS = {name: decoder(name) for name in _records.JOB_FIELDS}
CRON_DECODERS = {name: decoder(name) for name in _records.CRON_FIELDS}


def decode_job(row: Mapping[str, str]) -> JobRecord:
    """A job from its hash as a mapping; fields that are not JobRecord's
    (``lease_token``) are skipped."""
    values: dict[str, Any] = dict.fromkeys(_records.JOB_FIELDS)
    for name, text in row.items():
        decode = JOB_DECODERS.get(name)
        if decode is not None:
            values[name] = decode(text)
    return _records.job_from_values(values)


def decode_claimed(row: Mapping[str, str]) -> Claimed:
    """A claimed job, or a BrokenJob when its hash cannot be decoded: one bad
    job never takes its claim down with it."""
    try:
        return decode_job(row)
    except Exception as error:  # any decoding failure; the job is still claimed
        job_id = int(row["id"])
        return BrokenJob(job_id, f"job {job_id} cannot be decoded: {error!r}")


def decode_cron(fields: Mapping[str | bytes, str | bytes]) -> CronJob:
    values: dict[str, Any] = dict.fromkeys(_records.CRON_FIELDS)
    for name, text in fields.items():
        decode = CRON_DECODERS.get(as_text(name))
        if decode is not None:
            values[as_text(name)] = decode(as_text(text))
    return _records.cron_from_row(values)


def decode_crons(rows: Sequence[Sequence[str | bytes]]) -> list[CronJob]:
    return [decode_cron(dict(zip(row[::2], row[1::2], strict=True))) for row in rows]


def field_args(values: Mapping[str, Any]) -> list[str]:
    """Hash fields as a flat name, value list; NULLs are left out."""
    flat: list[str] = []
    for name, value in values.items():
        text = encode_field(name, value)
        if text is not None:
            flat += [name, text]
    return flat


def new_cron_args(schedule: NewCronJob, now: datetime) -> list[str]:
    return field_args(
        {
            "schedule_name": schedule.schedule_name,
            "cron_expression": schedule.cron_expression,
            "job_type": schedule.job_type,
            "payload": schedule.payload,
            "timezone": schedule.timezone,
            "allow_overlap": schedule.allow_overlap,
            "status": CronStatus.ACTIVE.value,
            "max_attempts": schedule.max_attempts,
            "priority": schedule.priority,
            "timeout": schedule.timeout,
            "tags": schedule.tags,
            "retry_delay": schedule.retry_delay,
            "retry_backoff": schedule.retry_backoff,
            "retry_delay_max": schedule.retry_delay_max,
            "dead_letter_job_type": schedule.dead_letter_job_type,
            "next_run_at": schedule.next_run_at,
            "skipped_runs": 0,
            "created_at": now,
            "updated_at": now,
        }
    )


def cron_edit_json(changes: CronChanges) -> str:
    """The edit as the JSON object that ``edit_cron_job.lua`` reads."""
    set_fields: list[str] = []
    unset: list[str] = []
    for name, value in changes.values.items():
        text = encode_field(name, value)
        if text is None:
            unset.append(name)
        else:
            set_fields += [name, text]
    spec: dict[str, Any] = {"set": set_fields, "unset": unset}
    if changes.next_run_at is not None:
        spec["next_run_at"] = micros_text(changes.next_run_at)
    if changes.expected is not None:
        spec["expected"] = list(changes.expected)
    return to_json_text(spec)


def tick_json(tick: CronTick, now: datetime) -> str:
    """A tick as the JSON object that ``enqueue_cron_jobs.lua`` reads: the
    claim, and the job as ``add_jobs.lua`` takes it."""
    spec: dict[str, Any] = {
        "schedule_id": str(tick.run.cron_job_id),
        "claimed_run_at": micros_text(tick.claimed_run_at),
        "next_run_at": micros_text(tick.next_run_at),
        "skipped": tick.run.skipped,
        "job": job_spec(tick.job, now),
    }
    return to_json_text(spec)


def new_job_json(job: NewJob, now: datetime) -> str:
    return to_json_text(job_spec(job, now))


def job_spec(job: NewJob, now: datetime) -> dict[str, Any]:
    """A new job as the object that ``create_job()`` in ``_lib.lua`` reads."""
    run_at = job.run_at or now
    values: dict[str, Any] = {
        "job_type": job.job_type,
        "payload": job.payload,
        "status": "pending",
        "created_at": now,
        "updated_at": now,
        "run_at": run_at,
        "attempts": 0,
        "max_attempts": job.max_attempts,
        "priority": job.priority,
        "error_history": [],
        "timeout": job.timeout,
        "force_kill_on_timeout": job.force_kill_on_timeout,
        "tags": job.tags,
        "idempotency_key": job.idempotency_key,
        "retry_delay": job.retry_delay,
        "retry_backoff": job.retry_backoff,
        "retry_delay_max": job.retry_delay_max,
        "flow_id": job.flow_id,
        "flow_step_index": job.flow_step_index,
        "entity": job.entity,
        "cron_job_id": None if job.cron is None else job.cron.cron_job_id,
        "cron_due_at": None if job.cron is None else job.cron.due_at,
        "dead_letter_job_type": job.dead_letter_job_type,
        "dedupe_key": None if job.dedupe is None else job.dedupe.key,
        "group_id": job.group_id,
    }
    spec: dict[str, Any] = {
        "fields": field_args(values),
        "job_type": job.job_type,
        "tags": job.tags,
        "event": to_json_text(added_metadata(job)),
        "run_at": micros_text(run_at),
        "priority": str(job.priority),
    }
    if job.idempotency_key is not None:
        spec["key"] = job.idempotency_key
    if job.dedupe is not None:
        spec["dedupe"] = dedupe_spec(job, job.dedupe, run_at)
    if job.depends_on is not None:
        spec["depends_on"] = {
            # ids as text: Lua numbers would lose the digits of large ids
            "job_ids": [str(i) for i in job.depends_on.job_ids],
            "batch": list(job.depends_on.batch_indexes),
            "tags": list(job.depends_on.tags),
            "event": to_json_text(held_for_dependencies_metadata()),
        }
    return spec


def dedupe_spec(job: NewJob, rule: DedupeRule, run_at: datetime) -> dict[str, Any]:
    """A job's dedupe rule as ``add_jobs.lua`` reads it."""
    expires_at = rule.expires_at
    return {
        "key": rule.key,
        "mode": rule.mode,
        "expires_at": "" if expires_at is None else micros_text(expires_at),
        "payload": to_json_text(job.payload),
        "run_at": micros_text(run_at),
        "event": to_json_text(deduplicated_metadata(rule, run_at)),
    }


def filter_json(where: JobFilter) -> str:
    """The filter as the JSON object that ``matches()`` in ``_lib.lua`` reads."""
    spec: dict[str, Any] = {}
    if where.job_type is not None:
        spec["job_type"] = where.job_type
    if where.priority is not None:
        spec["priority"] = where.priority
    if where.status is not None:
        spec["status"] = where.status.value
    if where.run_at is not None:
        bounds = {
            "gt": where.run_at.gt,
            "gte": where.run_at.gte,
            "lt": where.run_at.lt,
            "lte": where.run_at.lte,
            "eq": where.run_at.eq,
        }
        spec["run_at"] = {k: micros_text(v) for k, v in bounds.items() if v is not None}
    if where.tags is not None:
        spec["tags"] = {"mode": where.tags.mode, "values": where.tags.values}
    return to_json_text(spec)


def changes_json(changes: JobChanges, now: datetime) -> str:
    """The edit as the JSON object that ``edit_jobs.lua`` reads."""
    set_fields: list[str] = []
    unset: list[str] = []
    spec: dict[str, Any] = {"set": set_fields, "unset": unset}
    for name, value in changes.values.items():
        if name == "run_at" and value is None:
            value = now
        if name == "tags":
            spec["tags"] = value
        text = encode_field(name, value)
        if text is None:
            unset.append(name)
        else:
            set_fields += [name, text]
    return to_json_text(spec)


def decode_token(row: Mapping[str, str]) -> Token:
    """A token from its hash (see ``keys.py``)."""
    output = row.get("output")
    timeout_at, completed_at = row.get("timeout_at"), row.get("completed_at")
    return Token(
        id=row["id"],
        job_id=int(row["job_id"]),
        status=row["status"],  # type: ignore[arg-type]
        output=None if output is None else json.loads(output),
        timeout_at=None if timeout_at is None else time_from(timeout_at),
        created_at=time_from(row["created_at"]),
        completed_at=None if completed_at is None else time_from(completed_at),
        tags=json.loads(row["tags"]),
    )


def new_flow_json(flow: NewFlow, now: datetime) -> str:
    """A flow as the JSON object that ``start_flow.lua`` reads."""
    values: dict[str, str] = {
        "id": flow.id,
        "status": FlowStatus.RUNNING.value,
        "failure_policy": flow.failure_policy,
        "total_steps": str(len(flow.steps)),
        "remaining_steps": str(len(flow.steps)),
        "aborted": "0",
        "timed_out": "0",
        "join_job_type": flow.join_job_type,
        "join_spec": flow.join_spec,
        "created_at": micros_text(now),
        "updated_at": micros_text(now),
    }
    if flow.entity is not None:
        values["entity"] = entity_text(flow.entity)
    if flow.timeout_at is not None:
        values["timeout_at"] = micros_text(flow.timeout_at)
    spec: dict[str, JSONValue] = {
        "id": flow.id,
        "fields": [text for pair in values.items() for text in pair],
    }
    if flow.timeout_at is not None:
        spec["timeout_at"] = values["timeout_at"]
    return to_json_text(spec)


def entity_text(entity: Entity) -> str:
    value: dict[str, JSONValue] = {"id": entity["id"], "type": entity["type"]}
    return to_json_text(value)


def optional_time(text: str | None) -> datetime | None:
    return None if text is None else time_from(text)


def decode_flow(row: Mapping[str, str], steps: list[FlowStep]) -> FlowRecord:
    """A flow from its hash (see ``keys.py``)."""
    join_job_id, entity = row.get("join_job_id"), row.get("entity")
    return FlowRecord(
        id=row["id"],
        status=FlowStatus(row["status"]),
        failure_policy="abort" if row["failure_policy"] == "abort" else "continue",
        total_steps=int(row["total_steps"]),
        remaining_steps=int(row["remaining_steps"]),
        aborted=flag(row["aborted"]),
        timed_out=flag(row["timed_out"]),
        timeout_at=optional_time(row.get("timeout_at")),
        join_job_type=row["join_job_type"],
        join_job_id=None if join_job_id is None else int(join_job_id),
        entity=None if entity is None else json.loads(entity),
        created_at=time_from(row["created_at"]),
        updated_at=time_from(row["updated_at"]),
        steps=steps,
    )


def decode_step(row: Sequence[Any]) -> FlowStep:
    """A step as ``get_flow.lua`` returns it: [step index, job id, job type,
    job status, outcome, output, error history], None where absent."""
    step_index, job_id, job_type, status, outcome, output, history = row
    error = None
    if outcome == "fail":
        errors = json.loads(history) if history else []
        if errors:
            error = errors[-1]["message"]
        elif status == JobStatus.CANCELLED:
            error = "cancelled"
    return FlowStep(
        step_index=step_index,
        job_id=int(job_id),
        job_type=job_type,
        status=JobStatus(status),
        outcome=outcome,
        result=json.loads(output) if outcome == "success" and output else None,
        error=error,
    )


def worker_args(worker: WorkerInfo) -> list[str]:
    values: dict[str, str] = {
        "id": worker.id,
        "host": worker.host,
        "pid": str(worker.pid),
        "started_at": micros_text(worker.started_at),
        "last_heartbeat": micros_text(worker.last_heartbeat),
        "concurrency": str(worker.concurrency),
        "running_job_ids": ids_text(worker.running_job_ids),
        "processed": str(worker.processed),
        "failed": str(worker.failed),
    }
    if worker.quiet:
        values["quiet"] = "1"
    if worker.job_types is not None:
        types: list[JSONValue] = list(worker.job_types)
        values["job_types"] = to_json_text(types)
    return [text for pair in values.items() for text in pair]


def ids_text(job_ids: Sequence[int]) -> str:
    ids: list[JSONValue] = list(job_ids)
    return to_json_text(ids)


def decode_worker(row: Mapping[str, str]) -> WorkerInfo:
    """A worker from its hash (see ``keys.py``)."""
    job_types = row.get("job_types")
    return WorkerInfo(
        id=row["id"],
        host=row["host"],
        pid=int(row["pid"]),
        started_at=time_from(row["started_at"]),
        last_heartbeat=time_from(row["last_heartbeat"]),
        job_types=None if job_types is None else json.loads(job_types),
        concurrency=int(row["concurrency"]),
        running_job_ids=json.loads(row["running_job_ids"]),
        # Absent in the hash of a worker of an earlier version.
        processed=int(row.get("processed", 0)),
        failed=int(row.get("failed", 0)),
        quiet=row.get("quiet") == "1",
    )


def lease_args(leases: Sequence[Lease]) -> list[str]:
    args: list[str] = []
    for lease in leases:
        args += [str(lease.job_id), lease.token]
    return args


def limits_from(job_type: str, text: str) -> Limits:
    """A job type's limits from their JSON in the limits hash (keys.py)."""
    row = json.loads(text)

    def rate(value: list[float] | None) -> Rate | None:
        return None if value is None else Rate(int(value[0]), float(value[1]))

    return Limits(
        job_type=job_type,
        concurrency=row.get("concurrency"),
        rate=rate(row.get("rate")),
        group_concurrency=row.get("group_concurrency"),
        group_rate=rate(row.get("group_rate")),
        paused=bool(row.get("paused", False)),
    )


def limit_changes_json(values: Mapping[str, Any]) -> str:
    """``LimitChanges.values`` as change_limits.lua reads them."""
    return to_json_text(
        {
            name: [value.count, value.per] if isinstance(value, Rate) else value
            for name, value in values.items()
        }
    )
