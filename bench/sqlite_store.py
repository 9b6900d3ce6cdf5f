"""The SQLite store on its own, below the processor: how fast it settles and
claims, how soon another process hears of an add, and what waiting costs.

    .venv/bin/python bench/sqlite_store.py [--jobs 20000] [--batch 10]

* settle+claim: one ``settle_and_claim`` per batch, completing the previous
  batch and claiming the next, as a worker at full speed does.
* wake-up: a listener process subscribes; a writer process adds one job at a
  time; the time from just before the add to the listener waking (p50, p95).
* idle CPU: the listener's CPU time (user + system) while it waits 5 s with
  nothing added.
* enqueue -> start: a whole worker (``dq.connect(...).create_processor``) in
  another process; the time from just before ``add_job`` to the handler
  starting (p50, p95).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

from dataqueue._commands import ClaimRequest, Completion, Lease, NewJob
from dataqueue.backends.sqlite import SqliteBackend
from dataqueue.models import JobRecord

NOW = datetime(2030, 1, 1, tzinfo=UTC)
WAKE_SAMPLES = 50
IDLE_SECONDS = 5.0


def new_job() -> NewJob:
    return NewJob(
        job_type="noop",
        payload={"n": 1},
        priority=0,
        run_at=None,
        max_attempts=3,
        timeout=None,
        force_kill_on_timeout=False,
        tags=[],
        idempotency_key=None,
        retry_delay=None,
        retry_backoff=None,
        retry_delay_max=None,
    )


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def settle_and_claim_rate(
    path: str, jobs: int, batch: int
) -> tuple[float, float]:
    """(jobs/s, CPU seconds per job, both threads): CPU time stays put when
    other programs load the machine, elapsed time does not."""
    store = SqliteBackend(path)
    try:
        for _ in range(0, jobs, 1000):
            await store.add_jobs([new_job() for _ in range(1000)], now=NOW)
        done = 0
        outcomes: list[Completion] = []
        started, cpu = time.perf_counter(), cpu_seconds()
        while True:
            token = secrets.token_hex(16)
            exchange = await store.settle_and_claim(
                outcomes, ClaimRequest("bench", token, batch), now=NOW
            )
            done += len(outcomes)
            if not exchange.claimed:
                break
            outcomes = [
                Completion(Lease(job.id, token), None, {})
                for job in exchange.claimed
                if isinstance(job, JobRecord)
            ]
        elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        return done / elapsed, cpu / done
    finally:
        await store.close()


def listener(path: str, pipe: Connection) -> None:
    async def run() -> None:
        store = SqliteBackend(path)
        await store.open()
        wakeup = await store.subscribe()
        await asyncio.sleep(0.2)  # the listener reads the starting state
        before = resource.getrusage(resource.RUSAGE_SELF)
        await wakeup.wait(IDLE_SECONDS)
        after = resource.getrusage(resource.RUSAGE_SELF)
        idle = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        delays = []
        for _ in range(WAKE_SAMPLES):
            pipe.send("go")
            assert await wakeup.wait(5), "no wake-up within 5 s"
            woke = time.monotonic()
            added = pipe.recv()
            delays.append(woke - added)
            await asyncio.sleep(0.01)
        pipe.send(("done", idle, delays))
        await wakeup.close()
        await store.close()

    asyncio.run(run())


def writer(path: str, pipe: Connection) -> None:
    async def run() -> None:
        store = SqliteBackend(path)
        await store.open()
        while await asyncio.to_thread(pipe.recv) == "go":
            added = time.monotonic()
            await store.add_jobs([new_job()], now=NOW)
            pipe.send(added)
        await store.close()

    asyncio.run(run())


async def migrate(path: str) -> None:
    store = SqliteBackend(path)
    try:
        await store.migrate()
    finally:
        await store.close()


def wake_latency(path: str) -> tuple[float, float, float]:
    """(p50 s, p95 s, idle CPU s per s) for a listener in another process."""
    context = multiprocessing.get_context("spawn")
    to_listener, listener_end = context.Pipe()
    to_writer, writer_end = context.Pipe()
    processes = [
        context.Process(target=listener, args=(path, listener_end)),
        context.Process(target=writer, args=(path, writer_end)),
    ]
    for process in processes:
        process.start()
    while True:
        message: Any = to_listener.recv()
        if message == "go":
            to_writer.send("go")
            to_listener.send(to_writer.recv())
        else:
            break
    to_writer.send("stop")
    for process in processes:
        process.join()
    _, idle, delays = message
    delays.sort()
    p95 = delays[int(len(delays) * 0.95) - 1]
    return statistics.median(delays), p95, idle / IDLE_SECONDS


def start_latency_worker(url: str, started: Any, ready: Any, stop: Any) -> None:
    import dataqueue as dq

    def record(payload: dict[str, float]) -> None:
        started.put(time.monotonic() - payload["t"])

    async def run() -> None:
        queue = dq.connect(url)
        processor = queue.create_processor({"mark": record}, poll_interval=5)
        processor.start_in_background()
        ready.set()
        await asyncio.to_thread(stop.wait)
        await processor.stop_and_drain(timeout=5)
        await queue.close()

    asyncio.run(run())


def start_latency(path: str) -> tuple[float, float]:
    """(p50 s, p95 s) from add_job to the handler starting in another process."""
    import dataqueue as dq

    url = f"sqlite:///{path}"
    context = multiprocessing.get_context("spawn")
    started, ready, stop = context.Queue(), context.Event(), context.Event()
    worker = context.Process(
        target=start_latency_worker, args=(url, started, ready, stop)
    )
    worker.start()
    delays = []
    with dq.connect_sync(url) as queue:
        ready.wait(30)
        time.sleep(0.5)  # the worker is idle, waiting
        for _ in range(WAKE_SAMPLES):
            queue.add_job("mark", {"t": time.monotonic()})
            delays.append(started.get(timeout=10))
            time.sleep(0.02)
    stop.set()
    worker.join(10)
    delays.sort()
    return statistics.median(delays), delays[int(len(delays) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        rate, cpu = asyncio.run(
            settle_and_claim_rate(
                os.path.join(folder, "rate.db"), args.jobs, args.batch
            )
        )
        print(
            f"settle+claim, batch {args.batch}: {rate:,.0f} jobs/s, "
            f"{cpu * 1e6:.0f} us CPU per job"
        )
        path = os.path.join(folder, "wake.db")
        asyncio.run(migrate(path))
        p50, p95, idle = wake_latency(path)
        print(
            f"wake-up, another process: p50 {p50 * 1000:.2f} ms, "
            f"p95 {p95 * 1000:.2f} ms"
        )
        print(f"idle listener CPU: {idle * 100:.2f} % of a core")
        p50, p95 = start_latency(os.path.join(folder, "start.db"))
        print(
            f"enqueue -> start, worker in another process: p50 {p50 * 1000:.2f} ms, "
            f"p95 {p95 * 1000:.2f} ms"
        )


if __name__ == "__main__":
    main()
