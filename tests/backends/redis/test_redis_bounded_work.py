"""Filtered reads and bulk changes on a large Redis queue do bounded work per
script call, so a filter never stalls the server for its other clients.

The work is counted, not timed: a private ``redis-server`` (its command
statistics are ours alone) holds 20,000 jobs, and ``INFO commandstats``
tells how many script calls a store call made and how many job hashes they
read. Before the status and tag walks were split into bounded calls, a
filtered count read all 20,000 hashes in one script while another client's
PING waited.
"""

from __future__ import annotations

import asyncio
import functools
import subprocess
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis_helpers import new_job
from tests.conftest import eventually

from dataqueue._commands import JobChanges, JobFilter
from dataqueue.backends.redis import RedisBackend
from dataqueue.backends.redis.backend import WALK_BUDGET
from dataqueue.errors import StoreUnavailableError
from dataqueue.models import JobStatus, TagFilter

NOW = datetime(2030, 1, 1, tzinfo=UTC)
JOBS = 20_000
TYPES = ("a", "b", "c", "d")
PAGE = 50
# Commands that read one job's hash; a walk reads at most its budget of
# candidates' fields plus the page's whole hashes (or the jobs it changes).
JOB_READS = ("hgetall", "hmget", "hget")
PER_CALL = 2 * WALK_BUDGET


async def populate(backend: RedisBackend, jobs: int) -> None:
    """``jobs`` jobs of four types, tagged "x" every 10th and "y" every 3rd,
    with type "d" cancelled."""
    for first in range(0, jobs, 1000):
        await backend.add_jobs(
            [
                new_job(
                    TYPES[i % 4],
                    priority=i % 5,
                    tags=[t for t, every in (("x", 10), ("y", 3)) if i % every == 0],
                )
                for i in range(first, min(first + 1000, jobs))
            ],
            now=NOW,
        )
    await backend.cancel_jobs(JobFilter(job_type="d"), now=NOW)


def open_backend(socket: Path, prefix: str) -> RedisBackend:
    client = aioredis.Redis(unix_socket_path=str(socket), decode_responses=True)
    return RedisBackend(None, client=client, key_prefix=prefix)


async def close_backend(backend: RedisBackend) -> None:
    await backend.close()
    await backend.get_redis_client().aclose()


