"""SyncJobQueue: the whole API from plain sync code, on every store."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

import dataqueue as dq
from tests.conftest import FakeClock, drop_namespace, namespace, store_options


@pytest.fixture
def sync_queue(store: str, tmp_path: Path) -> Iterator[dq.SyncJobQueue]:
    ns = namespace()
    queue = dq.connect_sync(**store_options(store, tmp_path, ns), clock=FakeClock())
    queue.migrate()
    try:
        yield queue
    finally:
        queue.close()
        asyncio.run(drop_namespace(store, ns))


def test_sync_queue_adds_reads_and_processes(sync_queue: dq.SyncJobQueue) -> None:
    job_id = sync_queue.add_job("email", {"to": "a@x.com"}, tags=["t"])
    assert sync_queue.get_jobs_by_tags(["t"])[0].id == job_id
    processor = sync_queue.create_processor({"email": lambda p: p["to"]})
    assert processor.start() == 1
    job = sync_queue.get_job(job_id)
    assert job is not None
    assert (job.status, job.output) == (dq.JobStatus.COMPLETED, "a@x.com")
    assert [e.event_type for e in sync_queue.get_job_events(job_id)][-1] == "completed"


def test_sync_queue_works_from_many_request_threads(
    sync_queue: dq.SyncJobQueue,
) -> None:
    ids: list[int] = []
    lock = threading.Lock()

    def request(n: int) -> None:
        job_id = sync_queue.add_job("view", {"n": n})
        with lock:
            ids.append(job_id)

    threads = [threading.Thread(target=request, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 20
    assert len(sync_queue.get_all_jobs()) == 20


async def test_sync_queue_leaves_the_callers_loop_alone(
    sync_queue: dq.SyncJobQueue,
) -> None:
    # Called from inside a running loop (as a sync view under ASGI would be):
    # the call blocks this thread but runs on the queue's own loop.
    loop = asyncio.get_running_loop()
    job_id = sync_queue.add_job("a", {})
    assert sync_queue.get_job(job_id) is not None
    assert asyncio.get_running_loop() is loop


def test_sync_bad_input_raises_the_same_errors(sync_queue: dq.SyncJobQueue) -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        sync_queue.add_job("a", {}, max_attempts=0)
    assert sync_queue.get_all_jobs() == []


def test_sync_add_job_uses_an_ordinary_sqlite_connection_in_its_transaction(
    tmp_path: Path,
) -> None:
    path = tmp_path / "jobs.db"
    queue = dq.connect_sync(f"sqlite:///{path}")
    try:
        queue.open()
        conn = sqlite3.connect(path)
        with conn:
            conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
        conn.execute("INSERT INTO orders DEFAULT VALUES")
        kept = queue.add_job("ship", {"order": 1}, db=conn)
        conn.commit()
        conn.execute("INSERT INTO orders DEFAULT VALUES")
        dropped = queue.add_jobs([dq.JobSpec("ship", {"order": 2})], db=conn)[0]
        conn.rollback()
        conn.close()
        job = queue.get_job(kept)
        assert job is not None and job.payload == {"order": 1}
        assert queue.get_job(dropped) is None
    finally:
        queue.close()


def test_sync_stop_and_drain_takes_a_timedelta(tmp_path: Path) -> None:
    queue = dq.connect_sync(f"sqlite:///{tmp_path / 'jobs.db'}")
    try:
        processor = queue.create_processor({}, poll_interval=30)
        processor.start_in_background()
        processor.stop_and_drain(timedelta(seconds=5))
        assert not processor.is_running()
    finally:
        queue.close()
