"""Prerequisites finish in several processes at once: every dependent is
released exactly when its last prerequisite completes, never left held
(the store releases it in the atomic step of that completion)."""

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
from tests.dependency_race import work

pytestmark = pytest.mark.slow

PROCESSES = 3
DEPENDENTS = 30


@pytest.mark.parametrize("store", PROCESS_STORES)
async def test_dependents_of_prerequisites_finishing_at_once_all_run(
    store: str, tmp_path: Path
) -> None:
    ns = namespace()
    queue = await open_store(store, tmp_path, None, ns)
    try:
        for n in range(DEPENDENTS):
            await queue.add_jobs(
                [
                    dq.JobSpec("prerequisite", {"n": n}, tags=[f"wave:{n}"]),
                    dq.JobSpec("prerequisite", {"n": n}, tags=[f"wave:{n}"]),
                    dq.JobSpec(
                        "dependent",
                        {"n": n},
                        depends_on={
                            "job_ids": [dq.batch_ref(0), dq.batch_ref(1)],
                            "tags": [f"wave:{n}"],
                        },
                    ),
                ]
            )
        options = store_options(store, tmp_path, ns)
        context = multiprocessing.get_context("spawn")
        with context.Manager() as manager, context.Pool(PROCESSES) as pool:
            barrier = manager.Barrier(PROCESSES)
            ran = pool.starmap(work, [(options, barrier, DEPENDENTS)] * PROCESSES)

        assert sum(ran) == 3 * DEPENDENTS
        assert sum(1 for n in ran if n) > 1, "the processes should share the work"
        jobs = await queue.get_all_jobs(1000)
        assert {job.status for job in jobs} == {dq.JobStatus.COMPLETED}
        for job in jobs:
            if job.job_type != "dependent":
                continue
            log = await queue.get_job_events(job.id)
            events = [e.event_type.value for e in log]
            assert events == ["added", "held", "released", "processing", "completed"]
            # it was claimed after both prerequisites completed: event ids
            # follow the order of the writes (one counter, or one sequence)
            claimed = next(e.id for e in log if e.event_type == "processing")
            for prerequisite in job.depends_on_job_ids or []:
                done = [
                    e.id
                    for e in await queue.get_job_events(prerequisite)
                    if e.event_type == "completed"
                ]
                assert done and done[0] < claimed
    finally:
        await queue.close()
        await drop_namespace(store, ns)
