"""get_jobs and count_jobs start from an index for the common filters.

SQLite plans a statement once, whatever its parameters, so these plans
(EXPLAIN QUERY PLAN on the migrated schema) are the ones every call with
such a filter runs.
"""

from __future__ import annotations

import dataclasses
import re
import sqlite3
from collections.abc import Iterator

import pytest

from dataqueue._commands import JobFilter
from dataqueue.backends.sqlite.codec import filter_params, filtered_statement
from dataqueue.backends.sqlite.connection import (
    MIGRATION_NUMBERS,
    MIGRATIONS,
    SQL,
    split_statements,
)
from dataqueue.models import JobStatus, TagFilter

CASES = [
    (JobFilter(status=JobStatus.FAILED), "job_queue_status (status=?)"),
    (JobFilter(job_type="email"), "job_queue_job_type (job_type=?)"),
    (
        JobFilter(job_type="email", status=JobStatus.FAILED),
        "job_queue_type_status (job_type=? AND status=?)",
    ),
    (JobFilter(tags=TagFilter(["a", "b"], "all")), "job_tags_tag (tag=?)"),
    (JobFilter(tags=TagFilter(["a", "b"], "any")), "job_tags_tag (tag=?)"),
    (JobFilter(tags=TagFilter(["a"], "exact")), "job_tags_tag (tag=?)"),
]
COUNTS = [
    (JobFilter(job_type="email"), "job_queue_type_status (job_type=?)"),
    (JobFilter(tags=TagFilter(["a"], "any")), "job_tags_tag (tag=?)"),
]


@pytest.fixture(scope="module")
def schema() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    try:
        for _, name in MIGRATION_NUMBERS:
            for statement in split_statements(MIGRATIONS[name]):
                conn.execute(statement)
        yield conn
    finally:
        conn.close()


def reads_every_job(found: str) -> bool:
    return re.search(r"^SCAN j\b", found, re.MULTILINE) is not None


def plan(conn: sqlite3.Connection, statement: str, where: JobFilter) -> str:
    params = {**filter_params(where), "limit": 50, "offset": 0}
    rows = conn.execute(f"EXPLAIN QUERY PLAN {statement}", params)
    return "\n".join(row[3] for row in rows)


@pytest.mark.parametrize(("where", "index"), CASES, ids=[repr(w) for w, _ in CASES])
def test_pages_start_from_the_filter_index(
    schema: sqlite3.Connection, where: JobFilter, index: str
) -> None:
    found = plan(schema, filtered_statement("get_jobs", where), where)
    assert index in found, found
    assert not reads_every_job(found), found


@pytest.mark.parametrize(("where", "index"), COUNTS, ids=[repr(w) for w, _ in COUNTS])
def test_counts_start_from_the_filter_index(
    schema: sqlite3.Connection, where: JobFilter, index: str
) -> None:
    where = dataclasses.replace(where, status=None)
    found = plan(schema, filtered_statement("count_jobs", where), where)
    assert index in found, found
    assert not reads_every_job(found), found


def test_a_page_of_every_job_walks_the_ids_newest_first(
    schema: sqlite3.Connection,
) -> None:
    # SCAN in rowid order, stopped by LIMIT: no sort of every job.
    found = plan(schema, filtered_statement("get_jobs", JobFilter()), JobFilter())
    assert "TEMP B-TREE" not in found, found


def test_queue_stats_read_only_the_rows_each_part_needs(
    schema: sqlite3.Connection,
) -> None:
    rows = schema.execute(
        f"EXPLAIN QUERY PLAN {SQL['job_type_stats']}", {"now": 0, "since": 0}
    )
    found = "\n".join(row[3] for row in rows)
    # counts from the (job_type, status) index alone; the oldest pending job
    # among pending ones; the window from recently updated finished jobs and
    # from the active ones
    scans = [line for line in found.splitlines() if line.startswith("SCAN")]
    assert scans == ["SCAN j USING COVERING INDEX job_queue_type_status"], found
    assert "job_queue_cleanup (updated_at>?)" in found, found
    assert found.count("job_queue_status (status=?)") == 2, found
