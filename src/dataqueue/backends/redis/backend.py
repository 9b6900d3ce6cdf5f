"""The Redis store: every change that touches several keys is one Lua script.

Resets. Redis without persistence loses its whole dataset on a restart, and
a queue that went on counting from 1 would hand out ids that its users still
hold for jobs added before. Two things guard against that:

* Every id counter (``{p}id``, ``{p}event_id``) that is missing starts at the
  server's clock in milliseconds x 1000 instead of at 0 (``reserve_ids`` in
  ``lua/_lib.lua``). Ids handed out before a reset came from an earlier
  start of the counter and were issued at fewer than 1000 per millisecond on
  average, so the new ids are all larger, whichever process adds first and
  whenever it started. The cost: ids are large from the start (about 1.8e15,
  still below 2**53, so exact in JSON and JavaScript), and the guarantee
  assumes the server's clock does not move back across the reset.
* ``{p}instance`` holds a marker written when the dataset is first used. The
  scripts that add and claim return it, creating it when missing; a backend
  that sees it change logs one ERROR per reset (the jobs it knew are gone)
  and carries on with the new dataset.

Store faults are raised as ``StoreUnavailableError`` or ``StoreRefusedError``
(``faults.py``). Pooled connections idle for ``HEALTH_CHECK_SECONDS`` are
checked with a PING before use, and a command whose connection turns out to
be dead is sent once more on a new one, so a restarted server costs no failed
call when it is back. The wake-up listener reconnects on its own with
backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import logging
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import redis.asyncio as aioredis
from redis.asyncio.connection import SSLConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError

from dataqueue._commands import (
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
    CANCEL,
    COMPLETE,
    MANUAL_RETRY,
    RECLAIM_AS_WORKER_LOST,
    Transition,
    added_metadata,
    cancelled_metadata,
    error_entry,
    failed_metadata,
    failure,
    prolonged_metadata,
    resumed_on_token_metadata,
    retried_metadata,
    settled_by,
    waiting_metadata,
)
from dataqueue._validate import to_json_text
from dataqueue.backends import _records
from dataqueue.backends._records import CRON_TIME_FIELDS, JOB_TIME_FIELDS
from dataqueue.backends._wakeup import WakeupHub
from dataqueue.backends.protocol import Backend, Wakeup
from dataqueue.backends.redis import keys
from dataqueue.backends.redis.connection import cluster_client, is_cluster_url
from dataqueue.backends.redis.faults import redacted, store_faults
from dataqueue.backends.redis.scripts import Scripts
from dataqueue.backends.redis.upgrade import old_instance, rename_old_keys
from dataqueue.cron import CronJob, CronStatus
from dataqueue.errors import BackendError, NotMigratedError
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
    Token,
    WorkerInfo,
)
from dataqueue.types import JSONValue

logger = logging.getLogger("dataqueue")

SCHEMA_VERSION = 3
# Candidate jobs one script call looks at when a filter walks an index (see
# walk_matches in lua/_lib.lua): a filtered read or bulk change of many jobs
# is several short calls, so other clients are served in between.
WALK_BUDGET = 500
LISTEN_POLL = 1.0
HEALTH_CHECK_SECONDS = 5
LISTEN_BACKOFF_FIRST = 0.1
LISTEN_BACKOFF_MAX = 5.0
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
TLS_KEYS = frozenset({"ca", "cert", "key", "reject_unauthorized"})

_INT_FIELDS = frozenset(
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
    }
)
_FLOAT_FIELDS = frozenset({"timeout", "retry_delay", "retry_delay_max"})
_BOOL_FIELDS = frozenset({"force_kill_on_timeout", "retry_backoff", "allow_overlap"})
_TIME_FIELDS = JOB_TIME_FIELDS | CRON_TIME_FIELDS
_JSON_FIELDS = frozenset(
    {"payload", "output", "error_history", "tags", "step_data", "entity"}
)
# JSON fields whose NULL is an absent field, like every non-JSON field.
_ABSENT_WHEN_NULL = frozenset({"entity"})


MINUTE_US = 60_000_000


def _us(value: datetime) -> str:
    return str((value - EPOCH) // MICROSECOND)


def _time(text: str) -> datetime:
    return EPOCH + int(text) * MICROSECOND


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _encode(name: str, value: Any) -> str | None:
    """A job field as stored in its hash; None means the field is absent."""
    if value is None and (name in _ABSENT_WHEN_NULL or name not in _JSON_FIELDS):
        return None
    if name in _JSON_FIELDS:
        return to_json_text(value)
    if name in _TIME_FIELDS:
        return _us(value)
    if name in _BOOL_FIELDS:
        return "1" if value else "0"
    if name in _FLOAT_FIELDS:
        return repr(float(value))
    return str(value)


def _flag(text: str) -> bool:
    return text == "1"


def _same(text: str) -> str:
    return text


def _decoder(name: str) -> Callable[[str], Any]:
    if name in _TIME_FIELDS:
        return _time
    if name in _INT_FIELDS:
        return int
    if name in _FLOAT_FIELDS:
        return float
    if name in _BOOL_FIELDS:
        return _flag
    if name in _JSON_FIELDS:
        return json.loads
    return _same


_DECODERS = {name: _decoder(name) for name in _records.JOB_FIELDS}
_CRON_DECODERS = {name: _decoder(name) for name in _records.CRON_FIELDS}


def _job(row: Mapping[str, str]) -> JobRecord:
    """A job from its hash as a mapping; fields that are not JobRecord's
    (``lease_token``) are skipped."""
    values: dict[str, Any] = dict.fromkeys(_records.JOB_FIELDS)
    for name, text in row.items():
        decode = _DECODERS.get(name)
        if decode is not None:
            values[name] = decode(text)
    return _records.job_from_row(values)


def _claimed(row: Mapping[str, str]) -> Claimed:
    """A claimed job, or a BrokenJob when its hash cannot be decoded: one bad
    job never takes its claim down with it."""
    try:
        return _job(row)
    except Exception as error:  # any decoding failure; the job is still claimed
        job_id = int(row["id"])
        return BrokenJob(job_id, f"job {job_id} cannot be decoded: {error!r}")


def _cron(fields: Mapping[str | bytes, str | bytes]) -> CronJob:
    values: dict[str, Any] = dict.fromkeys(_records.CRON_FIELDS)
    for name, text in fields.items():
        decode = _CRON_DECODERS.get(_text(name))
        if decode is not None:
            values[_text(name)] = decode(_text(text))
    return _records.cron_from_row(values)


def _crons(rows: Sequence[Sequence[str | bytes]]) -> list[CronJob]:
    return [_cron(dict(zip(row[::2], row[1::2], strict=True))) for row in rows]


def _fields(values: Mapping[str, Any]) -> list[str]:
    """Hash fields as a flat name, value list; NULLs are left out."""
    flat: list[str] = []
    for name, value in values.items():
        text = _encode(name, value)
        if text is not None:
            flat += [name, text]
    return flat


def _new_cron(schedule: NewCronJob, now: datetime) -> list[str]:
    return _fields(
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
            "next_run_at": schedule.next_run_at,
            "skipped_runs": 0,
            "created_at": now,
            "updated_at": now,
        }
    )


def _cron_edit(changes: CronChanges) -> str:
    """The edit as the JSON object that ``edit_cron_job.lua`` reads."""
    set_fields: list[str] = []
    unset: list[str] = []
    for name, value in changes.values.items():
        text = _encode(name, value)
        if text is None:
            unset.append(name)
        else:
            set_fields += [name, text]
    spec: dict[str, Any] = {"set": set_fields, "unset": unset}
    if changes.next_run_at is not None:
        spec["next_run_at"] = _us(changes.next_run_at)
    if changes.expected is not None:
        spec["expected"] = list(changes.expected)
    return to_json_text(spec)


def _tick(tick: CronTick, now: datetime) -> str:
    """A tick as the JSON object that ``enqueue_cron_jobs.lua`` reads: the
    claim, and the job as ``add_jobs.lua`` takes it."""
    spec: dict[str, Any] = {
        "schedule_id": str(tick.run.cron_job_id),
        "claimed_run_at": _us(tick.claimed_run_at),
        "next_run_at": _us(tick.next_run_at),
        "skipped": tick.run.skipped,
        "job": _job_spec(tick.job, now),
    }
    return to_json_text(spec)


def _new_job(job: NewJob, now: datetime) -> str:
    return to_json_text(_job_spec(job, now))


def _job_spec(job: NewJob, now: datetime) -> dict[str, Any]:
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
    }
    spec: dict[str, Any] = {
        "fields": _fields(values),
        "job_type": job.job_type,
        "tags": job.tags,
        "event": to_json_text(added_metadata(job)),
        "run_at": _us(run_at),
        "priority": str(job.priority),
    }
    if job.idempotency_key is not None:
        spec["key"] = job.idempotency_key
    return spec


def _filter(where: JobFilter) -> str:
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
        spec["run_at"] = {k: _us(v) for k, v in bounds.items() if v is not None}
    if where.tags is not None:
        spec["tags"] = {"mode": where.tags.mode, "values": where.tags.values}
    return to_json_text(spec)


def _changes(changes: JobChanges, now: datetime) -> str:
    """The edit as the JSON object that ``edit_jobs.lua`` reads."""
    set_fields: list[str] = []
    unset: list[str] = []
    spec: dict[str, Any] = {"set": set_fields, "unset": unset}
    for name, value in changes.values.items():
        if name == "run_at" and value is None:
            value = now
        if name == "tags":
            spec["tags"] = value
        text = _encode(name, value)
        if text is None:
            unset.append(name)
        else:
            set_fields += [name, text]
    return to_json_text(spec)


def _pem_source(value: str) -> tuple[str | None, str | None]:
    """``(path, None)`` for ``file://path``, else ``(None, pem_text)``."""
    if value.startswith("file://"):
        return value.removeprefix("file://"), None
    return None, value


