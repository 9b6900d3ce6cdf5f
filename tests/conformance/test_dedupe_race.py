"""Eight callers in four processes add with the same dedupe key at once:
every mode stays one job per key (the store's add is atomic)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

import dataqueue as dq
from tests.conftest import (
    PROCESS_STORES,
    drop_namespace,
    namespace,
    open_store,
    store_options,
)
from tests.dedupe_race import QUEUES_PER_PROCESS, race

pytestmark = pytest.mark.slow

PROCESSES = 4
ROUNDS = 40
CALLERS = PROCESSES * QUEUES_PER_PROCESS


@pytest.mark.parametrize("mode", ["until_done", "throttle", "debounce"])
@pytest.mark.parametrize("store", PROCESS_STORES)
async def test_concurrent_adds_with_one_key_make_one_job(
    store: str, mode: str, tmp_path: Path
) -> None:
    ns = namespace()
    queue = await open_store(store, tmp_path, None, ns)
    try:
        options = store_options(store, tmp_path, ns)
        context = multiprocessing.get_context("spawn")
        with context.Manager() as manager, context.Pool(PROCESSES) as pool:
            barrier = manager.Barrier(PROCESSES)
            results = pool.starmap(race, [(options, barrier, mode, ROUNDS)] * PROCESSES)

        jobs = await queue.get_all_jobs(100_000)
        assert len(jobs) == ROUNDS
        for n in range(ROUNDS):
            ids = {ids for process in results for ids in process[n]}
            assert len(ids) == 1, (n, ids)
            (job_id,) = ids
            job = await queue.get_job(job_id)
            assert job is not None and job.dedupe_key == f"round:{n}"
            events = [e.event_type for e in await queue.get_job_events(job_id)]
            debounced = events.count(dq.EventType.DEDUPLICATED)
            assert debounced == (CALLERS - 1 if mode == "debounce" else 0)
    finally:
        await queue.close()
        await drop_namespace(store, ns)
