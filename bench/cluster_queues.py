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
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
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
        return [client.get_node_from_key(keys.base(p)).name for p in prefixes]
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


@contextmanager
def local_cluster() -> Iterator[str]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.redis_cluster import LocalCluster

    with tempfile.TemporaryDirectory() as folder:
        cluster = LocalCluster(Path(folder))
        cluster.start()
        try:
            yield cluster.url
        finally:
            cluster.stop()


def cell(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f} ({min(values):,.0f}-{max(values):,.0f})"


def sitting(cluster_url: str, counts: list[int], jobs: int, reps: int) -> None:
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
            single.append(measure(SINGLE_URL, names, jobs))
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
    parser.add_argument("--work", nargs=2, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.work:
        asyncio.run(work(*options.work))
        return
    counts = [int(n) for n in options.queues.split(",")]
    if options.cluster_url:
        sitting(options.cluster_url, counts, options.jobs, options.reps)
        return
    with local_cluster() as url:
        sitting(url, counts, options.jobs, options.reps)


if __name__ == "__main__":
    main()
