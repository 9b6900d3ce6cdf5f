"""Aggregate throughput of 1, 2 and 4 queues on a Redis Cluster, beside the
same queues on one Redis server.

Each queue (one ``key_prefix``, so one slot) is filled with ``--jobs`` no-op
jobs, then drained by its own worker process (``concurrency`` 20, batch 50);
the time runs from the first worker connected until the last one found its
queue empty, and every queue's completed count is checked in the store. On the
cluster the queues' prefixes are picked so that they land on different
masters (the fourth shares one of the three).

    .venv/bin/python bench/cluster_queues.py [--jobs 4000] [--queues 1,2,4] [--reps 3]

Without ``--cluster-url`` it starts a local cluster (3 masters, 3 replicas,
``redis-server`` on loopback, as the tests do) and stops it at the end. The
single server is ``$BENCH_REDIS_URL`` (default ``redis://127.0.0.1:6379/14``);
its keys of the benchmark's prefixes are deleted after each run.

``--node-cpu 0.25`` gives every node of the local cluster a quarter of a core
(a Linux cgroup's CPU quota; needs root), as a managed service's small nodes
have, so that the nodes and not the worker processes bound the rate on a
machine with few cores. The single server is then a ``redis-server`` of the
script's own, on a free loopback port, with the same quota and the cluster
nodes' persistence (``appendonly yes``), stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from redis.asyncio.cluster import RedisCluster

import dataqueue as dq
from dataqueue.backends.redis import keys
from dataqueue.backends.redis.connection import cluster_client

SINGLE_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
FILL_BATCH = 1000
CONCURRENCY = 20
BATCH = 50


async def noop(payload: Any) -> None:
    return None


async def work(url: str, prefix: str) -> None:
    """One worker process: drain the queue, then print when it started
    (connected) and ended, as wall-clock seconds."""
    queue = dq.connect(url, key_prefix=prefix)
    try:
        await queue.open()
        processor = queue.create_processor(
            {"noop": noop}, concurrency=CONCURRENCY, batch_size=BATCH
        )
        started = time.time()
        while await processor.start():
            pass
        print(started, time.time())
    finally:
        await queue.close()


async def masters_of(url: str, prefixes: list[str]) -> list[str]:
    client = cluster_client(url, max_connections=2, options={})
    try:
        await client.initialize()
        masters = [client.get_node_from_key(keys.base(p)) for p in prefixes]
        if None in masters:
            raise RuntimeError("a prefix's slot has no master: is the cluster up?")
        return [master.name for master in masters if master is not None]
    finally:
        await client.aclose()


async def spread_prefixes(url: str, count: int) -> list[str]:
    """``count`` fresh prefixes, on as many different masters as there are."""
    run = uuid.uuid4().hex[:6]
    candidates = [f"b{run}_{n}:" for n in range(64)]
    by_master: dict[str, list[str]] = {}
    for prefix, master in zip(
        candidates, await masters_of(url, candidates), strict=True
    ):
        by_master.setdefault(master, []).append(prefix)
    picked: list[str] = []
    while len(picked) < count:
        for group in by_master.values():
            if group and len(picked) < count:
                picked.append(group.pop())
    return picked


async def node_cpu(url: str) -> dict[str, float]:
    """CPU seconds each master (or the one server) has used so far."""
    queue = dq.connect(url)
    client = queue.get_redis_client()
    try:
        if isinstance(client, RedisCluster):
            info = await client.info("cpu", target_nodes=RedisCluster.PRIMARIES)
        else:
            info = {"server": await client.info("cpu")}
        return {
            node: float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])
            for node, cpu in info.items()
        }
    finally:
        await queue.close()


async def fill(url: str, prefix: str, jobs: int) -> None:
    queue = dq.connect(url, key_prefix=prefix)
    try:
        for first in range(0, jobs, FILL_BATCH):
            size = min(FILL_BATCH, jobs - first)
            await queue.add_jobs([dq.JobSpec("noop", {}) for _ in range(size)])
    finally:
        await queue.close()


async def completed(url: str, prefix: str) -> int:
    queue = dq.connect(url, key_prefix=prefix)
    try:
        return (await queue.count_jobs())[dq.JobStatus.COMPLETED]
    finally:
        await queue.close()


async def drop(url: str, prefix: str) -> None:
    queue = dq.connect(url, key_prefix=prefix)
    client = queue.get_redis_client()
    try:
        found = [k async for k in client.scan_iter(match=keys.pattern(prefix))]
        for first in range(0, len(found), 1000):
            await client.unlink(*found[first : first + 1000])
    finally:
        await queue.close()


def measure(url: str, prefixes: list[str], jobs: int) -> tuple[float, float]:
    """Aggregate jobs/s of one worker process per queue, and the busiest
    Redis node's CPU milliseconds per 1,000 jobs of the whole run."""
    for prefix in prefixes:
        asyncio.run(fill(url, prefix, jobs))
    cpu_before = asyncio.run(node_cpu(url))
    workers = [
        subprocess.Popen(
            [sys.executable, __file__, "--work", url, prefix],
            stdout=subprocess.PIPE,
            text=True,
        )
        for prefix in prefixes
    ]
    spans = []
    for worker in workers:
        out, _ = worker.communicate()
        if worker.returncode != 0:
            raise RuntimeError(f"a worker exited with {worker.returncode}")
        spans.append([float(t) for t in out.split()])
    # From the first worker ready to the last one done: interpreter start-up
    # and connecting are left out.
    elapsed = max(end for _, end in spans) - min(start for start, _ in spans)
    cpu_after = asyncio.run(node_cpu(url))
    busiest = max(cpu_after[node] - cpu_before[node] for node in cpu_after)
    for prefix in prefixes:
        done = asyncio.run(completed(url, prefix))
        if done != jobs:
            raise RuntimeError(f"{prefix}: {done} of {jobs} jobs completed")
        asyncio.run(drop(url, prefix))
    total = len(prefixes) * jobs
    return total / elapsed, busiest * 1000 / (total / 1000)


