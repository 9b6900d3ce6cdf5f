"""The SQL files and the migrations of the SQLite store."""

from __future__ import annotations

import inspect
import sqlite3
from pathlib import Path

from sqlite_helpers import NOW, claim, new_job

from dataqueue._commands import Completion, Lease
from dataqueue.backends.protocol import (
    Backend,
    CronStore,
    FlowStore,
    JobStore,
    WaitStore,
    WorkerStore,
    WorkStore,
)
from dataqueue.backends.sqlite import SqliteBackend
from dataqueue.backends.sqlite.connection import (
    LATEST_MIGRATION,
    MIGRATION_NUMBERS,
    MIGRATIONS,
    SQL,
    split_statements,
)
from dataqueue.models import JobRecord, JobStatus

# Statements more than one method runs (flow_barrier: every call that makes a
# job final).
SHARED = {"insert_event", "held_leases", "flow_barrier", "filter_by"}


def protocol_methods(*protocols: type) -> set[str]:
    return {
        name
        for protocol in protocols
        for name, _ in inspect.getmembers(protocol, inspect.isfunction)
        if not name.startswith("_")
    }


def test_every_sql_file_belongs_to_a_protocol_method_and_says_what_it_does() -> None:
    methods = protocol_methods(Backend)
    for name, text in SQL.items():
        method = name.split(".")[0]
        assert method in methods or method in SHARED, name
        assert text.startswith(f"-- {name}: "), name


def test_every_protocol_method_that_runs_sql_has_its_file() -> None:
    methods_with_files = {name.split(".")[0] for name in SQL}
    roles = (JobStore, WorkStore, WaitStore, CronStore, FlowStore, WorkerStore)
    # cancel_job shares cancel_jobs.sql; subscribe_finished reads only
    # PRAGMA data_version; find_in_payloads has no index to search here.
    assert protocol_methods(*roles) - methods_with_files == {
        "cancel_job",
        "find_in_payloads",
        "subscribe_finished",
    }


def test_count_jobs_filters_exactly_as_get_jobs_does() -> None:
    def filters(text: str) -> str:
        return text[text.index("FROM job_queue") :].split("\nORDER BY")[0]

    count = filters(SQL["count_jobs"])
    assert count.endswith("\nGROUP BY j.status\n")
    assert count.removesuffix("GROUP BY j.status\n") == filters(SQL["get_jobs"]) + "\n"


def test_the_migrations_are_numbered_in_order() -> None:
    assert [name[:4] for name in MIGRATIONS] == [
        f"{n:04d}" for n in range(1, len(MIGRATIONS) + 1)
    ]


async def test_a_file_at_0001_with_jobs_in_it_is_upgraded_on_open(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "old.db")
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        for statement in split_statements(MIGRATIONS["0001_initial"]):
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
        micros = 1_893_499_200_000_000  # 2030-01-01 12:00 UTC
        for status, locked_by in [("pending", None), ("processing", "old-worker")]:
            conn.execute(
                "INSERT INTO job_queue (job_type, payload, status, created_at, "
                "updated_at, run_at, locked_by, locked_at) "
                "VALUES ('old', '{\"k\": 1}', ?, ?, ?, ?, ?, ?)",
                (status, micros, micros, micros, locked_by, micros),
            )
    finally:
        conn.close()

    backend = SqliteBackend(path)
    try:
        await backend.open()
        pending = await backend.get_job(1)
        assert pending is not None
        assert (pending.job_type, pending.payload) == ("old", {"k": 1})

        token, claimed = await claim(backend)
        assert [job.id for job in claimed] == [1]
        assert isinstance(claimed[0], JobRecord)
        exchange = await backend.settle_and_claim(
            [Completion(Lease(1, token), None, {})], None, now=NOW
        )
        assert exchange.settled == [True]
        # A job a worker without leases left processing is taken back.
        assert await backend.reclaim_stuck_jobs(
            0, "lost", now=NOW.replace(hour=13)
        ) == [2]
        reclaimed = await backend.get_job(2)
        assert reclaimed is not None and reclaimed.status is JobStatus.PENDING
        (job_id,) = await backend.add_jobs([new_job()], now=NOW)
        assert job_id == 3
    finally:
        await backend.close()

    conn = sqlite3.connect(path)
    try:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        columns = {row[1] for row in conn.execute("PRAGMA table_info(job_queue)")}
    finally:
        conn.close()
    assert version == LATEST_MIGRATION
    assert "lease_token" in columns


def test_cleanup_old_flows_walks_its_index() -> None:
    conn = sqlite3.connect(":memory:")
    try:
        for _, name in MIGRATION_NUMBERS:
            for statement in split_statements(MIGRATIONS[name]):
                conn.execute(statement)
        plan = " ".join(
            row[3]
            for row in conn.execute(
                "EXPLAIN QUERY PLAN " + SQL["cleanup_old_flows"],
                {"before": 0, "batch_size": 1},
            )
        )
    finally:
        conn.close()
    assert "USING INDEX flows_cleanup (status=? AND updated_at<?)" in plan
