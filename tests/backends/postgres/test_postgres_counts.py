"""The counted layout that ``migrate(partitioned=True)`` sets up: job_counts
keeps how many jobs there are per job type and status, written by triggers
in the statements that change jobs, so that counting reads a few rows. Every
way a job changes, from several connections at once, leaves the counts equal
to the jobs themselves, counted here outside the store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

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


async def jobs_by_type_and_status(
    schema: str, table: str
) -> dict[tuple[str, str], int]:
    """What the jobs are (table job_queue) or what job_counts says they are."""
    amount = "count(*)" if table == "job_queue" else "sum(n)"
    async with await psycopg.AsyncConnection.connect(PG_URL) as conn:
        cur = await conn.execute(
            f'SELECT job_type, status, {amount} FROM "{schema}".{table} '
            "GROUP BY job_type, status"
        )
        return {(t, s): int(n) for t, s, n in await cur.fetchall() if n}


async def idle_count_rows(schema: str) -> int:
    """Rows of job_counts that count nothing or belong to a backend gone."""
    async with await psycopg.AsyncConnection.connect(PG_URL) as conn:
        cur = await conn.execute(
            f'SELECT count(*) FROM "{schema}".job_counts WHERE n = 0 '
            "OR (pid <> 0 AND pid NOT IN (SELECT pid FROM pg_stat_activity))"
        )
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])


async def fail_b(payload: dict[str, Any]) -> None:
    if payload.get("fail"):
        raise RuntimeError("no")


async def test_counts_follow_every_change_from_several_connections(
    schema: str,
) -> None:
    clock = FakeClock()
    async with dq.connect(PG_URL, schema=schema, clock=clock) as queue:
        await queue.migrate()
        # Jobs that exist before the layout are counted when it is set up.
        await queue.add_jobs([dq.JobSpec("a", {}) for _ in range(5)])
        await queue.add_job("b", {"fail": True}, max_attempts=1)
        await queue.migrate(partitioned=True)
        assert await jobs_by_type_and_status(
            schema, "job_counts"
        ) == await jobs_by_type_and_status(schema, "job_queue")

        async def writer(n: int) -> None:
            async with dq.connect(PG_URL, schema=schema, clock=clock) as other:
                ids = await other.add_jobs(
                    [dq.JobSpec("a", {"n": n}) for _ in range(20)]
                    + [dq.JobSpec("b", {"fail": i % 2 == 0}) for i in range(10)]
                )
                await other.cancel_job(ids[0])
                await other.edit_job(ids[1], priority=5)
                await other.add_job("a", {}, idempotency_key=f"k{n}")
                await other.add_job("a", {}, idempotency_key=f"k{n}")
                processor = other.create_processor(
                    {"a": lambda payload: None, "b": fail_b}, batch_size=7
                )
                while await processor.start():
                    pass
                await other.retry_job(ids[0])

        await asyncio.gather(*(writer(n) for n in range(4)))
        counted = await jobs_by_type_and_status(schema, "job_counts")
        assert counted == await jobs_by_type_and_status(schema, "job_queue")
        assert counted[("b", "failed")] > 0 and counted[("a", "completed")] > 0

        # The public reads answer from the counts.
        by_status = await queue.count_jobs(job_type="b")
        assert {s.value: n for s, n in by_status.items() if n} == {
            status: n for (job_type, status), n in counted.items() if job_type == "b"
        }
        stats = {s.job_type: s for s in await queue.get_queue_stats()}
        assert stats["a"].counts[dq.JobStatus.COMPLETED] == counted[("a", "completed")]

        # Cleanup deletes counted jobs and folds the rows of the writers'
        # connections, which are gone, into one row per type and status.
        assert await idle_count_rows(schema) > 0
        clock.advance(timedelta(days=40))
        assert await queue.cleanup_old_jobs(days_to_keep=30) > 0
        counted = await jobs_by_type_and_status(schema, "job_counts")
        assert counted == await jobs_by_type_and_status(schema, "job_queue")
        assert ("a", "completed") not in counted
        assert await idle_count_rows(schema) == 0


async def test_a_filter_the_counts_do_not_hold_reads_the_jobs(schema: str) -> None:
    async with dq.connect(PG_URL, schema=schema) as queue:
        await queue.migrate(partitioned=True)
        await queue.add_job("a", {}, tags=["x"])
        await queue.add_job("a", {})
        tagged = await queue.count_jobs(job_type="a", tags=["x"])
        assert tagged[dq.JobStatus.PENDING] == 1
        assert (await queue.count_jobs())[dq.JobStatus.PENDING] == 2
