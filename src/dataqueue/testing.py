"""Helpers for testing code that uses dataqueue.

``FakeClock`` replaces the wall clock: pass it to ``dq.connect(...,
clock=clock)`` and move time with ``advance()`` or ``set()`` instead of
sleeping. It drives ``run_at``, retries, lease expiry and every other
time-dependent rule, on every store.

Listeners (``queue.on``) and processor hooks run off the processing path,
so ``await processor.start()`` may return before they ran:
``await wait_for_listeners(queue)`` (``wait_for_listeners_sync`` for a
``SyncJobQueue``) returns once they have.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from dataqueue import _validate as v
from dataqueue.types import Duration

if TYPE_CHECKING:
    from dataqueue.queue import JobQueue
    from dataqueue.sync import SyncJobQueue


async def wait_for_listeners(queue: JobQueue, timeout: Duration = 10) -> None:
    """Return once every listener and hook call the queue started so far
    (and those they started) has finished.

    Raises:
        TimeoutError: some still ran after ``timeout`` seconds.

    Example:
        ``queue.on("job:completed", seen.append); await processor.start();
        await wait_for_listeners(queue); assert len(seen) == 1``
    """
    seconds = v.to_seconds(timeout, "wait_for_listeners", "timeout")
    await queue._runtime.callbacks.settle(seconds)


def wait_for_listeners_sync(queue: SyncJobQueue, timeout: Duration = 10) -> None:
    """``wait_for_listeners`` for a ``SyncJobQueue`` (blocking)."""
    queue._thread.run(wait_for_listeners(queue._queue, timeout))


class FakeClock:
    """A clock that moves only when told to.

    Example:
        ``clock = FakeClock(); queue = dq.connect(url, clock=clock)``;
        ``clock.advance(timedelta(days=7))``
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = (
            datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
            if start is None
            else v.aware_utc(start, "FakeClock", "start")
        )

    def now(self) -> datetime:
        """The current fake time (aware, UTC)."""
        return self._now

    def advance(self, seconds: Duration) -> datetime:
        """Move forward by ``seconds`` (or a timedelta); returns the new time."""
        self._now += timedelta(seconds=v.to_seconds(seconds, "advance", "seconds"))
        return self._now

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (aware datetime; may move backwards)."""
        self._now = v.aware_utc(when, "FakeClock.set", "when")
