"""`dataqueue worker` as a real subprocess: exactly-once, crash safety, drain."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import dataqueue as dq
from tests.cli.conftest import ROOT, Cluster, count_status
from tests.conftest import eventually

pytestmark = pytest.mark.slow


async def test_four_workers_run_each_job_exactly_once(cluster: Cluster) -> None:
    total = 2000
    await cluster.queue.add_jobs([dq.JobSpec("count", {"n": n}) for n in range(total)])
    with (
        cluster.worker("--concurrency", "8", "--batch-size", "20") as w1,
        cluster.worker("--concurrency", "8", "--batch-size", "20") as w2,
        cluster.worker("--concurrency", "8", "--batch-size", "20") as w3,
        cluster.worker("--concurrency", "8", "--batch-size", "20") as w4,
    ):

        async def all_done() -> bool:
            return await count_status(cluster.queue, "completed") == total

        await eventually(all_done, timeout=120)
        for worker in (w1, w2, w3, w4):
            worker.send_signal(signal.SIGTERM)
        for worker in (w1, w2, w3, w4):
            assert worker.wait(30) == 0, cluster.logs()
    runs = cluster.runs()
    assert sorted(runs) == list(range(total))
    assert set(runs.values()) == {1}


async def test_job_of_a_killed_worker_is_reclaimed_and_completed(
    cluster: Cluster,
) -> None:
    job_id = await cluster.queue.add_job("hold", {"n": 7, "seconds": 60})
    with cluster.worker() as doomed:

        async def started() -> bool:
            return cluster.runs("start")[7] == 1

        await eventually(started, timeout=30)
        doomed.kill()
        doomed.wait(10)
    job = await cluster.queue.get_job(job_id)
    assert job is not None and job.status is dq.JobStatus.PROCESSING
    # The worker is gone; reclaim with a zero threshold instead of waiting.
    assert await cluster.queue.reclaim_stuck_jobs(0) == 1
    await cluster.queue.edit_job(job_id, payload={"n": 7, "seconds": 0})
    with cluster.worker() as rescuer:

        async def completed() -> bool:
            job = await cluster.queue.get_job(job_id)
            return job is not None and job.status is dq.JobStatus.COMPLETED

        await eventually(completed, timeout=30)
        rescuer.send_signal(signal.SIGTERM)
        assert rescuer.wait(30) == 0
    assert cluster.runs()[7] == 1


async def test_sigterm_drains_running_jobs_then_exits_zero(cluster: Cluster) -> None:
    ids = await cluster.queue.add_jobs(
        [dq.JobSpec("hold", {"n": n, "seconds": 0.5}) for n in range(3)]
    )
    with cluster.worker("--concurrency", "3") as worker:

        async def all_started() -> bool:
            return len(cluster.runs("start")) == 3

        await eventually(all_started, timeout=30)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
    assert await count_status(cluster.queue, "processing") == 0, cluster.logs()
    for job_id in ids:
        job = await cluster.queue.get_job(job_id)
        assert job is not None and job.output == "held"


POISON_OPTIONS = ("--stuck-minutes", "0.02", "--heartbeat-interval", "0.2")


async def outlive_the_poison(
    cluster: Cluster, poison: int, options: tuple[str, ...], completed: int
) -> None:
    """Start workers until the poison job (``die``) has failed for good, each
    killed by it; then one more, until ``completed`` jobs (one of them added
    now) are completed."""

    async def poison_failed() -> bool:
        job = await cluster.queue.get_job(poison)
        return job is not None and job.status is dq.JobStatus.FAILED

    for _ in range(4):
        with cluster.worker(*options) as worker:
            while worker.poll() is None and not await poison_failed():
                await asyncio.sleep(0.05)
            if await poison_failed():
                # Stopped, not killed: a kill could land between a job's run
                # and the write of its outcome, and that job would run again.
                worker.send_signal(signal.SIGTERM)
                assert worker.wait(30) == 0, cluster.logs()
                break
    with cluster.worker(*options) as worker:
        # A job added now proves this worker is up before it is signalled.
        await cluster.queue.add_job("count", {"n": completed})

        async def all_completed() -> bool:
            return await count_status(cluster.queue, "completed") == completed

        await eventually(all_completed, timeout=60)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0, cluster.logs()
    job = await cluster.queue.get_job(poison)
    assert job is not None
    assert (job.failure_reason, job.attempts) == (dq.FailureReason.WORKER_LOST, 2)
    assert cluster.runs("start")[0] == 2


async def test_a_job_that_kills_its_worker_fails_as_worker_lost_and_others_flow(
    cluster: Cluster,
) -> None:
    poison = await cluster.queue.add_job("die", {"n": 0}, priority=10, max_attempts=2)
    await cluster.queue.add_jobs([dq.JobSpec("count", {"n": n}) for n in range(1, 21)])
    await outlive_the_poison(
        cluster, poison, ("--concurrency", "1", *POISON_OPTIONS), completed=21
    )
    assert set(cluster.runs().values()) == {1} and len(cluster.runs()) == 21


async def test_jobs_running_beside_a_job_that_kills_its_worker_run_again_without_it(
    cluster: Cluster,
) -> None:
    """Three jobs run beside a poison job when it kills its worker
    (``os._exit``: no cleanup, no outcome, as kill -9). Reclaimed, each of
    the four then runs alone in the next worker: the three complete, and
    only the poison job ends worker_lost."""
    held = await cluster.queue.add_jobs(
        [dq.JobSpec("hold", {"n": n, "seconds": 0.3}, priority=10) for n in (1, 2, 3)]
    )
    poison = await cluster.queue.add_job("die", {"n": 0}, max_attempts=2)
    options = ("--concurrency", "4", "--batch-size", "4", *POISON_OPTIONS)
    await outlive_the_poison(cluster, poison, options, completed=4)
    # The first worker died with all four running (each had started); run
    # alone after it, each of the three ran once more and its outcome was
    # written before the poison job's second run killed that worker too.
    assert all(cluster.runs("start")[n] >= 1 for n in (1, 2, 3))
    assert [cluster.runs()[n] for n in (1, 2, 3)] == [1, 1, 1]
    for job_id in held:
        job = await cluster.queue.get_job(job_id)
        assert job is not None
        assert (job.status, job.attempts) == (dq.JobStatus.COMPLETED, 2)


async def test_sigterm_gives_back_what_does_not_finish_within_the_drain_timeout(
    cluster: Cluster,
) -> None:
    ids = await cluster.queue.add_jobs(
        [dq.JobSpec("hold", {"n": n, "seconds": 60}) for n in range(20)]
    )
    options = ("--concurrency", "2", "--batch-size", "20", "--drain-timeout", "0.5")
    with cluster.worker(*options) as worker:

        async def two_started() -> bool:
            return len(cluster.runs("start")) == 2

        await eventually(two_started, timeout=30)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0, cluster.logs()
    jobs = [await cluster.queue.get_job(i) for i in ids]
    assert {j.status for j in jobs if j} == {dq.JobStatus.PENDING}
    assert {j.attempts for j in jobs if j} == {0}


@pytest.mark.parametrize("store", ["sqlite"])
async def test_drain_timeout_exits_while_a_def_handler_still_runs(
    cluster: Cluster,
) -> None:
    job_id = await cluster.queue.add_job("hold_in_thread", {"n": 1, "seconds": 120})
    with cluster.worker("--drain-timeout", "0.5") as worker:

        async def started() -> bool:
            return cluster.runs("start")[1] == 1

        await eventually(started, timeout=30)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0, cluster.logs()
    job = await cluster.queue.get_job(job_id)
    assert job is not None
    assert (job.status, job.attempts) == (dq.JobStatus.PENDING, 0)


@pytest.mark.parametrize("store", ["sqlite"])
async def test_a_second_signal_exits_at_once(cluster: Cluster) -> None:
    job_id = await cluster.queue.add_job("hold", {"n": 1, "seconds": 120})
    options = ("--drain-timeout", "120", "--log-level", "INFO")
    with cluster.worker(*options) as worker:

        async def started() -> bool:
            return cluster.runs("start")[1] == 1

        async def draining() -> bool:
            return "draining running jobs" in cluster.logs()

        await eventually(started, timeout=30)
        worker.send_signal(signal.SIGINT)
        await eventually(draining, timeout=30)
        worker.send_signal(signal.SIGINT)
        assert worker.wait(30) == 1, cluster.logs()
    assert "second signal: exiting now" in cluster.logs()
    job = await cluster.queue.get_job(job_id)
    assert job is not None and job.status is dq.JobStatus.PROCESSING


async def test_the_worker_reads_the_store_url_from_an_env_file(
    tmp_path: Path,
) -> None:
    database = tmp_path / "jobs.db"
    async with dq.connect(f"sqlite:///{database}") as queue:
        job_id = await queue.add_job("count", {"n": 1})
    env_file = tmp_path / ".env"
    env_file.write_text(f"DATAQUEUE_URL=sqlite:///{database}\n")
    env = {k: v for k, v in os.environ.items() if "DATAQUEUE" not in k}
    env["PYTHONPATH"] = str(ROOT)
    env["DQ_TEST_RUNS_DIR"] = str(tmp_path)
    command = [
        sys.executable,
        "-m",
        "dataqueue",
        "worker",
        "tests.worker_jobs:handlers",
    ]
    worker = subprocess.Popen(
        [*command, "--env-file", str(env_file), "--poll-interval", "0.1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        async with dq.connect(f"sqlite:///{database}") as queue:

            async def done() -> bool:
                job = await queue.get_job(job_id)
                return job is not None and job.status is dq.JobStatus.COMPLETED

            await eventually(done, timeout=30)
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, output
    assert f"started on sqlite:///{database} (sqlite), concurrency 3" in output
