"""The filters of get_jobs and count_jobs read an index, not every job.

Thousands of common jobs and a few rare ones; PostgreSQL's own plans
(EXPLAIN, after ANALYZE) for the rare filters must use the indexes of
0008_filter_indexes (or another) and never scan the table.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from pg_helpers import NOW, MakeBackend, job
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
    async with await psycopg.AsyncConnection.connect(PG_URL, autocommit=True) as conn:
        await conn.execute(
            sql.SQL("VACUUM ANALYZE {}.job_queue").format(sql.Identifier(schema))
        )
    return schema


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
