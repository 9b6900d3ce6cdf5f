"""``db=``: run ``add_jobs`` on the caller's connection, inside its transaction.

Accepted: psycopg (async or sync) connections and cursors, and SQLAlchemy
``Connection``, ``Session``, ``AsyncConnection`` and ``AsyncSession`` on the
psycopg driver. A sync connection is used synchronously, as its owner does.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg.rows import dict_row

from dataqueue.errors import BackendError

Connection = psycopg.AsyncConnection[Any] | psycopg.Connection[Any]


async def caller_connection(db: Any) -> Connection:
    """The psycopg connection behind ``db``, or ``BackendError``."""
    if isinstance(db, psycopg.AsyncConnection | psycopg.Connection):
        return db
    if isinstance(db, psycopg.AsyncCursor | psycopg.Cursor):
        return db.connection
    driver = await _sqlalchemy_driver_connection(db)
    if isinstance(driver, psycopg.AsyncConnection | psycopg.Connection):
        return driver
    if driver is not None:
        raise BackendError(
            "add_jobs(db=...): the SQLAlchemy connection must use the psycopg "
            "driver (postgresql+psycopg://), got a "
            f"{type(driver).__module__}.{type(driver).__qualname__}"
        )
    raise BackendError(
        "add_jobs(db=...) on PostgreSQL takes a psycopg connection or cursor, or "
        "a SQLAlchemy Connection, Session, AsyncConnection or AsyncSession; got "
        f"{type(db).__module__}.{type(db).__qualname__}"
    )


async def _sqlalchemy_driver_connection(db: Any) -> Any:
    """The DBAPI connection of a SQLAlchemy object, or None for anything else.

    SQLAlchemy is only looked at when already imported: a caller holding a
    SQLAlchemy object has imported it.
    """
    if "sqlalchemy.ext.asyncio" in sys.modules:
        from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

        if isinstance(db, AsyncSession):
            db = await db.connection()
        if isinstance(db, AsyncConnection):
            # As db.execute() would: without it, the caller's commit() does
            # nothing and the pool rolls our insert back.
            if not db.in_transaction():
                await db.begin()
            raw = await db.get_raw_connection()
            return raw.driver_connection
    if "sqlalchemy" in sys.modules:
        from sqlalchemy.engine import Connection as SAConnection
        from sqlalchemy.orm import Session

        if isinstance(db, Session):
            db = db.connection()
        if isinstance(db, SAConnection):
            if not db.in_transaction():
                db.begin()
            return db.connection.driver_connection
    return None


async def fetch_on(
    conn: Connection, query: bytes, params: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Run one statement on the caller's connection; leave its transaction open."""
    if isinstance(conn, psycopg.AsyncConnection):
        async with conn.cursor(row_factory=dict_row) as acur:
            await acur.execute(query, params)
            return await acur.fetchall()
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return cur.fetchall()
