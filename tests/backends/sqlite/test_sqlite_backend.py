"""Behaviour only the SQLite store has: the file, db=, wake-ups, locking."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from sqlite_helpers import NOW, claim, claim_one, new_job

from dataqueue.backends.sqlite import SqliteBackend, connection
from dataqueue.backends.sqlite import listener as listener_module
from dataqueue.backends.sqlite.connection import LATEST_MIGRATION
from dataqueue.errors import (
    BackendError,
    NotMigratedError,
    StoreRefusedError,
    StoreUnavailableError,
)


async def test_open_creates_the_schema_and_migrate_is_idempotent(
    backend: SqliteBackend, path: str
) -> None:
    await backend.migrate()
    await backend.migrate()

    conn = sqlite3.connect(path)
    try:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        tables = {
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table'"
            )
        }
    finally:
        conn.close()
    assert version == LATEST_MIGRATION
    assert {
        "job_queue",
        "job_events",
        "job_tags",
        "waitpoints",
        "cron_schedules",
        "flows",
        "flow_steps",
        "workers",
    } <= tables


async def test_memory_database_lives_as_long_as_the_backend() -> None:
    store = SqliteBackend(":memory:")
    try:
        (job_id,) = await store.add_jobs([new_job()], now=NOW)
        job = await store.get_job(job_id)
        assert job is not None
        assert job.job_type == "task"
    finally:
        await store.close()


async def test_times_keep_microseconds(backend: SqliteBackend) -> None:
    run_at = NOW + timedelta(microseconds=123457)
    (job_id,) = await backend.add_jobs([new_job(run_at=run_at)], now=NOW)

    job = await backend.get_job(job_id)
    assert job is not None
    assert job.run_at == run_at
    assert job.run_at.utcoffset() == timedelta(0)


async def test_concurrent_adds_with_one_idempotency_key_make_one_job(
    path: str,
) -> None:
    stores = [SqliteBackend(path) for _ in range(5)]
    try:
        results = await asyncio.gather(
            *(
                stores[i % len(stores)].add_jobs(
                    [new_job(idempotency_key="once")], now=NOW
                )
                for i in range(50)
            )
        )
        ids = {job_id for (job_id,) in results}
        assert len(ids) == 1
        (job_id,) = ids
        events = await stores[0].get_job_events(job_id)
        assert [e.event_type for e in events] == ["added"]
        conn = sqlite3.connect(path)
        try:
            (count,) = conn.execute("SELECT count(*) FROM job_queue").fetchone()
        finally:
            conn.close()
        assert count == 1
    finally:
        for store in stores:
            await store.close()


async def test_db_commit_keeps_the_job_and_its_event(
    backend: SqliteBackend, path: str
) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
        conn.execute("INSERT INTO orders DEFAULT VALUES")
        (job_id,) = await backend.add_jobs([new_job()], now=NOW, db=conn)
        assert await backend.get_job(job_id) is None, "not visible before commit"
        conn.commit()
    finally:
        conn.close()

    assert await backend.get_job(job_id) is not None
    events = await backend.get_job_events(job_id)
    assert [e.event_type for e in events] == ["added"]


async def test_db_rollback_leaves_neither_job_nor_event(
    backend: SqliteBackend, path: str
) -> None:
    conn = sqlite3.connect(path)
    try:
        (job_id,) = await backend.add_jobs([new_job()], now=NOW, db=conn)
        conn.rollback()
    finally:
        conn.close()

    assert await backend.get_job(job_id) is None
    assert await backend.get_job_events(job_id) == []


async def test_db_of_another_kind_raises_naming_its_type(
    backend: SqliteBackend,
) -> None:
    with pytest.raises(BackendError, match=r"builtins\.dict"):
        await backend.add_jobs([new_job()], now=NOW, db={})


async def test_db_connected_to_another_file_is_refused(
    backend: SqliteBackend, tmp_path: Path
) -> None:
    conn = sqlite3.connect(tmp_path / "other.db")
    try:
        with pytest.raises(BackendError, match="not to"):
            await backend.add_jobs([new_job()], now=NOW, db=conn)
    finally:
        conn.close()


async def test_subscriber_is_woken_by_an_add_from_another_backend(
    backend: SqliteBackend, path: str
) -> None:
    other = SqliteBackend(path)
    wakeup = await backend.subscribe()
    try:
        await other.open()
        await asyncio.sleep(0.2)  # let the listener read the starting state
        assert not await wakeup.wait(0)
        await other.add_jobs([new_job()], now=NOW)
        assert await wakeup.wait(5)
    finally:
        await wakeup.close()
        await other.close()


async def test_subscriber_is_not_woken_by_writes_that_add_nothing(
    backend: SqliteBackend, path: str
) -> None:
    other = SqliteBackend(path)
    await backend.add_jobs([new_job()], now=NOW)
    lease, _ = await claim_one(backend)
    wakeup = await backend.subscribe()
    try:
        await asyncio.sleep(0.2)
        assert await other.set_progress(lease, 50, now=NOW)
        assert not await wakeup.wait(1.5)
    finally:
        await wakeup.close()
        await other.close()


async def test_in_process_add_wakes_a_subscriber(backend: SqliteBackend) -> None:
    wakeup = await backend.subscribe()
    try:
        await backend.add_jobs([new_job()], now=NOW)
        assert await wakeup.wait(1)
    finally:
        await wakeup.close()


async def test_a_write_waits_for_another_connections_lock(
    backend: SqliteBackend, path: str
) -> None:
    locked = threading.Event()

    def hold_write_lock() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        locked.set()
        time.sleep(0.5)
        conn.execute("COMMIT")
        conn.close()

    holder = threading.Thread(target=hold_write_lock)
    holder.start()
    try:
        await asyncio.to_thread(locked.wait)
        started = time.monotonic()
        (job_id,) = await backend.add_jobs([new_job()], now=NOW)
        assert time.monotonic() - started > 0.3
        assert await backend.get_job(job_id) is not None
    finally:
        await asyncio.to_thread(holder.join)


async def test_claim_returns_jobs_in_claim_order(backend: SqliteBackend) -> None:
    ids = await backend.add_jobs(
        [
            new_job(priority=1, run_at=NOW - timedelta(seconds=1)),
            new_job(priority=5, run_at=NOW),
            new_job(priority=1, run_at=NOW - timedelta(seconds=2)),
            new_job(priority=5, run_at=NOW - timedelta(seconds=1)),
        ],
        now=NOW,
    )

    _, claimed = await claim(backend)

    assert [job.id for job in claimed] == [ids[3], ids[1], ids[2], ids[0]]


async def test_db_from_another_thread_raises_backend_error(
    backend: SqliteBackend, path: str
) -> None:
    # The connection is opened and closed on one thread of its own, so only
    # the store's use of it crosses threads.
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=1) as owner:
        conn = await loop.run_in_executor(owner, sqlite3.connect, path)
        try:
            with pytest.raises(BackendError, match="check_same_thread"):
                await backend.add_jobs([new_job()], now=NOW, db=conn)
        finally:
            await loop.run_in_executor(owner, conn.close)


async def test_a_db_add_wakes_a_subscriber_once_the_caller_commits(
    backend: SqliteBackend, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only the doorbell and the watch it starts can wake the subscriber.
    monkeypatch.setattr(listener_module, "SAFETY_POLL_SECONDS", 60.0)
    wakeup = await backend.subscribe()
    conn = sqlite3.connect(path)
    try:
        await asyncio.sleep(0.2)
        backend.add_jobs_sync([new_job()], now=NOW, db=conn)
        await asyncio.sleep(0.1)
        assert not await wakeup.wait(0), "nothing to claim before the commit"
        conn.commit()
        assert await wakeup.wait(5)
    finally:
        conn.close()
        await wakeup.close()


def test_add_jobs_sync_runs_on_the_callers_own_connection_and_thread(
    path: str,
) -> None:
    store = SqliteBackend(path)
    conn = sqlite3.connect(path)  # an ordinary connection: check_same_thread on
    try:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
        # Outside a transaction, a file not yet migrated is migrated first.
        (first,) = store.add_jobs_sync([new_job()], now=NOW, db=conn)
        conn.commit()
        with conn:
            conn.execute("INSERT INTO orders DEFAULT VALUES")
            ids = store.add_jobs_sync([new_job(), new_job()], now=NOW, db=conn)
        (count,) = conn.execute(
            "SELECT count(*) FROM job_events WHERE event_type = 'added'"
        ).fetchone()
    finally:
        conn.close()
        asyncio.run(store.close())
    assert ids == [first + 1, first + 2]
    assert count == 3


def test_add_jobs_sync_inside_a_transaction_on_an_unmigrated_file_says_so(
    path: str,
) -> None:
    store = SqliteBackend(path)
    conn = sqlite3.connect(path)
    try:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
        conn.execute("INSERT INTO orders DEFAULT VALUES")
        with pytest.raises(NotMigratedError, match="migrate"):
            store.add_jobs_sync([new_job()], now=NOW, db=conn)
    finally:
        conn.close()
        asyncio.run(store.close())


async def test_a_doorbell_left_by_a_dead_process_is_removed_by_the_next_add(
    backend: SqliteBackend, path: str
) -> None:
    folder = path + "-wakeup"
    os.makedirs(folder)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dead.bind(os.path.join(folder, "999999-dead.sock"))
    dead.close()  # as a killed process leaves it: the file stays, nobody reads

    await backend.add_jobs([new_job()], now=NOW)

    assert os.listdir(folder) == []


async def test_a_deep_database_path_still_gets_a_doorbell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listener_module, "SAFETY_POLL_SECONDS", 60.0)
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    path = str(deep / "jobs.db")
    listener, adder = SqliteBackend(path), SqliteBackend(path)
    wakeup = await listener.subscribe()
    try:
        await adder.open()
        await asyncio.sleep(0.2)
        await adder.add_jobs([new_job()], now=NOW)
        assert await wakeup.wait(5)
    finally:
        await wakeup.close()
        await listener.close()
        await adder.close()


async def test_a_folder_that_does_not_exist_is_a_refusal(tmp_path: Path) -> None:
    store = SqliteBackend(str(tmp_path / "missing" / "jobs.db"))
    try:
        with pytest.raises(StoreRefusedError, match="missing"):
            await store.open()
    finally:
        await store.close()


async def test_a_file_that_is_not_a_database_is_a_refusal(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database, but long enough to have a header" * 100)
    store = SqliteBackend(str(path))
    try:
        with pytest.raises(StoreRefusedError, match=r"notes\.txt"):
            await store.open()
    finally:
        await store.close()


async def test_a_write_lock_held_past_every_retry_is_unavailable(
    backend: SqliteBackend, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection, "BUSY_TIMEOUT_MS", 10)
    monkeypatch.setattr(connection, "BUSY_RETRIES", 1)
    impatient = SqliteBackend(path)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailableError, match="locked"):
            await impatient.add_jobs([new_job()], now=NOW)
        holder.execute("ROLLBACK")
        (job_id,) = await impatient.add_jobs([new_job()], now=NOW)
        assert await backend.get_job(job_id) is not None
    finally:
        holder.close()
        await impatient.close()
