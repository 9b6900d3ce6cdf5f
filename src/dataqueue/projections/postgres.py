"""PostgresProjectionProvider: entity projections upserted into a table."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from dataqueue.backends._files import load_dir
from dataqueue.projections import EntityProjection

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_COLUMNS = (
    "task_id",
    "entity_id",
    "entity_type",
    "task_type",
    "queue_id",
    "status",
    "payload",
    "error",
    "result",
    "created_at",
    "updated_at",
)


def _table_parts(table: Any) -> tuple[str, ...]:
    parts = tuple(table.split(".")) if isinstance(table, str) else ()
    if not 1 <= len(parts) <= 2 or not all(map(_IDENTIFIER.fullmatch, parts)):
        raise ValueError(
            "PostgresProjectionProvider: table must be a plain identifier or "
            f"schema.table (letters, digits and _), got {table!r}"
        )
    return parts


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


class PostgresProjectionProvider:
    """Upserts entity projections into a PostgreSQL table, one statement per
    batch. A row per task (``task_id`` is the key); a late report never moves
    a task back (see ``sql/upsert_projections.sql``).

    Args:
        pool_or_url: A psycopg ``AsyncConnectionPool`` (the queue's own, from
            ``queue.get_pool()``, will do; never closed here) or a
            ``postgresql://`` URL (a small pool is opened on first use and
            closed by ``close()``).
        table: ``name`` or ``schema.name`` (default
            ``entity_task_projections``).
        max_connections: Size of the pool opened for a URL.

    Example:
        ``provider = PostgresProjectionProvider("postgresql://app@db/app")``,
        ``await provider.migrate()``, then
        ``dq.connect(url, projection=provider)``.
    """

    def __init__(
        self,
        pool_or_url: Any,
        table: str = "entity_task_projections",
        *,
        max_connections: int = 2,
    ) -> None:
        parts = _table_parts(table)
        if isinstance(pool_or_url, str):
            self._pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
                pool_or_url,
                min_size=1,
                max_size=max_connections,
                open=False,
                kwargs={"autocommit": True},
            )
            self._owns_pool = True
        elif isinstance(pool_or_url, AsyncConnectionPool):
            self._pool = pool_or_url
            self._owns_pool = False
        else:
            raise TypeError(
                "PostgresProjectionProvider: pool_or_url must be a psycopg "
                f"AsyncConnectionPool or a URL, got {type(pool_or_url).__name__}"
            )
        self._opened = not self._owns_pool
        self.table = ".".join(parts)
        identifier = sql.Identifier(*parts)
        index = sql.Identifier(f"{parts[-1][:50]}_entity_idx")
        queries = load_dir(__package__, "sql", ".sql")
        self._migrate = sql.SQL(queries["migrate"]).format(
            table=identifier, index=index
        )
        self._upsert = sql.SQL(queries["upsert_projections"]).format(table=identifier)

    async def _connection_pool(self) -> AsyncConnectionPool[Any]:
        if not self._opened:
            await self._pool.open()
            self._opened = True
        return self._pool

    async def migrate(self) -> None:
        """Create the table and its index if they do not exist."""
        pool = await self._connection_pool()
        async with pool.connection() as conn, conn.transaction():
            await conn.execute(self._migrate)

    async def upsert_projections(self, entries: Sequence[EntityProjection]) -> None:
        """Store the entries in one statement (a task's last entry wins)."""
        latest = {entry.task_id: entry for entry in entries}
        if not latest:
            return
        columns: dict[str, list[Any]] = {name: [] for name in _COLUMNS}
        for entry in latest.values():
            for name in _COLUMNS:
                value = getattr(entry, name)
                columns[name].append(
                    _json(value) if name in ("payload", "result") else value
                )
        pool = await self._connection_pool()
        async with pool.connection() as conn:
            await conn.execute(self._upsert, columns)

    async def close(self) -> None:
        """Close the pool this provider opened (never one it was given)."""
        if self._owns_pool and self._opened:
            await self._pool.close()
            self._opened = False

    async def __aenter__(self) -> PostgresProjectionProvider:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
