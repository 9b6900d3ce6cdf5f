"""job_updates on its own, with the blocking queue of dq.connect_sync():
its reads run off the loop, and it follows the job as with an async one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import dataqueue as dq
from dataqueue.web import job_updates
from tests.conftest import drop_namespace, namespace, open_store, store_options


@pytest.fixture
async def sync_queue(store: str, tmp_path: Path) -> AsyncIterator[dq.SyncJobQueue]:
    ns = namespace()
    await (await open_store(store, tmp_path, None, ns)).close()  # migrated
    queue = dq.connect_sync(**store_options(store, tmp_path, ns))
    try:
        yield queue
    finally:
        await asyncio.to_thread(queue.close)
        await drop_namespace(store, ns)


async def test_updates_of_a_blocking_queue_follow_a_job_to_its_end(
    sync_queue: dq.SyncJobQueue,
) -> None:
    job_id = await asyncio.to_thread(sync_queue.add_job, "report", None)
    updates = job_updates(sync_queue, job_id, poll_interval=0.02)
    first = await anext(updates)
    await asyncio.to_thread(sync_queue.cancel_job, job_id)
    rest = [job async for job in updates]

    assert (first.id, first.status) == (job_id, dq.JobStatus.PENDING)
    assert [job.status for job in rest] == [dq.JobStatus.CANCELLED]


async def test_updates_of_a_job_that_does_not_exist_end_at_once(
    sync_queue: dq.SyncJobQueue,
) -> None:
    assert [job async for job in job_updates(sync_queue, 987654)] == []
