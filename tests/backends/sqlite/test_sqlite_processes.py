"""Several worker processes sharing one SQLite file."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sqlite3
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlite_helpers import (
    NOW,
    add_one_when_told,
    claim_until_empty,
    new_job,
    open_and_add,
)

from dataqueue.backends.sqlite import SqliteBackend
from dataqueue.backends.sqlite import listener as listener_module
from dataqueue.backends.sqlite.connection import LATEST_MIGRATION

pytestmark = pytest.mark.slow

PROCESSES = 4


async def test_every_job_is_claimed_exactly_once_across_processes(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "jobs.db")
    backend = SqliteBackend(path)
    ids = await backend.add_jobs([new_job() for _ in range(500)], now=NOW)
    await backend.close()

    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(PROCESSES) as pool:
        start = manager.Barrier(PROCESSES)
        results = pool.starmap(
            claim_until_empty,
            [(path, f"worker-{i}", start) for i in range(PROCESSES)],
        )

    counts = Counter(job_id for claimed in results for job_id in claimed)
    assert sorted(counts) == ids
    assert set(counts.values()) == {1}
    assert sum(1 for claimed in results if claimed) > 1, "claims should interleave"

    backend = SqliteBackend(path)
    try:
        for job_id in ids[:: len(ids) // 10]:
            events = await backend.get_job_events(job_id)
            assert [e.event_type for e in events] == ["added", "processing"]
    finally:
        await backend.close()


def test_processes_opening_a_new_file_at_once_migrate_it_once(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "fresh.db")
    with multiprocessing.get_context("spawn").Pool(PROCESSES) as pool:
        ids = pool.starmap(open_and_add, [(path, f"t{i}") for i in range(PROCESSES)])

    assert sorted(ids) == [1, 2, 3, 4]
    with sqlite3.connect(path) as conn:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        (journal,) = conn.execute("PRAGMA journal_mode").fetchone()
    conn.close()
    assert version == LATEST_MIGRATION
    assert journal == "wal"


async def test_an_add_in_another_process_wakes_a_listener_within_milliseconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only the doorbell can wake the listener: the file poll is pushed away.
    monkeypatch.setattr(listener_module, "SAFETY_POLL_SECONDS", 60.0)
    path = str(tmp_path / "jobs.db")
    listener = SqliteBackend(path)
    await listener.open()
    wakeup = await listener.subscribe()
    context = multiprocessing.get_context("spawn")
    go, added = context.Event(), context.Queue()
    writer = context.Process(target=add_one_when_told, args=(path, go, added))
    writer.start()
    try:
        await asyncio.sleep(0.2)  # the listener rings its doorbell from now on
        assert not await wakeup.wait(0)
        go.set()
        assert await wakeup.wait(10)
        woke = time.monotonic()
        started = await asyncio.to_thread(added.get, timeout=10)
        # Generous for a loaded machine; typically well under a millisecond.
        assert woke - started < 0.5
    finally:
        await asyncio.to_thread(writer.join, 10)
        await wakeup.close()
        await listener.close()
    assert writer.exitcode == 0
    assert os.listdir(path + "-wakeup") == [], "the doorbell is removed on close"
