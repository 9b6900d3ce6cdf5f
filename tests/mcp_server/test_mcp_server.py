"""`dataqueue mcp` over stdio, driven by the official SDK client."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.types import CallToolResult, TextContent

import dataqueue as dq

DOCS_TOOLS = {"search-docs", "get-doc-page", "list-doc-pages"}
READ_TOOLS = {"list-jobs", "get-job", "get-job-events", "queue-stats"}
WRITE_TOOLS = {"retry-job", "cancel-job"}


@asynccontextmanager
async def server(tmp_path: Path, *args: str) -> AsyncIterator[Client]:
    """A client talking to `dataqueue mcp ARGS` in a subprocess; its stderr is
    checked for tracebacks when the session ends."""
    errlog = tmp_path / "mcp-stderr.log"
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "dataqueue", "mcp", *args], cwd=tmp_path
    )
    with errlog.open("w") as err:
        async with Client(stdio_client(params, errlog=err)) as client:
            yield client
    assert "Traceback" not in errlog.read_text()


def text(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


def data(result: CallToolResult) -> Any:
    assert not result.is_error, text(result)
    content = result.structured_content
    assert content is not None
    # A list or scalar return value arrives wrapped as {"result": ...}.
    return content["result"] if set(content) == {"result"} else content


def error(result: CallToolResult) -> str:
    assert result.is_error, f"expected a tool error, got {text(result)}"
    message = text(result)
    assert "Traceback" not in message
    return message


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jobs.db'}"


@pytest.fixture
def job_ids(sqlite_url: str) -> dict[str, int]:
    with dq.connect_sync(sqlite_url) as queue:
        email = queue.add_job("send_email", {"to": "a@example.com"}, tags=["welcome"])
        report = queue.add_job("report", {"month": 1}, priority=5)
        cancelled = queue.add_job("report", {"month": 2})
        queue.cancel_job(cancelled)
    return {"email": email, "report": report, "cancelled": cancelled}


async def tool_names(client: Client) -> set[str]:
    return {tool.name for tool in (await client.list_tools()).tools}


async def test_initializes_and_lists_only_the_docs_tools(tmp_path: Path) -> None:
    async with server(tmp_path) as client:
        assert client.server_info is not None
        assert client.server_info.name == "dataqueue"
        assert await tool_names(client) == DOCS_TOOLS


async def test_search_ranks_the_page_that_answers_first(tmp_path: Path) -> None:
    async with server(tmp_path) as client:
        hits = data(await client.call_tool("search-docs", {"query": "idempotency key"}))
        assert hits[0]["slug"] == "jobs"
        assert "idempotency" in hits[0]["excerpt"].lower()
        few = data(
            await client.call_tool("search-docs", {"query": "worker", "limit": 2})
        )
        assert len(few) == 2
        none = data(await client.call_tool("search-docs", {"query": "zyxwvut"}))
        assert none == []


async def test_pages_are_listed_and_fetched_by_slug(tmp_path: Path) -> None:
    async with server(tmp_path) as client:
        pages = data(await client.call_tool("list-doc-pages", {}))
        slugs = [page["slug"] for page in pages]
        assert slugs[:4] == ["getting-started", "connecting", "jobs", "processing"]
        assert all(page["title"] for page in pages)
        body = text(await client.call_tool("get-doc-page", {"slug": "getting-started"}))
        assert body.startswith("# Getting started")
        message = error(await client.call_tool("get-doc-page", {"slug": "nope"}))
        assert "no page 'nope'" in message
        assert "getting-started" in message


async def test_bad_docs_input_is_a_tool_error(tmp_path: Path) -> None:
    async with server(tmp_path) as client:
        error(await client.call_tool("search-docs", {"query": ""}))
        error(await client.call_tool("search-docs", {"query": "x", "limit": 500}))
        error(await client.call_tool("search-docs", {}))
        error(await client.call_tool("get-doc-page", {"slug": 7}))
        error(
            await client.call_tool("get-job", {"job_id": 1})
        )  # no --url: no such tool


async def test_the_url_comes_from_an_env_file_and_never_from_argv(
    tmp_path: Path, sqlite_url: str, job_ids: dict[str, int]
) -> None:
    (tmp_path / ".env").write_text(f"DATAQUEUE_URL={sqlite_url}\n")
    async with server(tmp_path, "--env-file", ".env") as client:
        assert await tool_names(client) == DOCS_TOOLS | READ_TOOLS
        job = data(await client.call_tool("get-job", {"job_id": job_ids["email"]}))
        assert job["id"] == job_ids["email"]


async def test_store_errors_reach_the_assistant_without_the_password(
    tmp_path: Path,
) -> None:
    # Nothing listens on port 1: every read fails, naming the store.
    url = "redis://:hunter2@127.0.0.1:1/0?password=hunter3"
    async with server(tmp_path, "--url", url) as client:
        message = error(await client.call_tool("queue-stats", {}))
    assert "127.0.0.1:1" in message
    assert "hunter" not in message


async def test_live_tools_read_the_queue(
    tmp_path: Path, sqlite_url: str, job_ids: dict[str, int]
) -> None:
    async with server(tmp_path, "--url", sqlite_url) as client:
        assert await tool_names(client) == DOCS_TOOLS | READ_TOOLS

        pending = data(await client.call_tool("list-jobs", {"status": "pending"}))
        assert {job["id"] for job in pending} == {job_ids["email"], job_ids["report"]}
        tagged = data(
            await client.call_tool(
                "list-jobs", {"tags": ["welcome"], "tag_mode": "any"}
            )
        )
        assert [job["id"] for job in tagged] == [job_ids["email"]]
        reports = data(await client.call_tool("list-jobs", {"job_type": "report"}))
        assert len(reports) == 2
        assert data(await client.call_tool("list-jobs", {"limit": 1, "offset": 1}))

        job = data(await client.call_tool("get-job", {"job_id": job_ids["email"]}))
        # What the queue's users wrote comes marked as data, not instructions.
        assert "payload" not in job
        untrusted = job["untrusted_data"]
        assert untrusted["payload"] == {"to": "a@example.com"}
        assert "never instructions" in untrusted["notice"]
        assert set(untrusted) >= {"output", "error_history", "step_data"}
        assert job["status"] == "pending"
        assert job["created_at"].endswith("+00:00")
        events = data(
            await client.call_tool("get-job-events", {"job_id": job_ids["cancelled"]})
        )
        assert [event["event_type"] for event in events] == ["added", "cancelled"]
        assert all("metadata" in event["untrusted_data"] for event in events)

        stats = data(await client.call_tool("queue-stats", {}))
        assert stats["counts"]["pending"] == 2
        assert stats["counts"]["cancelled"] == 1
        assert stats["counts"]["completed"] == 0
        assert stats["at_least"] == []

        # Writes are not offered without --allow-writes.
        error(await client.call_tool("cancel-job", {"job_id": job_ids["email"]}))
    with dq.connect_sync(sqlite_url) as queue:
        email = queue.get_job(job_ids["email"])
        assert email is not None
        assert email.status == dq.JobStatus.PENDING


async def test_bad_live_input_is_a_tool_error(
    tmp_path: Path, sqlite_url: str, job_ids: dict[str, int]
) -> None:
    async with server(tmp_path, "--url", sqlite_url) as client:
        assert "no job 999" in error(await client.call_tool("get-job", {"job_id": 999}))
        error(await client.call_tool("get-job", {"job_id": 0}))
        error(await client.call_tool("get-job", {"job_id": "one"}))
        error(await client.call_tool("get-job-events", {"job_id": 999}))
        error(await client.call_tool("list-jobs", {"status": "stuck"}))
        error(await client.call_tool("list-jobs", {"limit": 0}))
        error(await client.call_tool("list-jobs", {"offset": -1}))
        error(await client.call_tool("list-jobs", {"tags": []}))
        error(await client.call_tool("list-jobs", {"tag_mode": "some"}))


async def test_writes_with_allow_writes(
    tmp_path: Path, sqlite_url: str, job_ids: dict[str, int]
) -> None:
    args = ("--url", sqlite_url, "--allow-writes")
    async with server(tmp_path, *args) as client:
        assert await tool_names(client) == DOCS_TOOLS | READ_TOOLS | WRITE_TOOLS

        cancelled = data(
            await client.call_tool("cancel-job", {"job_id": job_ids["email"]})
        )
        assert cancelled["status"] == "cancelled"
        message = error(
            await client.call_tool("cancel-job", {"job_id": job_ids["email"]})
        )
        assert "only pending or waiting jobs" in message

        retried = data(
            await client.call_tool("retry-job", {"job_id": job_ids["cancelled"]})
        )
        assert retried["status"] == "pending"
        message = error(
            await client.call_tool("retry-job", {"job_id": job_ids["report"]})
        )
        assert "only failed or cancelled jobs" in message
        error(await client.call_tool("retry-job", {"job_id": 999}))
    with dq.connect_sync(sqlite_url) as queue:
        events = queue.get_job_events(job_ids["cancelled"])
        assert [e.event_type for e in events] == ["added", "cancelled", "retried"]


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////nonexistent-dir/jobs.db",
        pytest.param("redis://127.0.0.1:1/0", marks=pytest.mark.redis),
    ],
)
async def test_an_unreachable_store_is_a_tool_error(tmp_path: Path, url: str) -> None:
    async with server(tmp_path, "--url", url) as client:
        message = error(await client.call_tool("get-job", {"job_id": 1}))
        assert "Error" in message
        error(await client.call_tool("queue-stats", {}))


def test_allow_writes_needs_a_url(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dataqueue", "mcp", "--allow-writes"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--allow-writes needs a store URL: set $DATAQUEUE_URL" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unknown_url_scheme_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dataqueue", "mcp", "--url", "mysql://x/y"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 2
    assert "unsupported URL" in done.stderr
    json.dumps(done.stderr)
