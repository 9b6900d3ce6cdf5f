"""Wake-ups across processes on one SQLite file: doorbells (``doorbell.py``)
wake listeners at once; the file is still polled, slowly, for writers that
ring no doorbell."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from dataqueue.backends.sqlite import doorbell
from dataqueue.backends.sqlite.connection import (
    BUSY_TIMEOUT_MS,
    SQL,
)

logger = logging.getLogger("dataqueue")

T = TypeVar("T")

# Without doorbells (no Unix sockets) the poll is all there is.
SAFETY_POLL_SECONDS = 1.0
FALLBACK_POLL_SECONDS = 0.05
# After a db= add, the job appears when the caller commits: watch closely
# for that long.
PENDING_POLL_SECONDS = 0.002
PENDING_WATCH_SECONDS = 5.0


def data_version(conn: sqlite3.Connection) -> int:
    """A number that changes whenever another connection commits."""
    (version,) = conn.execute("PRAGMA data_version").fetchone()
    return int(version)


def open_doorbell(path: str, *, finished: bool) -> doorbell.Doorbell | None:
    """This process's doorbell beside ``path``; None (poll instead) where
    there can be none."""
    if not doorbell.supported():
        return None
    try:
        return doorbell.Doorbell(path, finished=finished)
    except OSError as error:
        logger.warning("no wake-up socket beside %r (%s); polling instead", path, error)
        return None


class FileReader:
    """A listener's own connection to the file, on its own thread: one
    thread owns it, so closing it on cancellation can never overlap a read
    still running."""

    def __init__(self, path: str, thread_name: str) -> None:
        self._path = path
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread_name)
        self._conn: sqlite3.Connection | None = None

    async def run(self, op: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._call, op)

    def _call(self, op: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            self._conn = sqlite3.connect(
                self._path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
            )
        return op(self._conn)

    def close(self) -> None:
        self._thread.submit(self._disconnect)
        self._thread.shutdown(wait=False)

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


async def listen_added(
    path: str, ringer: doorbell.Ringer, notify: Callable[[], None]
) -> None:
    """Notify when another connection adds a job.

    A doorbell wakes us as soon as another backend commits an add; the
    file's ``data_version`` (which changes on every commit by another
    connection) and its highest job id tell whether jobs were added by a
    writer that rang nothing, or by a ``db=`` caller that has committed
    since ringing.
    """
    loop = asyncio.get_running_loop()
    bell = open_doorbell(path, finished=False)
    reader = FileReader(path, "dataqueue-wakeup")

    def read_state(conn: sqlite3.Connection) -> tuple[int, int]:
        (last_id,) = conn.execute(SQL["subscribe.last_job_id"]).fetchone()
        return data_version(conn), int(last_id)

    try:
        if bell is not None:
            ringer.own = bell.name
        idle_poll = FALLBACK_POLL_SECONDS if bell is None else SAFETY_POLL_SECONDS
        version, last_id = await reader.run(read_state)
        watch_until = 0.0
        rung = False  # a doorbell rang since the last read
        while True:
            watching = loop.time() < watch_until
            timeout = PENDING_POLL_SECONDS if watching else idle_poll
            if bell is None:
                await asyncio.sleep(timeout)
                message = None
            else:
                message = await bell.receive(timeout)
            if message == doorbell.ADDED:
                # The bell says it all: no read, so a busy adder costs
                # this process one receive per wake-up.
                notify()
                rung = True
                continue
            if message == doorbell.PENDING:
                watch_until = loop.time() + PENDING_WATCH_SECONDS
            seen, newest = await reader.run(read_state)
            if seen != version and newest != last_id:
                # Maybe a job already announced (harmless: the claim
                # finds nothing new), maybe one nobody announced.
                notify()
                if not rung:  # then it was the commit being watched for
                    watch_until = 0.0
            version, last_id, rung = seen, newest, False
    finally:
        if bell is not None:
            ringer.own = None
            bell.close()
        reader.close()


async def listen_finished(
    path: str, ringer: doorbell.Ringer, notify: Callable[[], None]
) -> None:
    """Notify when another connection may have made a job final.

    Every call that makes jobs final rings the doorbells of
    ``finished/``, so the file is polled only as a safety net (a ring
    lost, or no doorbells at all): any commit by another connection
    (``data_version``) then wakes the waiters, who read their jobs again.
    """
    bell = open_doorbell(path, finished=True)
    reader = FileReader(path, "dataqueue-finished")
    try:
        if bell is not None:
            ringer.own = bell.name
        idle_poll = FALLBACK_POLL_SECONDS if bell is None else SAFETY_POLL_SECONDS
        version = await reader.run(data_version)
        # A job may have become final before the doorbell was bound and
        # the version read: let the waiters look once.
        notify()
        while True:
            if bell is None:
                await asyncio.sleep(idle_poll)
            elif await bell.receive(idle_poll) is not None:
                notify()
                continue
            seen = await reader.run(data_version)
            if seen != version:
                notify()
                version = seen
    finally:
        if bell is not None:
            ringer.own = None
            bell.close()
        reader.close()
