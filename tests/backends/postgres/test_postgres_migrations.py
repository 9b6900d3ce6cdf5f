"""Migrations: recorded once, safe to run concurrently, required before use."""

from __future__ import annotations

import asyncio
import sys

import pytest
from pg_helpers import MakeBackend, scalar
from tests.conftest import PG_URL

import dataqueue as dq
from dataqueue.backends.postgres import PostgresBackend
from dataqueue.errors import NotMigratedError

MIGRATE_IN_A_PROCESS = """
import asyncio, sys
from dataqueue.backends.postgres import PostgresBackend

async def main() -> None:
    backend = PostgresBackend(sys.argv[1], schema=sys.argv[2])
    await backend.migrate()
    await backend.close()

asyncio.run(main())
"""


async def test_unmigrated_schema_fails_on_open_saying_how_to_migrate(
    make_backend: MakeBackend, schema: str
) -> None:
    backend = await make_backend(migrate=False)
    with pytest.raises(NotMigratedError, match=f"dataqueue migrate --schema {schema}"):
        await backend.open()


async def test_unmigrated_queue_fails_on_first_use(schema: str) -> None:
    queue = dq.connect(PG_URL, schema=schema)
    try:
        with pytest.raises(NotMigratedError, match="dataqueue migrate"):
            await queue.get_job(1)
    finally:
        await queue.close()


async def test_public_schema_message_has_no_schema_option() -> None:
    backend = PostgresBackend(PG_URL)
    try:
        error = backend._not_migrated("missing")
    finally:
        await backend.close()
    assert "`dataqueue migrate`" in str(error)


async def test_migrating_twice_applies_each_migration_once(
    make_backend: MakeBackend, schema: str
) -> None:
    backend = await make_backend()
    await backend.migrate()
    await backend.open()
    count = await scalar(f'SELECT count(*) FROM "{schema}".dataqueue_migrations')
    assert count == len(backend._migrations)


async def test_concurrent_migrations_from_several_pools_apply_once(
    make_backend: MakeBackend, schema: str
) -> None:
    backends = [await make_backend(migrate=False) for _ in range(4)]
    await asyncio.gather(*(b.migrate() for b in backends))
    for b in backends:
        await b.open()
    count = await scalar(f'SELECT count(*) FROM "{schema}".dataqueue_migrations')
    assert count == len(backends[0]._migrations)


@pytest.mark.slow
async def test_concurrent_migrations_from_processes_apply_once(
    make_backend: MakeBackend, schema: str
) -> None:
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", MIGRATE_IN_A_PROCESS, PG_URL, schema
        )
        for _ in range(3)
    ]
    codes = await asyncio.gather(*(p.wait() for p in processes))
    assert codes == [0, 0, 0]
    backend = await make_backend(migrate=False)
    await backend.open()
    count = await scalar(f'SELECT count(*) FROM "{schema}".dataqueue_migrations')
    assert count == len(backend._migrations)


async def test_a_schema_behind_the_migrations_is_not_migrated(
    make_backend: MakeBackend, schema: str
) -> None:
    backend = await make_backend()
    await scalar(
        f'WITH d AS (DELETE FROM "{schema}".dataqueue_migrations RETURNING 1) '
        "SELECT count(*) FROM d"
    )
    with pytest.raises(NotMigratedError, match="at version 0"):
        await backend.open()


@pytest.mark.parametrize("schema_name", ["", "1abc", "a-b", 'x"; DROP', "a" * 64])
def test_schema_must_be_a_plain_identifier(schema_name: str) -> None:
    with pytest.raises(ValueError, match="schema"):
        PostgresBackend(PG_URL, schema=schema_name)
