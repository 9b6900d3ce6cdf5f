"""A queue on a Redis Cluster: one slot per queue, queues spread over the
masters, wake-ups across nodes, and a cluster client passed in."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot
from tests.conftest import drop_prefix, eventually

import dataqueue as dq
from dataqueue.backends.redis import keys
from dataqueue.backends.redis.connection import cluster_client, cluster_nodes

pytestmark = pytest.mark.redis_cluster


@pytest.fixture
async def prefix(redis_cluster: str) -> AsyncIterator[str]:
    name = f"c_{uuid.uuid4().hex[:8]}:"
    try:
        yield name
    finally:
        client = cluster_client(redis_cluster, max_connections=4, options={})
        await client.initialize()
        node = client.get_node_from_key(keys.base(name))
        await drop_prefix(client, name, target_nodes=node)


async def all_keys(client: RedisCluster, prefix: str) -> list[str]:
    """The queue's keys on every node: none may live outside its slot."""
    return [key async for key in client.scan_iter(match=keys.pattern(prefix))]


async def test_every_key_of_a_queue_is_in_one_slot(
    redis_cluster: str, prefix: str
) -> None:
    queue = dq.connect(redis_cluster, key_prefix=prefix)
    try:
        await queue.migrate()
        job_id = await queue.add_job("t", {"n": 1}, tags=["a", "b"])
        await queue.add_job("t", {"n": 2}, idempotency_key="k", run_at=None)
        await queue.add_cron_job("nightly", "0 3 * * *", "t", {})
        await queue.create_processor({"t": lambda payload: payload}).start()
        await queue.cancel_job(job_id)
        found = await all_keys(queue.get_redis_client(), prefix)
    finally:
        await queue.close()
    assert len(found) > 10
    assert {key_slot(key.encode()) for key in found} == {
        key_slot(keys.base(prefix).encode())
    }


async def test_queues_spread_over_the_masters(redis_cluster: str) -> None:
    client = cluster_client(redis_cluster, max_connections=4, options={})
    try:
        await client.initialize()
        masters = {
            client.get_node_from_key(keys.base(f"queue{n}:")).name for n in range(12)
        }
    finally:
        await client.aclose()
    assert len(masters) == 3


async def test_a_given_cluster_client_is_used_and_never_closed(
    redis_cluster: str, prefix: str
) -> None:
    client = cluster_client(redis_cluster, max_connections=4, options={})
    queue = dq.connect(client=client, key_prefix=prefix)
    try:
        assert queue.get_redis_client() is client
        job_id = await queue.add_job("t", {"x": 1})
        assert (await queue.get_job(job_id)).payload == {"x": 1}  # type: ignore[union-attr]
    finally:
        await queue.close()
    assert await client.ping()
    await client.aclose()


async def test_a_job_added_through_another_node_wakes_an_idle_processor(
    redis_cluster: str, prefix: str
) -> None:
    worker_side = dq.connect(redis_cluster, key_prefix=prefix)
    adding_side = dq.connect(redis_cluster, key_prefix=prefix)
    started: list[Any] = []
    processor = worker_side.create_processor({"t": started.append}, poll_interval=300)
    processor.start_in_background()
    try:

        async def subscribed() -> bool:
            client = adding_side.get_redis_client()
            # Subscriptions are per node: ask every node.
            counts = await client.pubsub_numsub(
                keys.wakeup(prefix), target_nodes=RedisCluster.ALL_NODES
            )
            return bool(dict(counts).get(keys.wakeup(prefix)))

        await eventually(subscribed)
        await adding_side.add_job("t", {"n": 1})

        async def ran() -> bool:
            return started == [{"n": 1}]

        # Far below the 300 s poll interval: only the wake-up can start it.
        await eventually(ran, timeout=10)
    finally:
        await processor.stop_and_drain(5)
        await worker_side.close()
        await adding_side.close()


def test_sync_queue_runs_on_the_cluster(redis_cluster: str, prefix: str) -> None:
    with dq.connect_sync(redis_cluster, key_prefix=prefix) as queue:
        job_id = queue.add_job("t", {"n": 1})
        assert queue.create_processor({"t": lambda p: p["n"] + 1}).start() == 1
        job = queue.get_job(job_id)
        assert job is not None and job.output == 2


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis+cluster://127.0.0.1:7000/3", "a Redis Cluster has only database 0"),
        ("redis+cluster://127.0.0.1", "node '127.0.0.1'"),
        ("redis+cluster://127.0.0.1:7000,:7001", "node ':7001'"),
    ],
)
def test_bad_cluster_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cluster_nodes(url)


def test_cluster_url_credentials_are_read_and_hidden() -> None:
    url = "redis+cluster://app:s%3Acret@10.0.0.1:7000,10.0.0.2:7001/0"
    assert cluster_nodes(url) == (
        [("10.0.0.1", 7000), ("10.0.0.2", 7001)],
        "app",
        "s:cret",
    )
    with pytest.raises(ValueError, match=r"\*\*\*") as refused:
        cluster_nodes("redis+cluster://:secret@10.0.0.1/1")
    assert "secret" not in str(refused.value)
