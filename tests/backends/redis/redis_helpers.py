"""Shared by the Redis tests: job specs and prefix clean-up."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from tests.conftest import REDIS_URL

from dataqueue._commands import NewJob

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
        return sorted([key async for key in client.scan_iter(match=f"{prefix}*")])
    finally:
        await client.aclose()


async def drop_prefix(prefix: str) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        found = [key async for key in client.scan_iter(match=f"{prefix}*", count=500)]
        if found:
            await client.unlink(*found)
    finally:
        await client.aclose()
