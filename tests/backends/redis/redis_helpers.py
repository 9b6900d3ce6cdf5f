"""Shared by the Redis tests: job specs, claims and prefix clean-up."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from tests.conftest import REDIS_URL

from dataqueue._commands import (
    ClaimRequest,
    Completion,
    Failure,
    Lease,
    NewJob,
    Outcome,
)
from dataqueue.backends.redis import RedisBackend, keys
from dataqueue.models import FailureReason, JobRecord

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def new_job(job_type: str = "task", **changes: Any) -> NewJob:
    values: dict[str, Any] = {
        "job_type": job_type,
        "payload": {"n": 1},
        "priority": 0,
        "run_at": None,
        "max_attempts": 3,
        "timeout": None,
        "force_kill_on_timeout": False,
        "tags": [],
        "idempotency_key": None,
        "retry_delay": None,
        "retry_backoff": None,
        "retry_delay_max": None,
    }
    values.update(changes)
    return NewJob(**values)


async def prefix_keys(prefix: str) -> list[str]:
    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        return sorted(
            [key async for key in client.scan_iter(match=keys.pattern(prefix))]
        )
    finally:
        await client.aclose()


async def drop_prefix(prefix: str) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        found = [
            key async for key in client.scan_iter(match=keys.pattern(prefix), count=500)
        ]
        if found:
            await client.unlink(*found)
    finally:
        await client.aclose()


async def claim(
    backend: RedisBackend,
    limit: int = 10,
    job_types: Sequence[str] | None = None,
    *,
    now: datetime = NOW,
    worker: str = "w",
    outcomes: Sequence[Outcome] = (),
) -> tuple[str, list[JobRecord]]:
    """Claim under a fresh lease token; every claimed job must decode."""
    token = uuid.uuid4().hex
    types = None if job_types is None else tuple(job_types)
    exchange = await backend.settle_and_claim(
        outcomes, ClaimRequest(worker, token, limit, types), now=now
    )
    jobs = [job for job in exchange.claimed if isinstance(job, JobRecord)]
    assert len(jobs) == len(exchange.claimed)
    return token, jobs


async def claimed_ids(
    backend: RedisBackend, limit: int = 10, **options: Any
) -> list[int]:
    _, jobs = await claim(backend, limit, **options)
    return [job.id for job in jobs]


async def settle(
    backend: RedisBackend, *outcomes: Outcome, now: datetime = NOW
) -> list[bool]:
    exchange = await backend.settle_and_claim(outcomes, None, now=now)
    assert exchange.claimed == []
    return exchange.settled


def done(job_id: int, token: str, output: Any = None) -> Completion:
    return Completion(Lease(job_id, token), output, {})


def failed(
    job_id: int,
    token: str,
    message: str = "boom",
    next_attempt_at: datetime | None = None,
    reason: FailureReason = FailureReason.HANDLER_ERROR,
) -> Failure:
    return Failure(Lease(job_id, token), message, reason, next_attempt_at)
