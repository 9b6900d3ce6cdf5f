"""db=: the job and its 'added' event commit or roll back with the caller."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import psycopg
import pytest
from pg_helpers import NOW, job
from sqlalchemy import create_engine
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session
from tests.conftest import PG_URL

from dataqueue.backends.postgres import PostgresBackend
from dataqueue.errors import BackendError

SA_URL = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)

Finish = Callable[[bool], Awaitable[None]]
"""Commit (True) or roll back (False) the caller's transaction."""

Opener = Callable[[], AbstractAsyncContextManager[tuple[Any, Finish]]]


@asynccontextmanager
async def psycopg_async(cursor: bool) -> AsyncIterator[tuple[Any, Finish]]:
    async with await psycopg.AsyncConnection.connect(PG_URL) as conn:

        async def finish(commit: bool) -> None:
            await (conn.commit() if commit else conn.rollback())

        if cursor:
            async with conn.cursor() as cur:
                yield cur, finish
        else:
            yield conn, finish


@asynccontextmanager
async def psycopg_sync(cursor: bool) -> AsyncIterator[tuple[Any, Finish]]:
    with psycopg.connect(PG_URL) as conn:

        async def finish(commit: bool) -> None:
            conn.commit() if commit else conn.rollback()

        if cursor:
            with conn.cursor() as cur:
                yield cur, finish
        else:
            yield conn, finish


@asynccontextmanager
async def sqlalchemy_sync(session: bool) -> AsyncIterator[tuple[Any, Finish]]:
    engine = create_engine(SA_URL)
    try:
        with Session(engine) if session else engine.connect() as db:

            async def finish(commit: bool) -> None:
                db.commit() if commit else db.rollback()

            yield db, finish
    finally:
        engine.dispose()


@asynccontextmanager
async def sqlalchemy_async(session: bool) -> AsyncIterator[tuple[Any, Finish]]:
    engine = create_async_engine(SA_URL)
    try:
        async with AsyncSession(engine) if session else engine.connect() as db:

            async def finish(commit: bool) -> None:
                await (db.commit() if commit else db.rollback())

            yield db, finish
    finally:
        await engine.dispose()


OPENERS: dict[str, Opener] = {
    "psycopg AsyncConnection": lambda: psycopg_async(cursor=False),
    "psycopg AsyncCursor": lambda: psycopg_async(cursor=True),
    "psycopg Connection": lambda: psycopg_sync(cursor=False),
    "psycopg Cursor": lambda: psycopg_sync(cursor=True),
    "SQLAlchemy Connection": lambda: sqlalchemy_sync(session=False),
    "SQLAlchemy Session": lambda: sqlalchemy_sync(session=True),
    "SQLAlchemy AsyncConnection": lambda: sqlalchemy_async(session=False),
    "SQLAlchemy AsyncSession": lambda: sqlalchemy_async(session=True),
}


@pytest.mark.parametrize("kind", OPENERS)
async def test_commit_keeps_the_job_and_its_event(
    backend: PostgresBackend, kind: str
) -> None:
    async with OPENERS[kind]() as (db, finish):
        (job_id,) = await backend.add_jobs([job()], now=NOW, db=db)
        assert await backend.get_job(job_id) is None
        await finish(True)
    stored = await backend.get_job(job_id)
    assert stored is not None and stored.job_type == "email"
    events = await backend.get_job_events(job_id)
    assert [e.event_type for e in events] == ["added"]


@pytest.mark.parametrize("kind", OPENERS)
async def test_rollback_leaves_neither_job_nor_event(
    backend: PostgresBackend, kind: str
) -> None:
    async with OPENERS[kind]() as (db, finish):
        (job_id,) = await backend.add_jobs([job()], now=NOW, db=db)
        await finish(False)
    assert await backend.get_job(job_id) is None
    assert await backend.get_job_events(job_id) == []


@pytest.mark.parametrize("db", [object(), "postgresql://x"])
async def test_anything_else_is_rejected_by_type(
    backend: PostgresBackend, db: object
) -> None:
    with pytest.raises(BackendError, match=type(db).__qualname__):
        await backend.add_jobs([job()], now=NOW, db=db)


async def test_a_sqlite_connection_is_rejected(backend: PostgresBackend) -> None:
    conn = sqlite3.connect(":memory:")
    try:
        with pytest.raises(BackendError, match=r"sqlite3\.Connection"):
            await backend.add_jobs([job()], now=NOW, db=conn)
    finally:
        conn.close()
