"""A SQLite worker process's CPU and memory per job, for any tree's python.

Only the public API is used (``dq.connect``, ``add_jobs``,
``create_processor``), so the same file runs against an older tree's venv:

    /path/to/tree/.venv/bin/python bench/sqlite_worker.py [--jobs 20000]
        [--batch 10] [--concurrency 10] [--reps 1]

Per run: ``--jobs`` no-op jobs are added 1,000 a call (this process's CPU per
job is the ``add_jobs`` figure), the file is checkpointed, and a worker
process (``create_processor(...).run()``, the interpreter running this file)
drains them while this process polls the file every 50 ms, as the peer
harness does. Printed: jobs/s from the worker's spawn to the last job done,
the worker's CPU µs per job (utime + stime of /proc/<pid>/stat, read while it
runs) and its peak resident memory (VmHWM).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

from cpu import own_cpu, peak_memory_mib, process_cpu  # beside this file

import dataqueue as dq

BULK = 1000
POLL_SECONDS = 0.05
UNFINISHED = (
    "SELECT count(*) FROM job_queue WHERE status IN ('pending','processing','waiting')"
)
WORKER = """
import asyncio, signal, sys
import dataqueue as dq

async def noop(payload):
    return None

async def main(path, batch, concurrency):
    queue = dq.connect("sqlite:///" + path)
    processor = queue.create_processor(
        {"noop": noop}, batch_size=batch, concurrency=concurrency
    )
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, processor.stop)
    try:
        await processor.run()
    finally:
        await queue.close()

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
"""


async def fill(path: str, jobs: int) -> float:
    """Add ``jobs`` no-op jobs; this process's CPU seconds per job."""
    queue = dq.connect(f"sqlite:///{path}")
    try:
        await queue.migrate()
        batches = [
            [dq.JobSpec("noop", {"n": n}) for n in range(start, start + BULK)]
            for start in range(0, jobs, BULK)
        ]
        before = own_cpu()
        for batch in batches:
            await queue.add_jobs(batch)
        return (own_cpu() - before) / jobs
    finally:
        await queue.close()


def drain(
    path: str, jobs: int, batch: int, concurrency: int
) -> tuple[float, float, float]:
    """(jobs/s, worker CPU seconds per job, worker peak MiB)."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        started = time.perf_counter()
        worker = subprocess.Popen(
            [sys.executable, "-c", WORKER, path, str(batch), str(concurrency)]
        )
        try:
            while True:
                # Read while the worker lives: /proc forgets it once reaped.
                cpu, peak = process_cpu(worker.pid), peak_memory_mib(worker.pid)
                if db.execute(UNFINISHED).fetchone()[0] == 0:
                    break
                if worker.poll() is not None:
                    raise RuntimeError(f"the worker exited ({worker.returncode})")
                time.sleep(POLL_SECONDS)
            elapsed = time.perf_counter() - started
        finally:
            worker.terminate()
            worker.wait(30)
    finally:
        db.close()
    return jobs / elapsed, cpu / jobs, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--reps", type=int, default=1)
    args = parser.parse_args()
    for _ in range(args.reps):
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "jobs.db")
            add_cpu = asyncio.run(fill(path, args.jobs))
            rate, cpu, peak = drain(path, args.jobs, args.batch, args.concurrency)
        print(
            f"process {rate:,.0f} jobs/s, worker {cpu * 1e6:.0f} µs CPU a job, "
            f"peak {peak:.1f} MiB; add_jobs {add_cpu * 1e6:.1f} µs CPU a job; "
            f"load {os.getloadavg()[0]:.2f}"
        )


if __name__ == "__main__":
    main()
