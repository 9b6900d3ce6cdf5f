"""Redis backends on the test server, each under its own key prefix."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis_helpers import drop_prefix
from tests.conftest import REDIS_URL

from dataqueue.backends.redis import RedisBackend


@pytest.fixture
async def make_backend() -> AsyncIterator[Callable[..., Awaitable[RedisBackend]]]:
    """Open backends; each call gets a fresh prefix unless one is given."""
    opened: list[RedisBackend] = []
    prefixes: set[str] = set()

    async def make(prefix: str | None = None, **options: Any) -> RedisBackend:
        prefix = prefix or f"t:{uuid.uuid4().hex[:8]}:"
        prefixes.add(prefix)
        backend = RedisBackend(REDIS_URL, key_prefix=prefix, **options)
        opened.append(backend)
        await backend.open()
        return backend

    try:
        yield make
    finally:
        for backend in opened:
            await backend.close()
        for prefix in prefixes:
            await drop_prefix(prefix)


@pytest.fixture
async def client() -> AsyncIterator[aioredis.Redis]:
    """A plain connection to the test server, replies decoded."""
    connection = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        yield connection
    finally:
        await connection.aclose()


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    name = f"t:{uuid.uuid4().hex[:8]}:"
    try:
        yield name
    finally:
        await drop_prefix(name)


@pytest.fixture
async def backend(
    make_backend: Callable[..., Awaitable[RedisBackend]], prefix: str
) -> RedisBackend:
    return await make_backend(prefix)