def tls_options(tls: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """redis-py SSL arguments for the ``tls=`` mapping, and the temporary files
    written for PEM strings (redis-py takes the certificate and key only as
    paths); the caller deletes those files when done."""
    unknown = set(tls) - TLS_KEYS
    if unknown:
        raise ValueError(
            f"connect: unknown tls option(s) {sorted(unknown)}; "
            f"use {', '.join(sorted(TLS_KEYS))}"
        )
    options: dict[str, Any] = {"connection_class": SSLConnection}
    created: list[str] = []
    if tls.get("ca"):
        path, pem = _pem_source(tls["ca"])
        if path is not None:
            with open(path, encoding="utf-8") as file:
                pem = file.read()
        options["ssl_ca_data"] = pem
    for name, option in (("cert", "ssl_certfile"), ("key", "ssl_keyfile")):
        if tls.get(name):
            path, pem = _pem_source(tls[name])
            if pem is not None:
                descriptor, path = tempfile.mkstemp(suffix=".pem")
                with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                    file.write(pem)
                created.append(path)
            options[option] = path
    if tls.get("reject_unauthorized", True):
        options["ssl_cert_reqs"] = "required"
    else:
        options["ssl_cert_reqs"] = "none"
        options["ssl_check_hostname"] = False
    return options, created


def _failure(
    message: str,
    reason: FailureReason,
    retry_at: datetime | None,
    now: datetime,
    traceback: str | None = None,
) -> tuple[str, str]:
    """A failure's error_history entry and its 'failed' event's metadata
    (JSON text), as ``settle_and_claim.lua`` and ``reclaim_stuck_jobs.lua``
    append them."""
    entry = to_json_text(error_entry(message, now, traceback))
    metadata = to_json_text(failed_metadata(message, reason, retry_at))
    return entry, metadata


def _transition(transition: Transition, metadata: dict[str, JSONValue]) -> str:
    """A transition as the scripts read it (``starts_from`` in _lib.lua)."""
    return to_json_text(
        {
            "from": [status.value for status in sorted(transition.from_statuses)],
            "metadata": to_json_text(metadata),
            "outcome": transition.barrier or "",
        }
    )


CANCEL_ARG = _transition(CANCEL, cancelled_metadata())
RETRY_ARG = _transition(MANUAL_RETRY, retried_metadata())


def _outcome(outcome: Outcome, now: datetime) -> list[JSONValue]:
    """One outcome as ``settle_and_claim.lua`` reads it."""
    lease = outcome.lease
    if isinstance(outcome, Completion):
        return [
            "c",
            str(lease.job_id),
            lease.token,
            to_json_text(outcome.output),
            to_json_text(outcome.metadata),
            COMPLETE.step_outcome,
        ]
    if isinstance(outcome, Suspension):
        until, token_id = outcome.wait_until, outcome.wait_token_id
        resumed = [
            ""
            if token_id is None
            else to_json_text(resumed_on_token_metadata(token_id, timed_out=ended))
            for ended in (False, True)
        ]
        return [
            "s",
            str(lease.job_id),
            lease.token,
            to_json_text(outcome.step_data),
            "" if until is None else _us(until),
            token_id or "",
            to_json_text(waiting_metadata(until, token_id)),
            *resumed,
        ]
    if not isinstance(outcome, Failure):
        raise BackendError(f"the Redis store cannot write {type(outcome).__name__}")
    retry_at = outcome.next_attempt_at
    entry, metadata = _failure(
        outcome.message, outcome.reason, retry_at, now, outcome.traceback
    )
    return [
        "f",
        str(lease.job_id),
        lease.token,
        entry,
        outcome.reason.value,
        "" if retry_at is None else _us(retry_at),
        metadata,
        failure(retry_at).barrier or "",
    ]


def _token(row: Mapping[str, str]) -> Token:
    """A token from its hash (see ``keys.py``)."""
    output = row.get("output")
    timeout_at, completed_at = row.get("timeout_at"), row.get("completed_at")
    return Token(
        id=row["id"],
        job_id=int(row["job_id"]),
        status=row["status"],  # type: ignore[arg-type]
        output=None if output is None else json.loads(output),
        timeout_at=None if timeout_at is None else _time(timeout_at),
        created_at=_time(row["created_at"]),
        completed_at=None if completed_at is None else _time(completed_at),
        tags=json.loads(row["tags"]),
    )


def _new_flow(flow: NewFlow, now: datetime) -> str:
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
        "created_at": _us(now),
        "updated_at": _us(now),
    }
    if flow.entity is not None:
        values["entity"] = _entity_text(flow.entity)
    if flow.timeout_at is not None:
        values["timeout_at"] = _us(flow.timeout_at)
    spec: dict[str, JSONValue] = {
        "id": flow.id,
        "fields": [text for pair in values.items() for text in pair],
    }
    if flow.timeout_at is not None:
        spec["timeout_at"] = values["timeout_at"]
    return to_json_text(spec)


