"""Eight callers in four processes race to enqueue the same due times."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import dataqueue as dq
from dataqueue.cron import next_run_after
from tests.conftest import (
    PROCESS_STORES,
    FakeClock,
    drop_namespace,
    namespace,
    open_store,
    store_options,
)
from tests.cron_race import race

pytestmark = pytest.mark.slow

PROCESSES = 4
TICKS = 500
START = datetime(2030, 3, 1, tzinfo=UTC)
# 16 schedules that may overlap (every due time must have exactly one job)
# and 4 that may not (their first job stays pending, so they enqueue once).
OVERLAPPING = ["* * * * *"] * 10 + ["*/2 * * * *"] * 3 + ["*/5 * * * *"] * 3
EXCLUSIVE = ["* * * * *"] * 4


def due_times(expression: str) -> list[datetime]:
    times, run = [], START
    while True:
        run = next_run_after(expression, ZoneInfo("UTC"), run)
        if run > START + timedelta(minutes=TICKS):
            return times
        times.append(run)


@pytest.mark.parametrize("store", PROCESS_STORES)
async def test_one_job_per_schedule_and_due_time(store: str, tmp_path: Path) -> None:
    ns = namespace()
    queue = await open_store(store, tmp_path, FakeClock(START), ns)
    try:
        overlapping = [
            await queue.add_cron_job(f"o{i}", expr, "a", {}, allow_overlap=True)
            for i, expr in enumerate(OVERLAPPING)
        ]
        exclusive = [
            await queue.add_cron_job(f"x{i}", expr, "a", {})
            for i, expr in enumerate(EXCLUSIVE)
        ]
        options = store_options(store, tmp_path, ns)
        context = multiprocessing.get_context("spawn")
        with context.Manager() as manager, context.Pool(PROCESSES) as pool:
            barrier = manager.Barrier(PROCESSES)
            enqueued = pool.starmap(
                race, [(options, barrier, START, TICKS)] * PROCESSES
            )

        jobs = await queue.get_all_jobs(100_000)
        assert sum(enqueued) == len(jobs)
        assert sum(1 for n in enqueued if n) > 1, "the processes should interleave"
        pairs = Counter((job.cron_job_id, job.cron_due_at) for job in jobs)
        assert set(pairs.values()) == {1}
        for cron_id, expression in zip(overlapping, OVERLAPPING, strict=True):
            runs = sorted(due for (owner, due) in pairs if owner == cron_id)
            assert runs == due_times(expression), cron_id
        for cron_id in exclusive:
            assert [due for (owner, due) in pairs if owner == cron_id] == [
                START + timedelta(minutes=1)
            ]
            schedule = await queue.get_cron_job(cron_id)
            assert schedule is not None
            assert schedule.skipped_runs == TICKS - 1
        assert all(job.status is dq.JobStatus.PENDING for job in jobs)
    finally:
        await queue.close()
        await drop_namespace(store, ns)