@pytest.fixture(scope="module")
def private_redis() -> Iterator[Path]:
    """A redis-server on a Unix socket that only this module uses, holding
    JOBS jobs (see populate) under the prefix "dq:"."""
    with tempfile.TemporaryDirectory(prefix="dq-redis-") as directory:
        socket = Path(directory) / "redis.sock"
        server = subprocess.Popen(
            [
                *("redis-server", "--port", "0", "--unixsocket", str(socket)),
                *("--unixsocketperm", "700", "--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
        )
        try:
            asyncio.run(_populated(socket))
            yield socket
        finally:
            server.terminate()
            server.wait(timeout=10)


async def _populated(socket: Path) -> None:
    backend = open_backend(socket, "dq:")

    async def answers() -> bool:
        try:
            await backend.open()
        except StoreUnavailableError:
            return False
        return True

    try:
        await eventually(answers)
        await populate(backend, JOBS)
    finally:
        await close_backend(backend)


@pytest.fixture
async def loaded(private_redis: Path) -> AsyncIterator[RedisBackend]:
    backend = open_backend(private_redis, "dq:")
    try:
        await backend.open()
        yield backend
    finally:
        await close_backend(backend)


@pytest.fixture
async def client(private_redis: Path) -> AsyncIterator[Any]:
    """Another client of the private server: it pings and reads the stats."""
    client = aioredis.Redis(unix_socket_path=str(private_redis), decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


async def work_of(
    client: Any, call: Callable[[], Awaitable[Any]]
) -> tuple[Any, int, int]:
    """(call's result, script calls made, job hashes read), counted by the
    server while another client keeps sending PING."""
    await client.config_resetstat()
    stop = asyncio.Event()

    async def ping() -> None:
        while not stop.is_set():
            await client.ping()

    pinger = asyncio.create_task(ping())
    try:
        result = await call()
    finally:
        stop.set()
        await pinger
    stats = await client.info("commandstats")

    def calls(command: str) -> int:
        # A NOSCRIPT answer (the script is then loaded and sent again) fails.
        counts = stats.get(f"cmdstat_{command}", {})
        return int(counts.get("calls", 0)) - int(counts.get("failed_calls", 0))

    return result, calls("evalsha"), sum(calls(name) for name in JOB_READS)


async def test_indexed_filters_read_only_the_page(
    loaded: RedisBackend, client: Any
) -> None:
    pages = {
        "every job": (JobFilter(), 19_000),
        "one status": (JobFilter(status=JobStatus.PENDING), 9_000),
        "type and status": (JobFilter(job_type="a", status=JobStatus.PENDING), 4_000),
        "one tag": (JobFilter(tags=TagFilter(["x"], "all")), 1_500),
    }
    for name, (where, offset) in pages.items():
        page, scripts, reads = await work_of(
            client, functools.partial(loaded.get_jobs, where, PAGE, offset)
        )
        assert len(page) == PAGE, name
        assert (scripts, reads) == (1, PAGE), name
        beyond = await work_of(
            client, functools.partial(loaded.get_jobs, where, PAGE, 2**63 - 1)
        )
        assert beyond == ([], 1, 0), name
    for where, total in ((JobFilter(), JOBS), (JobFilter(job_type="b"), JOBS // 4)):
        counts, scripts, reads = await work_of(
            client, functools.partial(loaded.count_jobs, where)
        )
        assert sum(counts.values()) == total, where
        assert (scripts, reads) == (1, 0), where


async def test_unindexed_filters_walk_in_bounded_calls(
    loaded: RedisBackend, client: Any
) -> None:
    untagged_y = JobFilter(tags=TagFilter(["y"], "none"))
    counts, scripts, reads = await work_of(
        client, functools.partial(loaded.count_jobs, untagged_y)
    )
    assert sum(counts.values()) == JOBS - len(range(0, JOBS, 3))
    assert scripts >= JOBS // WALK_BUDGET
    assert reads <= scripts * PER_CALL
    for where in (
        JobFilter(priority=3),
        JobFilter(tags=TagFilter(["x", "y"], "all")),
        JobFilter(job_type="a", tags=TagFilter(["x", "y"], "any")),
    ):
        page, scripts, reads = await work_of(
            client, functools.partial(loaded.get_jobs, where, PAGE, 300)
        )
        assert len(page) == PAGE, where
        assert reads <= scripts * PER_CALL, where


async def test_bulk_changes_walk_in_bounded_calls(
    private_redis: Path, client: Any
) -> None:
    jobs = 4 * WALK_BUDGET
    backend = open_backend(private_redis, "changes:")
    try:
        await backend.open()
        await populate(backend, jobs)
        edited, scripts, reads = await work_of(
            client,
            functools.partial(
                backend.edit_jobs,
                JobFilter(tags=TagFilter(["x"], "all")),
                JobChanges({"priority": 9}, {"priority": 9}),
                now=NOW,
            ),
        )
        assert edited == len([i for i in range(0, jobs, 10) if i % 4 != 3])
        assert reads <= scripts * PER_CALL
        cancelled, scripts, reads = await work_of(
            client,
            functools.partial(backend.cancel_jobs, JobFilter(job_type="a"), now=NOW),
        )
        assert len(cancelled) == jobs // 4
        assert cancelled == sorted(cancelled)
        assert scripts > 1
        assert reads <= scripts * PER_CALL
    finally:
        await close_backend(backend)


async def test_flow_listing_past_the_end(loaded: RedisBackend) -> None:
    assert await loaded.list_flows(None, PAGE, 2**63 - 1) == []