CGROUP_V1_CPU = Path("/sys/fs/cgroup/cpu")
CGROUP_V2 = Path("/sys/fs/cgroup")
CFS_PERIOD_US = 100_000


@contextmanager
def cpu_quota(pid: int, cores: float) -> Iterator[None]:
    """Hold process ``pid`` to ``cores`` of CPU time (0.25: a quarter of one
    core) in a cgroup of its own, removed on leaving."""
    name = f"dataqueue-bench-{pid}"
    quota = int(cores * CFS_PERIOD_US)
    if (CGROUP_V2 / "cgroup.subtree_control").exists():
        root = CGROUP_V2
        group = root / name
        group.mkdir()
        (group / "cpu.max").write_text(f"{quota} {CFS_PERIOD_US}")
    elif CGROUP_V1_CPU.is_dir():
        root = CGROUP_V1_CPU
        group = root / name
        group.mkdir()
        (group / "cpu.cfs_period_us").write_text(str(CFS_PERIOD_US))
        (group / "cpu.cfs_quota_us").write_text(str(quota))
    else:
        raise SystemExit("--node-cpu needs a writable cgroup CPU controller")
    try:
        (group / "cgroup.procs").write_text(str(pid))
        yield
    finally:
        # A process still running goes back to the root group, uncapped.
        for left in (group / "cgroup.procs").read_text().split():
            with contextlib.suppress(ProcessLookupError):
                (root / "cgroup.procs").write_text(left)
        group.rmdir()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def capped_server(folder: Path, cores: float) -> Iterator[str]:
    """A redis-server of this script's own, persisted as the cluster's
    nodes are, held to ``cores`` of CPU."""
    port = _free_port()
    server = subprocess.Popen(
        [
            *("redis-server", "--bind", "127.0.0.1", "--port", str(port)),
            *("--dir", str(folder), "--appendonly", "yes", "--save", ""),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        with cpu_quota(server.pid, cores):
            url = f"redis://127.0.0.1:{port}/0"
            deadline = time.monotonic() + 20
            while not asyncio.run(answers(url)):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server on port {port} did not start")
                time.sleep(0.1)
            try:
                yield url
            finally:
                server.terminate()
                server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


async def answers(url: str) -> bool:
    queue = dq.connect(url)
    try:
        return bool(await queue.get_redis_client().ping())
    except Exception:  # not up yet
        return False
    finally:
        await queue.close()


@contextmanager
def local_cluster(node_cpu: float | None) -> Iterator[tuple[str, str]]:
    """The local cluster's URL and the single server's to compare it with."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.redis_cluster import LocalCluster

    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        cluster = LocalCluster(Path(folder))
        cluster.start()
        stack.callback(cluster.stop)
        single = SINGLE_URL
        if node_cpu is not None:
            for process in cluster.processes.values():
                stack.enter_context(cpu_quota(process.pid, node_cpu))
            own = Path(folder) / "single"
            own.mkdir()
            single = stack.enter_context(capped_server(own, node_cpu))
        yield cluster.url, single


def cell(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f} ({min(values):,.0f}-{max(values):,.0f})"


def sitting(
    cluster_url: str, single_url: str, counts: list[int], jobs: int, reps: int
) -> None:
    print(
        f"{jobs} no-op jobs per queue, one worker process per queue; "
        f"median (min-max) of {reps}",
        flush=True,
    )
    print(
        "| queues | masters used | cluster jobs/s | one server jobs/s "
        "| cluster: busiest node CPU ms / 1k jobs | one server: CPU ms / 1k jobs |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: |", flush=True)
    for count in counts:
        cluster: list[tuple[float, float]] = []
        single: list[tuple[float, float]] = []
        for _ in range(reps):
            prefixes = asyncio.run(spread_prefixes(cluster_url, count))
            used = len(set(asyncio.run(masters_of(cluster_url, prefixes))))
            cluster.append(measure(cluster_url, prefixes, jobs))
            names = [f"b{uuid.uuid4().hex[:6]}_{n}:" for n in range(count)]
            single.append(measure(single_url, names, jobs))
        print(
            f"| {count} | {used} "
            f"| {cell([r for r, _ in cluster])} | {cell([r for r, _ in single])} "
            f"| {cell([c for _, c in cluster])} | {cell([c for _, c in single])} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=4000, help="jobs per queue")
    parser.add_argument("--queues", default="1,2,4")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--cluster-url", help="redis+cluster://host:port,...")
    parser.add_argument(
        "--node-cpu",
        type=float,
        help="cores each local node may use (cgroup quota), e.g. 0.25",
    )
    parser.add_argument("--work", nargs=2, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.work:
        asyncio.run(work(*options.work))
        return
    counts = [int(n) for n in options.queues.split(",")]
    if options.cluster_url:
        if options.node_cpu is not None:
            parser.error("--node-cpu caps the nodes of the local cluster only")
        sitting(options.cluster_url, SINGLE_URL, counts, options.jobs, options.reps)
        return
    with local_cluster(options.node_cpu) as (url, single_url):
        sitting(url, single_url, counts, options.jobs, options.reps)


if __name__ == "__main__":
    main()
