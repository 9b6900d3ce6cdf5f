"""Stored limits obeyed by real `dataqueue worker` processes: the running
jobs are counted outside the store (files the handlers append to, under a
file lock), and a worker is killed outright."""

from __future__ import annotations

import signal
from itertools import accumulate
from pathlib import Path

import pytest

import dataqueue as dq
from tests.cli.conftest import Cluster, count_status
from tests.conftest import eventually

pytestmark = pytest.mark.slow


def most_running_at_once(runs_dir: Path) -> int:
    """The most ``limited`` jobs that ran at once over every worker: the
    running sum of the +1/-1 lines, all appended under one lock."""
    deltas = [int(line) for line in (runs_dir / "all.txt").read_text().split()]
    return max(accumulate(deltas))


async def test_three_workers_under_a_stored_limit_of_3_never_run_more_than_3(
    cluster: Cluster,
) -> None:
    await cluster.queue.set_limits("limited", concurrency=3)
    total = 24
    await cluster.queue.add_jobs(
        [dq.JobSpec("limited", {"n": n, "seconds": 0.2}) for n in range(total)]
    )
    options = ("--concurrency", "5", "--batch-size", "5")
    with (
        cluster.worker(*options) as w1,
        cluster.worker(*options) as w2,
        cluster.worker(*options) as w3,
    ):

        async def all_done() -> bool:
            return await count_status(cluster.queue, "completed") == total

        await eventually(all_done, timeout=120)
        for worker in (w1, w2, w3):
            worker.send_signal(signal.SIGTERM)
        for worker in (w1, w2, w3):
            assert worker.wait(30) == 0, cluster.logs()
    assert most_running_at_once(cluster.runs_dir) <= 3
    assert sorted(cluster.runs()) == list(range(total))


async def test_a_killed_workers_slots_come_back_when_its_jobs_are_reclaimed(
    cluster: Cluster,
) -> None:
    queue = cluster.queue
    await queue.set_limits("limited", concurrency=2)
    await queue.add_jobs(
        [
            dq.JobSpec("limited", {"n": n, "seconds": 60, "again_seconds": 0.1})
            for n in range(2)
        ]
    )
    with cluster.worker("--concurrency", "5") as doomed:

        async def both_started() -> bool:
            return len(cluster.runs("start")) == 2

        await eventually(both_started, timeout=30)
        doomed.kill()
        doomed.wait(10)
    await queue.add_jobs(
        [dq.JobSpec("limited", {"n": n, "seconds": 0.1}) for n in range(2, 6)]
    )
    with cluster.worker("--concurrency", "5") as rescuer:
        # A job of another type, added after the held ones: once it ran,
        # the rescuer has claimed past them.
        other = await queue.add_job("count", {"n": 100})

        async def claimed_past_the_held_jobs() -> bool:
            job = await queue.get_job(other)
            return job is not None and job.status is dq.JobStatus.COMPLETED

        await eventually(claimed_past_the_held_jobs, timeout=30)
        assert set(cluster.runs("start")) == {0, 1}, "no slot beyond the limit"
        # The reclaim threshold passes (a zero threshold instead of waiting):
        # the dead worker's two slots come back.
        assert await queue.reclaim_stuck_jobs(0) == 2

        async def all_done() -> bool:
            counts = await queue.count_jobs(job_type="limited")
            return counts[dq.JobStatus.COMPLETED] == 6

        await eventually(all_done, timeout=60)
        rescuer.send_signal(signal.SIGTERM)
        assert rescuer.wait(30) == 0, cluster.logs()
    assert sorted(cluster.runs()) == [*range(6), 100]


async def test_a_stored_rate_holds_across_workers(cluster: Cluster) -> None:
    """Over any stretch of the claims, at most ``count + rate * seconds``
    jobs started: the token bucket's bound (the claim times are the
    ``processing`` events the workers' own clocks stamped)."""
    queue = cluster.queue
    await queue.set_limits("count", rate=dq.Rate(5, per=1))
    total = 20
    ids = await queue.add_jobs([dq.JobSpec("count", {"n": n}) for n in range(total)])
    options = ("--concurrency", "5", "--batch-size", "5")
    with cluster.worker(*options) as w1, cluster.worker(*options) as w2:

        async def all_done() -> bool:
            return await count_status(queue, "completed") == total

        await eventually(all_done, timeout=60)
        for worker in (w1, w2):
            worker.send_signal(signal.SIGTERM)
        for worker in (w1, w2):
            assert worker.wait(30) == 0, cluster.logs()
    starts = []
    for job_id in ids:
        starts += [
            event.created_at
            for event in await queue.get_job_events(job_id)
            if event.event_type is dq.EventType.PROCESSING
        ]
    starts.sort()
    assert len(starts) == total
    for i, first in enumerate(starts):
        for j in range(i, total):
            seconds = (starts[j] - first).total_seconds()
            assert j - i + 1 <= 5 + 5 * seconds + 1e-6, (i, j, seconds)
