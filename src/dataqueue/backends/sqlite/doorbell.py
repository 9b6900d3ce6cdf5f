"""Cross-process wake-ups for one SQLite file: datagram sockets beside it.

SQLite cannot tell one connection that another committed, short of polling.
Instead, each process that listens for new jobs binds a Unix datagram socket
(a *doorbell*) in the folder ``<database>-wakeup/`` next to the file, and every
process that adds jobs sends one byte to each doorbell there. A listener
sleeps in the event loop's selector, so waiting costs no CPU, and wakes a
fraction of a millisecond after the add.

Processes waiting for jobs to finish (``wait_for_job``) bind theirs in the
subfolder ``finished/``, rung by every process that makes jobs final: each
kind of ring reaches only the listeners that want it.

Whoever may write the database may write beside it (SQLite needs that for its
``-wal`` and ``-shm`` files), so the folder needs no extra permission. A
doorbell left behind by a process that died refuses datagrams; the next ringer
deletes it. Where Unix datagram sockets are missing (Windows), nothing rings
and listeners fall back to polling the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import threading
import time

ADDED = b"a"
"""Jobs were added and committed: wake at once."""

PENDING = b"p"
"""Jobs were added inside a caller's transaction (``db=``): they become
visible when the caller commits, if ever, so listeners watch the file."""

FINISHED = b"f"
"""Jobs became final (completed, cancelled, failed for good) and committed;
rung to the doorbells of ``finished/`` only."""

FINISHED_FOLDER = "finished"

SUFFIX = ".sock"
RECENT_CHANGE_NS = 2_000_000_000
# sun_path holds 108 bytes on Linux, 104 on macOS; keep clear of both.
MAX_ADDRESS = 100


def folder_for(database: str, *, finished: bool = False) -> str:
    """The folder of the doorbells for new jobs, or (``finished``) for jobs
    that became final. The second lies inside the first, where ringers of
    new jobs (which ring every ``*.sock`` of their folder) never look."""
    folder = os.path.abspath(database) + "-wakeup"
    return os.path.join(folder, FINISHED_FOLDER) if finished else folder


def supported() -> bool:
    return hasattr(socket, "AF_UNIX")


class Folder:
    """The doorbell folder, and how to address a socket in it.

    A deep path can exceed the socket address limit; on Linux the folder is
    then reached through an open descriptor (``/proc/self/fd/N``).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def address(self, name: str) -> str | None:
        full = os.path.join(self.path, name)
        if len(os.fsencode(full)) <= MAX_ADDRESS:
            return full
        if self._fd is None:
            if not os.path.isdir("/proc/self/fd"):
                return None
            self._fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        return f"/proc/self/fd/{self._fd}/{name}"

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


class Ringer:
    """Rings every doorbell in a folder; safe to call from any thread."""

    def __init__(self, database: str, *, finished: bool = False) -> None:
        self._folder = Folder(folder_for(database, finished=finished))
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._listing: tuple[int, tuple[str, ...]] = (-1, ())
        self.own: str | None = None
        """The name of this process's doorbell, skipped for ``ADDED`` and
        ``FINISHED``: the process wakes its own listeners directly."""

    def ring(self, message: bytes) -> None:
        if not supported():
            return
        try:
            names = self._names()
        except FileNotFoundError:
            return  # no folder: nobody has listened yet
        with self._lock:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._socket.setblocking(False)
            sock = self._socket
        for name in names:
            if message != PENDING and name == self.own:
                continue
            address = self._folder.address(name)
            if address is None:
                continue
            try:
                sock.sendto(message, address)
            except BlockingIOError:
                pass  # its queue is full: it has wake-ups waiting already
            except (ConnectionRefusedError, FileNotFoundError):
                # Its process died without cleaning up.
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self._folder.path, name))
            except OSError:
                pass  # a doorbell we cannot reach; its process still polls

    def _names(self) -> tuple[str, ...]:
        # Re-list the folder only when a doorbell came or went. Timestamps
        # move in coarse ticks, so two changes can share one: while the last
        # change is recent, list every time.
        changed = os.stat(self._folder.path).st_mtime_ns
        recent = time.time_ns() - changed < RECENT_CHANGE_NS
        if recent or changed != self._listing[0]:
            names = tuple(
                n for n in os.listdir(self._folder.path) if n.endswith(SUFFIX)
            )
            self._listing = (changed, names)
        return self._listing[1]

    def close(self) -> None:
        with self._lock:
            sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()
        self._folder.close()


class Doorbell:
    """This process's doorbell: a bound socket that ``receive`` waits on."""

    def __init__(self, database: str, *, finished: bool = False) -> None:
        self.name = f"{os.getpid()}-{secrets.token_hex(6)}{SUFFIX}"
        self._folder = Folder(folder_for(database, finished=finished))
        os.makedirs(self._folder.path, exist_ok=True)
        address = self._folder.address(self.name)
        if address is None:
            raise OSError(f"no socket address fits {self._folder.path!r}")
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self._socket.bind(address)
            self._socket.setblocking(False)
        except BaseException:
            self._socket.close()
            self._folder.close()
            raise

    async def receive(self, timeout: float) -> bytes | None:
        """Wait up to ``timeout`` seconds; the strongest message that came
        (``ADDED`` over ``PENDING``; ``FINISHED`` in ``finished/``), or None."""
        loop = asyncio.get_running_loop()
        try:
            first = await asyncio.wait_for(loop.sock_recv(self._socket, 16), timeout)
        except TimeoutError:
            return None
        messages = {first}
        # Many adds may have rung while we slept: one wake-up covers them all.
        while True:
            try:
                messages.add(self._socket.recv(16))
            except BlockingIOError:
                break
        return ADDED if ADDED in messages else first

    def close(self) -> None:
        self._socket.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self._folder.path, self.name))
        self._folder.close()
