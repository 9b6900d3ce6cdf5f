"""connect() / connect_sync(): pick a backend from the URL's scheme."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dataqueue import _validate as v
from dataqueue._clock import Clock
from dataqueue._redact import redact
from dataqueue.backends.protocol import Backend
from dataqueue.projections import PROJECTION_TIMEOUT, ProjectionSink, check_provider
from dataqueue.queue import JobQueue
from dataqueue.types import Duration

if TYPE_CHECKING:
    from dataqueue.sync import SyncJobQueue

DEFAULT_URL = "sqlite:///dataqueue.db"
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]{0,30}")
URL_ENV_VARS = ("DATAQUEUE_URL", "PG_DATAQUEUE_DATABASE")
REDIS_SCHEMES = ("redis", "rediss", "redis+cluster", "rediss+cluster")


def default_url() -> str:
    """``$DATAQUEUE_URL``, else ``$PG_DATAQUEUE_DATABASE``, else the SQLite file."""
    for name in URL_ENV_VARS:
        value = os.environ.get(name)
        if value:
            return value
    return DEFAULT_URL


def _missing_extra(extra: str, error: ImportError) -> ImportError:
    return ImportError(
        f"{extra} support needs its extra: pip install 'dataqueue[{extra}]' ({error})"
    )


def create_backend(
    url: str | None = None,
    *,
    schema: str | None = None,
    key_prefix: str | None = None,
    pool: Any = None,
    client: Any = None,
    ssl: Mapping[str, Any] | None = None,
    tls: Mapping[str, Any] | None = None,
    max_connections: int = 10,
    verbose: bool = False,
) -> Backend:
    """Build the backend for ``url`` (or for the pool/client given).

    Every argument is checked here, whatever the store, so that a mistake is
    reported the same way everywhere (see docs/limits.md).
    """
    url = v.check_url(url)
    schema = v.check_schema(schema)
    key_prefix = v.check_key_prefix(key_prefix)
    ssl = v.check_tls(ssl, "connect", "ssl")
    tls = v.check_tls(tls, "connect", "tls")
    max_connections = v.check_int(
        max_connections,
        "connect",
        "max_connections",
        minimum=1,
        maximum=v.MAX_CONNECTIONS,
    )
    verbose = v.check_bool(verbose, "connect", "verbose")
    if url is None and pool is None and client is None:
        url = default_url()
    scheme = (url or "").partition(":")[0].lower()
    if pool is not None or scheme in ("postgres", "postgresql"):
        try:
            from dataqueue.backends.postgres import PostgresBackend
        except ImportError as error:
            raise _missing_extra("postgres", error) from error
        if url is not None:
            _check_postgres_url(url)
        return PostgresBackend(
            url,
            pool=pool,
            schema="public" if schema is None else schema,
            ssl=ssl,
            max_connections=max_connections,
            verbose=verbose,
        )
    if client is not None or scheme in REDIS_SCHEMES:
        try:
            from dataqueue.backends.redis import RedisBackend
        except ImportError as error:
            raise _missing_extra("redis", error) from error
        return RedisBackend(
            url,
            client=client,
            key_prefix="dq:" if key_prefix is None else key_prefix,
            tls=tls,
            max_connections=max_connections,
            verbose=verbose,
        )
    if scheme == "sqlite":
        from dataqueue.backends.sqlite import SqliteBackend

        return SqliteBackend(sqlite_path(url or DEFAULT_URL), verbose=verbose)
    if scheme == "memory":
        from dataqueue.backends.memory import MemoryBackend

        return MemoryBackend(memory_name(url or ""))
    # The scheme only: the rest of a URL may hold a password.
    has_scheme = "://" in (url or "") and _SCHEME.fullmatch(scheme)
    shown = f"scheme {scheme + '://'!r}" if has_scheme else "(no scheme://)"
    raise ValueError(
        f"connect: unsupported URL {shown}; use postgresql://, redis://, "
        "rediss://, redis+cluster://, sqlite:///path.db or memory://"
    )


def _check_postgres_url(url: str) -> None:
    """Parse the URL now, so that a malformed one fails here with its
    password hidden, not at first use with psycopg's echo of it."""
    from psycopg import Error, conninfo

    try:
        conninfo.conninfo_to_dict(url)
    except Error as error:
        raise ValueError(
            f"connect: malformed PostgreSQL URL: {redact(str(error).strip())}"
        ) from None