def _entity_text(entity: Entity) -> str:
    value: dict[str, JSONValue] = {"id": entity["id"], "type": entity["type"]}
    return to_json_text(value)


def _optional_time(text: str | None) -> datetime | None:
    return None if text is None else _time(text)


def _flow_record(row: Mapping[str, str], steps: list[FlowStep]) -> FlowRecord:
    """A flow from its hash (see ``keys.py``)."""
    join_job_id, entity = row.get("join_job_id"), row.get("entity")
    return FlowRecord(
        id=row["id"],
        status=FlowStatus(row["status"]),
        failure_policy="abort" if row["failure_policy"] == "abort" else "continue",
        total_steps=int(row["total_steps"]),
        remaining_steps=int(row["remaining_steps"]),
        aborted=_flag(row["aborted"]),
        timed_out=_flag(row["timed_out"]),
        timeout_at=_optional_time(row.get("timeout_at")),
        join_job_type=row["join_job_type"],
        join_job_id=None if join_job_id is None else int(join_job_id),
        entity=None if entity is None else json.loads(entity),
        created_at=_time(row["created_at"]),
        updated_at=_time(row["updated_at"]),
        steps=steps,
    )


def _flow_step(row: Sequence[Any]) -> FlowStep:
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


def _worker_fields(worker: WorkerInfo) -> list[str]:
    values: dict[str, str] = {
        "id": worker.id,
        "host": worker.host,
        "pid": str(worker.pid),
        "started_at": _us(worker.started_at),
        "last_heartbeat": _us(worker.last_heartbeat),
        "concurrency": str(worker.concurrency),
        "running_job_ids": _ids_text(worker.running_job_ids),
    }
    if worker.job_types is not None:
        types: list[JSONValue] = list(worker.job_types)
        values["job_types"] = to_json_text(types)
    return [text for pair in values.items() for text in pair]


