"""What stored limits cost, per store, as ratios from one sitting.

1. ``open``: one processor (concurrency 10, batch 10) works through
   ``--jobs`` no-op jobs of one type with no limits, then with a
   concurrency limit that never binds (1,000): the ratio limited / open is
   what a limited type pays for its gated claim.
2. ``binding``: ``--jobs`` no-op jobs of type ``fast`` run by one
   processor, alone, then while a second processor (same process, same
   store) works on no-op jobs of type ``capped`` under a stored rate of
   ``CAPPED_RATE`` a second, which binds: ``capped`` should start at that
   rate while ``fast`` keeps the speed it had alone (the capped processor
   sleeps until its next token instead of claiming in a loop).

3. ``--rate-window SECONDS`` (alone): two processors share a type under a
   stored ``rate`` of ``WINDOW_RATE`` a second; once the bucket's first
   burst is spent, the jobs started over the window (by their
   ``processing`` events) divided by its length.

Runs alternate (open, limited, open, limited, ...) so that a busy machine
slows both sides alike; the medians are reported.

    .venv/bin/python bench/limits.py [--jobs 2000] [--reps 3]
        [--stores memory,sqlite,postgres,redis]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from typing import Any

from throughput import drop, store_options  # bench/throughput.py, beside this file

import dataqueue as dq

CAPPED_RATE = 50
WINDOW_RATE = 20


async def noop(payload: Any) -> None:
    return None


def connect(store: str, folder: str) -> tuple[dq.JobQueue, dict[str, Any]]:
    if store == "memory":
        return dq.connect("memory://"), {}
    options = store_options(store, folder)
    return dq.connect(**options), options


async def until_done(queue: dq.JobQueue, job_type: str, total: int) -> float:
    """Seconds until every job of ``job_type`` completed (polled)."""
    started = time.perf_counter()
    while True:
        counts = await queue.count_jobs(job_type=job_type)
        if counts[dq.JobStatus.COMPLETED] >= total:
            return time.perf_counter() - started
        await asyncio.sleep(0.01)


async def open_run(store: str, folder: str, jobs: int, limited: bool) -> float:
    """Jobs a second of one processor on one type, with or without a
    concurrency limit that never binds."""
    queue, options = connect(store, folder)
    try:
        await queue.migrate()
        if limited:
            await queue.set_limits("noop", concurrency=1000)
        for offset in range(0, jobs, 500):
            count = min(500, jobs - offset)
            await queue.add_jobs([dq.JobSpec("noop", {"n": n}) for n in range(count)])
        processor = queue.create_processor(
            {"noop": noop}, batch_size=10, concurrency=10, poll_interval=1
        )
        processor.start_in_background()
        seconds = await until_done(queue, "noop", jobs)
        await processor.stop_and_drain(10)
        return jobs / seconds
    finally:
        await queue.close()
        if options:
            await drop(store, options)


async def binding_run(
    store: str, folder: str, jobs: int, with_capped: bool
) -> tuple[float, float]:
    """(fast jobs a second, capped jobs started a second while fast ran)."""
    queue, options = connect(store, folder)
    try:
        await queue.migrate()
        await queue.set_limits("capped", rate=dq.Rate(CAPPED_RATE, per=1))
        specs = [dq.JobSpec("fast", {"n": n}) for n in range(jobs)]
        if with_capped:
            specs += [dq.JobSpec("capped", {"n": n}) for n in range(jobs)]
        for offset in range(0, len(specs), 500):
            await queue.add_jobs(specs[offset : offset + 500])
        options_ = {"batch_size": 10, "concurrency": 10, "poll_interval": 1}
        fast = queue.create_processor({"fast": noop}, **options_)
        capped = queue.create_processor({"capped": noop}, **options_)
        if with_capped:
            capped.start_in_background()
            # Measured once the bucket's first burst is spent: then the rate.
            await until_done(queue, "capped", CAPPED_RATE + 1)
        started = time.perf_counter()
        capped_before = (await queue.count_jobs(job_type="capped"))[
            dq.JobStatus.COMPLETED
        ]
        fast.start_in_background()
        await until_done(queue, "fast", jobs)
        seconds = time.perf_counter() - started
        capped_after = (await queue.count_jobs(job_type="capped"))[
            dq.JobStatus.COMPLETED
        ]
        await fast.stop_and_drain(10)
        if with_capped:
            await capped.stop_and_drain(10)
        return jobs / seconds, (capped_after - capped_before) / seconds
    finally:
        await queue.close()
        if options:
            await drop(store, options)


async def rate_window(store: str, folder: str, seconds: float) -> float:
    """Jobs started a second over ``seconds`` under a rate of WINDOW_RATE,
    by two processors, counted from their ``processing`` events."""
    queue, options = connect(store, folder)
    try:
        await queue.migrate()
        await queue.set_limits("metered", rate=dq.Rate(WINDOW_RATE, per=1))
        total = int(WINDOW_RATE * (seconds + 5)) + WINDOW_RATE
        for offset in range(0, total, 500):
            count = min(500, total - offset)
            await queue.add_jobs([dq.JobSpec("metered") for _ in range(count)])
        workers = [
            queue.create_processor({"metered": noop}, concurrency=10, poll_interval=1)
            for _ in range(2)
        ]
        for worker in workers:
            worker.start_in_background()
        await until_done(queue, "metered", WINDOW_RATE)  # the burst is spent
        start = dq.SystemClock().now()
        await asyncio.sleep(seconds)
        end = dq.SystemClock().now()
        for worker in workers:
            await worker.stop_and_drain(10)
        started = 0
        for job in await queue.get_jobs(job_type="metered", limit=total):
            events = await queue.get_job_events(job.id)
            started += sum(
                event.event_type is dq.EventType.PROCESSING
                and start <= event.created_at < end
                for event in events
            )
        return started / seconds
    finally:
        await queue.close()
        if options:
            await drop(store, options)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--stores", default="memory,sqlite,postgres,redis")
    parser.add_argument("--rate-window", type=float, default=0.0)
    args = parser.parse_args()
    if args.rate_window:
        print(
            f"| store | started/s over {args.rate_window:g} s (rate {WINDOW_RATE}/s) |"
        )
        print("|---|---|")
        with tempfile.TemporaryDirectory() as folder:
            for store in args.stores.split(","):
                rate = await rate_window(store, folder, args.rate_window)
                print(f"| {store} | {rate:.2f} |")
        return
    print(
        "| store | open jobs/s | non-binding limit jobs/s | ratio | fast alone/s "
        f"| fast beside capped/s | ratio | capped jobs/s (rate {CAPPED_RATE}/s) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for store in args.stores.split(","):
            opened, limited, alone, beside, slow_rate = [], [], [], [], []
            for _ in range(args.reps):
                opened.append(await open_run(store, folder, args.jobs, False))
                limited.append(await open_run(store, folder, args.jobs, True))
                alone.append((await binding_run(store, folder, args.jobs, False))[0])
                fast, started = await binding_run(store, folder, args.jobs, True)
                beside.append(fast)
                slow_rate.append(started)
            o, lim = statistics.median(opened), statistics.median(limited)
            a, b = statistics.median(alone), statistics.median(beside)
            print(
                f"| {store} | {o:,.0f} | {lim:,.0f} | {lim / o:.2f} | {a:,.0f} "
                f"| {b:,.0f} | {b / a:.2f} | {statistics.median(slow_rate):,.0f} |"
            )


if __name__ == "__main__":
    asyncio.run(main())
