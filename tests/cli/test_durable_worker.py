"""Durable steps survive a worker killed between two steps (real processes)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import dataqueue as dq
from tests.conftest import (
    PG_URL,
    REDIS_URL,
    drop_namespace,
    eventually,
    namespace,
    open_store,
)

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def runs(folder: Path, kind: str) -> Counter[int]:
    counts: Counter[int] = Counter()
    for path in folder.glob(f"{kind}-*.txt"):
        counts.update(int(line) for line in path.read_text().split())
    return counts


async def test_a_step_finished_before_a_crash_is_replayed_not_repeated(
    store: str, tmp_path: Path
) -> None:
    ns = namespace()
    queue = await open_store(store, tmp_path, None, ns)
    store_args = {
        "postgres": ["--url", PG_URL, "--schema", ns],
        "redis": ["--url", REDIS_URL, "--key-prefix", f"{ns}:"],
        "sqlite": ["--url", f"sqlite:///{tmp_path / (ns + '.db')}"],
    }[store]
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    env = {**os.environ, "DQ_TEST_RUNS_DIR": str(runs_dir)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    command = [
        sys.executable,
        *("-m", "dataqueue", "worker", "tests.durable_jobs:handlers"),
        *store_args,
        *("--poll-interval", "0.2", "--log-level", "WARNING"),
        *("--concurrency", "1", "--batch-size", "1"),
    ]
    try:
        job_ids = await queue.add_jobs(
            [dq.JobSpec("two_steps", {"n": n}) for n in range(3)]
        )
        # Each job kills the worker that runs it, after its first step.
        for _ in job_ids:
            doomed = subprocess.Popen(command, cwd=ROOT, env=env)
            assert doomed.wait(20) == 1, sorted(p.name for p in runs_dir.iterdir())
        processing = await queue.get_jobs(status="processing")
        assert sorted(j.id for j in processing) == job_ids
        assert await queue.reclaim_stuck_jobs(0) == len(job_ids)
        rescuer = subprocess.Popen(command, cwd=ROOT, env=env)
        try:

            async def all_done() -> bool:
                done = await queue.get_jobs(status="completed")
                return len(done) == len(job_ids)

            await eventually(all_done, timeout=60)
        finally:
            rescuer.kill()
            rescuer.wait(30)
        for job_id in job_ids:
            job = await queue.get_job(job_id)
            assert job is not None and job.output == ["charged", "shipped"]
            assert job.attempts == 2
        assert runs(runs_dir, "first") == Counter({0: 1, 1: 1, 2: 1})
        assert runs(runs_dir, "second") == Counter({0: 1, 1: 1, 2: 1})
    finally:
        await queue.close()
        await drop_namespace(store, ns)
