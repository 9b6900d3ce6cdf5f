"""Store fixtures: every conformance test runs against SQLite, PostgreSQL and Redis.

The servers come from environment URLs with loopback defaults. An unreachable
server fails the test with a message saying how to start it; it never skips.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import dataqueue as dq
from dataqueue.testing import FakeClock

PG_URL = os.environ.get(
    "DATAQUEUE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("DATAQUEUE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

PROCESS_STORES = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("redis_cluster", marks=pytest.mark.redis_cluster),
    pytest.param("postgres_partitioned", marks=pytest.mark.postgres),
]
"""The stores several processes share. A test that runs real processes
parametrises ``store`` over these: ``memory://`` lives in one process."""
STORES = ["memory", *PROCESS_STORES]
# The conformance modules that also run on a Redis Cluster: the ones whose
# tests go through the store's scripts (adding, reading, changing, claiming,
# settling, waits, flows, cron, cleanup, workers). The others check the
# Python edge (argument parity, hooks, metrics, projections) or fault paths
# against the single server, and run as they would on any Redis.
CLUSTER_MODULES = frozenset(
    f"tests/conformance/test_{name}.py"
    for name in (
        "adding",
        "audit",
        "changing",
        "cron",
        "dead_letters",
        "durable",
        "engine",
        "events",
        "flows",
        "limits",
        "maintenance",
        "operating",
        "processing",
        "reading",
        "sync_facade",
        "workers",
    )
)


# The conformance modules that also run on PostgreSQL's partitioned history
# layout (migrate(partitioned=True)): the ones that write, read and clean
# up events. Everything else runs the same statements on the same tables.
PARTITIONED_MODULES = frozenset(
    f"tests/conformance/test_{name}.py"
    for name in (
        "adding",
        "audit",
        "dead_letters",
        "events",
        "limits",
        "maintenance",
        "processing",
        "reading",
    )
)
# The stores that run a part of the conformance suite only.
PARTIAL_STORES = {
    "redis_cluster": CLUSTER_MODULES,
    "postgres_partitioned": PARTITIONED_MODULES,
}


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Keep the runs of PARTIAL_STORES in their modules only."""
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        params = getattr(item, "callspec", None)
        store = params.params.get("store") if params is not None else None
        where = item.nodeid.partition("::")[0]
        modules = PARTIAL_STORES.get(store) if isinstance(store, str) else None
        (dropped if modules is not None and where not in modules else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


for name in ("DATAQUEUE_URL", "PG_DATAQUEUE_DATABASE"):
    os.environ.pop(name, None)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def namespace() -> str:
    return f"t_{uuid.uuid4().hex[:10]}"


# The URL of the Redis Cluster started by the ``redis_cluster`` fixture.
_cluster_urls: list[str] = []


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis Cluster for the whole session (3 masters, 3 replicas); its URL."""
    from tests.redis_cluster import LocalCluster

    cluster = LocalCluster(tmp_path_factory.mktemp("redis-cluster"))
    cluster.start()
    _cluster_urls.append(cluster.url)
    try:
        yield cluster.url
    finally:
        _cluster_urls.remove(cluster.url)
        cluster.stop()


def store_options(store: str, tmp_path: Path, ns: str) -> dict[str, Any]:
    """``connect()`` arguments for ``store`` in namespace ``ns``."""
    match store:
        case "postgres" | "postgres_partitioned":
            return {"url": PG_URL, "schema": ns}
        case "redis":
            return {"url": REDIS_URL, "key_prefix": f"{ns}:"}
        case "memory":
            return {"url": f"memory://{ns}"}
        case "redis_cluster":
            return {"url": _cluster_urls[-1], "key_prefix": f"{ns}:"}
        case _:
            return {"url": f"sqlite:///{tmp_path / (ns + '.db')}"}


UNREACHABLE = {
    "postgres": f"PostgreSQL at {PG_URL} is unreachable; start it with: "
    "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "redis": f"Redis at {REDIS_URL} is unreachable; start it with: "
    "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' "
    "--appendonly no",
}


async def open_store(
    store: str, tmp_path: Path, clock: dq.Clock | None, ns: str
) -> dq.JobQueue:
    """A migrated queue on ``store`` in its own namespace."""
    queue = dq.connect(**store_options(store, tmp_path, ns), clock=clock)
    try:
        await queue.migrate(partitioned=store == "postgres_partitioned")
        await queue.get_job(1)
    except OSError as error:
        raise RuntimeError(f"{UNREACHABLE.get(store, store)} ({error})") from error
    except dq.BackendError as error:
        raise RuntimeError(f"{UNREACHABLE.get(store, store)} ({error})") from error
    return queue


async def drop_namespace(store: str, ns: str) -> None:
    """Remove everything a test wrote: DROP SCHEMA, SCAN + UNLINK the prefix,
    or forget the named memory store."""
    if store == "memory":
        from dataqueue.backends.memory import forget_named

        forget_named(ns)
    elif store in ("postgres", "postgres_partitioned"):
        import psycopg

        async with await psycopg.AsyncConnection.connect(PG_URL, autocommit=True) as c:
            await c.execute(f'DROP SCHEMA IF EXISTS "{ns}" CASCADE')
    elif store == "redis":
        import redis.asyncio as aioredis

        await drop_prefix(aioredis.Redis.from_url(REDIS_URL), f"{ns}:")
    elif store == "redis_cluster":
        from dataqueue.backends.redis import keys
        from dataqueue.backends.redis.connection import cluster_client

        client = cluster_client(_cluster_urls[-1], max_connections=4, options={})
        await client.initialize()
        # Every key of the queue is in one slot: scan its master only.
        node = client.get_node_from_key(keys.base(f"{ns}:"))
        await drop_prefix(client, f"{ns}:", target_nodes=node)


async def drop_prefix(client: Any, prefix: str, **options: Any) -> None:
    """Unlink every key of one queue (all in one slot), then close ``client``."""
    from dataqueue.backends.redis import keys

    try:
        scan = client.scan_iter(match=keys.pattern(prefix), count=500, **options)
        found = [key async for key in scan]
        if found:
            await client.unlink(*found)
    finally:
        await client.aclose()


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest) -> str:
    if request.param == "redis_cluster":
        request.getfixturevalue("redis_cluster")
    return str(request.param)


@pytest.fixture
async def queue(
    store: str, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[dq.JobQueue]:
    ns = namespace()
    q = await open_store(store, tmp_path, clock, ns)
    try:
        yield q
    finally:
        await q.close()
        await drop_namespace(store, ns)


@pytest.fixture
async def make_queue(
    store: str, tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[dq.JobQueue]]]:
    """Open more queues on the same namespace (other 'processes' of one app)."""
    ns = namespace()
    opened: list[dq.JobQueue] = []

    async def make(clock: dq.Clock | None = None) -> dq.JobQueue:
        q = await open_store(store, tmp_path, clock, ns)
        opened.append(q)
        return q

    try:
        yield make
    finally:
        for q in opened:
            await q.close()
        await drop_namespace(store, ns)


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout: float = 10.0
) -> None:
    """Poll ``check`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition still false after {timeout}s")
        await asyncio.sleep(0.01)
