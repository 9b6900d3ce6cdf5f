"""A worker's exchange on the event loop: it runs there only while the write
lock is free at once; a busy file sends it to the store's thread, which
waits for the lock without holding up the loop; checkpoints stay on the
thread."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sqlite_helpers import NOW, claim, new_job

from dataqueue._commands import Completion, Lease
from dataqueue.backends.sqlite import SqliteBackend, connection
from dataqueue.models import JobRecord, JobStatus


async def test_an_exchange_waits_in_the_thread_while_another_connection_writes(
    backend: SqliteBackend, path: str
) -> None:
    ids = await backend.add_jobs([new_job() for _ in range(4)], now=NOW)
    token, first = await claim(backend, limit=2)  # the loop's connection opens
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        outcomes = [
            Completion(Lease(job.id, token), None, {})
            for job in first
            if isinstance(job, JobRecord)
        ]
        exchange = asyncio.create_task(claim(backend, limit=2, outcomes=outcomes))
        loop = asyncio.get_running_loop()
        started = loop.time()
        for _ in range(5):
            await asyncio.sleep(0.01)
        # The loop went on meanwhile: a wait for the lock on the loop would
        # have held it for the whole busy timeout.
        assert loop.time() - started < connection.BUSY_TIMEOUT_MS / 1000
        assert not exchange.done(), "the exchange waits for the other writer"
        other.execute("COMMIT")
        _, second = await exchange
    finally:
        other.close()
    assert [job.id for job in first + second] == ids
    for job_id in ids[:2]:
        job = await backend.get_job(job_id)
        assert job is not None and job.status is JobStatus.COMPLETED


async def test_exchanges_on_the_loop_leave_checkpoints_to_the_thread(
    backend: SqliteBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoints: list[sqlite3.Connection] = []
    monkeypatch.setattr(connection, "CHECKPOINT_EVERY", 2)
    monkeypatch.setattr(connection, "checkpoint", checkpoints.append)
    await backend.add_jobs([new_job() for _ in range(5)], now=NOW)
    for _ in range(5):
        await claim(backend, limit=1)
    # The thread runs its calls in order: once this read is back, every
    # checkpoint handed to it before has run.
    await backend.get_job(1)
    assert len(checkpoints) == 2
    assert all(conn is backend._db._conn for conn in checkpoints)
