"""Shared helpers of the PostgreSQL backend tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
from tests.conftest import PG_URL

from dataqueue._commands import NewJob
from dataqueue._validate import new_job
from dataqueue.backends.postgres import PostgresBackend
from dataqueue.models import JobSpec

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

MakeBackend = Callable[..., Awaitable[PostgresBackend]]


def job(job_type: str = "email", **options: Any) -> NewJob:
    return new_job(JobSpec(job_type, {"n": 1}, **options))


async def drop_schema(schema: str) -> None:
    async with await psycopg.AsyncConnection.connect(PG_URL, autocommit=True) as conn:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def scalar(query: str) -> Any:
    """One value read on a fresh connection (so: only committed data)."""
    async with await psycopg.AsyncConnection.connect(PG_URL) as conn:
        cur = await conn.execute(query)
        row = await cur.fetchone()
        assert row is not None
        return row[0]
