"""The Redis store: every change that touches several keys is one Lua script."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.connection import SSLConnection

from dataqueue._commands import JobChanges, JobFilter, NewJob
from dataqueue._validate import to_json_text
from dataqueue.backends import _records
from dataqueue.backends._records import JOB_TIME_FIELDS
from dataqueue.backends._wakeup import WakeupHub
from dataqueue.backends.protocol import Backend, Wakeup
from dataqueue.backends.redis import keys
from dataqueue.backends.redis.scripts import Scripts
from dataqueue.errors import BackendError
from dataqueue.models import FailureReason, JobEvent, JobRecord
from dataqueue.types import JSONValue

SCHEMA_VERSION = 1
LISTEN_POLL = 1.0
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
TLS_KEYS = frozenset({"ca", "cert", "key", "reject_unauthorized"})

_INT_FIELDS = frozenset({"id", "attempts", "max_attempts", "priority", "progress"})
_FLOAT_FIELDS = frozenset({"timeout", "retry_delay", "retry_delay_max"})
_BOOL_FIELDS = frozenset({"force_kill_on_timeout", "retry_backoff"})
_JSON_FIELDS = frozenset({"payload", "output", "error_history", "tags", "step_data"})


def _us(value: datetime) -> str:
    return str((value - EPOCH) // MICROSECOND)


def _time(text: str) -> datetime:
    return EPOCH + int(text) * MICROSECOND


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _encode(name: str, value: Any) -> str | None:
    """A job field as stored in its hash; None means the field is absent."""
    if name in _JSON_FIELDS:
        return to_json_text(value)
    if value is None:
        return None
    if name in JOB_TIME_FIELDS:
        return _us(value)
    if name in _BOOL_FIELDS:
        return "1" if value else "0"
    if name in _FLOAT_FIELDS:
        return repr(float(value))
    return str(value)


def _decode(name: str, text: str) -> Any:
    if name in JOB_TIME_FIELDS:
        return _time(text)
    if name in _INT_FIELDS:
        return int(text)
    if name in _FLOAT_FIELDS:
        return float(text)
    if name in _BOOL_FIELDS:
        return text == "1"
    if name in _JSON_FIELDS:
        return json.loads(text)
    return text


def _job(fields: Mapping[str | bytes, str | bytes]) -> JobRecord:
    row = {_text(name): _text(value) for name, value in fields.items()}
    return _records.job_from_row(
        {
            name: None if row.get(name) is None else _decode(name, row[name])
            for name in _records.JOB_FIELDS
        }
    )


def _jobs(rows: Sequence[Sequence[str | bytes]]) -> list[JobRecord]:
    return [_job(dict(zip(row[::2], row[1::2], strict=True))) for row in rows]


def _new_job(job: NewJob, now: datetime) -> str:
    values: dict[str, Any] = {
        "job_type": job.job_type,
        "payload": job.payload,
        "status": "pending",
        "created_at": now,
        "updated_at": now,
        "run_at": job.run_at or now,
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
    }
    fields: list[str] = []
    for name, value in values.items():
        text = _encode(name, value)
        if text is not None:
            fields += [name, text]
    spec: dict[str, Any] = {
        "fields": fields,
        "tags": job.tags,
        "event": to_json_text({"job_type": job.job_type}),
    }
    if job.idempotency_key is not None:
        spec["key"] = job.idempotency_key
    return to_json_text(spec)


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


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class RedisBackend(Backend):
    """Jobs in Redis hashes, indexed by sorted sets, changed by Lua scripts.

    Args:
        url: ``redis://`` or ``rediss://`` URL (ignored when ``client`` is given).
        client: An existing ``redis.asyncio.Redis``; used as is and never closed.
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
        self._url = url or "<client>"
        self._temp_files: list[str] = []
        self._owns_client = client is None
        if client is None:
            if url is None:
                raise ValueError("RedisBackend needs a url or a client")
            options: dict[str, Any] = {}
            if tls is not None:
                options, self._temp_files = tls_options(tls)
            # A blocking pool makes callers wait for a free connection
            # instead of failing with "Too many connections".
            pool = aioredis.BlockingConnectionPool.from_url(
                url, max_connections=max_connections, decode_responses=True, **options
            )
            client = aioredis.Redis.from_pool(pool)
        self._client = client
        self._prefix = key_prefix
        self._scripts = Scripts(client, key_prefix, verbose=verbose)
        self._hub = WakeupHub(self._listen)

    def get_redis_client(self) -> Any:
        return self._client

    async def open(self) -> None:
        try:
            await self._client.ping()
        except Exception as error:
            raise BackendError(
                f"cannot reach Redis at {_redacted(self._url)}: {error}"
            ) from error

    async def close(self) -> None:
        await self._hub.close()
        if self._owns_client:
            await self._client.aclose()
        for path in self._temp_files:
            os.unlink(path)
        self._temp_files = []

    async def migrate(self) -> None:
        # Redis needs no schema; the version lets a later release upgrade keys.
        await self._client.set(
            keys.schema_version(self._prefix), SCHEMA_VERSION, nx=True
        )

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
        ids = await self._scripts.run(
            "add_jobs", _us(now), *(_new_job(job, now) for job in jobs)
        )
        self._hub.notify()
        return [int(job_id) for job_id in ids]

    async def get_job(self, job_id: int) -> JobRecord | None:
        fields = await self._client.hgetall(keys.job(self._prefix, job_id))
        return _job(fields) if fields else None

    async def get_jobs(
        self, where: JobFilter, limit: int, offset: int
    ) -> list[JobRecord]:
        rows = await self._scripts.run("get_jobs", _filter(where), limit, offset)
        return _jobs(rows)

    async def get_job_events(self, job_id: int) -> list[JobEvent]:
        flat = await self._scripts.run("get_job_events", job_id)
        events = []
        for event_id, raw in zip(flat[::2], flat[1::2], strict=True):
            owner, event_type, created_at, metadata = _text(raw).split("\t", 3)
            events.append(
                _records.event_from_row(
                    {
                        "id": int(event_id),
                        "job_id": int(owner),
                        "event_type": event_type,
                        "created_at": _time(created_at),
                        "metadata": json.loads(metadata),
                    }
                )
            )
        return events

    async def retry_job(self, job_id: int, *, now: datetime) -> bool:
        return bool(await self._scripts.run("retry_job", job_id, _us(now)))

    async def cancel_job(self, job_id: int, *, now: datetime) -> bool:
        return bool(await self._scripts.run("cancel_job", job_id, _us(now)))

    async def edit_jobs(
        self, target: int | JobFilter, changes: JobChanges, *, now: datetime
    ) -> int:
        if isinstance(target, JobFilter):
            job_id, where = "", _filter(target)
        else:
            job_id, where = str(target), "{}"
        edited = await self._scripts.run(
            "edit_jobs",
            _us(now),
            job_id,
            where,
            _changes(changes, now),
            to_json_text(changes.metadata),
        )
        return int(edited)

    async def cancel_jobs(self, where: JobFilter, *, now: datetime) -> int:
        return int(await self._scripts.run("cancel_jobs", _us(now), _filter(where)))

    async def reclaim_stuck_jobs(
        self, max_processing_seconds: float, *, now: datetime
    ) -> int:
        threshold = round(max_processing_seconds * 1_000_000)
        cutoff = int(_us(now)) - threshold
        reclaimed = await self._scripts.run(
            "reclaim_stuck_jobs", _us(now), threshold, cutoff
        )
        return int(reclaimed)

    async def cleanup_old_jobs(self, before: datetime, batch_size: int) -> int:
        return await self._in_batches("cleanup_old_jobs", before, batch_size)

    async def cleanup_old_job_events(self, before: datetime, batch_size: int) -> int:
        return await self._in_batches("cleanup_old_job_events", before, batch_size)

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

    # -- WorkStore -----------------------------------------------------------

    async def claim_batch(
        self,
        worker_id: str,
        batch_size: int,
        job_types: Sequence[str] | None,
        *,
        now: datetime,
    ) -> list[JobRecord]:
        types = "" if job_types is None else to_json_text(list(job_types))
        rows = await self._scripts.run(
            "claim_batch", _us(now), worker_id, batch_size, types
        )
        return _jobs(rows)

    async def complete_job(
        self,
        job_id: int,
        worker_id: str,
        output: JSONValue,
        metadata: dict[str, JSONValue],
        *,
        now: datetime,
    ) -> bool:
        done = await self._scripts.run(
            "complete_job",
            job_id,
            worker_id,
            _us(now),
            to_json_text(output),
            to_json_text(metadata),
        )
        return bool(done)

    async def fail_job(
        self,
        job_id: int,
        worker_id: str,
        message: str,
        reason: FailureReason,
        next_attempt_at: datetime | None,
        *,
        now: datetime,
    ) -> bool:
        retry_at = None if next_attempt_at is None else next_attempt_at.isoformat()
        failed = await self._scripts.run(
            "fail_job",
            job_id,
            worker_id,
            _us(now),
            to_json_text({"message": message, "timestamp": now.isoformat()}),
            reason.value,
            "" if next_attempt_at is None else _us(next_attempt_at),
            to_json_text(
                {
                    "message": message,
                    "failure_reason": reason.value,
                    "next_attempt_at": retry_at,
                }
            ),
        )
        return bool(failed)

    async def prolong_job(
        self, job_id: int, worker_id: str, timeout: float, *, now: datetime
    ) -> None:
        await self._scripts.run(
            "prolong_job",
            job_id,
            worker_id,
            _us(now),
            to_json_text({"timeout": timeout}),
        )

    async def set_progress(self, job_id: int, progress: int, *, now: datetime) -> None:
        await self._scripts.run("set_progress", job_id, progress, _us(now))

    async def subscribe(self) -> Wakeup:
        return await self._hub.subscribe()

    async def _listen(self, notify: Callable[[], None]) -> None:
        task = asyncio.current_task()
        pubsub = self._client.pubsub()
        try:
            await pubsub.subscribe(keys.wakeup(self._prefix))
            # redis-py swallows a cancel that lands while it connects, so the
            # loop checks for one itself instead of blocking in listen().
            while task is None or not task.cancelling():
                message = await pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=LISTEN_POLL
                )
                if message is not None:
                    notify()
            raise asyncio.CancelledError
        finally:
            await pubsub.aclose()
