"""The PostgreSQL store: psycopg 3 over an AsyncConnectionPool."""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from dataqueue._commands import EDITABLE_FIELDS, JobChanges, JobFilter, NewJob
from dataqueue.backends._files import load_dir
from dataqueue.backends._records import event_from_row, job_from_row
from dataqueue.backends._wakeup import WakeupHub
from dataqueue.backends.postgres.notify import channel_for, job_listener
from dataqueue.backends.postgres.transaction import caller_connection, fetch_on
from dataqueue.backends.protocol import Backend, Wakeup
from dataqueue.errors import BackendError, NotMigratedError
from dataqueue.models import FailureReason, JobEvent, JobRecord, TimeRange
from dataqueue.types import JSONValue

logger = logging.getLogger("dataqueue")

SCHEMA_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
SSL_FILES = {"ca": "sslrootcert", "cert": "sslcert", "key": "sslkey"}
SSL_KEYS = frozenset({*SSL_FILES, "reject_unauthorized"})
FILE_PREFIX = "file://"

Row = dict[str, Any]


def ssl_params(ssl: Mapping[str, Any] | None, workdir: Path) -> dict[str, str]:
    """Map ``ssl=`` (``ca``, ``cert``, ``key``, ``reject_unauthorized``) to libpq
    parameters. PEM text is written to files in ``workdir``, since libpq only
    reads files; ``file://`` values are used as paths.

    ``reject_unauthorized=False`` encrypts without checking the server
    (``sslmode=require``, and no CA: libpq would verify against one). Otherwise
    the server is verified (``verify-full``) against ``ca``, or against the
    system's trust store when no ``ca`` is given (libpq 16 and later).
    """
    if ssl is None:
        return {}
    unknown = set(ssl) - SSL_KEYS
    if unknown:
        raise ValueError(
            f"connect: unknown ssl option(s) {sorted(unknown)}; "
            f"use {', '.join(sorted(SSL_KEYS))}"
        )
    verify = ssl.get("reject_unauthorized", True)
    if not isinstance(verify, bool):
        raise TypeError(
            f"connect: ssl reject_unauthorized must be True or False, got {verify!r}"
        )
    params = {"sslmode": "verify-full" if verify else "require"}
    for option, param in SSL_FILES.items():
        value = ssl.get(option)
        if value is None or (option == "ca" and not verify):
            continue
        if not isinstance(value, str) or not value:
            raise TypeError(
                f"connect: ssl {option} must be PEM text or a file:// path, "
                f"got {value!r}"
            )
        if value.startswith(FILE_PREFIX):
            params[param] = value.removeprefix(FILE_PREFIX)
        else:
            path = workdir / f"{option}.pem"
            path.write_text(value, encoding="utf-8")
            # libpq refuses a private key that others can read.
            path.chmod(0o600)
            params[param] = str(path)
    if verify and "sslrootcert" not in params and psycopg.pq.version() >= 160000:
        params["sslrootcert"] = "system"
    return params


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


def edit_params(changes: JobChanges) -> dict[str, Any]:
    """``set_<field>`` says whether to change a field, ``new_<field>`` to what."""
    params: dict[str, Any] = {"metadata": Jsonb(changes.metadata)}
    for name in EDITABLE_FIELDS:
        present = name in changes.values
        value = changes.values.get(name)
        if name == "payload" and present:
            value = Jsonb(value)
        elif name == "tags" and present:
            value = list(value or [])
        params[f"set_{name}"] = present
        params[f"new_{name}"] = value
    return params


def job_document(job: NewJob) -> dict[str, JSONValue]:
    return {
        "job_type": job.job_type,
        "payload": job.payload,
        "priority": job.priority,
        "run_at": None if job.run_at is None else job.run_at.isoformat(),
        "max_attempts": job.max_attempts,
        "timeout": job.timeout,
        "force_kill_on_timeout": job.force_kill_on_timeout,
        "tags": list(job.tags),
        "idempotency_key": job.idempotency_key,
        "retry_delay": job.retry_delay,
        "retry_backoff": job.retry_backoff,
        "retry_delay_max": job.retry_delay_max,
        "flow_id": job.flow_id,
    }


def in_utc(row: Row) -> Row:
    """Timestamps come back in the session's time zone; the API speaks UTC."""
    return {
        key: value.astimezone(UTC) if isinstance(value, datetime) else value
        for key, value in row.items()
    }


async def _pool_setting(value: Any) -> Any:
    """A pool's conninfo or kwargs, which may be given as (async) callables."""
    if callable(value):
        value = value()
    if inspect.isawaitable(value):
        value = await value
    return value


