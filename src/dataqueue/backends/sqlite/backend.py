"""The SQLite store: one file (or ``:memory:``), no server.

Every operation runs on one connection owned by one background thread, so the
event loop never blocks on the file. Writes run in ``BEGIN IMMEDIATE``
transactions, which take the database's write lock up front: several worker
processes on one machine can claim from the same file and never get the same
job. Times are stored as integer microseconds since the epoch (UTC).

A processor's whole exchange (its finished jobs' outcomes and events, then
its next claim) is one such transaction, handed to the thread in one hop.
Every write of a running attempt matches the job's ``lease_token``. Other
processes hear of new jobs, and of jobs that became final, through doorbells
(``doorbell.py``). A flow step's barrier (``flow_barrier``) runs in the
transaction that makes its job final.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, LiteralString, TypeVar

from dataqueue._commands import (
    CRON_EDITABLE_FIELDS,
    EDITABLE_FIELDS,
    BrokenJob,
    Claimed,
    ClaimRequest,
    Completion,
    CronChanges,
    CronTick,
    Exchange,
    Failure,
    JobChanges,
    JobFilter,
    Lease,
    NewCronJob,
    NewFlow,
    NewJob,
    NewToken,
    NewWorker,
    Outcome,
    StoredFlow,
    Suspension,
)
from dataqueue._transitions import (
    ADD,
    CANCEL,
    CLAIM,
    COMPLETE,
    EDIT,
    MANUAL_RETRY,
    PROLONG,
    RECLAIM_AS_WORKER_LOST,
    RECLAIM_TO_RETRY,
    RELEASE,
    RESUME_AT_TIME,
    RESUME_ON_TOKEN,
    SUSPEND,
    Transition,
    added_metadata,
    cancelled_metadata,
    error_entry,
    failed_metadata,
    failure,
    processing_metadata,
    prolonged_metadata,
    reclaimed_metadata,
    released_metadata,
    resumed_at_time_metadata,
    resumed_on_token_metadata,
    retried_metadata,
    waiting_metadata,
)
from dataqueue.backends._files import load_dir
from dataqueue.backends._records import (
    CRON_TIME_FIELDS,
    JOB_TIME_FIELDS,
    cron_from_row,
    event_from_row,
    job_from_row,
    type_stats_from_rows,
)
from dataqueue.backends._wakeup import WakeupHub
from dataqueue.backends.protocol import Backend, Wakeup
from dataqueue.backends.sqlite import doorbell
from dataqueue.cron import CronJob, CronStatus
from dataqueue.errors import (
    BackendError,
    NotMigratedError,
    StoreRefusedError,
    StoreUnavailableError,
)
from dataqueue.models import (
    Entity,
    FailureReason,
    FlowRecord,
    FlowStatus,
    FlowStep,
    JobEvent,
    JobRecord,
    JobStatus,
    JobTypeStats,
    StepOutcome,
    TimeRange,
    Token,
    WorkerInfo,
)
from dataqueue.types import JSONValue

logger = logging.getLogger("dataqueue")

T = TypeVar("T")

SQL = load_dir("dataqueue.backends.sqlite", "sql", ".sql")
MIGRATIONS = load_dir("dataqueue.backends.sqlite", "migrations", ".sql")
# user_version is the number in the newest applied file's name (0003_cron.sql
# is 3): what a file's number means never depends on which others exist.
MIGRATION_NUMBERS = sorted((int(name.split("_", 1)[0]), name) for name in MIGRATIONS)
LATEST_MIGRATION = MIGRATION_NUMBERS[-1][0]

MEMORY = ":memory:"
BUSY_TIMEOUT_MS = 5000
# busy_timeout already waits 5 s per attempt; these retries cover the cases
# where SQLite returns SQLITE_BUSY without waiting (e.g. during a checkpoint).
BUSY_RETRIES = 20
BUSY_RETRY_DELAY = 0.05
STATEMENT_CACHE = 256
MMAP_BYTES = 256 * 1024 * 1024
JOURNAL_LIMIT_BYTES = 64 * 1024 * 1024
# Wake-ups: doorbells (see doorbell.py) wake listeners at once; the file is
# still polled, slowly, for writers that ring no doorbell. Without doorbells
# (no Unix sockets) the poll is all there is.
SAFETY_POLL_SECONDS = 1.0
FALLBACK_POLL_SECONDS = 0.05
# After a db= add, the job appears when the caller commits: watch closely
# for that long.
PENDING_POLL_SECONDS = 0.002
PENDING_WATCH_SECONDS = 5.0

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)
JSON_COLUMNS = frozenset({"payload", "error_history", "tags", "output", "step_data"})
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


def split_statements(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending)
            pending = ""
    return statements


def is_busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


# The file is held by another writer past every retry, or the disk failed or
# filled up: the same call may work later.
UNAVAILABLE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_PROTOCOL,
    }
)
# The file cannot be opened, written or read as a database: retrying will not
# help until someone fixes the path, its permissions or the file.
REFUSED_CODES = frozenset(
    {
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PERM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_NOTADB,
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_AUTH,
    }
)


def store_error(operation: str, path: str, error: sqlite3.Error) -> BackendError:
    """The dataqueue error for a failed SQLite call: unavailable (transient),
    refused (permanent), or a plain BackendError."""
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    if code in UNAVAILABLE_CODES:
        return StoreUnavailableError(
            f"SQLite database {path!r} is unavailable: {error}"
        )
    if code in REFUSED_CODES:
        return StoreRefusedError(f"SQLite database {path!r} cannot be used: {error}")
    return BackendError(f"sqlite {operation} failed on {path!r}: {error}")


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


def enqueue_tick(cursor: sqlite3.Cursor, tick: CronTick, now: int) -> int | None:
    """Claim one due time and insert its job, inside the caller's transaction."""
    run = tick.run
    claimed = cursor.execute(
        SQL["enqueue_cron_jobs"],
        {
            "schedule_id": run.cron_job_id,
            "claimed_run_at": to_micros(tick.claimed_run_at),
            "next_run_at": to_micros(tick.next_run_at),
            "now": now,
        },
    ).fetchone()
    if claimed is None:
        return None
    job_id: int | None = None
    if claimed["allow_overlap"] or not claimed["busy"]:
        (job_id,) = insert_jobs(cursor, [tick.job], now)
    cursor.execute(
        SQL["enqueue_cron_jobs.record"],
        {
            "id": run.cron_job_id,
            "job_id": job_id,
            "skipped": run.skipped + (job_id is None),
            "now": now,
        },
    )
    return job_id


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


