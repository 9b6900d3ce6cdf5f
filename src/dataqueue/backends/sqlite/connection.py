"""The SQLite store's one connection to its file, on one thread: opening
(WAL, pragmas, migrations), BEGIN IMMEDIATE transactions retried while the
file is busy, and SQLite errors turned into the store's errors."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, LiteralString, TypeVar

from dataqueue.backends._files import load_dir
from dataqueue.errors import (
    BackendError,
    NotMigratedError,
    StoreRefusedError,
    StoreUnavailableError,
)

logger = logging.getLogger("dataqueue")

T = TypeVar("T")


def with_job_filter(statements: dict[str, str]) -> dict[str, str]:
    """The statements with ``{job_filter}`` replaced by the conditions they
    share (``get_jobs.filter.sql``, without its comment)."""
    fragment = "\n".join(
        line
        for line in statements["get_jobs.filter"].splitlines()
        if not line.startswith("--")
    )
    return {
        name: text.replace("{job_filter}", fragment)
        for name, text in statements.items()
    }


SQL = with_job_filter(load_dir("dataqueue.backends.sqlite", "sql", ".sql"))
MIGRATIONS = load_dir("dataqueue.backends.sqlite", "migrations", ".sql")
# user_version is the number in the newest applied file's name (0003_cron.sql
# is 3): what a file's number means never depends on which others exist.
MIGRATION_NUMBERS = sorted((int(name.split("_", 1)[0]), name) for name in MIGRATIONS)
LATEST_MIGRATION = MIGRATION_NUMBERS[-1][0]

MEMORY = ":memory:"
BUSY_TIMEOUT_MS = 5000
# busy_timeout already waits 5 s per attempt; these retries cover the cases
# where SQLite returns SQLITE_BUSY without waiting (e.g. during a checkpoint).
BUSY_RETRIES = 20
BUSY_RETRY_DELAY = 0.05
STATEMENT_CACHE = 256
MMAP_BYTES = 256 * 1024 * 1024
JOURNAL_LIMIT_BYTES = 64 * 1024 * 1024
# The loop's own connection never checkpoints when it commits (a checkpoint
# copies the log into the file and syncs it): the store's thread runs a
# passive checkpoint after every this many of its commits.
CHECKPOINT_EVERY = 64


def split_statements(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending)
            pending = ""
    return statements


def is_busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


# The file is held by another writer past every retry, or the disk failed or
# filled up: the same call may work later.
UNAVAILABLE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_PROTOCOL,
    }
)


# The file cannot be opened, written or read as a database: retrying will not
# help until someone fixes the path, its permissions or the file.
REFUSED_CODES = frozenset(
    {
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PERM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_NOTADB,
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_AUTH,
    }
)


def store_error(operation: str, path: str, error: sqlite3.Error) -> BackendError:
    """The dataqueue error for a failed SQLite call: unavailable (transient),
    refused (permanent), or a plain BackendError."""
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    if code in UNAVAILABLE_CODES:
        return StoreUnavailableError(
            f"SQLite database {path!r} is unavailable: {error}"
        )
    if code in REFUSED_CODES:
        return StoreRefusedError(f"SQLite database {path!r} cannot be used: {error}")
    return BackendError(f"sqlite {operation} failed on {path!r}: {error}")


def transaction(conn: sqlite3.Connection, op: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``op`` in one BEGIN IMMEDIATE transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = op(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


def write(conn: sqlite3.Connection, op: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``op`` in one BEGIN IMMEDIATE transaction, retried while busy."""
    return retry_busy(lambda: transaction(conn, op))


def checkpoint(conn: sqlite3.Connection) -> None:
    """Copy what the log holds into the file, waiting for no one."""
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def log_checkpoint_failure(done: Future[None]) -> None:
    error = None if done.cancelled() else done.exception()
    if error is not None:
        logger.warning("sqlite: a checkpoint failed (the next one retries): %s", error)


def retry_busy(op: Callable[[], T]) -> T:
    for _ in range(BUSY_RETRIES):
        try:
            return op()
        except sqlite3.OperationalError as error:
            if not is_busy(error):
                raise
        time.sleep(BUSY_RETRY_DELAY)
    return op()


