"""PostgreSQL backend fixtures: a fresh schema per test, dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pg_helpers import MakeBackend, drop_schema
from tests.conftest import PG_URL

from dataqueue.backends.postgres import PostgresBackend


@pytest.fixture
def schema() -> str:
    return f"t_{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def make_backend(schema: str) -> AsyncIterator[MakeBackend]:
    """Backends on the test's schema, each with its own pool."""
    made: list[PostgresBackend] = []

    async def make(*, migrate: bool = True, **options: Any) -> PostgresBackend:
        backend = PostgresBackend(PG_URL, schema=schema, **options)
        made.append(backend)
        if migrate:
            await backend.migrate()
            await backend.open()
        return backend

    try:
        yield make
    finally:
        for backend in made:
            await backend.close()
        await drop_schema(schema)


@pytest.fixture
async def backend(make_backend: MakeBackend) -> PostgresBackend:
    return await make_backend()