def event_params(
    job_id: int, transition: Transition, now: int, metadata: Mapping[str, Any]
) -> dict[str, Any]:
    """The event ``transition`` appends, with the metadata built for it."""
    return {
        "job_id": job_id,
        "event_type": transition.event.value,
        "now": now,
        "metadata": encode_json(metadata),
    }


def insert_events(
    conn: sqlite3.Connection, events: Iterable[Mapping[str, Any]]
) -> None:
    """Append events (``event_params``) in one executemany."""
    conn.executemany(SQL["insert_event"], events)


def new_job_params(job: NewJob, now: int) -> dict[str, Any]:
    return {
        "job_type": job.job_type,
        "payload": encode_json(job.payload),
        "priority": job.priority,
        "run_at": optional_micros(job.run_at),
        "max_attempts": job.max_attempts,
        "timeout": job.timeout,
        "force_kill_on_timeout": int(job.force_kill_on_timeout),
        "tags": json_list(job.tags),
        "idempotency_key": job.idempotency_key,
        "retry_delay": job.retry_delay,
        "retry_backoff": None if job.retry_backoff is None else int(job.retry_backoff),
        "retry_delay_max": job.retry_delay_max,
        "flow_id": job.flow_id,
        "flow_step_index": job.flow_step_index,
        "entity_id": None if job.entity is None else job.entity["id"],
        "entity_type": None if job.entity is None else job.entity["type"],
        "cron_job_id": None if job.cron is None else job.cron.cron_job_id,
        "cron_due_at": None if job.cron is None else to_micros(job.cron.due_at),
        "now": now,
    }


def insert_jobs(cursor: sqlite3.Cursor, jobs: Sequence[NewJob], now: int) -> list[int]:
    """Run add_jobs on ``cursor`` inside the caller's transaction."""
    ids: list[int] = []
    for job in jobs:
        row = cursor.execute(SQL["add_jobs"], new_job_params(job, now)).fetchone()
        if row is None:
            (job_id,) = cursor.execute(
                SQL["add_jobs.existing"],
                {"idempotency_key": job.idempotency_key},
            ).fetchone()
        else:
            job_id = row[0]
            cursor.execute(
                SQL["insert_event"],
                event_params(job_id, ADD, now, added_metadata(job)),
            )
        ids.append(job_id)
    return ids


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
        "limit": -1,
        "offset": 0,
    }


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


def leases_json(leases: Iterable[Lease]) -> str:
    return json_list([lease.job_id, lease.token] for lease in leases)


FinishedStep = tuple[str, int, StepOutcome]
"""A flow step that finished for good: (flow_id, step_index, outcome)."""


@dataclass(frozen=True, slots=True)
class Settlement:
    """What ``settle`` wrote: ``settled[i]`` for ``outcomes[i]``, how many
    jobs became final, and the flows whose barrier they met."""

    settled: list[bool]
    finished: int
    ready_flows: list[str]


def settle(
    conn: sqlite3.Connection, outcomes: Sequence[Outcome], now: int, at: datetime
) -> Settlement:
    """Write outcomes whose lease still holds.

    One read finds the leases that hold (and which jobs are flow steps), then
    one executemany per kind writes the jobs and one more their events: a
    flush costs a handful of statements whatever its size. Flow steps that
    finished for good then meet their barrier, one step at a time; a flush
    without flow steps runs nothing more.
    """
    held = {
        (row[0], row[1]): row
        for row in conn.execute(
            SQL["held_leases"], {"leases": leases_json(o.lease for o in outcomes)}
        )
    }
    settled: list[bool] = []
    completions: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    suspensions: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    steps: list[FinishedStep] = []
    finished = 0
    token_states = waited_token_states(conn, outcomes)
    for outcome in outcomes:
        job_id = outcome.lease.job_id
        # Matched on the whole lease (job and token), and settled once even
        # if listed twice.
        row = held.pop((job_id, outcome.lease.token), None)
        if row is None:
            settled.append(False)
            continue
        settled.append(True)
        if isinstance(outcome, Completion):
            finished += 1
            if row["flow_step_index"] is not None:
                steps.append(
                    (row["flow_id"], row["flow_step_index"], COMPLETE.step_outcome)
                )
            completions.append(
                {
                    "id": job_id,
                    "token": outcome.lease.token,
                    "output": optional_json(outcome.output),
                    "now": now,
                }
            )
            events.append(event_params(job_id, COMPLETE, now, outcome.metadata))
        elif isinstance(outcome, Failure):
            retry_at = outcome.next_attempt_at
            failed = failure(retry_at)
            if failed.barrier is not None:
                finished += 1
                if row["flow_step_index"] is not None:
                    steps.append(
                        (row["flow_id"], row["flow_step_index"], failed.step_outcome)
                    )
            failures.append(
                {
                    "id": job_id,
                    "token": outcome.lease.token,
                    "error": encode_json(error_entry(outcome.message, at)),
                    "failure_reason": outcome.reason.value,
                    "next_attempt_at": optional_micros(retry_at),
                    "now": now,
                }
            )
            events.append(
                event_params(
                    job_id,
                    failed,
                    now,
                    failed_metadata(outcome.message, outcome.reason, retry_at),
                )
            )
        elif isinstance(outcome, Suspension):
            suspensions.append(suspension_params(outcome, token_states, now, events))
        else:
            raise TypeError(f"settle_and_claim cannot write a {type(outcome).__name__}")
    if completions:
        conn.executemany(SQL["settle_and_claim.complete"], completions)
    if failures:
        conn.executemany(SQL["settle_and_claim.fail"], failures)
    if suspensions:
        conn.executemany(SQL["settle_and_claim.suspend"], suspensions)
    if events:
        insert_events(conn, events)
    ready_flows = flow_barrier(conn, steps, now) if steps else []
    return Settlement(settled, finished, ready_flows)


def finished_steps(
    rows: Iterable[sqlite3.Row], transition: Transition
) -> list[FinishedStep]:
    """The flow steps among jobs just made final by ``transition`` (rows
    with ``flow_id`` and ``flow_step_index``), with what it reports."""
    outcome = transition.step_outcome
    return [
        (row["flow_id"], row["flow_step_index"], outcome)
        for row in rows
        if row["flow_step_index"] is not None
    ]


def flow_barrier(
    conn: sqlite3.Connection, steps: Iterable[FinishedStep], now: int
) -> list[str]:
    """Count flow steps that finished for good, in the caller's transaction
    (the one that made their jobs final); returns the flows made ready.

    Steps are counted in order, so that under the abort policy the first
    fail decides and the outcomes after it are not recorded.
    """
    ready: list[str] = []
    for flow_id, step_index, outcome in steps:
        params = {
            "flow_id": flow_id,
            "step_index": step_index,
            "outcome": outcome,
            "now": now,
        }
        counted = conn.execute(SQL["flow_barrier"], params).fetchone()
        if counted is None:
            continue  # recorded before, or the flow is no longer running
        conn.execute(SQL["flow_barrier.record"], params)
        if counted["status"] == FlowStatus.READY:
            ready.append(flow_id)
    return ready