class PostgresBackend(Backend):
    """Jobs in PostgreSQL tables, one statement per operation."""

    name = "postgres"

    def __init__(
        self,
        url: str | None,
        *,
        pool: Any = None,
        schema: str = "public",
        ssl: Mapping[str, Any] | None = None,
        max_connections: int = 10,
        verbose: bool = False,
    ) -> None:
        if not isinstance(schema, str) or not SCHEMA_PATTERN.fullmatch(schema):
            raise ValueError(
                "connect: schema must be a plain identifier (a letter or _, then "
                f"letters, digits or _; at most 63 characters), got {schema!r}"
            )
        if url is None and pool is None:
            raise ValueError("connect: PostgreSQL needs a URL or a pool")
        self._url = url
        self._schema = schema
        self._ssl = ssl
        self._max_connections = max_connections
        self._verbose = verbose
        self._owns_pool = pool is None
        self._pool: AsyncConnectionPool[Any] | None = pool
        self._ssl_dir: Path | None = None
        self._pool_lock = asyncio.Lock()
        self._channel = channel_for(schema)
        self._hub = WakeupHub(job_listener(self._listen_connection, self._channel))
        identifier = sql.Identifier(schema)
        self._queries = {
            name: sql.SQL(text).format(schema=identifier)
            for name, text in load_dir(__package__, "sql", ".sql").items()
        }
        self._migrations = {
            int(name.split("_", 1)[0]): (name, sql.SQL(text).format(schema=identifier))
            for name, text in load_dir(__package__, "migrations", ".sql").items()
        }
        if self._owns_pool:
            self._pool = self._new_pool()

    # -- connections --------------------------------------------------------

    def _conninfo(self) -> str:
        params: dict[str, str] = {}
        if self._ssl is not None:
            if self._ssl_dir is None:
                self._ssl_dir = Path(tempfile.mkdtemp(prefix="dataqueue-ssl-"))
            params = ssl_params(self._ssl, self._ssl_dir)
        return make_conninfo(self._url or "", **params)

    def _new_pool(self) -> AsyncConnectionPool[Any]:
        return AsyncConnectionPool(
            self._conninfo(),
            min_size=1,
            max_size=max(1, self._max_connections),
            kwargs={"autocommit": True},
            open=False,
            name=f"dataqueue-{self._schema}",
        )

    async def _open_pool(self) -> AsyncConnectionPool[Any]:
        async with self._pool_lock:
            if self._pool is None:
                self._pool = self._new_pool()
            if self._owns_pool and self._pool.closed:
                await self._pool.open(wait=True)
            return self._pool

    async def _listen_connection(self) -> psycopg.AsyncConnection[Any]:
        pool = await self._open_pool()
        conninfo = await _pool_setting(pool.conninfo)
        kwargs = {**(await _pool_setting(pool.kwargs) or {}), "autocommit": True}
        return await psycopg.AsyncConnection.connect(conninfo, **kwargs)

    def get_pool(self) -> Any:
        return self._pool

    def _not_migrated(self, detail: str) -> NotMigratedError:
        option = "" if self._schema == "public" else f" --schema {self._schema}"
        return NotMigratedError(
            f"PostgreSQL schema {self._schema!r} is not migrated ({detail}): "
            f"run `dataqueue migrate{option}` (or `await queue.migrate()`) first"
        )

    async def _fetch(self, name: str, params: Mapping[str, Any]) -> list[Row]:
        if self._verbose:
            logger.debug("postgres %s %r", name, params)
        try:
            pool = await self._open_pool()
            async with (
                pool.connection() as conn,
                conn.cursor(row_factory=dict_row) as cur,
            ):
                await cur.execute(self._queries[name], params)
                if cur.description is None:
                    return []
                return [in_utc(row) for row in await cur.fetchall()]
        except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName) as e:
            raise self._not_migrated(str(e).strip()) from e
        except psycopg.Error as e:
            raise BackendError(f"PostgreSQL {name} failed: {e}") from e

    async def _count(self, name: str, params: Mapping[str, Any]) -> int:
        rows = await self._fetch(name, params)
        return int(rows[0]["n"])

    # -- lifecycle ----------------------------------------------------------

    async def open(self) -> None:
        rows = await self._fetch("open", {})
        version, latest = rows[0]["version"], max(self._migrations)
        if version < latest:
            raise self._not_migrated(f"at version {version} of {latest}")

    async def close(self) -> None:
        await self._hub.close()
        if self._owns_pool and self._pool is not None:
            await self._pool.close()
            self._pool = None
        if self._ssl_dir is not None:
            shutil.rmtree(self._ssl_dir, ignore_errors=True)
            self._ssl_dir = None

    async def migrate(self) -> None:
        q = self._queries
        try:
            pool = await self._open_pool()
            async with (
                pool.connection() as conn,
                conn.transaction(),
                conn.cursor(row_factory=dict_row) as cur,
            ):
                await cur.execute(q["migrate_lock"], {"schema": self._schema})
                await cur.execute(q["migrate_schema"])
                await cur.execute(q["migrate_table"])
                await cur.execute(q["open"])
                row = await cur.fetchone()
                applied = row["version"] if row else 0
                for version, (name, statements) in sorted(self._migrations.items()):
                    if version > applied:
                        await cur.execute(statements)
                        await cur.execute(
                            q["migrate_record"], {"version": version, "name": name}
                        )
        except psycopg.Error as e:
            raise BackendError(f"PostgreSQL migrate failed: {e}") from e

    # -- adding and reading -------------------------------------------------

    async def add_jobs(
        self, jobs: Sequence[NewJob], *, now: datetime, db: Any = None
    ) -> list[int]:
        if not jobs:
            return []
        params = {
            "jobs": Jsonb([job_document(job) for job in jobs]),
            "now": now,
            "schema": self._schema,
            "channel": self._channel,
        }
        if db is None:
            rows = await self._fetch("add_jobs", params)
        else:
            conn = await caller_connection(db)
            try:
                rows = await fetch_on(conn, self._queries["add_jobs"], params)
            except psycopg.errors.UndefinedTable as e:
                raise self._not_migrated(str(e).strip()) from e
        self._hub.notify()
        return [int(row["id"]) for row in rows]

    async def get_job(self, job_id: int) -> JobRecord | None:
        rows = await self._fetch("get_job", {"job_id": job_id})
        return job_from_row(rows[0]) if rows else None

    async def get_jobs(
        self, where: JobFilter, limit: int, offset: int
    ) -> list[JobRecord]:
        params = {**filter_params(where), "limit": limit, "offset": offset}
        return [job_from_row(row) for row in await self._fetch("get_jobs", params)]

    async def get_job_events(self, job_id: int) -> list[JobEvent]:
        rows = await self._fetch("get_job_events", {"job_id": job_id})
        return [event_from_row(row) for row in rows]

    # -- changing -----------------------------------------------------------

    async def retry_job(self, job_id: int, *, now: datetime) -> bool:
        return await self._count("retry_job", {"job_id": job_id, "now": now}) > 0

    async def cancel_job(self, job_id: int, *, now: datetime) -> bool:
        return await self._count("cancel_job", {"job_id": job_id, "now": now}) > 0

    async def edit_jobs(
        self, target: int | JobFilter, changes: JobChanges, *, now: datetime
    ) -> int:
        if isinstance(target, JobFilter):
            job_id, where = None, target
        else:
            job_id, where = target, JobFilter()
        params = {
            **filter_params(where),
            **edit_params(changes),
            "job_id": job_id,
            "now": now,
        }
        return await self._count("edit_jobs", params)

    async def cancel_jobs(self, where: JobFilter, *, now: datetime) -> int:
        return await self._count("cancel_jobs", {**filter_params(where), "now": now})

    # -- maintenance ----------------------------------------------------------

    async def reclaim_stuck_jobs(
        self, max_processing_seconds: float, *, now: datetime
    ) -> int:
        params = {"threshold": max_processing_seconds, "now": now}
        return await self._count("reclaim_stuck_jobs", params)

    async def cleanup_old_jobs(self, before: datetime, batch_size: int) -> int:
        return await self._delete_in_batches("cleanup_old_jobs", before, batch_size)

    async def cleanup_old_job_events(self, before: datetime, batch_size: int) -> int:
        return await self._delete_in_batches(
            "cleanup_old_job_events", before, batch_size
        )

    async def _delete_in_batches(
        self, name: str, before: datetime, batch_size: int
    ) -> int:
        total = 0
        while True:
            params = {"before": before, "batch_size": batch_size}
            deleted = await self._count(name, params)
            total += deleted
            if deleted < batch_size:
                return total

    async def expire_timed_out_tokens(self, *, now: datetime) -> int:
        return await self._count("expire_timed_out_tokens", {"now": now})

    # -- work -----------------------------------------------------------------

    async def claim_batch(
        self,
        worker_id: str,
        batch_size: int,
        job_types: Sequence[str] | None,
        *,
        now: datetime,
    ) -> list[JobRecord]:
        params = {
            "worker_id": worker_id,
            "batch_size": batch_size,
            "job_types": None if job_types is None else list(job_types),
            "now": now,
        }
        return [job_from_row(row) for row in await self._fetch("claim_batch", params)]

    async def complete_job(
        self,
        job_id: int,
        worker_id: str,
        output: JSONValue,
        metadata: dict[str, JSONValue],
        *,
        now: datetime,
    ) -> bool:
        params = {
            "job_id": job_id,
            "worker_id": worker_id,
            "output": Jsonb(output),
            "metadata": Jsonb(metadata),
            "now": now,
        }
        return await self._count("complete_job", params) > 0

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
        params = {
            "job_id": job_id,
            "worker_id": worker_id,
            "message": message,
            "failure_reason": reason.value,
            "next_attempt_at": next_attempt_at,
            "next_attempt_iso": (
                None if next_attempt_at is None else next_attempt_at.isoformat()
            ),
            "now": now,
            "now_iso": now.isoformat(),
        }
        return await self._count("fail_job", params) > 0

    async def prolong_job(
        self, job_id: int, worker_id: str, timeout: float, *, now: datetime
    ) -> None:
        params = {
            "job_id": job_id,
            "worker_id": worker_id,
            "timeout": timeout,
            "now": now,
        }
        await self._fetch("prolong_job", params)

    async def set_progress(self, job_id: int, progress: int, *, now: datetime) -> None:
        params = {"job_id": job_id, "progress": progress, "now": now}
        await self._fetch("set_progress", params)

    async def subscribe(self) -> Wakeup:
        return await self._hub.subscribe()
