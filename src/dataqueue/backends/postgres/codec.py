"""Python values to statement parameters, and rows back to Python values.

JSON values (payloads, outputs, metadata) travel as JSON text and are stored
in ``json`` columns, which keep the text they were given: a float comes back
as the same float (``1e16`` stays a float, ``-0.0`` keeps its sign), where
``jsonb`` would normalize it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache, partial
from typing import Any

from dataqueue._commands import (
    CRON_EDITABLE_FIELDS,
    EDITABLE_FIELDS,
    ClaimRequest,
    Completion,
    CronChanges,
    Failure,
    JobChanges,
    JobFilter,
    Lease,
    NewCronJob,
    NewFlow,
    NewJob,
    NewWorker,
    Outcome,
    StoredFlow,
    Suspension,
)
from dataqueue._transitions import (
    CANCEL,
    COMPLETE,
    RECLAIM_AS_WORKER_LOST,
    Transition,
    added_metadata,
    cancelled_metadata,
    dependent_cancelled_metadata,
    error_entry,
    failed_metadata,
    failure,
    limit_hold_events,
    metadata_template,
    processing_metadata,
    reclaimed_metadata,
    released_metadata,
    released_metadata_for_dependencies,
    resumed_at_time_metadata,
    resumed_on_token_metadata,
    waiting_metadata,
)
from dataqueue.backends._records import JOB_FIELDS, JOB_TIME_FIELDS, job_from_values
from dataqueue.models import (
    Entity,
    FailureReason,
    FlowRecord,
    FlowStatus,
    FlowStep,
    JobRecord,
    JobStatus,
    TimeRange,
    WorkerInfo,
)
from dataqueue.types import JSONValue

Row = dict[str, Any]


def json_text(value: JSONValue) -> str:
    # The default float repr round-trips exactly; compact separators keep
    # stored rows small.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


ArrayElement = int | str | datetime | None


def array_text(values: Iterable[ArrayElement]) -> str:
    """``values`` as the text of a PostgreSQL array (``{1,2}``,
    ``{"a\\"b",NULL}``), for a parameter its statement casts to the array
    type. psycopg adapts a Python list element by element, some 6 µs a list
    even when empty, and settle_and_claim takes about thirty lists a call;
    as text each goes as one string."""
    return "{" + ",".join(map(_array_element, values)) + "}"


def _array_element(value: ArrayElement) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    text = value.isoformat() if isinstance(value, datetime) else value
    # Inside double quotes only a backslash and a double quote are special.
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def entity_text(entity: Entity | None) -> str | None:
    if entity is None:
        return None
    return json_text({"id": entity["id"], "type": entity["type"]})


def in_utc(row: Row) -> Row:
    """Timestamps come back in the session's time zone; the API speaks UTC."""
    return {
        key: value.astimezone(UTC) if isinstance(value, datetime) else value
        for key, value in row.items()
    }


def job_row(row: Row) -> JobRecord:
    """A job's row as a ``JobRecord``, its timestamps in UTC: ``in_utc`` of
    the job's fields alone, without a copy of the whole row first."""
    values = {name: row[name] for name in JOB_FIELDS}
    for name in JOB_TIME_FIELDS:
        value = values[name]
        if value is not None:
            values[name] = value.astimezone(UTC)
    return job_from_values(values)


def add_params(jobs: Sequence[NewJob]) -> dict[str, Any]:
    """The specs as one JSON array of rows, in spec order, each a list in
    add_jobs.sql's column order; the specs' idempotency keys are distinct.
    One parameter, not an array per column: psycopg adapted each array
    element by element, about 90 microseconds of client CPU a single
    add (bench/pg_add.py)."""
    return {"specs": json_text([spec_row(j) for j in jobs])}


def spec_row(job: NewJob) -> list[JSONValue]:
    """A spec's row of add_params. The payload and entity go as strings
    holding their JSON text, so that their ``json`` columns store exactly
    that text (inside the jsonb parameter, an object would be normalized);
    timestamps as ISO text, microseconds and offset kept."""
    cron = job.cron
    return [
        job.job_type,
        json_text(job.payload),
        job.priority,
        iso_text(job.run_at),
        job.max_attempts,
        job.timeout,
        job.force_kill_on_timeout,
        list(job.tags),
        job.idempotency_key,
        job.retry_delay,
        job.retry_backoff,
        job.retry_delay_max,
        job.flow_id,
        job.flow_step_index,
        entity_text(job.entity),
        None if cron is None else cron.cron_job_id,
        None if cron is None else iso_text(cron.due_at),
        job.dead_letter_job_type,
        None if job.dedupe is None else job.dedupe.key,
        added_metadata(job),
        job.group_id,
    ]


def iso_text(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def template_text(template: Sequence[JSONValue]) -> str:
    """A metadata template's two parts (JSON text) as a ``text[]`` parameter."""
    return array_text(map(str, template))


RESUMED_AT_TIME_TEMPLATE = template_text(
    metadata_template(resumed_at_time_metadata, json_text)
)
"""The 'resumed' event of a job whose wait_until came, as settle_and_claim.sql
writes it: the two parts the JSON of that time's ISO text goes between."""


@lru_cache(maxsize=64)
def processing_template(worker_id: str) -> str:
    """The 'processing' event of a claim by ``worker_id``: the two parts the
    claimed job's attempt goes between. Built once per worker, not on every
    exchange."""
    return template_text(
        metadata_template(partial(processing_metadata, worker_id), json_text)
    )


def claim_params(
    claim: ClaimRequest | None, caps: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """The claim's part of settle_and_claim's parameters (a limit of 0:
    claim nothing; job_types None: every type; caps: the fence of
    ``limits.Gate.fence`` to claim behind, None: none)."""
    caps = caps or {}
    return {
        "cap_types": array_text(caps),
        "caps": array_text(caps.values()),
        "worker_id": None if claim is None else claim.worker_id,
        "token": None if claim is None else claim.token,
        "claim_limit": 0 if claim is None else claim.limit,
        "job_types": None
        if claim is None or claim.job_types is None
        else array_text(claim.job_types),
        "group_concurrency": None if claim is None else claim.group_concurrency,
        "processing_template": None
        if claim is None
        else processing_template(claim.worker_id),
        "resumed_template": RESUMED_AT_TIME_TEMPLATE,
    }


HELD_JOB_PARAMS = {
    "released_metadata": json_text(released_metadata_for_dependencies()),
    # settle_dependencies puts the prerequisite's id between the two parts
    "cancelled_template": template_text(
        metadata_template(dependent_cancelled_metadata, json_text)
    ),
    "unheld_metadata": json_text(limit_hold_events()["unheld"]),
}
"""The events of held jobs: what settle_dependencies
(migrations/0020_dependent_cancelled_template.sql) appends when a job's
change releases or cancels the jobs held on it, and the 'released' event of
a job a limit or a pause held, by its pending_reason (settle_and_claim.sql)."""

RECLAIMED_TEMPLATE = metadata_template(reclaimed_metadata, json_text)
"""The 'retried' event of a stuck job with attempts left, as
reclaim_stuck_jobs.sql writes it: the two parts the JSON of the worker that
held it goes between."""


def outcome_params(outcomes: Sequence[Outcome], now: datetime) -> dict[str, Any]:
    """Completions, failures and suspensions as parallel arrays, each with
    the outcomes' positions in ``outcomes`` (see settle_and_claim.sql), and
    the events of held jobs."""
    done = [(n, o) for n, o in enumerate(outcomes) if isinstance(o, Completion)]
    failed = [(n, o) for n, o in enumerate(outcomes) if isinstance(o, Failure)]
    waits = [(n, o) for n, o in enumerate(outcomes) if isinstance(o, Suspension)]
    return {
        **HELD_JOB_PARAMS,
        "s_positions": array_text(n for n, _ in waits),
        "s_ids": array_text(o.lease.job_id for _, o in waits),
        "s_tokens": array_text(o.lease.token for _, o in waits),
        "s_step_data": array_text(json_text(o.step_data) for _, o in waits),
        "s_wait_until": array_text(o.wait_until for _, o in waits),
        "s_token_ids": array_text(o.wait_token_id for _, o in waits),
        "s_metadata": array_text(
            json_text(waiting_metadata(o.wait_until, o.wait_token_id)) for _, o in waits
        ),
        "s_resumed_completed": array_text(
            None if o.wait_token_id is None else json_text(resumed(o, False))
            for _, o in waits
        ),
        "s_resumed_timed_out": array_text(
            None if o.wait_token_id is None else json_text(resumed(o, True))
            for _, o in waits
        ),
        "c_positions": array_text(n for n, _ in done),
        "c_ids": array_text(o.lease.job_id for _, o in done),
        "c_tokens": array_text(o.lease.token for _, o in done),
        "c_outputs": array_text(json_text(o.output) for _, o in done),
        "c_metadata": array_text(json_text(o.metadata) for _, o in done),
        "c_outcome": COMPLETE.step_outcome,
        "f_positions": array_text(n for n, _ in failed),
        "f_ids": array_text(o.lease.job_id for _, o in failed),
        "f_tokens": array_text(o.lease.token for _, o in failed),
        "f_errors": array_text(
            json_text(error_entry(o.message, now, o.traceback)) for _, o in failed
        ),
        "f_reasons": array_text(o.reason.value for _, o in failed),
        "f_next_at": array_text(o.next_attempt_at for _, o in failed),
        "f_metadata": array_text(
            json_text(failed_metadata(o.message, o.reason, o.next_attempt_at))
            for _, o in failed
        ),
        "f_outcomes": array_text(failure(o.next_attempt_at).barrier for _, o in failed),
    }


def resumed(suspension: Suspension, timed_out: bool) -> dict[str, JSONValue]:
    """The 'resumed' event of a suspension whose token ended meanwhile."""
    assert suspension.wait_token_id is not None
    return resumed_on_token_metadata(suspension.wait_token_id, timed_out=timed_out)


def transition_params(
    transition: Transition, metadata: dict[str, JSONValue]
) -> dict[str, Any]:
    """What a statement applying ``transition`` takes: the statuses it starts
    from, its event's metadata (JSON text) and what a flow step reports."""
    return {
        "statuses": sorted(transition.from_statuses),
        "metadata": json_text(metadata),
        "outcome": transition.barrier,
    }


def cancel_params() -> dict[str, Any]:
    """The cancel, with its event's metadata as of this call (it names who
    cancelled, when the caller said)."""
    return transition_params(CANCEL, cancelled_metadata())


def reclaim_params(
    max_processing_seconds: float, message: str, now: datetime
) -> dict[str, Any]:
    """reclaim_stuck_jobs.sql's parameters: a lost worker's final failure
    and a reclaimed job's ``retried`` event, as _transitions builds them."""
    lost = FailureReason.WORKER_LOST
    return {
        "now": now,
        "threshold": max_processing_seconds,
        "lost_error": json_text(error_entry(message, now)),
        "lost_reason": lost.value,
        "lost_metadata": json_text(failed_metadata(message, lost, None)),
        "lost_outcome": RECLAIM_AS_WORKER_LOST.step_outcome,
        "reclaimed_template": RECLAIMED_TEMPLATE,
    }


def lease_params(leases: Sequence[Lease]) -> dict[str, Any]:
    return {
        "ids": [lease.job_id for lease in leases],
        "tokens": [lease.token for lease in leases],
    }


def release_params(leases: Sequence[Lease], now: datetime) -> dict[str, Any]:
    """release_jobs.sql's: the leases, and its 'retried' event's template
    (the JSON of the worker that held the job goes between its parts)."""
    template = metadata_template(released_metadata, json_text)
    return {**lease_params(leases), "now": now, "released_template": template}


def filter_params(where: JobFilter) -> dict[str, Any]:
    """The filter parameters shared by get_jobs, edit_jobs and cancel_jobs."""
    run_at = where.run_at or TimeRange()
    tags = where.tags
    return {
        "job_type": where.job_type,
        "priority": where.priority,
        "status": None if where.status is None else where.status.value,
        "run_at_gt": run_at.gt,
        "run_at_gte": run_at.gte,
        "run_at_lt": run_at.lt,
        "run_at_lte": run_at.lte,
        "run_at_eq": run_at.eq,
        "tags": None if tags is None else tags.values,
        "tag_mode": None if tags is None else tags.mode,
    }


def counted_filter(where: JobFilter) -> bool:
    """Whether job_counts answers a count with this filter: one of job type
    and status only."""
    return where.priority is None and where.run_at is None and where.tags is None


def edit_params(changes: JobChanges) -> dict[str, Any]:
    """``set_<field>`` says whether to change a field, ``new_<field>`` to what."""
    params: dict[str, Any] = {"metadata": json_text(changes.metadata)}
    for name in EDITABLE_FIELDS:
        present = name in changes.values
        value = changes.values.get(name)
        if name == "payload" and present:
            value = json_text(value)
        elif name == "tags" and present:
            value = list(value or [])
        params[f"set_{name}"] = present
        params[f"new_{name}"] = value
    return params


def flow_params(flow: NewFlow, job_ids: Sequence[int]) -> dict[str, Any]:
    """The flow's row and its steps (see start_flow.sql); ``job_ids[i]`` is
    the job of ``flow.steps[i]``."""
    return {
        "id": flow.id,
        "failure_policy": flow.failure_policy,
        "timeout_at": flow.timeout_at,
        "join_job_type": flow.join_job_type,
        "join_spec": flow.join_spec,
        "entity": entity_text(flow.entity),
        "step_indexes": [step.flow_step_index for step in flow.steps],
        "job_ids": list(job_ids),
    }


def flow_from_row(row: Row) -> StoredFlow:
    """A flows row (with ``steps``, the JSON array of get_flow.sql, or
    without: an empty list)."""
    steps = [
        FlowStep(
            step_index=step["step_index"],
            job_id=step["job_id"],
            job_type=step["job_type"],
            status=JobStatus(step["status"]),
            outcome=step["outcome"],
            result=step["result"],
            error=step["error"],
        )
        for step in row.get("steps") or ()
    ]
    record = FlowRecord(
        id=row["id"],
        status=FlowStatus(row["status"]),
        failure_policy=row["failure_policy"],
        total_steps=row["total_steps"],
        remaining_steps=row["remaining_steps"],
        aborted=row["aborted"],
        timed_out=row["timed_out"],
        timeout_at=row["timeout_at"],
        join_job_type=row["join_job_type"],
        join_job_id=row["join_job_id"],
        entity=row["entity"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        steps=steps,
    )
    return StoredFlow(record=record, join_spec=row["join_spec"])


def worker_params(worker: NewWorker) -> dict[str, Any]:
    return {
        "id": worker.id,
        "host": worker.host,
        "pid": worker.pid,
        "started_at": worker.started_at,
        "last_heartbeat": worker.last_heartbeat,
        "job_types": worker.job_types,
        "concurrency": worker.concurrency,
        "running_job_ids": list(worker.running_job_ids),
        "processed": worker.processed,
        "failed": worker.failed,
        "quiet": worker.quiet,
    }


def worker_from_row(row: Row) -> WorkerInfo:
    return WorkerInfo(
        id=row["id"],
        host=row["host"],
        pid=row["pid"],
        started_at=row["started_at"],
        last_heartbeat=row["last_heartbeat"],
        job_types=None if row["job_types"] is None else list(row["job_types"]),
        concurrency=row["concurrency"],
        running_job_ids=list(row["running_job_ids"]),
        processed=row["processed"],
        failed=row["failed"],
        quiet=row["quiet"],
    )


def cron_params(schedule: NewCronJob) -> dict[str, Any]:
    return {
        "schedule_name": schedule.schedule_name,
        "cron_expression": schedule.cron_expression,
        "job_type": schedule.job_type,
        "payload": json_text(schedule.payload),
        "timezone": schedule.timezone,
        "allow_overlap": schedule.allow_overlap,
        "max_attempts": schedule.max_attempts,
        "priority": schedule.priority,
        "timeout": schedule.timeout,
        "tags": list(schedule.tags),
        "retry_delay": schedule.retry_delay,
        "retry_backoff": schedule.retry_backoff,
        "retry_delay_max": schedule.retry_delay_max,
        "dead_letter_job_type": schedule.dead_letter_job_type,
        "next_run_at": schedule.next_run_at,
    }


def cron_edit_params(changes: CronChanges) -> dict[str, Any]:
    """``set_<field>`` says whether to change a field, ``new_<field>`` to what."""
    expected = changes.expected or (None, None)
    params: dict[str, Any] = {
        "next_run_at": changes.next_run_at,
        "expected_expression": expected[0],
        "expected_timezone": expected[1],
    }
    for name in CRON_EDITABLE_FIELDS:
        present = name in changes.values
        value = changes.values.get(name)
        if name == "payload" and present:
            value = json_text(value)
        params[f"set_{name}"] = present
        params[f"new_{name}"] = value
    return params


def distinct_specs(jobs: Sequence[NewJob]) -> tuple[list[NewJob], list[int]]:
    """The specs to insert, and each job's place among them: within a batch
    the first spec with a key wins, and later ones share its id."""
    first: dict[str, int] = {}
    distinct: list[NewJob] = []
    slots: list[int] = []
    for spec in jobs:
        key = spec.idempotency_key
        if key is not None and key in first:
            slots.append(first[key])
            continue
        if key is not None:
            first[key] = len(distinct)
        slots.append(len(distinct))
        distinct.append(spec)
    return distinct, slots