def waited_token_states(
    conn: sqlite3.Connection, outcomes: Sequence[Outcome]
) -> dict[str, str]:
    """The status of every token a suspension of ``outcomes`` waits on."""
    ids = [
        o.wait_token_id
        for o in outcomes
        if isinstance(o, Suspension) and o.wait_token_id is not None
    ]
    if not ids:
        return {}
    rows = conn.execute(SQL["settle_and_claim.tokens"], {"ids": json_list(ids)})
    return {row["id"]: row["status"] for row in rows}


def suspension_params(
    outcome: Suspension,
    token_states: Mapping[str, str],
    now: int,
    events: list[dict[str, Any]],
) -> dict[str, Any]:
    """The suspend statement's parameters; appends the job's events. A token
    already completed or expired (between the handler's look and this
    write) makes the job due at once rather than wait for ever."""
    job_id = outcome.lease.job_id
    token_id = outcome.wait_token_id
    status = SUSPEND.to_status
    waiting = waiting_metadata(outcome.wait_until, token_id)
    events.append(event_params(job_id, SUSPEND, now, waiting))
    if token_id is not None and token_states.get(token_id) != "waiting":
        status = RESUME_ON_TOKEN.to_status
        resumed = resumed_on_token_metadata(
            token_id, timed_out=token_states.get(token_id) != "completed"
        )
        events.append(event_params(job_id, RESUME_ON_TOKEN, now, resumed))
    return {
        "id": job_id,
        "token": outcome.lease.token,
        "status": status.value,
        "step_data": encode_json(outcome.step_data),
        "wait_until": optional_micros(outcome.wait_until),
        "wait_token_id": token_id,
        "now": now,
    }


def resume_due_waits(conn: sqlite3.Connection, now: int) -> None:
    """Waiting jobs whose time has come become pending (with their events)."""
    rows = conn.execute(SQL["settle_and_claim.resume"], {"now": now}).fetchall()
    if rows:
        insert_events(
            conn,
            [
                event_params(
                    row["id"],
                    RESUME_AT_TIME,
                    now,
                    resumed_at_time_metadata(from_micros_utc(row["wait_until"])),
                )
                for row in rows
            ],
        )


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


def resume_token_waits(
    conn: sqlite3.Connection, tokens: list[str], now: int, timed_out: bool
) -> int:
    """Jobs waiting on ``tokens`` (just resolved) become due now, each with a
    ``resumed`` event; returns how many."""
    if not tokens:
        return 0
    rows = conn.execute(
        SQL["expire_timed_out_tokens.resume"],
        {"token_ids": json_list(tokens), "now": now},
    ).fetchall()
    insert_events(
        conn,
        [
            event_params(
                row["id"],
                RESUME_ON_TOKEN,
                now,
                resumed_on_token_metadata(row["wait_token_id"], timed_out=timed_out),
            )
            for row in rows
        ],
    )
    return len(rows)


def claim_order(row: sqlite3.Row) -> tuple[int, int, int]:
    """Claim order (priority high first, run_at, id), tolerant of a damaged
    row so that one bad job cannot fail the whole claim."""
    priority, run_at = row["priority"], row["run_at"]
    return (
        -priority if isinstance(priority, int) else 0,
        run_at if isinstance(run_at, int) else 0,
        row["id"],
    )


def claim_jobs(
    conn: sqlite3.Connection, claim: ClaimRequest, now: int
) -> list[sqlite3.Row]:
    rows = conn.execute(
        SQL["settle_and_claim.claim"],
        {
            "worker_id": claim.worker_id,
            "token": claim.token,
            "limit": claim.limit,
            "job_types": None
            if claim.job_types is None
            else json_list(claim.job_types),
            "now": now,
        },
    ).fetchall()
    rows.sort(key=claim_order)
    insert_events(
        conn,
        [
            event_params(
                row["id"],
                CLAIM,
                now,
                processing_metadata(claim.worker_id, row["attempts"]),
            )
            for row in rows
        ],
    )
    return rows


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
    )


def cancel_ids(conn: sqlite3.Connection, ids: list[int], now: int) -> list[int]:
    """Cancel the pending or waiting jobs among ``ids``, with their events,
    their waiting tokens expired and their flows' barriers met (as fails);
    returns the ids cancelled."""
    # RETURNING gives no order: the jobs go (to the barrier too) by id.
    rows = sorted(
        conn.execute(
            SQL["cancel_jobs"],
            {"ids": json_list(ids), "statuses": statuses_json(CANCEL), "now": now},
        ),
        key=lambda row: int(row["id"]),
    )
    if not rows:
        return []
    insert_events(
        conn, (event_params(r["id"], CANCEL, now, cancelled_metadata()) for r in rows)
    )
    cancelled = json_list(r["id"] for r in rows)
    conn.execute(SQL["cancel_jobs.expire_tokens"], {"ids": cancelled, "now": now})
    flow_barrier(conn, finished_steps(rows, CANCEL), now)
    return [r["id"] for r in rows]


def data_version(conn: sqlite3.Connection) -> int:
    """A number that changes whenever another connection commits."""
    (version,) = conn.execute("PRAGMA data_version").fetchone()
    return int(version)


def open_doorbell(path: str, *, finished: bool) -> doorbell.Doorbell | None:
    """This process's doorbell beside ``path``; None (poll instead) where
    there can be none."""
    if not doorbell.supported():
        return None
    try:
        return doorbell.Doorbell(path, finished=finished)
    except OSError as error:
        logger.warning("no wake-up socket beside %r (%s); polling instead", path, error)
        return None