def _ids_text(job_ids: Sequence[int]) -> str:
    ids: list[JSONValue] = list(job_ids)
    return to_json_text(ids)


def _worker(row: Mapping[str, str]) -> WorkerInfo:
    """A worker from its hash (see ``keys.py``)."""
    job_types = row.get("job_types")
    return WorkerInfo(
        id=row["id"],
        host=row["host"],
        pid=int(row["pid"]),
        started_at=_time(row["started_at"]),
        last_heartbeat=_time(row["last_heartbeat"]),
        job_types=None if job_types is None else json.loads(job_types),
        concurrency=int(row["concurrency"]),
        running_job_ids=json.loads(row["running_job_ids"]),
    )


def _lease_args(leases: Sequence[Lease]) -> list[str]:
    args: list[str] = []
    for lease in leases:
        args += [str(lease.job_id), lease.token]
    return args


def _pooled_client(
    url: str, max_connections: int, options: dict[str, Any]
) -> aioredis.Redis:
    # A blocking pool makes callers wait for a free connection instead of
    # failing with "Too many connections". A connection found dead (by the
    # health check's PING, or by the command itself) is replaced and the
    # call sent once more: after a restart the first call succeeds instead
    # of failing per pooled connection. Timeouts are not retried, as the
    # server may have run the script.
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        decode_responses=True,
        health_check_interval=HEALTH_CHECK_SECONDS,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        **options,
    )
    return aioredis.Redis.from_pool(pool)


