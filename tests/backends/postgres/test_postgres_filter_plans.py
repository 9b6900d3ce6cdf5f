"""The filters of get_jobs and count_jobs read an index, not every job.

Thousands of common jobs and a few rare ones; PostgreSQL's own plans
(EXPLAIN, after ANALYZE) for the rare filters must use the indexes of
0008_filter_indexes (or another) and never scan the table.

The claim, prepared once per connection, is not planned again on every call.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from pg_helpers import NOW, MakeBackend, claim, job
from psycopg import sql
from tests.conftest import PG_URL

from dataqueue._commands import JobFilter
from dataqueue.backends._files import load_dir
from dataqueue.backends.postgres.codec import filter_params
from dataqueue.backends.postgres.connection import uncommented
from dataqueue.models import JobStatus, TagFilter

SQL = load_dir("dataqueue.backends.postgres", "sql", ".sql")
RARE = 20

CASES = [
    ("get_jobs", JobFilter(status=JobStatus.CANCELLED)),
    ("get_jobs", JobFilter(job_type="rare")),
    ("get_jobs", JobFilter(job_type="rare", status=JobStatus.CANCELLED)),
    ("get_jobs", JobFilter(tags=TagFilter(["rare"], "all"))),
    ("get_jobs", JobFilter(tags=TagFilter(["rare", "none-such"], "any"))),
    ("get_jobs", JobFilter(tags=TagFilter(["rare"], "exact"))),
    ("count_jobs", JobFilter(job_type="rare")),
    ("count_jobs", JobFilter(tags=TagFilter(["rare"], "all"))),
]


@pytest.fixture
async def rare_among_many(make_backend: MakeBackend, schema: str) -> str:
    """3,000 common jobs and RARE cancelled ones of type and tag "rare"."""
    backend = await make_backend()
    for _ in range(3):
        await backend.add_jobs([job("common", tags=["common"])] * 1000, now=NOW)
    rare = await backend.add_jobs([job("rare", tags=["rare"])] * RARE, now=NOW)
    for job_id in rare:
        await backend.cancel_job(job_id, now=NOW)
    await analyze(schema)
    return schema


async def analyze(schema: str) -> None:
    async with await psycopg.AsyncConnection.connect(PG_URL, autocommit=True) as conn:
        await conn.execute(
            sql.SQL("VACUUM ANALYZE {}.job_queue").format(sql.Identifier(schema))
        )


@pytest.mark.parametrize(("statement", "where"), CASES, ids=[repr(c) for c in CASES])
async def test_rare_filters_read_an_index(
    rare_among_many: str, statement: str, where: JobFilter
) -> None:
    params: dict[str, Any] = {**filter_params(where), "limit": 50, "offset": 0}
    query = sql.SQL(SQL[statement]).format(
        schema=sql.Identifier(rare_among_many),
        job_filter=sql.SQL(uncommented(SQL["get_jobs.filter"])),
    )
    async with await psycopg.AsyncConnection.connect(PG_URL) as conn:
        cur = await conn.execute(sql.SQL("EXPLAIN ") + query, params)
        plan = "\n".join(row[0] for row in await cur.fetchall())
        counted = await conn.execute(
            sql.SQL("SELECT count(*) FROM ({}) AS found").format(query), params
        )
        row = await counted.fetchone()
    assert "Index" in plan, plan
    assert "Seq Scan" not in plan, plan
    assert row is not None and row[0] >= 1


@pytest.mark.parametrize("job_types", [None, ("email",), ("email", "sms")])
async def test_the_claim_keeps_a_generic_plan(
    make_backend: MakeBackend, schema: str, job_types: tuple[str, ...] | None
) -> None:
    # One connection, so every claim reuses its prepared statement; after
    # PostgreSQL's five custom plans it must settle on the generic one.
    backend = await make_backend(max_connections=1)
    for _ in range(3):
        await backend.add_jobs([job("email")] * 1000, now=NOW)
    await analyze(schema)
    for _ in range(12):
        assert len(await claim(backend, 10, job_types=job_types)) == 10
    async with backend.get_pool().connection() as conn:
        cur = await conn.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE '%%pending_due%%'"
        )
        plans = await cur.fetchall()
    assert len(plans) == 1, plans
    generic, custom = plans[0]
    assert generic > 0 and custom == 5, plans
