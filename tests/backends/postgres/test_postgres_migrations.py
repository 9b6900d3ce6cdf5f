"""Migrations: recorded once, safe to run concurrently, required before use."""

from __future__ import annotations

import asyncio
import sys

import pytest
from pg_helpers import NOW, MakeBackend, claim, execute, flow, job, scalar
from tests.conftest import PG_URL

import dataqueue as dq
from dataqueue._commands import JobFilter
from dataqueue.backends.postgres import PostgresBackend
from dataqueue.backends.postgres.connection import not_migrated
from dataqueue.errors import NotMigratedError
from dataqueue.models import JobStatus

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
    error = not_migrated("public", "missing")
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
    await execute(f'DELETE FROM "{schema}".dataqueue_migrations')
    with pytest.raises(NotMigratedError, match="missing 0001_initial"):
        await backend.open()


async def test_a_migration_numbered_below_the_newest_applied_one_still_runs(
    make_backend: MakeBackend, schema: str
) -> None:
    backend = await make_backend()
    # As if 0004 came from a branch merged after a newer migration ran here.
    await execute(f'DELETE FROM "{schema}".dataqueue_migrations WHERE version = 4')
    await execute(f'DROP INDEX "{schema}".job_queue_wait_until_idx')
    await execute(
        f'INSERT INTO "{schema}".dataqueue_migrations (version, name) '
        "VALUES (99, '0099_newer')"
    )
    with pytest.raises(NotMigratedError, match="missing 0004_"):
        await backend.open()
    await backend.migrate()
    await backend.open()
    assert await scalar(
        "SELECT count(*) FROM pg_indexes WHERE indexname = 'job_queue_wait_until_idx' "
        f"AND schemaname = '{schema}'"
    )


@pytest.mark.parametrize("schema_name", ["", "1abc", "a-b", 'x"; DROP', "a" * 64])
def test_schema_must_be_a_plain_identifier(schema_name: str) -> None:
    with pytest.raises(ValueError, match="schema"):
        PostgresBackend(PG_URL, schema=schema_name)


async def test_0002_upgrades_a_0001_schema_and_keeps_its_jobs(
    make_backend: MakeBackend, schema: str
) -> None:
    old = await make_backend(migrate=False)
    old._migrations = {1: old._migrations[1]}
    await old.migrate()
    await execute(
        f'INSERT INTO "{schema}".job_queue (job_type, payload, output, status, '
        "created_at, updated_at, run_at, tags, idempotency_key) VALUES "
        "('email', '{\"to\": \"a@x.com\", \"n\": 1.5}', NULL, 'pending', now(), now(), "
        "now() - interval '1 minute', '{welcome}', 'k1'), "
        "('report', '[1, 2]', '{\"ok\": true}', 'completed', now(), now(), now(), "
        "'{}', NULL)"
    )
    await execute(
        f'INSERT INTO "{schema}".job_events (job_id, event_type, created_at, metadata) '
        f"SELECT id, 'added', now(), '{{}}' FROM \"{schema}\".job_queue"
    )

    backend = await make_backend()
    pending = await backend.get_job(1)
    finished = await backend.get_job(2)
    assert pending is not None and pending.payload == {"to": "a@x.com", "n": 1.5}
    assert pending.tags == ["welcome"] and pending.idempotency_key == "k1"
    assert finished is not None and finished.output == {"ok": True}
    assert len(await backend.get_job_events(1)) == 1
    # The key is still taken, and the job can be claimed under a lease.
    assert await backend.add_jobs([job(idempotency_key="k1")], now=NOW) == [1]
    assert [lease.job_id for lease in await claim(backend)] == [1]
    indexes = await scalar(
        "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes "
        f"WHERE schemaname = '{schema}' AND tablename = 'job_queue'"
    )
    assert indexes.split(",") == [
        "job_queue_claim_idx",
        "job_queue_cron_idx",  # 0003_cron
        "job_queue_finished_idx",
        "job_queue_held_idx",  # 0014_dependencies
        "job_queue_held_reason_idx",  # 0015_held_counts
        "job_queue_idempotency_key_idx",
        "job_queue_pkey",
        "job_queue_processing_idx",
        "job_queue_retry_idx",
        "job_queue_running_idx",  # 0013_limits
        "job_queue_status_idx",  # 0008_filter_indexes
        "job_queue_tags_idx",  # 0008
        "job_queue_type_claim_idx",  # 0009_typed_claim_indexes
        "job_queue_type_retry_idx",  # 0009
        "job_queue_type_status_idx",  # 0008
        "job_queue_wait_token_idx",
        "job_queue_wait_until_idx",  # 0004
    ]
    foreign_keys = await scalar(
        "SELECT count(*) FROM pg_constraint WHERE contype = 'f' "
        f"AND conrelid = '\"{schema}\".job_events'::regclass"
    )
    assert foreign_keys == 0


