"""The SQL files of the PostgreSQL store: one per protocol method, each
saying what it does; the barrier and the finished signal in every statement
that makes a job final, and nowhere else."""

from __future__ import annotations

import inspect
import re

from dataqueue.backends._files import load_dir
from dataqueue.backends.postgres.connection import CLAIM_FILTERS, native, statements
from dataqueue.backends.protocol import (
    Backend,
    CronStore,
    FlowStore,
    JobStore,
    StatsStore,
    WaitStore,
    WorkerStore,
    WorkStore,
)

SQL = load_dir("dataqueue.backends.postgres", "sql", ".sql")
MIGRATIONS = load_dir("dataqueue.backends.postgres", "migrations", ".sql")
# The statements that make jobs final: completed, failed for good, cancelled.
FINISHING = {"settle_and_claim", "reclaim_stuck_jobs", "cancel_job", "cancel_jobs"}


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
        # migrate_<part>: the statements of migrate's transaction.
        method = "migrate" if name.startswith("migrate_") else name.split(".")[0]
        assert method in methods, name
        assert text.startswith(f"-- {name}: "), name


def test_every_protocol_method_that_runs_sql_has_its_file() -> None:
    methods_with_files = {name.split(".")[0] for name in SQL}
    roles = (
        JobStore,
        WorkStore,
        WaitStore,
        CronStore,
        FlowStore,
        WorkerStore,
        StatsStore,
    )
    # The subscriptions LISTEN on a connection of their own.
    assert protocol_methods(*roles) - methods_with_files == {
        "subscribe",
        "subscribe_finished",
    }


def test_count_jobs_filters_as_get_jobs_does_but_on_status() -> None:
    def filters(text: str) -> str:
        return text[text.index("WHERE true") :].split("\nORDER BY")[0]

    status_filter = (
        "    AND (%(status)s::text IS NULL OR j.status = %(status)s::text)\n"
    )
    count = filters(SQL["count_jobs"])
    assert count.endswith("\nGROUP BY j.status\n")
    expected = filters(SQL["get_jobs"]).replace(status_filter, "")
    assert count.removesuffix("GROUP BY j.status\n") == expected + "\n"


def test_the_barrier_and_the_finished_signal_are_in_every_finishing_statement() -> None:
    calling = {name for name, text in SQL.items() if "record_flow_outcomes(" in text}
    notifying = {name for name, text in SQL.items() if "finished_channel" in text}
    assert calling == notifying == FINISHING
    for name in FINISHING:
        # Called only for flow steps, so plain jobs never reach it.
        assert "flow_step_index IS NOT NULL" in SQL[name], name
    defined = [
        name
        for name, text in MIGRATIONS.items()
        if re.search(
            r"CREATE (OR REPLACE )?FUNCTION \{schema\}\.record_flow_outcomes", text
        )
    ]
    assert defined == ["0005_flows", "0007_abort_barrier"]


def test_native_placeholders_number_each_name_once_in_order_of_use() -> None:
    statement = native(b"SELECT %(b)s, %(a)s, %(b)s, 5 %% 2")
    assert statement.text == b"SELECT $1, $2, $1, 5 % 2"
    assert statement.names == ("b", "a")
    assert statement.bind({"a": 1, "b": 2, "unused": 3}) == [2, 1]


def test_the_claim_statements_keep_no_psycopg_placeholder() -> None:
    rendered = statements("s")
    for name in CLAIM_FILTERS:
        statement = native(rendered[name])
        assert b"%(" not in statement.text
        assert {"now", "claim_limit", "c_ids"} <= set(statement.names)
