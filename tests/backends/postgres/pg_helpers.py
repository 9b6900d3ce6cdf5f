"""Shared helpers of the PostgreSQL backend tests."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
from tests.conftest import PG_URL

from dataqueue._commands import ClaimRequest, Lease, NewFlow, NewJob
from dataqueue._validate import new_job
from dataqueue.backends.postgres import PostgresBackend
from dataqueue.flows import new_flow
from dataqueue.models import FailurePolicy, JobSpec

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


async def claim(
    backend: PostgresBackend,
    limit: int = 10,
    *,
    worker: str = "w",
    job_types: tuple[str, ...] | None = None,
    now: datetime = NOW,
) -> tuple[Lease, ...]:
    """Claim up to ``limit`` jobs under a fresh lease; their leases."""
    token = secrets.token_hex(16)
    request = ClaimRequest(worker, token, limit, job_types)
    exchange = await backend.settle_and_claim([], request, now=now)
    return tuple(Lease(j.id, token) for j in exchange.claimed)


async def execute(query: str) -> None:
    async with await psycopg.AsyncConnection.connect(PG_URL, autocommit=True) as conn:
        await conn.execute(query.encode())


def flow(
    steps: int,
    *,
    failure_policy: FailurePolicy = "continue",
    timeout: float | None = None,
    job_type: str = "step",
    **options: Any,
) -> NewFlow:
    """A validated flow of ``steps`` jobs of ``job_type`` (``options`` go to
    every step's JobSpec) and a join of type ``join``."""
    specs = [JobSpec(job_type, {"n": n}, **options) for n in range(steps)]
    return new_flow(specs, JobSpec("join", {}), failure_policy, timeout, None, now=NOW)