class RedisBackend(Backend):
    """Jobs in Redis hashes, indexed by sorted sets, changed by Lua scripts.

    Args:
        url: ``redis://``, ``rediss://`` or ``redis+cluster://host:port,...``
            URL (ignored when ``client`` is given).
        client: An existing ``redis.asyncio.Redis`` or ``RedisCluster``; used
            as is and never closed.
        key_prefix: Every key and the wake-up channel start with it, so queues
            with different prefixes share one Redis without seeing each other.
        tls: ``ca``, ``cert``, ``key`` (PEM text, or ``file://path``) and
            ``reject_unauthorized`` (default True).
        max_connections: Size of the connection pool created from ``url``.
        verbose: Log every script call at DEBUG.
    """

    name = "redis"

    def __init__(
        self,
        url: str | None,
        *,
        client: Any = None,
        key_prefix: str = "dq:",
        tls: Mapping[str, Any] | None = None,
        max_connections: int = 10,
        verbose: bool = False,
    ) -> None:
        self._where = f"Redis at {redacted(url) if url else 'the given client'}"
        self._temp_files: list[str] = []
        self._owns_client = client is None
        if client is None:
            if url is None:
                raise ValueError("RedisBackend needs a url or a client")
            options: dict[str, Any] = {}
            if tls is not None:
                options, self._temp_files = tls_options(tls)
            client = (
                cluster_client(url, max_connections=max_connections, options=options)
                if is_cluster_url(url)
                else _pooled_client(url, max_connections, options)
            )
        self._client = client
        self._prefix = key_prefix
        self._scripts = Scripts(client, key_prefix, self._where, verbose=verbose)
        self._hub = WakeupHub(
            functools.partial(self._listen, keys.wakeup(key_prefix), "job wake-up")
        )
        self._finished_hub = WakeupHub(
            functools.partial(
                self._listen, keys.job_finished(key_prefix), "job-finished signal"
            )
        )
        self._instance: str | None = None

    def get_redis_client(self) -> Any:
        return self._client

    async def open(self) -> None:
        with store_faults(self._where):
            await self._client.ping()
            marker = await self._client.get(keys.instance(self._prefix))
            old_layout = await self._client.exists(old_instance(self._prefix))
        if old_layout:
            raise NotMigratedError(
                f"{self._where} holds the queue of prefix {self._prefix!r} in "
                "the key layout without a hash tag: run `dataqueue migrate` "
                "(or `await queue.migrate()`) once, with every worker stopped, "
                "to rename its keys (see docs/scaling.md)"
            )
        self._instance = None if marker is None else _text(marker)

    async def close(self) -> None:
        await self._hub.close()
        await self._finished_hub.close()
        if self._owns_client:
            await self._client.aclose()
        for path in self._temp_files:
            os.unlink(path)
        self._temp_files = []

    async def migrate(self) -> None:
        """Fill the indexes a dataset of an older schema version lacks.

        Redis needs no schema; a dataset that predates a version (or has
        none: jobs written before versions were kept) gets that version's
        new indexes built from its jobs, a budget of jobs per call.
        """
        version_key = keys.schema_version(self._prefix)
        with store_faults(self._where):
            await self._rename_old_keys()
            stored = await self._client.get(version_key)
        if stored is not None and int(stored) >= SCHEMA_VERSION:
            return
        cursor = ""
        while cursor is not None:
            cursor = await self._scripts.run("migrate", cursor, WALK_BUDGET)
        with store_faults(self._where):
            await self._client.set(version_key, SCHEMA_VERSION)

    async def _rename_old_keys(self) -> None:
        """Bring a queue of the layout without hash tags to today's names."""
        renamed, clashes = await rename_old_keys(self._client, self._prefix)
        if clashes:
            raise BackendError(
                f"{self._where}: {len(clashes)} key(s) of prefix "
                f"{self._prefix!r} exist in both key layouts (e.g. "
                f"{clashes[0]!r}); a worker of an earlier version is still "
                "writing the old one: stop it and migrate again"
            )
        if renamed:
            logger.info(
                "%s: renamed %d key(s) of prefix %r to the hash-tagged layout",
                self._where,
                renamed,
                self._prefix,
            )

    def _saw_instance(self, marker: str | bytes) -> None:
        """Note the dataset's instance marker; a changed one means a reset."""
        marker = _text(marker)
        if self._instance is not None and marker != self._instance:
            logger.error(
                "%s (prefix %r) was reset: its data is gone, jobs added before "
                "are lost; new job ids continue above the old ones",
                self._where,
                self._prefix,
            )
        self._instance = marker

    # -- JobStore ------------------------------------------------------------

    async def add_jobs(
        self, jobs: Sequence[NewJob], *, now: datetime, db: Any = None
    ) -> list[int]:
        if db is not None:
            raise BackendError(
                "transactional enqueue (db=) needs PostgreSQL or SQLite; "
                "Redis has no transaction to join"
            )
        if not jobs:
            return []
        marker, ids = await self._scripts.run(
            "add_jobs", _us(now), *(_new_job(job, now) for job in jobs)
        )
        self._saw_instance(marker)
        self._hub.notify()
        return [int(job_id) for job_id in ids]

    async def get_job(self, job_id: int) -> JobRecord | None:
        with store_faults(self._where):
            fields = await self._client.hgetall(keys.job(self._prefix, job_id))
        if not fields:
            return None
        return _job({_text(name): _text(value) for name, value in fields.items()})

    async def get_jobs(
        self, where: JobFilter, limit: int, offset: int
    ) -> list[JobRecord]:
        spec, cursor = _filter(where), ""
        rows: list[dict[str, str]] = []
        while True:
            found, skipped, cursor = await self._scripts.run(
                "get_jobs", spec, limit - len(rows), offset, cursor, WALK_BUDGET
            )
            rows += json.loads(found)
            offset -= int(skipped)
            if cursor is None or len(rows) >= limit:
                return [_job(row) for row in rows]

    async def get_job_events(self, job_id: int) -> list[JobEvent]:
        with store_faults(self._where):
            entries = await self._client.lrange(
                keys.events(self._prefix, job_id), 0, -1
            )
        events = []
        for entry in entries:
            event_id, event_type, created_at, metadata = _text(entry).split("\t", 3)
            events.append(
                _records.event_from_row(
                    {
                        "id": int(event_id),
                        "job_id": job_id,
                        "event_type": event_type,
                        "created_at": _time(created_at),
                        "metadata": json.loads(metadata),
                    }
                )
            )
        return events

    async def retry_job(self, job_id: int, *, now: datetime) -> bool:
        return bool(await self._scripts.run("retry_job", job_id, _us(now), RETRY_ARG))

    async def cancel_job(self, job_id: int, *, now: datetime) -> bool:
        cancelled = bool(
            await self._scripts.run("cancel_job", job_id, _us(now), CANCEL_ARG)
        )
        if cancelled:
            self._finished_hub.notify()
        return cancelled

    async def edit_jobs(
        self, target: int | JobFilter, changes: JobChanges, *, now: datetime
    ) -> int:
        if isinstance(target, JobFilter):
            job_id, where = "", _filter(target)
        else:
            job_id, where = str(target), "{}"
        edits, metadata = _changes(changes, now), to_json_text(changes.metadata)
        total, cursor = 0, ""
        while cursor is not None:
            edited, cursor = await self._scripts.run(
                "edit_jobs",
                _us(now),
                job_id,
                where,
                edits,
                metadata,
                cursor,
                WALK_BUDGET,
            )
            total += int(edited)
        return total

    async def cancel_jobs(self, where: JobFilter, *, now: datetime) -> list[int]:
        spec, cancelled, cursor = _filter(where), [], ""
        while cursor is not None:
            ids, cursor = await self._scripts.run(
                "cancel_jobs", _us(now), spec, cursor, WALK_BUDGET, CANCEL_ARG
            )
            cancelled += [int(job_id) for job_id in ids]
        if cancelled:
            self._finished_hub.notify()
        return cancelled

    async def count_jobs(self, where: JobFilter) -> dict[JobStatus, int]:
        statuses = list(JobStatus)
        names: list[JSONValue] = [status.value for status in statuses]
        spec, wanted = (
            _filter(dataclasses.replace(where, status=None)),
            to_json_text(names),
        )
        totals, cursor = dict.fromkeys(statuses, 0), ""
        while cursor is not None:
            counts, cursor = await self._scripts.run(
                "count_jobs", spec, wanted, cursor, WALK_BUDGET
            )
            for status, count in zip(statuses, counts, strict=True):
                totals[status] += int(count)
        return totals

    async def job_type_stats(
        self, *, now: datetime, since: datetime
    ) -> list[JobTypeStats]:
        reply = await self._scripts.run(
            "job_type_stats",
            _us(now),
            int(_us(since)) // MINUTE_US,
            int(_us(now)) // MINUTE_US,
        )
        return [
            JobTypeStats(
                job_type=job_type,
                counts={status: int(counts[status.value]) for status in JobStatus},
                oldest_pending_at=None if oldest is False else _time(oldest),
                completed=int(completed),
                failed=int(failed),
            )
            for job_type, counts, oldest, completed, failed in sorted(
                json.loads(_text(reply))
            )
        ]

    async def reclaim_stuck_jobs(
        self, max_processing_seconds: float, message: str, *, now: datetime
    ) -> list[int]:
        threshold = round(max_processing_seconds * 1_000_000)
        cutoff = int(_us(now)) - threshold
        ids = await self._scripts.run(
            "reclaim_stuck_jobs",
            _us(now),
            threshold,
            cutoff,
            *_failure(message, FailureReason.WORKER_LOST, None, now),
            FailureReason.WORKER_LOST.value,
            RECLAIM_AS_WORKER_LOST.step_outcome,
        )
        if ids:
            self._finished_hub.notify()  # some may have failed for good
        return [int(job_id) for job_id in ids]

    async def cleanup_old_jobs(self, before: datetime, batch_size: int) -> int:
        return await self._in_batches("cleanup_old_jobs", before, batch_size)

    async def cleanup_old_job_events(self, before: datetime, batch_size: int) -> int:
        return await self._in_batches("cleanup_old_job_events", before, batch_size)

    async def cleanup_old_flows(self, before: datetime, batch_size: int) -> int:
        # Joined flows are indexed by creation, not by age: walk them all.
        total, after = 0, "-inf"
        while True:
            deleted, last = await self._scripts.run(
                "cleanup_old_flows", _us(before), batch_size, after
            )
            total += int(deleted)
            if last is None:
                return total
            after = _text(last)

    async def _in_batches(
        self,
        name: Literal["cleanup_old_jobs", "cleanup_old_job_events"],
        before: datetime,
        batch_size: int,
    ) -> int:
        total = 0
        while True:
            deleted = int(await self._scripts.run(name, _us(before), batch_size))
            total += deleted
            if deleted < batch_size:
                return total

    async def expire_timed_out_tokens(self, *, now: datetime) -> int:
        return int(await self._scripts.run("expire_timed_out_tokens", _us(now)))

    # -- WaitStore -----------------------------------------------------------

    async def save_step(
        self, lease: Lease, step_data: dict[str, JSONValue], *, now: datetime
    ) -> bool:
        done = await self._scripts.run(
            "save_step", lease.job_id, lease.token, to_json_text(step_data), _us(now)
        )
        return bool(done)

    async def create_token(
        self,
        lease: Lease,
        token: NewToken,
        step_data: dict[str, JSONValue],
        *,
        now: datetime,
    ) -> bool:
        timeout_at = token.timeout_at
        tags: list[JSONValue] = list(token.tags)
        done = await self._scripts.run(
            "create_token",
            lease.job_id,
            lease.token,
            to_json_text(step_data),
            token.id,
            "" if timeout_at is None else _us(timeout_at),
            to_json_text(tags),
            _us(now),
        )
        return bool(done)

    async def get_token(self, token_id: str) -> Token | None:
        with store_faults(self._where):
            fields = await self._client.hgetall(keys.token(self._prefix, token_id))
        if not fields:
            return None
        return _token({_text(name): _text(value) for name, value in fields.items()})

    async def complete_token(
        self, token_id: str, output: JSONValue, *, now: datetime
    ) -> str | None:
        refused = await self._scripts.run(
            "complete_token", token_id, to_json_text(output), _us(now)
        )
        return _text(refused) or None

    # -- WorkStore -----------------------------------------------------------

    async def settle_and_claim(
        self,
        outcomes: Sequence[Outcome],
        claim: ClaimRequest | None,
        *,
        now: datetime,
    ) -> Exchange:
        entries: list[JSONValue] = [_outcome(outcome, now) for outcome in outcomes]
        written = to_json_text(entries)
        args: list[str | int] = [_us(now), written]
        if claim is None:
            args += [0, "", "", "", ""]
        else:
            types = (
                "" if claim.job_types is None else to_json_text(list(claim.job_types))
            )
            worker = to_json_text({"worker_id": claim.worker_id})
            args += [claim.limit, claim.worker_id, claim.token, types, worker]
        marker, settled, rows, ready_flows = await self._scripts.run(
            "settle_and_claim", *args
        )
        self._saw_instance(marker)
        was_settled = [flag == 1 for flag in settled]
        if any(
            done and settled_by(outcome).final
            for done, outcome in zip(was_settled, outcomes, strict=True)
        ):
            self._finished_hub.notify()
        return Exchange(
            settled=was_settled,
            claimed=[_claimed(row) for row in json.loads(rows)],
            ready_flows=[_text(flow_id) for flow_id in ready_flows],
        )

    async def heartbeat(self, leases: Sequence[Lease], *, now: datetime) -> list[int]:
        if not leases:
            return []
        held = await self._scripts.run("heartbeat", _us(now), *_lease_args(leases))
        return [int(job_id) for job_id in held]

    async def release_jobs(self, leases: Sequence[Lease], *, now: datetime) -> int:
        if not leases:
            return 0
        return int(
            await self._scripts.run("release_jobs", _us(now), *_lease_args(leases))
        )

    async def prolong_job(self, lease: Lease, timeout: float, *, now: datetime) -> bool:
        done = await self._scripts.run(
            "prolong_job",
            lease.job_id,
            lease.token,
            _us(now),
            to_json_text(prolonged_metadata(timeout)),
        )
        return bool(done)

    async def set_progress(self, lease: Lease, progress: int, *, now: datetime) -> bool:
        done = await self._scripts.run(
            "set_progress", lease.job_id, lease.token, progress, _us(now)
        )
        return bool(done)

    async def subscribe(self) -> Wakeup:
        return await self._hub.subscribe()

    async def subscribe_finished(self) -> Wakeup:
        return await self._finished_hub.subscribe()

    async def _listen(
        self, channel: str, what: str, notify: Callable[[], None]
    ) -> None:
        """Relay the messages of ``channel`` until cancelled, reconnecting
        with backoff.

        A signal each time the server confirms the subscription, the first
        time too: changes made before it sent no message we could see, so a
        caller that subscribes, reads, then waits misses none. One ERROR when
        the connection is lost, one INFO when it is back.
        """
        task = asyncio.current_task()
        delay = LISTEN_BACKOFF_FIRST
        outage = False
        while True:
            pubsub = self._client.pubsub()
            try:
                await pubsub.subscribe(channel)
                delay = LISTEN_BACKOFF_FIRST
                # redis-py swallows a cancel that lands while it connects, so
                # the loop checks for one itself instead of blocking in listen().
                while task is None or not task.cancelling():
                    message = await pubsub.get_message(timeout=LISTEN_POLL)
                    if message is None:
                        continue
                    if message["type"] == "subscribe" and outage:
                        logger.info("%s: %ss are back", self._where, what)
                        outage = False
                    notify()
                raise asyncio.CancelledError
            except (RedisError, RedisClusterException, OSError) as error:
                if not outage:
                    logger.error(
                        "%s: lost the %s subscription (%s); reconnecting",
                        self._where,
                        what,
                        str(error).strip() or type(error).__name__,
                    )
                    outage = True
            finally:
                # Closing a connection that is already gone may fail too.
                with contextlib.suppress(RedisError, RedisClusterException, OSError):
                    await pubsub.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, LISTEN_BACKOFF_MAX)

    # -- CronStore -------------------------------------------------------------

    async def add_cron_job(self, schedule: NewCronJob, *, now: datetime) -> int | None:
        cron_job_id = await self._scripts.run(
            "add_cron_job",
            schedule.schedule_name,
            _us(schedule.next_run_at),
            *_new_cron(schedule, now),
        )
        return None if cron_job_id is None else int(cron_job_id)

    async def get_cron_job(self, cron_job_id: int) -> CronJob | None:
        with store_faults(self._where):
            fields = await self._client.hgetall(keys.cron(self._prefix, cron_job_id))
        return _cron(fields) if fields else None

    async def get_cron_job_by_name(self, schedule_name: str) -> CronJob | None:
        flat = await self._scripts.run("get_cron_job_by_name", schedule_name)
        return _crons([flat])[0] if flat else None

    async def list_cron_jobs(self, status: CronStatus | None) -> list[CronJob]:
        wanted = "" if status is None else status.value
        return _crons(await self._scripts.run("list_cron_jobs", wanted))

    async def edit_cron_job(
        self, cron_job_id: int, changes: CronChanges, *, now: datetime
    ) -> bool:
        edited = await self._scripts.run(
            "edit_cron_job", cron_job_id, _us(now), _cron_edit(changes)
        )
        return bool(edited)

    async def pause_cron_job(self, cron_job_id: int, *, now: datetime) -> bool:
        return bool(await self._scripts.run("pause_cron_job", cron_job_id, _us(now)))

    async def resume_cron_job(
        self,
        cron_job_id: int,
        next_run_at: datetime,
        expected: tuple[str, str],
        *,
        now: datetime,
    ) -> bool:
        resumed = await self._scripts.run(
            "resume_cron_job",
            cron_job_id,
            _us(next_run_at),
            expected[0],
            expected[1],
            _us(now),
        )
        return bool(resumed)

    async def remove_cron_job(self, cron_job_id: int) -> bool:
        return bool(await self._scripts.run("remove_cron_job", cron_job_id))

    async def get_due_cron_jobs(self, *, now: datetime) -> list[CronJob]:
        return _crons(await self._scripts.run("get_due_cron_jobs", _us(now)))

    async def enqueue_cron_jobs(
        self, ticks: Sequence[CronTick], *, now: datetime
    ) -> list[int]:
        if not ticks:
            return []
        marker, ids = await self._scripts.run(
            "enqueue_cron_jobs", _us(now), *(_tick(tick, now) for tick in ticks)
        )
        self._saw_instance(marker)
        if ids:
            self._hub.notify()
        return [int(job_id) for job_id in ids]

    # -- FlowStore -------------------------------------------------------------

    async def start_flow(self, flow: NewFlow, *, now: datetime) -> list[int]:
        marker, ids = await self._scripts.run(
            "start_flow",
            _us(now),
            _new_flow(flow, now),
            *(_new_job(step, now) for step in flow.steps),
        )
        self._saw_instance(marker)
        self._hub.notify()
        return [int(job_id) for job_id in ids]

    async def get_flow(self, flow_id: str) -> StoredFlow | None:
        text = await self._scripts.run("get_flow", flow_id)
        if text is None:
            return None
        found = json.loads(text)
        row: dict[str, str] = found["flow"]
        # cjson writes an empty list as {}; Lua's false stands for nil.
        steps = [
            _flow_step([None if value is False else value for value in step])
            for step in found["steps"] or []
        ]
        return StoredFlow(record=_flow_record(row, steps), join_spec=row["join_spec"])

    async def list_flows(
        self, status: FlowStatus | None, limit: int, offset: int
    ) -> list[FlowRecord]:
        wanted = "" if status is None else status.value
        rows = await self._scripts.run("list_flows", wanted, limit, offset)
        return [_flow_record(row, []) for row in json.loads(rows)]

    async def enqueue_flow_join(
        self, flow_id: str, join: NewJob, *, now: datetime
    ) -> int | None:
        marker, job_id = await self._scripts.run(
            "enqueue_flow_join", _us(now), flow_id, _new_job(join, now)
        )
        self._saw_instance(marker)
        if job_id is None:
            return None
        self._hub.notify()
        return int(job_id)

    async def time_out_flows(self, *, now: datetime) -> list[str]:
        flow_ids = await self._scripts.run("time_out_flows", _us(now))
        return [_text(flow_id) for flow_id in flow_ids]

    async def get_ready_flows(self, limit: int) -> list[str]:
        if limit <= 0:
            return []  # ZRANGE 0 -1 would be every one
        with store_faults(self._where):
            flow_ids = await self._client.zrange(
                keys.flow_status(self._prefix, FlowStatus.READY.value), 0, limit - 1
            )
        return [_text(flow_id) for flow_id in flow_ids]

    # -- WorkerStore -----------------------------------------------------------

    async def register_worker(self, worker: NewWorker, *, now: datetime) -> None:
        await self._scripts.run(
            "register_worker",
            worker.id,
            _us(worker.last_heartbeat),
            *_worker_fields(worker),
        )

    async def heartbeat_worker(
        self, worker_id: str, running_job_ids: Sequence[int], *, now: datetime
    ) -> bool:
        known = await self._scripts.run(
            "heartbeat_worker", worker_id, _us(now), _ids_text(running_job_ids)
        )
        return bool(known)

    async def unregister_worker(self, worker_id: str) -> None:
        await self._scripts.run("unregister_worker", worker_id)

    async def list_workers(self) -> list[WorkerInfo]:
        rows = json.loads(await self._scripts.run("list_workers"))
        workers = [_worker(row) for row in rows]
        return sorted(workers, key=lambda worker: (worker.started_at, worker.id))

    async def remove_dead_workers(self, *, before: datetime) -> int:
        return int(await self._scripts.run("remove_dead_workers", _us(before)))
