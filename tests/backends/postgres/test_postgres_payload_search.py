"""The payload search through the optional trigram index (docs/dashboard.md,
"Payload search"): once an operator created it, find_in_payloads answers from the
index and PostgreSQL's plan reads it; without it the store says so (None)
and the queue reads the newest jobs instead."""

from __future__ import annotations

import psycopg
from pg_helpers import NOW, MakeBackend, job
from psycopg import sql
from tests.conftest import PG_URL

import dataqueue as dq
from dataqueue._commands import JobFilter
from dataqueue._validate import new_job
from dataqueue.backends._files import load_dir
from dataqueue.backends.postgres.admin import like_pattern
from dataqueue.backends.postgres.codec import filter_params
from dataqueue.backends.postgres.connection import uncommented
from dataqueue.models import JobSpec, JobStatus

SQL = load_dir("dataqueue.backends.postgres", "sql", ".sql")
# As docs/dashboard.md gives it, less CONCURRENTLY (which would wait for
# every older transaction on the shared test server).
CREATE_INDEX = (
    "CREATE INDEX job_queue_payload_trgm_idx "
    "ON {}.job_queue USING GIN ((payload::text) gin_trgm_ops)"
)


async def create_trigram_index(schema: str) -> None:
    async with await psycopg.AsyncConnection.connect(PG_URL, autocommit=True) as conn:
        # One session at a time creates the extension (others may race).
        await conn.execute(
            "SELECT pg_advisory_lock(hashtext('dataqueue tests pg_trgm'))"
        )
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        await conn.execute(
            "SELECT pg_advisory_unlock(hashtext('dataqueue tests pg_trgm'))"
        )
        await conn.execute(sql.SQL(CREATE_INDEX).format(sql.Identifier(schema)))
        await conn.execute(
            sql.SQL("VACUUM ANALYZE {}.job_queue").format(sql.Identifier(schema))
        )


def payload_job(payload: object, job_type: str = "mail") -> object:
    return new_job(JobSpec(job_type, payload))


async def test_without_the_index_the_store_has_no_answer(
    make_backend: MakeBackend,
) -> None:
    backend = await make_backend()
    await backend.add_jobs([payload_job({"to": "needle@example.com"})], now=NOW)
    assert await backend.find_in_payloads("needle", JobFilter(), 10) is None


async def test_with_the_index_every_job_is_searched_through_it(
    make_backend: MakeBackend, schema: str
) -> None:
    backend = await make_backend()
    for _ in range(3):
        await backend.add_jobs([job("common")] * 1000, now=NOW)
    old = await backend.add_jobs([payload_job({"to": "Needle@Example.com"})], now=NOW)
    await backend.add_jobs([job("common")] * 2500, now=NOW)
    sale, cancelled = await backend.add_jobs(
        [payload_job({"subject": "50%_off"}), payload_job({"to": "needle@x.org"})],
        now=NOW,
    )
    await backend.cancel_job(cancelled, now=NOW)
    await create_trigram_index(schema)

    found = await backend.find_in_payloads("NEEDLE", JobFilter(), 10)
    assert found is not None
    assert [j.id for j in found] == [cancelled, old[0]]
    only = await backend.find_in_payloads(
        "needle", JobFilter(status=JobStatus.PENDING), 10
    )
    assert only is not None and [j.id for j in only] == old
    wildcards = await backend.find_in_payloads("50%_", JobFilter(), 10)
    assert wildcards is not None and [j.id for j in wildcards] == [sale]
    assert await backend.find_in_payloads("0_o", JobFilter(), 10) == []
    # Shorter than a trigram: the index cannot find it.
    assert await backend.find_in_payloads("ne", JobFilter(), 10) is None

    # The queue: the old job, behind 2,500 newer ones, is found.
    queue = dq.JobQueue(backend)
    search = await queue.search_jobs("needle@example")
    assert (search.indexed, [j.id for j in search.jobs]) == (True, old)

    params = {
        **filter_params(JobFilter()),
        "pattern": like_pattern("needle@example"),
        "limit": 50,
    }
    query = sql.SQL(uncommented(SQL["find_in_payloads"])).format(
        schema=sql.Identifier(schema),
        job_filter=sql.SQL(uncommented(SQL["get_jobs.filter"])),
    )
    async with await psycopg.AsyncConnection.connect(PG_URL) as conn:
        cur = await conn.execute(sql.SQL("EXPLAIN ") + query, params)
        plan = "\n".join(row[0] for row in await cur.fetchall())
    assert "job_queue_payload_trgm_idx" in plan, plan
