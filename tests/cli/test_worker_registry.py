"""The worker registry across real `dataqueue worker` processes: both are
listed with their pids and jobs; one killed with SIGKILL is removed by a
supervisor once silent; one stopped with SIGTERM unregisters itself."""

from __future__ import annotations

import signal

import pytest

import dataqueue as dq
from tests.cli.conftest import Cluster
from tests.conftest import eventually

pytestmark = pytest.mark.slow


async def test_two_workers_are_listed_and_a_killed_one_is_removed(
    cluster: Cluster,
) -> None:
    queue = cluster.queue
    options = ("--heartbeat-interval", "0.2", "--no-supervisor")
    with (
        cluster.worker(*options, "--worker-id", "alpha") as alpha,
        cluster.worker(*options, "--worker-id", "beta") as beta,
    ):

        async def both_listed() -> bool:
            return len(await queue.list_workers()) == 2

        await eventually(both_listed, timeout=30)
        workers = {w.id: w for w in await queue.list_workers()}
        assert {name: w.pid for name, w in workers.items()} == {
            "alpha": alpha.pid,
            "beta": beta.pid,
        }
        assert {w.concurrency for w in workers.values()} == {3}

        job_id = await queue.add_job("hold", {"n": 1, "seconds": 60})

        async def held() -> bool:
            return any(job_id in w.running_job_ids for w in await queue.list_workers())

        await eventually(held, timeout=30)
        (holder,) = [w for w in await queue.list_workers() if w.running_job_ids]
        doomed, survivor = (alpha, beta) if holder.id == "alpha" else (beta, alpha)
        doomed.kill()  # SIGKILL: no chance to unregister
        doomed.wait(10)
        assert len(await queue.list_workers()) == 2

        supervisor = queue.create_supervisor(dead_worker_timeout=1)

        async def only_survivor_left() -> bool:
            await supervisor.start()
            return [w.pid for w in await queue.list_workers()] == [survivor.pid]

        await eventually(only_survivor_left, timeout=30)
        job = await queue.get_job(job_id)
        assert job is not None and job.status is dq.JobStatus.PROCESSING

        survivor.send_signal(signal.SIGTERM)
        assert survivor.wait(30) == 0, cluster.logs()
    assert await queue.list_workers() == []
