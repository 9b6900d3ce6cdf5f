"""Real `dataqueue worker` processes on every store: the cluster fixture."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

import dataqueue as dq
from tests.conftest import (
    PG_URL,
    PROCESS_STORES,
    REDIS_URL,
    drop_namespace,
    namespace,
    open_store,
)

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Cluster:
    queue: dq.JobQueue
    store_args: list[str]
    runs_dir: Path

    @contextmanager
    def worker(self, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
        env = {**os.environ, "DQ_TEST_RUNS_DIR": str(self.runs_dir)}
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
        command = [
            sys.executable,
            "-m",
            "dataqueue",
            "worker",
            "tests.worker_jobs:handlers",
            *self.store_args,
            *("--poll-interval", "0.2", "--log-level", "WARNING", *extra),
        ]
        log = self.runs_dir / f"worker-{len(list(self.runs_dir.glob('worker-*')))}.log"
        with open(log, "wb") as output:
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
            )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(30)

    def logs(self) -> str:
        return "".join(p.read_text() for p in self.runs_dir.glob("worker-*.log"))

    def runs(self, kind: str = "run") -> Counter[int]:
        counts: Counter[int] = Counter()
        for path in self.runs_dir.glob(f"{kind}-*.txt"):
            counts.update(int(line) for line in path.read_text().split())
        return counts


@pytest.fixture(params=PROCESS_STORES)
def store(request: pytest.FixtureRequest) -> str:
    """Commands run as their own processes: on the stores processes share."""
    return str(request.param)


@pytest.fixture
async def cluster(store: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    ns = namespace()
    queue = await open_store(store, tmp_path, None, ns)
    args = {
        "postgres": ["--url", PG_URL, "--schema", ns],
        "redis": ["--url", REDIS_URL, "--key-prefix", f"{ns}:"],
        "sqlite": ["--url", f"sqlite:///{tmp_path / (ns + '.db')}"],
    }[store]
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    try:
        yield Cluster(queue, args, runs_dir)
    finally:
        await queue.close()
        await drop_namespace(store, ns)


async def count_status(queue: dq.JobQueue, status: str) -> int:
    return len(await queue.get_jobs_by_status(status, limit=10_000))