def sqlite_path(url: str) -> str:
    """``sqlite:///rel.db`` → ``rel.db``; ``sqlite:////abs.db`` → ``/abs.db``;
    ``sqlite://:memory:`` → ``:memory:``."""
    rest = url.split(":", 1)[1]
    if rest in ("//:memory:", "///:memory:"):
        return ":memory:"
    if not rest.startswith("///") or len(rest) == 3:
        raise ValueError(
            f"connect: SQLite URLs look like sqlite:///path.db or sqlite://:memory:, "
            f"got {url!r}"
        )
    return rest[3:]


def memory_name(url: str) -> str | None:
    """``memory://`` → None (a store of its own); ``memory://NAME`` → NAME
    (the process's store of that name)."""
    rest = url.split(":", 1)[1]
    if not rest.startswith("//") or "/" in rest[2:]:
        raise ValueError(
            f"connect: memory URLs look like memory:// or memory://NAME, got {url!r}"
        )
    return rest[2:] or None


def connect(
    url: str | None = None,
    *,
    schema: str | None = None,
    key_prefix: str | None = None,
    pool: Any = None,
    client: Any = None,
    ssl: Mapping[str, Any] | None = None,
    tls: Mapping[str, Any] | None = None,
    max_connections: int = 10,
    verbose: bool = False,
    clock: Clock | None = None,
    projection: Any = None,
    projection_include_payload: bool = False,
    projection_timeout: Duration = PROJECTION_TIMEOUT,
) -> JobQueue:
    """Open a queue.

    Args:
        url: ``postgresql://…``, ``redis://…``,
            ``redis+cluster://host:port,host:port…``, ``sqlite:///path.db``, or
            ``memory://`` (in this process only, for tests: see
            docs/testing.md).
            Default: ``$DATAQUEUE_URL``, then ``$PG_DATAQUEUE_DATABASE``,
            then ``sqlite:///dataqueue.db``.
        schema: PostgreSQL schema (default ``public``): a plain identifier.
        key_prefix: Redis key prefix (default ``"dq:"``); no glob characters.
        pool: An existing psycopg ``AsyncConnectionPool`` (never closed by us).
        client: An existing ``redis.asyncio.Redis`` or ``RedisCluster``
            (never closed by us).
        ssl: PostgreSQL TLS: ``ca``, ``cert``, ``key``, ``reject_unauthorized``;
            a value starting with ``file://`` is read from that file.
        tls: Redis TLS, same keys.
        max_connections: Pool size, 1 to 1000.
        verbose: Log every store operation at DEBUG.
        clock: Where the queue reads the time (tests pass a fake clock).
        projection: A provider with ``async def upsert_projections(entries)``:
            jobs added with ``entity=`` are reported to it (see
            docs/observability.md).
        projection_include_payload: Put each job's payload in its entries.
        projection_timeout: Seconds one provider call may take before it is
            abandoned (default 10).

    Example:
        ``async with dataqueue.connect("sqlite:///jobs.db") as queue: ...``
    """
    v.check_clock(clock)
    provider = check_provider(projection)
    include_payload = v.check_bool(
        projection_include_payload, "connect", "projection_include_payload"
    )
    timeout = v.to_seconds(
        projection_timeout, "connect", "projection_timeout", allow_zero=False
    )
    backend = create_backend(
        url,
        schema=schema,
        key_prefix=key_prefix,
        pool=pool,
        client=client,
        ssl=ssl,
        tls=tls,
        max_connections=max_connections,
        verbose=verbose,
    )
    projections = ProjectionSink(
        provider,
        include_payload=include_payload,
        timeout=timeout,
        queue_id=queue_namespace(backend.name, schema, key_prefix),
    )
    return JobQueue(backend, clock=clock, projections=projections)


def queue_namespace(
    store: str, schema: str | None, key_prefix: str | None
) -> str | None:
    """A projection's ``queue_id``: the schema or key prefix the queue lives
    in (None on SQLite, where the file is the queue)."""
    if store == "postgres":
        return schema or "public"
    if store == "redis":
        return key_prefix or "dq:"
    return None


def connect_sync(url: str | None = None, **options: Any) -> SyncJobQueue:
    """Like ``connect()``, for code without an event loop (Django, Flask, scripts)."""
    from dataqueue.sync import SyncJobQueue

    return SyncJobQueue(connect(url, **options))
