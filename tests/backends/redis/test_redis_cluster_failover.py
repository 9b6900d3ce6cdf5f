"""A master of a Redis Cluster fails over while a worker runs: no
acknowledged job is lost, and the worker carries on by itself.

Each test starts its own cluster (the failover changes it), records the ids
of acknowledged adds and of handler runs outside the store, and waits until
the store says every acknowledged job completed.
"""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from redis.crc import key_slot
from tests.conftest import eventually
from tests.redis_cluster import LocalCluster

import dataqueue as dq
from dataqueue.backends.redis import keys

pytestmark = [pytest.mark.redis_cluster, pytest.mark.slow]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    local = LocalCluster(tmp_path)
    local.start()
    try:
        yield local
    finally:
        local.stop()


async def add_until_acknowledged(queue: dq.JobQueue, n: int) -> int:
    """Add one job, retrying while the cluster has no master for its slot."""
    while True:
        try:
            return await queue.add_job("t", {"n": n})
        except dq.StoreUnavailableError:
            await asyncio.sleep(0.1)


class Worker:
    """A processor and a supervisor on their own connection; ``ran`` holds
    every job id a handler saw, kept outside the store."""

    def __init__(self, url: str, prefix: str) -> None:
        self.queue = dq.connect(url, key_prefix=prefix)
        self.ran: list[int] = []

        async def handle(payload: object, ctx: dq.JobContext) -> None:
            self.ran.append(ctx.job_id)
            await asyncio.sleep(0.002)

        self.processor = self.queue.create_processor(
            {"t": handle}, concurrency=4, batch_size=5, poll_interval=1
        )
        # Reclaims jobs whose completion died with a master before reaching
        # its replica.
        self.supervisor = self.queue.create_supervisor(
            interval=0.5, stuck_jobs_timeout_minutes=timedelta(seconds=3)
        )

    def start(self) -> None:
        self.processor.start_in_background()
        self.supervisor.start_in_background()

    async def stop(self) -> None:
        await self.processor.stop_and_drain(10)
        await self.supervisor.stop_and_drain(10)
        await self.queue.close()


async def all_completed(queue: dq.JobQueue, ids: list[int]) -> bool:
    for job_id in ids:
        job = await queue.get_job(job_id)
        if job is None or job.status is not dq.JobStatus.COMPLETED:
            return False
    return True


async def test_planned_failover_loses_no_job(cluster: LocalCluster) -> None:
    prefix = f"f_{uuid.uuid4().hex[:8]}:"
    master = cluster.master_of_slot(key_slot(keys.base(prefix).encode()))
    replica = cluster.replica_of(master)
    worker = Worker(cluster.url, prefix)
    adder = dq.connect(cluster.url, key_prefix=prefix)
    acknowledged: list[int] = []
    worker.start()
    try:
        for n in range(150):
            acknowledged.append(await add_until_acknowledged(adder, n))
            if n == 50:
                # The replica takes over once it has caught up with the master.
                await asyncio.to_thread(
                    subprocess.run,
                    ["redis-cli", "-p", str(replica), "CLUSTER", "FAILOVER"],
                    check=True,
                    capture_output=True,
                )

        async def done() -> bool:
            return await all_completed(adder, acknowledged)

        await eventually(done, timeout=60)
        assert set(worker.ran) >= set(acknowledged)
        assert cluster.master_of_slot(key_slot(keys.base(prefix).encode())) == replica
    finally:
        await worker.stop()
        await adder.close()


async def test_killed_master_loses_no_replicated_job(cluster: LocalCluster) -> None:
    prefix = f"k_{uuid.uuid4().hex[:8]}:"
    master = cluster.master_of_slot(key_slot(keys.base(prefix).encode()))
    replica = cluster.replica_of(master)
    worker = Worker(cluster.url, prefix)
    adder = dq.connect(cluster.url, key_prefix=prefix)
    worker.start()
    try:
        before = [await adder.add_job("t", {"n": n}) for n in range(60)]
        # "Where persistence keeps it": the replica has every add.
        await asyncio.to_thread(cluster.wait_replicated, master, replica)
        cluster.kill(master)
        after = [await add_until_acknowledged(adder, n) for n in range(60, 100)]
        acknowledged = before + after

        async def done() -> bool:
            return await all_completed(adder, acknowledged)

        await eventually(done, timeout=90)
        assert set(worker.ran) >= set(acknowledged)
        assert cluster.master_of_slot(key_slot(keys.base(prefix).encode())) == replica
    finally:
        await worker.stop()
        await adder.close()
