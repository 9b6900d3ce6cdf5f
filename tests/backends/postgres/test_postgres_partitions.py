"""The partitioned history layout (``migrate(partitioned=True)``): events in
one partition per UTC day, cleanup drops whole days, the events of the
unpartitioned table are kept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from tests.conftest import PG_URL, drop_namespace, namespace

import dataqueue as dq
from dataqueue.testing import FakeClock

pytestmark = pytest.mark.postgres


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    name = namespace()
    try:
        yield name
    finally:
        await drop_namespace("postgres", name)


async def partitions(schema: str) -> list[str]:
    async with await psycopg.AsyncConnection.connect(PG_URL) as conn:
        cur = await conn.execute(
            "SELECT c.relname FROM pg_inherits AS i "
            "JOIN pg_class AS c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(%s) ORDER BY c.relname",
            (f'"{schema}".job_events',),
        )
        return [row[0] for row in await cur.fetchall()]


async def rows_in(schema: str, table: str) -> int:
    async with await psycopg.AsyncConnection.connect(PG_URL) as conn:
        cur = await conn.execute(f'SELECT count(*) FROM "{schema}".{table}')
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])


def day_name(day: date) -> str:
    return f"job_events_{day:%Y%m%d}"


async def test_existing_events_are_kept_and_days_get_partitions(schema: str) -> None:
    today = datetime.now(UTC).date()
    clock = FakeClock(datetime.now(UTC) - timedelta(days=3))
    async with dq.connect(PG_URL, schema=schema, clock=clock) as queue:
        await queue.migrate()
        older = await queue.add_job("t", {})
        clock.advance(timedelta(days=3))
        old = await queue.add_job("t", {})
        await queue.migrate(partitioned=True)
        await queue.migrate(partitioned=True)
        new = await queue.add_job("t", {})
        for job_id in (old, older, new):
            assert [e.event_type for e in await queue.get_job_events(job_id)] == [
                "added"
            ]
    expected = [day_name(today + timedelta(days=n)) for n in range(8)]
    assert await partitions(schema) == sorted([*expected, "job_events_default"])
    # Today's events left the default partition for today's; older ones stay.
    assert await rows_in(schema, day_name(today)) == 2
    assert await rows_in(schema, "job_events_default") == 1


async def test_cleanup_drops_whole_days_and_deletes_the_rest(
    schema: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    today = now.date()
    clock = FakeClock(now)
    async with dq.connect(PG_URL, schema=schema, clock=clock) as queue:
        await queue.migrate(partitioned=True)
        kept_job = await queue.add_job("t", {})  # today
        clock.advance(timedelta(days=2))
        await queue.add_jobs([dq.JobSpec("t", {}) for _ in range(5)])  # today + 2
        clock.advance(timedelta(days=400))
        await queue.add_job("t", {})  # no partition that far: the default one
        before = datetime.combine(
            today + timedelta(days=3), datetime.min.time(), tzinfo=UTC
        )
        deleted = await queue.backend.cleanup_old_job_events(before, 2)
        assert deleted == 6
        assert await queue.get_job_events(kept_job) == []
    names = await partitions(schema)
    assert (
        day_name(today) not in names
        and day_name(today + timedelta(days=2)) not in names
    )
    assert day_name(today + timedelta(days=3)) in names
    # The partitions ahead are kept ready from the server's today.
    assert day_name(today + timedelta(days=7)) in names
    assert await rows_in(schema, "job_events") == 1


async def test_the_day_the_cutoff_falls_in_waits_for_its_drop(schema: str) -> None:
    today = datetime.now(UTC).date()
    midnight = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    clock = FakeClock(midnight - timedelta(days=400))
    async with dq.connect(PG_URL, schema=schema, clock=clock) as queue:
        await queue.migrate(partitioned=True)
        ancient = await queue.add_job("t", {})  # no partition: the default one
        clock.advance(timedelta(days=400, seconds=1))
        recent = await queue.add_job("t", {})  # today's partition
        noon = midnight + timedelta(hours=12)
        # A supervisor's run at noon: today has not ended before its cutoff,
        # so today's event waits; the default partition's goes row by row.
        assert await queue.backend.cleanup_old_job_events(noon, 1000) == 1
        assert await queue.get_job_events(ancient) == []
        assert [e.event_type for e in await queue.get_job_events(recent)] == ["added"]
        assert day_name(today) in await partitions(schema)
        tomorrow = midnight + timedelta(days=1)
        assert await queue.backend.cleanup_old_job_events(tomorrow, 1000) == 1
        assert await queue.get_job_events(recent) == []
    assert day_name(today) not in await partitions(schema)


async def test_only_postgresql_has_the_partitioned_layout(tmp_path: Path) -> None:
    async with dq.connect(f"sqlite:///{tmp_path / 'q.db'}") as queue:
        with pytest.raises(dq.BackendError, match="PostgreSQL's, not sqlite's"):
            await queue.migrate(partitioned=True)