class FileReader:
    """A listener's own connection to the file, on its own thread: one
    thread owns it, so closing it on cancellation can never overlap a read
    still running."""

    def __init__(self, path: str, thread_name: str) -> None:
        self._path = path
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread_name)
        self._conn: sqlite3.Connection | None = None

    async def run(self, op: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._call, op)

    def _call(self, op: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            self._conn = sqlite3.connect(
                self._path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
            )
        return op(self._conn)

    def close(self) -> None:
        self._thread.submit(self._disconnect)
        self._thread.shutdown(wait=False)

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class SqliteBackend(Backend):
    """Jobs in a SQLite file (WAL mode), safe across processes on one machine.

    Args:
        path: A filesystem path, or ``":memory:"`` for a private in-memory
            database that lives as long as the backend.
        verbose: Log every store operation at DEBUG.
    """

    name = "sqlite"

    def __init__(self, path: str, *, verbose: bool = False) -> None:
        self._path = path
        self._verbose = verbose
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        # A private in-memory database has no other writer to listen for.
        self._hub = WakeupHub(None if path == MEMORY else self._listen)
        self._ringer = doorbell.Ringer(path)
        self._finished_hub = WakeupHub(
            None if path == MEMORY else self._listen_finished
        )
        self._finished_ringer = doorbell.Ringer(path, finished=True)

    # -- lifecycle -------------------------------------------------------

    async def open(self) -> None:
        await self._run("open", lambda conn: None)

    async def migrate(self) -> None:
        await self._run("migrate", self._migrate)

    async def close(self) -> None:
        await self._hub.close()
        await self._finished_hub.close()
        self._ringer.close()
        self._finished_ringer.close()
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(executor, self._disconnect)
            executor.shutdown(wait=False)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            # Every statement of the store stays prepared.
            cached_statements=STATEMENT_CACHE,
        )
        try:
            conn.row_factory = sqlite3.Row
            if self._path != MEMORY:
                self._retry_busy(lambda: conn.execute("PRAGMA journal_mode = WAL"))
            # In WAL mode, NORMAL syncs the log only at checkpoints: a commit
            # survives the process crashing, and the file is never corrupted,
            # but a power loss or OS crash may undo the last commits.
            conn.execute("PRAGMA synchronous = NORMAL")
            # Reads straight from the page cache of the OS, no copy per page.
            conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES:d}")
            # Keep the log from growing without bound under a steady load.
            conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_LIMIT_BYTES:d}")
            self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _migrate(self, conn: sqlite3.Connection) -> None:
        def apply(conn: sqlite3.Connection) -> None:
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            for number, name in MIGRATION_NUMBERS:
                if number <= version:
                    continue
                for statement in split_statements(MIGRATIONS[name]):
                    conn.execute(statement)
                # PRAGMA takes no parameters; number is our own int.
                conn.execute(f"PRAGMA user_version = {number:d}")

        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version < LATEST_MIGRATION:
            self._write(conn, apply)

    # -- running operations on the connection's thread --------------------

    def _thread(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="dataqueue-sqlite"
            )
        return self._executor

    async def _run(self, operation: str, op: Callable[[sqlite3.Connection], T]) -> T:
        # One hop per call, however many statements it runs. Running calls
        # on the event loop instead saves about a fifth of a worker's CPU, but
        # a call may wait seconds for another process's write lock or run a
        # WAL checkpoint, and the loop must keep heartbeats and handlers going.
        if self._verbose:
            logger.debug("sqlite %s: %s", self._path, operation)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread(), self._call, operation, op)

    def _call(self, operation: str, op: Callable[[sqlite3.Connection], T]) -> T:
        try:
            if self._conn is None:
                self._conn = self._connect()
            return op(self._conn)
        except sqlite3.Error as error:
            raise store_error(operation, self._path, error) from error

    def _write(
        self, conn: sqlite3.Connection, op: Callable[[sqlite3.Connection], T]
    ) -> T:
        """Run ``op`` in one BEGIN IMMEDIATE transaction, retried while busy."""

        def attempt() -> T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = op(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return result

        return self._retry_busy(attempt)

    @staticmethod
    def _retry_busy(op: Callable[[], T]) -> T:
        for _ in range(BUSY_RETRIES):
            try:
                return op()
            except sqlite3.OperationalError as error:
                if not is_busy(error):
                    raise
            time.sleep(BUSY_RETRY_DELAY)
        return op()

    async def _write_op(
        self, operation: str, op: Callable[[sqlite3.Connection], T]
    ) -> T:
        return await self._run(operation, lambda conn: self._write(conn, op))

    async def _read(
        self, operation: str, sql: LiteralString, params: Mapping[str, Any]
    ) -> list[sqlite3.Row]:
        def fetch(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            return self._retry_busy(lambda: conn.execute(sql, params).fetchall())

        return await self._run(operation, fetch)

    # -- adding ----------------------------------------------------------

    async def add_jobs(
        self, jobs: Sequence[NewJob], *, now: datetime, db: Any = None
    ) -> list[int]:
        if db is not None:
            if self._conn is None:
                await self.open()  # so that add_jobs_sync finds the schema
            return self.add_jobs_sync(jobs, now=now, db=db)
        micros = to_micros(now)

        def add(conn: sqlite3.Connection) -> list[int]:
            ids = self._write(
                conn, lambda conn: insert_jobs(conn.cursor(), jobs, micros)
            )
            self._ringer.ring(doorbell.ADDED)
            return ids

        ids = await self._run("add_jobs", add)
        self._hub.notify()
        return ids

    def add_jobs_sync(
        self, jobs: Sequence[NewJob], *, now: datetime, db: Any
    ) -> list[int]:
        """Insert jobs on the caller's ``sqlite3.Connection``, in its transaction.

        Nothing is committed: the jobs and their ``added`` events commit or
        roll back with the caller's transaction. Runs in the calling thread,
        since a connection belongs to the thread that made it.

        Raises:
            BackendError: ``db`` is not a ``sqlite3.Connection`` to this
                backend's database file.
        """
        if not isinstance(db, sqlite3.Connection):
            raise BackendError(
                "SQLite add_jobs(db=...) needs a sqlite3.Connection, got "
                f"{type(db).__module__}.{type(db).__qualname__}"
            )
        try:
            cursor = db.cursor()
        except sqlite3.ProgrammingError as error:
            raise BackendError(
                f"sqlite add_jobs(db=...) cannot use this connection: {error} "
                "(call from the connection's thread, or open it with "
                "check_same_thread=False)"
            ) from error
        cursor.row_factory = None
        try:
            if not self._same_file(cursor):
                raise BackendError(
                    f"add_jobs(db=...): the connection is not to {self._path!r}"
                )
            self._ensure_schema(cursor, db)
            ids = insert_jobs(cursor, jobs, to_micros(now))
        except sqlite3.Error as error:
            raise BackendError(f"sqlite add_jobs(db=...) failed: {error}") from error
        finally:
            cursor.close()
        # Every listener, this process's too, watches for the caller's commit.
        self._ringer.ring(doorbell.PENDING)
        return ids

    def _ensure_schema(self, cursor: sqlite3.Cursor, db: sqlite3.Connection) -> None:
        """Migrate a file not yet migrated, through the backend's own
        connection; not while the caller holds a transaction, whose lock the
        migration would wait for in vain."""
        (version,) = cursor.execute("PRAGMA user_version").fetchone()
        if version >= LATEST_MIGRATION:
            return
        if db.in_transaction:
            raise NotMigratedError(
                f"add_jobs(db=...): {self._path!r} has no up-to-date dataqueue "
                "schema; open the queue (or run `dataqueue migrate`) before "
                "adding jobs inside a transaction"
            )
        self._thread().submit(self._call, "migrate", self._migrate).result()

    def _same_file(self, cursor: sqlite3.Cursor) -> bool:
        files = {
            name: file
            for _, name, file in cursor.execute("PRAGMA database_list").fetchall()
        }
        theirs = files.get("main") or ""
        if self._path == MEMORY or not theirs:
            return False
        try:
            return os.path.samefile(theirs, self._path)
        except FileNotFoundError:
            return False

    # -- reading ---------------------------------------------------------

    async def get_job(self, job_id: int) -> JobRecord | None:
        rows = await self._read("get_job", SQL["get_job"], {"id": job_id})
        return decode_job(rows[0]) if rows else None

    async def get_jobs(
        self, where: JobFilter, limit: int, offset: int
    ) -> list[JobRecord]:
        params = {**filter_params(where), "limit": limit, "offset": offset}
        rows = await self._read("get_jobs", SQL["get_jobs"], params)
        return [decode_job(row) for row in rows]

    async def get_job_events(self, job_id: int) -> list[JobEvent]:
        rows = await self._read(
            "get_job_events", SQL["get_job_events"], {"job_id": job_id}
        )
        return [decode_event(row) for row in rows]

    # -- changing --------------------------------------------------------

    async def retry_job(self, job_id: int, *, now: datetime) -> bool:
        return await self._change_one(
            "retry_job",
            {"id": job_id, "statuses": statuses_json(MANUAL_RETRY)},
            MANUAL_RETRY,
            retried_metadata(),
            now,
        )

    async def cancel_job(self, job_id: int, *, now: datetime) -> bool:
        micros = to_micros(now)

        def cancel(conn: sqlite3.Connection) -> list[int]:
            return cancel_ids(conn, [job_id], micros)

        cancelled = await self._write_op("cancel_job", cancel)
        if cancelled:
            self._finished_now()
        return bool(cancelled)

    async def cancel_jobs(self, where: JobFilter, *, now: datetime) -> list[int]:
        micros = to_micros(now)
        params = {**filter_params(where), "statuses": statuses_json(CANCEL)}

        def cancel(conn: sqlite3.Connection) -> list[int]:
            ids = [row["id"] for row in conn.execute(SQL["get_jobs"], params)]
            return cancel_ids(conn, ids, micros)

        cancelled = await self._write_op("cancel_jobs", cancel)
        if cancelled:
            self._finished_now()
        return cancelled

    async def edit_jobs(
        self, target: int | JobFilter, changes: JobChanges, *, now: datetime
    ) -> int:
        micros = to_micros(now)
        params = change_params(changes, micros)
        if isinstance(target, JobFilter):
            select = {**filter_params(target), "statuses": statuses_json(EDIT)}
        else:
            select = None

        def edit(conn: sqlite3.Connection) -> int:
            if select is None:
                ids = [target]
            else:
                ids = [row["id"] for row in conn.execute(SQL["get_jobs"], select)]
            rows = conn.execute(
                SQL["edit_jobs"], {**params, "ids": json_list(ids)}
            ).fetchall()
            insert_events(
                conn,
                (event_params(r["id"], EDIT, micros, changes.metadata) for r in rows),
            )
            return len(rows)

        return await self._write_op("edit_jobs", edit)

    # -- maintenance -----------------------------------------------------

    async def reclaim_stuck_jobs(
        self, max_processing_seconds: float, message: str, *, now: datetime
    ) -> list[int]:
        micros = to_micros(now)
        find = {"now": micros, "threshold": max_processing_seconds}
        lost = FailureReason.WORKER_LOST
        error = encode_json(error_entry(message, now))
        lost_event = failed_metadata(message, lost, None)
        lost_status = RECLAIM_AS_WORKER_LOST.to_status.value

        def reclaim(conn: sqlite3.Connection) -> tuple[list[int], int]:
            stuck = {
                row["id"]: row["locked_by"]
                for row in conn.execute(SQL["reclaim_stuck_jobs.find"], find)
            }
            if not stuck:
                return [], 0
            # RETURNING gives no order: the jobs go (to the barrier too) by id.
            rows = sorted(
                conn.execute(
                    SQL["reclaim_stuck_jobs"],
                    {
                        "ids": json_list(stuck),
                        "error": error,
                        "failure_reason": lost.value,
                        "now": micros,
                    },
                ),
                key=lambda row: int(row["id"]),
            )
            lost_jobs = [r for r in rows if r["status"] == lost_status]
            flow_barrier(
                conn, finished_steps(lost_jobs, RECLAIM_AS_WORKER_LOST), micros
            )
            insert_events(
                conn,
                (
                    event_params(r["id"], RECLAIM_AS_WORKER_LOST, micros, lost_event)
                    if r["status"] == lost_status
                    else event_params(
                        r["id"],
                        RECLAIM_TO_RETRY,
                        micros,
                        reclaimed_metadata(stuck[r["id"]]),
                    )
                    for r in rows
                ),
            )
            return [r["id"] for r in rows], len(lost_jobs)

        reclaimed, failed = await self._write_op("reclaim_stuck_jobs", reclaim)
        if failed:
            self._finished_now()
        return reclaimed

    async def cleanup_old_jobs(self, before: datetime, batch_size: int) -> int:
        return await self._delete_in_batches("cleanup_old_jobs", before, batch_size)

    async def cleanup_old_job_events(self, before: datetime, batch_size: int) -> int:
        return await self._delete_in_batches(
            "cleanup_old_job_events", before, batch_size
        )

    async def cleanup_old_flows(self, before: datetime, batch_size: int) -> int:
        params = {"before": to_micros(before), "batch_size": batch_size}

        def delete(conn: sqlite3.Connection) -> int:
            ids = [row["id"] for row in conn.execute(SQL["cleanup_old_flows"], params)]
            conn.execute(SQL["cleanup_old_flows.steps"], {"ids": json_list(ids)})
            return len(ids)

        return await self._in_batches("cleanup_old_flows", batch_size, delete)

    async def _delete_in_batches(
        self, operation: str, before: datetime, batch_size: int
    ) -> int:
        sql = SQL[operation]
        params = {"before": to_micros(before), "batch_size": batch_size}

        def delete(conn: sqlite3.Connection) -> int:
            return conn.execute(sql, params).rowcount

        return await self._in_batches(operation, batch_size, delete)

    async def _in_batches(
        self,
        operation: str,
        batch_size: int,
        delete: Callable[[sqlite3.Connection], int],
    ) -> int:
        """Run ``delete`` (one batch; returns how many it deleted) until a
        batch comes back short; returns the total."""
        total = 0
        # One transaction per batch, so that writers are never held off for
        # the whole cleanup.
        while True:
            deleted = await self._write_op(operation, delete)
            total += deleted
            if deleted < batch_size:
                return total

    async def expire_timed_out_tokens(self, *, now: datetime) -> int:
        micros = to_micros(now)

        def expire(conn: sqlite3.Connection) -> tuple[int, int]:
            tokens = [
                row["id"]
                for row in conn.execute(SQL["expire_timed_out_tokens"], {"now": micros})
            ]
            return len(tokens), resume_token_waits(conn, tokens, micros, True)

        expired, resumed = await self._write_op("expire_timed_out_tokens", expire)
        if resumed:
            self._woken()
        return expired

    # -- durable steps and tokens ------------------------------------------

    async def save_step(
        self, lease: Lease, step_data: dict[str, JSONValue], *, now: datetime
    ) -> bool:
        params = step_params(lease, step_data, to_micros(now))

        def save(conn: sqlite3.Connection) -> bool:
            return conn.execute(SQL["save_step"], params).fetchone() is not None

        return await self._write_op("save_step", save)

    async def create_token(
        self,
        lease: Lease,
        token: NewToken,
        step_data: dict[str, JSONValue],
        *,
        now: datetime,
    ) -> bool:
        micros = to_micros(now)
        params = step_params(lease, step_data, micros)
        new = {
            "id": token.id,
            "job_id": lease.job_id,
            "timeout_at": optional_micros(token.timeout_at),
            "tags": json_list(token.tags),
            "now": micros,
        }

        def create(conn: sqlite3.Connection) -> bool:
            if conn.execute(SQL["save_step"], params).fetchone() is None:
                return False
            conn.execute(SQL["create_token"], new)
            return True

        return await self._write_op("create_token", create)

    async def get_token(self, token_id: str) -> Token | None:
        rows = await self._read("get_token", SQL["get_token"], {"id": token_id})
        return decode_token(rows[0]) if rows else None

    async def complete_token(
        self, token_id: str, output: JSONValue, *, now: datetime
    ) -> str | None:
        micros = to_micros(now)
        params = {"id": token_id, "output": optional_json(output), "now": micros}

        def complete(conn: sqlite3.Connection) -> tuple[str | None, int]:
            if conn.execute(SQL["complete_token"], params).fetchone() is None:
                row = conn.execute(SQL["get_token"], {"id": token_id}).fetchone()
                return ("unknown" if row is None else row["status"]), 0
            return None, resume_token_waits(conn, [token_id], micros, False)

        refused, resumed = await self._write_op("complete_token", complete)
        if resumed:
            self._woken()
        return refused

    def _woken(self) -> None:
        """Jobs became due now: wake idle processors, here and elsewhere."""
        self._ringer.ring(doorbell.ADDED)
        self._hub.notify()

    def _finished_now(self) -> None:
        """Jobs became final: wake those waiting for them, here and elsewhere."""
        self._finished_ringer.ring(doorbell.FINISHED)
        self._finished_hub.notify()

    # -- processing ------------------------------------------------------

    async def settle_and_claim(
        self,
        outcomes: Sequence[Outcome],
        claim: ClaimRequest | None,
        *,
        now: datetime,
    ) -> Exchange:
        if not outcomes and claim is None:
            return Exchange(settled=[], claimed=[])
        micros = to_micros(now)

        def exchange(conn: sqlite3.Connection) -> tuple[Settlement, list[sqlite3.Row]]:
            settlement = (
                settle(conn, outcomes, micros, now)
                if outcomes
                else Settlement([], 0, [])
            )
            if claim is not None:
                resume_due_waits(conn, micros)
            rows = [] if claim is None else claim_jobs(conn, claim, micros)
            return settlement, rows

        settlement, rows = await self._write_op("settle_and_claim", exchange)
        if settlement.finished:
            self._finished_now()
        # Decoded here, on the event loop, to keep the store's thread short.
        return Exchange(
            settled=settlement.settled,
            claimed=[decode_claimed(row) for row in rows],
            ready_flows=settlement.ready_flows,
        )

    async def heartbeat(self, leases: Sequence[Lease], *, now: datetime) -> list[int]:
        if not leases:
            return []
        params = {"leases": leases_json(leases), "now": to_micros(now)}

        def refresh(conn: sqlite3.Connection) -> list[int]:
            return [row[0] for row in conn.execute(SQL["heartbeat"], params)]

        return sorted(await self._write_op("heartbeat", refresh))

    async def release_jobs(self, leases: Sequence[Lease], *, now: datetime) -> int:
        if not leases:
            return 0
        micros = to_micros(now)
        held_params = {"leases": leases_json(leases)}

        def release(conn: sqlite3.Connection) -> int:
            held = {
                row["id"]: row["locked_by"]
                for row in conn.execute(SQL["held_leases"], held_params)
            }
            if not held:
                return 0
            rows = conn.execute(
                SQL["release_jobs"], {"ids": json_list(held), "now": micros}
            ).fetchall()
            insert_events(
                conn,
                (
                    event_params(
                        r["id"], RELEASE, micros, released_metadata(held[r["id"]])
                    )
                    for r in rows
                ),
            )
            return len(rows)

        return await self._write_op("release_jobs", release)

    async def prolong_job(self, lease: Lease, timeout: float, *, now: datetime) -> bool:
        return await self._change_one(
            "prolong_job",
            {"id": lease.job_id, "token": lease.token},
            PROLONG,
            prolonged_metadata(timeout),
            now,
        )

    async def set_progress(self, lease: Lease, progress: int, *, now: datetime) -> bool:
        params = {
            "id": lease.job_id,
            "token": lease.token,
            "progress": progress,
            "now": to_micros(now),
        }

        def store(conn: sqlite3.Connection) -> bool:
            return conn.execute(SQL["set_progress"], params).fetchone() is not None

        return await self._write_op("set_progress", store)

    async def _change_one(
        self,
        operation: LiteralString,
        params: Mapping[str, Any],
        transition: Transition,
        metadata: Mapping[str, Any],
        now: datetime,
    ) -> bool:
        """Run a one-job UPDATE ... RETURNING id; append ``transition``'s
        event if it hit."""
        micros = to_micros(now)
        sql = SQL[operation]

        def change(conn: sqlite3.Connection) -> bool:
            row = conn.execute(sql, {**params, "now": micros}).fetchone()
            if row is None:
                return False
            conn.execute(
                SQL["insert_event"],
                event_params(row["id"], transition, micros, metadata),
            )
            return True

        return await self._write_op(operation, change)

    # -- wake-ups ----------------------------------------------------------

    async def subscribe(self) -> Wakeup:
        return await self._hub.subscribe()

    async def _listen(self, notify: Callable[[], None]) -> None:
        """Notify when another connection adds a job.

        A doorbell wakes us as soon as another backend commits an add; the
        file's ``data_version`` (which changes on every commit by another
        connection) and its highest job id tell whether jobs were added by a
        writer that rang nothing, or by a ``db=`` caller that has committed
        since ringing.
        """
        loop = asyncio.get_running_loop()
        bell = open_doorbell(self._path, finished=False)
        reader = FileReader(self._path, "dataqueue-wakeup")

        def read_state(conn: sqlite3.Connection) -> tuple[int, int]:
            (last_id,) = conn.execute(SQL["subscribe.last_job_id"]).fetchone()
            return data_version(conn), int(last_id)

        try:
            if bell is not None:
                self._ringer.own = bell.name
            idle_poll = FALLBACK_POLL_SECONDS if bell is None else SAFETY_POLL_SECONDS
            version, last_id = await reader.run(read_state)
            watch_until = 0.0
            rung = False  # a doorbell rang since the last read
            while True:
                watching = loop.time() < watch_until
                timeout = PENDING_POLL_SECONDS if watching else idle_poll
                if bell is None:
                    await asyncio.sleep(timeout)
                    message = None
                else:
                    message = await bell.receive(timeout)
                if message == doorbell.ADDED:
                    # The bell says it all: no read, so a busy adder costs
                    # this process one receive per wake-up.
                    notify()
                    rung = True
                    continue
                if message == doorbell.PENDING:
                    watch_until = loop.time() + PENDING_WATCH_SECONDS
                seen, newest = await reader.run(read_state)
                if seen != version and newest != last_id:
                    # Maybe a job already announced (harmless: the claim
                    # finds nothing new), maybe one nobody announced.
                    notify()
                    if not rung:  # then it was the commit being watched for
                        watch_until = 0.0
                version, last_id, rung = seen, newest, False
        finally:
            if bell is not None:
                self._ringer.own = None
                bell.close()
            reader.close()

    async def subscribe_finished(self) -> Wakeup:
        return await self._finished_hub.subscribe()

    async def _listen_finished(self, notify: Callable[[], None]) -> None:
        """Notify when another connection may have made a job final.

        Every call that makes jobs final rings the doorbells of
        ``finished/``, so the file is polled only as a safety net (a ring
        lost, or no doorbells at all): any commit by another connection
        (``data_version``) then wakes the waiters, who read their jobs again.
        """
        bell = open_doorbell(self._path, finished=True)
        reader = FileReader(self._path, "dataqueue-finished")
        try:
            if bell is not None:
                self._finished_ringer.own = bell.name
            idle_poll = FALLBACK_POLL_SECONDS if bell is None else SAFETY_POLL_SECONDS
            version = await reader.run(data_version)
            # A job may have become final before the doorbell was bound and
            # the version read: let the waiters look once.
            notify()
            while True:
                if bell is None:
                    await asyncio.sleep(idle_poll)
                elif await bell.receive(idle_poll) is not None:
                    notify()
                    continue
                seen = await reader.run(data_version)
                if seen != version:
                    notify()
                    version = seen
        finally:
            if bell is not None:
                self._finished_ringer.own = None
                bell.close()
            reader.close()

    # -- cron ----------------------------------------------------------------

    async def add_cron_job(self, schedule: NewCronJob, *, now: datetime) -> int | None:
        params = {**cron_params(schedule), "now": to_micros(now)}

        def add(conn: sqlite3.Connection) -> int | None:
            row = conn.execute(SQL["add_cron_job"], params).fetchone()
            return None if row is None else int(row["id"])

        return await self._write_op("add_cron_job", add)

    async def get_cron_job(self, cron_job_id: int) -> CronJob | None:
        rows = await self._read(
            "get_cron_job", SQL["get_cron_job"], {"id": cron_job_id}
        )
        return decode_cron(rows[0]) if rows else None

    async def get_cron_job_by_name(self, schedule_name: str) -> CronJob | None:
        rows = await self._read(
            "get_cron_job_by_name",
            SQL["get_cron_job_by_name"],
            {"schedule_name": schedule_name},
        )
        return decode_cron(rows[0]) if rows else None

    async def list_cron_jobs(self, status: CronStatus | None) -> list[CronJob]:
        params = {"status": None if status is None else status.value}
        rows = await self._read("list_cron_jobs", SQL["list_cron_jobs"], params)
        return [decode_cron(row) for row in rows]

    async def edit_cron_job(
        self, cron_job_id: int, changes: CronChanges, *, now: datetime
    ) -> bool:
        params = {
            **cron_change_params(changes),
            "id": cron_job_id,
            "now": to_micros(now),
        }
        return await self._write_one("edit_cron_job", params)

    async def pause_cron_job(self, cron_job_id: int, *, now: datetime) -> bool:
        params = {"id": cron_job_id, "now": to_micros(now)}
        return await self._write_one("pause_cron_job", params)

    async def resume_cron_job(
        self,
        cron_job_id: int,
        next_run_at: datetime,
        expected: tuple[str, str],
        *,
        now: datetime,
    ) -> bool:
        params = {
            "id": cron_job_id,
            "next_run_at": to_micros(next_run_at),
            "expected_expression": expected[0],
            "expected_timezone": expected[1],
            "now": to_micros(now),
        }
        return await self._write_one("resume_cron_job", params)

    async def remove_cron_job(self, cron_job_id: int) -> bool:
        return await self._write_one("remove_cron_job", {"id": cron_job_id})

    async def get_due_cron_jobs(self, *, now: datetime) -> list[CronJob]:
        rows = await self._read(
            "get_due_cron_jobs", SQL["get_due_cron_jobs"], {"now": to_micros(now)}
        )
        return [decode_cron(row) for row in rows]

    async def enqueue_cron_jobs(
        self, ticks: Sequence[CronTick], *, now: datetime
    ) -> list[int]:
        if not ticks:
            return []
        micros = to_micros(now)

        def enqueue(conn: sqlite3.Connection) -> list[int]:
            cursor = conn.cursor()
            ids = [enqueue_tick(cursor, tick, micros) for tick in ticks]
            return [job_id for job_id in ids if job_id is not None]

        ids = await self._write_op("enqueue_cron_jobs", enqueue)
        if ids:
            self._woken()
        return ids

    async def _write_one(
        self, operation: LiteralString, params: Mapping[str, Any]
    ) -> bool:
        """Run a one-row write ... RETURNING; True if it hit a row."""
        sql = SQL[operation]

        def write(conn: sqlite3.Connection) -> bool:
            return conn.execute(sql, params).fetchone() is not None

        return await self._write_op(operation, write)

    # -- flows ---------------------------------------------------------------

    async def start_flow(self, flow: NewFlow, *, now: datetime) -> list[int]:
        micros = to_micros(now)
        entity = flow.entity
        params = {
            "id": flow.id,
            "failure_policy": flow.failure_policy,
            "total_steps": len(flow.steps),
            "timeout_at": optional_micros(flow.timeout_at),
            "join_job_type": flow.join_job_type,
            "join_spec": flow.join_spec,
            "entity_id": None if entity is None else entity["id"],
            "entity_type": None if entity is None else entity["type"],
            "now": micros,
        }

        def start(conn: sqlite3.Connection) -> list[int]:
            conn.execute(SQL["start_flow"], params)
            ids = insert_jobs(conn.cursor(), flow.steps, micros)
            conn.executemany(
                SQL["start_flow.step"],
                (
                    {
                        "flow_id": flow.id,
                        "step_index": step.flow_step_index,
                        "job_id": job_id,
                    }
                    for step, job_id in zip(flow.steps, ids, strict=True)
                ),
            )
            return ids

        ids = await self._write_op("start_flow", start)
        self._woken()
        return ids

    async def get_flow(self, flow_id: str) -> StoredFlow | None:
        def read(conn: sqlite3.Connection) -> tuple[sqlite3.Row | None, list[Any]]:
            # One transaction, so the steps match the flow row.
            conn.execute("BEGIN")
            try:
                flow = conn.execute(SQL["get_flow"], {"id": flow_id}).fetchone()
                steps = conn.execute(
                    SQL["get_flow.steps"], {"flow_id": flow_id}
                ).fetchall()
            finally:
                conn.execute("COMMIT")
            return flow, steps

        row, steps = await self._run(
            "get_flow", lambda conn: self._retry_busy(lambda: read(conn))
        )
        if row is None:
            return None
        record = decode_flow(row, [decode_step(step) for step in steps])
        return StoredFlow(record=record, join_spec=row["join_spec"])

    async def list_flows(
        self, status: FlowStatus | None, limit: int, offset: int
    ) -> list[FlowRecord]:
        params = {
            "status": None if status is None else status.value,
            "limit": limit,
            "offset": offset,
        }
        rows = await self._read("list_flows", SQL["list_flows"], params)
        return [decode_flow(row, []) for row in rows]

    async def enqueue_flow_join(
        self, flow_id: str, join: NewJob, *, now: datetime
    ) -> int | None:
        micros = to_micros(now)

        def enqueue(conn: sqlite3.Connection) -> int | None:
            ready = conn.execute(SQL["enqueue_flow_join.ready"], {"id": flow_id})
            if ready.fetchone() is None:
                return None
            (job_id,) = insert_jobs(conn.cursor(), [join], micros)
            conn.execute(
                SQL["enqueue_flow_join"],
                {"id": flow_id, "join_job_id": job_id, "now": micros},
            )
            return job_id

        job_id = await self._write_op("enqueue_flow_join", enqueue)
        if job_id is not None:
            self._woken()
        return job_id

    async def time_out_flows(self, *, now: datetime) -> list[str]:
        params = {"now": to_micros(now)}

        def time_out(conn: sqlite3.Connection) -> list[str]:
            return [row["id"] for row in conn.execute(SQL["time_out_flows"], params)]

        return await self._write_op("time_out_flows", time_out)

    async def get_ready_flows(self, limit: int) -> list[str]:
        rows = await self._read(
            "get_ready_flows", SQL["get_ready_flows"], {"limit": limit}
        )
        return [row["id"] for row in rows]

    # -- counts --------------------------------------------------------------

    async def count_jobs(self, where: JobFilter) -> dict[JobStatus, int]:
        params = {**filter_params(where), "status": None}
        rows = await self._read("count_jobs", SQL["count_jobs"], params)
        counts = dict.fromkeys(JobStatus, 0)
        for row in rows:
            counts[JobStatus(row["status"])] = row["jobs"]
        return counts

    async def job_type_stats(
        self, *, now: datetime, since: datetime
    ) -> list[JobTypeStats]:
        params = {"now": to_micros(now), "since": to_micros(since)}
        rows = await self._read("job_type_stats", SQL["job_type_stats"], params)
        return type_stats_from_rows(
            {**row, "oldest_pending_at": from_micros(row["oldest_pending_at"])}
            for row in map(dict, rows)
        )

    # -- workers -------------------------------------------------------------

    async def register_worker(self, worker: NewWorker, *, now: datetime) -> None:
        params = {
            "id": worker.id,
            "host": worker.host,
            "pid": worker.pid,
            "started_at": to_micros(worker.started_at),
            "last_heartbeat": to_micros(worker.last_heartbeat),
            "job_types": None
            if worker.job_types is None
            else json_list(worker.job_types),
            "concurrency": worker.concurrency,
            "running_job_ids": json_list(worker.running_job_ids),
        }

        def register(conn: sqlite3.Connection) -> None:
            conn.execute(SQL["register_worker"], params)

        await self._write_op("register_worker", register)

    async def heartbeat_worker(
        self, worker_id: str, running_job_ids: Sequence[int], *, now: datetime
    ) -> bool:
        params = {
            "id": worker_id,
            "running_job_ids": json_list(running_job_ids),
            "now": to_micros(now),
        }
        return await self._write_one("heartbeat_worker", params)

    async def unregister_worker(self, worker_id: str) -> None:
        def unregister(conn: sqlite3.Connection) -> None:
            conn.execute(SQL["unregister_worker"], {"id": worker_id})

        await self._write_op("unregister_worker", unregister)

    async def list_workers(self) -> list[WorkerInfo]:
        rows = await self._read("list_workers", SQL["list_workers"], {})
        return [decode_worker(row) for row in rows]

    async def remove_dead_workers(self, *, before: datetime) -> int:
        params = {"before": to_micros(before)}

        def remove(conn: sqlite3.Connection) -> int:
            return conn.execute(SQL["remove_dead_workers"], params).rowcount

        return await self._write_op("remove_dead_workers", remove)
