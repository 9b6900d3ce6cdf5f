"""Helpers for testing code that uses dataqueue.

``FakeClock`` replaces the wall clock: pass it to ``dq.connect(...,
clock=clock)`` and move time with ``advance()`` or ``set()`` instead of
sleeping. It drives ``run_at``, retries, lease expiry and every other
time-dependent rule, on every store.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dataqueue import _validate as v
from dataqueue.types import Duration


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