async def test_0005_upgrades_a_0004_schema_and_keeps_its_jobs(
    make_backend: MakeBackend, schema: str
) -> None:
    old = await make_backend(migrate=False)
    old._migrations = {v: m for v, m in old._migrations.items() if v <= 4}
    await old.migrate()
    # Written as the 0004 statements did: this backend's own add_jobs already
    # names the entity column.
    await execute(
        f'INSERT INTO "{schema}".job_queue (job_type, payload, output, status, '
        "created_at, updated_at, run_at) VALUES "
        "('email', '{}', NULL, 'pending', now(), now(), now()), "
        "('report', '{}', '{\"ok\": true}', 'completed', now(), now(), now())"
    )

    backend = await make_backend()
    kept = await backend.get_job(1)
    finished = await backend.get_job(2)
    assert kept is not None and kept.status is JobStatus.PENDING
    assert (kept.flow_step_index, kept.entity) == (None, None)
    assert finished is not None and finished.output == {"ok": True}
    counts = await backend.count_jobs(JobFilter())
    assert (counts[JobStatus.PENDING], counts[JobStatus.COMPLETED]) == (1, 1)
    # The flows and workers tables of 0001 are replaced by what the store uses.
    new = flow(1)
    await backend.start_flow(new, now=NOW)
    stored = await backend.get_flow(new.id)
    assert stored is not None and stored.record.total_steps == 1
    columns = await scalar(
        "SELECT string_agg(column_name, ',' ORDER BY column_name) "
        "FROM information_schema.columns "
        f"WHERE table_schema = '{schema}' AND table_name = 'job_queue' "
        "AND column_name LIKE 'entity%'"
    )
    assert columns == "entity"


async def test_0020_keeps_the_settle_dependencies_earlier_workers_call(
    make_backend: MakeBackend, schema: str
) -> None:
    """0020's settle_dependencies takes the cancelled event as a template;
    a worker of an earlier release still passes the metadata without the
    prerequisite (JSONB) and gets 0018's function, which adds it."""
    backend = await make_backend()
    [a] = await backend.add_jobs([job()], now=NOW)
    [b] = await backend.add_jobs([job(depends_on={"job_ids": [a]})], now=NOW)
    metadata = """'{"reason": "dependency"}'::jsonb"""
    await execute(
        f"UPDATE \"{schema}\".job_queue SET status = 'cancelled' WHERE id = {a}; "
        f'SELECT "{schema}".settle_dependencies(ARRAY[{a}]::bigint[], '
        f"ARRAY['cancelled'], ARRAY[false], now(), {metadata}, {metadata}, 'wake')"
    )
    cancelled = (await backend.get_job_events(b))[-1]
    assert cancelled.metadata == {"reason": "dependency", "prerequisite": a}


def test_every_migration_file_has_a_number_of_its_own() -> None:
    """Two branches that each took the next number would leave one file
    unapplied (the migrations are keyed by number)."""
    from importlib.resources import files

    names = [
        path.name
        for path in files("dataqueue.backends.postgres")
        .joinpath("migrations")
        .iterdir()
        if path.name.endswith(".sql")
    ]
    numbers = [name.split("_", 1)[0] for name in names]
    assert len(set(numbers)) == len(numbers), sorted(names)