class Connection:
    """The store's connection to ``path``, opened on first use and owned by
    one thread: every operation runs there, one hop per call; except a
    worker's exchange and a one-job add (``write_op(..., on_loop=True)``),
    which run on the event loop when the file's write lock is free at once.

    Args:
        path: A filesystem path, or ``":memory:"``.
        verbose: Log every store operation at DEBUG.
    """

    def __init__(self, path: str, *, verbose: bool = False) -> None:
        self._path = path
        self._verbose = verbose
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._migrated_on_connect: list[str] = []
        # The event loop's connection, which never waits for the lock, and
        # the thread that opened it (the only one that may use it).
        self._loop_conn: sqlite3.Connection | None = None
        self._loop_thread = 0
        self._loop_commits = 0
        self._loop_lock = threading.Lock()
        # The file the thread's connection opened, by its full path: the
        # loop's connection opens that same file whatever the working
        # directory has become since.
        self._file = ""

    @property
    def opened(self) -> bool:
        return self._conn is not None

    async def close(self) -> None:
        self._close_loop_conn()
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(executor, self._disconnect)
            executor.shutdown(wait=False)
        # An exchange may have opened it again while the thread disconnected.
        self._close_loop_conn()

    def _close_loop_conn(self) -> None:
        with self._loop_lock:
            loop_conn, self._loop_conn = self._loop_conn, None
        if loop_conn is not None:
            loop_conn.close()

    def migrate_now(self) -> None:
        """Migrate from another thread, waiting for it."""
        self._thread().submit(self.call, "migrate", self.migrate).result()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            # Every statement of the store stays prepared.
            cached_statements=STATEMENT_CACHE,
        )
        try:
            conn.row_factory = sqlite3.Row
            if self._path != MEMORY:
                retry_busy(lambda: conn.execute("PRAGMA journal_mode = WAL"))
            # In WAL mode, NORMAL syncs the log only at checkpoints: a commit
            # survives the process crashing, and the file is never corrupted,
            # but a power loss or OS crash may undo the last commits.
            conn.execute("PRAGMA synchronous = NORMAL")
            # Reads straight from the page cache of the OS, no copy per page.
            conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES:d}")
            # Keep the log from growing without bound under a steady load.
            conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_LIMIT_BYTES:d}")
            self._migrated_on_connect += self.migrate(conn)
            # main's file name; "" for a database in memory, which another
            # connection could not open.
            (_, _, self._file) = conn.execute("PRAGMA database_list").fetchone()
        except BaseException:
            conn.close()
            raise
        return conn

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def migrate(self, conn: sqlite3.Connection) -> list[str]:
        """Apply the migrations the file lacks; their names."""

        def apply(conn: sqlite3.Connection) -> list[str]:
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            applied = []
            for number, name in MIGRATION_NUMBERS:
                if number <= version:
                    continue
                for statement in split_statements(MIGRATIONS[name]):
                    conn.execute(statement)
                # PRAGMA takes no parameters; number is our own int.
                conn.execute(f"PRAGMA user_version = {number:d}")
                applied.append(name)
            return applied

        (version,) = conn.execute("PRAGMA user_version").fetchone()
        return write(conn, apply) if version < LATEST_MIGRATION else []

    def migrate_explicitly(self, conn: sqlite3.Connection) -> list[str]:
        """``migrate()``: what this call applied, counting what connecting
        (which migrates) applied just before."""
        applied, self._migrated_on_connect = self._migrated_on_connect, []
        return applied + self.migrate(conn)

    def _thread(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="dataqueue-sqlite"
            )
        return self._executor

    async def run(self, operation: str, op: Callable[[sqlite3.Connection], T]) -> T:
        # One hop per call, however many statements it runs: a call may wait
        # seconds for another process's write lock or run a WAL checkpoint,
        # and the loop must keep heartbeats and handlers going meanwhile.
        if self._verbose:
            logger.debug("sqlite %s: %s", self._path, operation)
        loop = asyncio.get_running_loop()
        # The caller's context goes with the call (as asyncio.to_thread
        # does): an event built on the thread names who acts (_actor).
        context = contextvars.copy_context()
        return await loop.run_in_executor(
            self._thread(), context.run, self.call, operation, op
        )

    def call(self, operation: str, op: Callable[[sqlite3.Connection], T]) -> T:
        try:
            if self._conn is None:
                self._conn = self._connect()
            return op(self._conn)
        except sqlite3.Error as error:
            raise store_error(operation, self._path, error) from error

    async def write_op(
        self,
        operation: str,
        op: Callable[[sqlite3.Connection], T],
        *,
        on_loop: bool = False,
    ) -> T:
        """Run ``op`` in one write transaction. ``on_loop``: for a call that
        takes well under a millisecond and runs all the time (a worker's
        exchange, a one-job add), first try it on the event loop, where it
        costs no hop to the store's thread and back (a tenth of a worker's
        CPU): it runs there only if the write lock is free at once, and
        otherwise goes to the thread, which waits for the lock as every
        call does."""
        if on_loop:
            done = self._write_on_loop(operation, op)
            if done is not None:
                return done[0]
        return await self.run(operation, lambda conn: write(conn, op))

    def _write_on_loop(
        self, operation: str, op: Callable[[sqlite3.Connection], T]
    ) -> tuple[T] | None:
        """``op`` in a write transaction on the loop's own connection; None
        when it did not run: the file is busy, the store's thread has not
        opened (and migrated) it yet, or this is not the loop's thread."""
        conn = self._loop_conn
        if conn is None or self._loop_thread != threading.get_ident():
            if conn is not None or self._conn is None or not self._file:
                return None
            with self._loop_lock:
                if self._loop_conn is not None:
                    return None  # another thread opened it meanwhile
                conn = self._connect_loop(self._file)
                self._loop_thread = threading.get_ident()
                self._loop_conn = conn
        if self._verbose:
            logger.debug("sqlite %s: %s (on the loop)", self._path, operation)
        try:
            result = transaction(conn, op)
        except sqlite3.OperationalError as error:
            if is_busy(error):
                return None
            raise store_error(operation, self._path, error) from error
        except sqlite3.Error as error:
            raise store_error(operation, self._path, error) from error
        self._loop_commits += 1
        if self._loop_commits % CHECKPOINT_EVERY == 0:
            done = self._thread().submit(self.call, "checkpoint", checkpoint)
            done.add_done_callback(log_checkpoint_failure)
        return (result,)

    def _connect_loop(self, file: str) -> sqlite3.Connection:
        conn = None
        try:
            conn = sqlite3.connect(
                file,
                timeout=0,  # a busy file sends the call to the thread
                isolation_level=None,
                cached_statements=STATEMENT_CACHE,
                # Used only on the thread that opened it (_loop_thread), but
                # closed by whichever thread closes the store.
                check_same_thread=False,
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA synchronous = NORMAL")
            # No mmap here: every page a worker's exchanges touched would stay
            # in the worker's resident memory, which would grow with the file
            # (the page cache costs no measurable time on this path).
            conn.execute("PRAGMA wal_autocheckpoint = 0")
            # It makes most commits, so it is most often the one that
            # restarts the log: it keeps the log from staying at its peak.
            conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_LIMIT_BYTES:d}")
        except sqlite3.Error as error:
            if conn is not None:
                conn.close()
            raise store_error("connect", self._path, error) from error
        return conn

    async def read(
        self, operation: str, sql: LiteralString, params: Mapping[str, Any]
    ) -> list[sqlite3.Row]:
        def fetch(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            return retry_busy(lambda: conn.execute(sql, params).fetchall())

        return await self.run(operation, fetch)


def caller_cursor(db: Any) -> sqlite3.Cursor:
    """A cursor on a caller's ``sqlite3.Connection`` (``add_jobs(db=...)``);
    rows come back as tuples."""
    if not isinstance(db, sqlite3.Connection):
        raise BackendError(
            "SQLite add_jobs(db=...) needs a sqlite3.Connection, got "
            f"{type(db).__module__}.{type(db).__qualname__}"
        )
    try:
        cursor = db.cursor()
    except sqlite3.ProgrammingError as error:
        raise BackendError(
            f"sqlite add_jobs(db=...) cannot use this connection: {error} "
            "(call from the connection's thread, or open it with "
            "check_same_thread=False)"
        ) from error
    cursor.row_factory = None
    return cursor


def same_file(cursor: sqlite3.Cursor, path: str) -> bool:
    files = {
        name: file
        for _, name, file in cursor.execute("PRAGMA database_list").fetchall()
    }
    theirs = files.get("main") or ""
    if path == MEMORY or not theirs:
        return False
    try:
        return os.path.samefile(theirs, path)
    except FileNotFoundError:
        return False


def ensure_schema(
    cursor: sqlite3.Cursor, db: sqlite3.Connection, path: str, own: Connection
) -> None:
    """Migrate a file not yet migrated, through the store's ``own``
    connection; not while the caller holds a transaction, whose lock the
    migration would wait for in vain."""
    (version,) = cursor.execute("PRAGMA user_version").fetchone()
    if version >= LATEST_MIGRATION:
        return
    if db.in_transaction:
        raise NotMigratedError(
            f"add_jobs(db=...): {path!r} has no up-to-date dataqueue "
            "schema; open the queue (or run `dataqueue migrate`) before "
            "adding jobs inside a transaction"
        )
    own.migrate_now()
