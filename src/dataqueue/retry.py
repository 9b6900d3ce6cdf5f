"""When a failed job runs again: pure functions, the same for every backend."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

LEGACY_BASE_SECONDS = 60.0
DEFAULT_RETRY_DELAY = 60.0


def retry_delay_seconds(
    attempts: int,
    retry_delay: float | None,
    retry_backoff: bool | None,
    retry_delay_max: float | None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before the next attempt, after ``attempts`` attempts.

    With no retry option set the delay is ``2**attempts * 60`` seconds.
    Otherwise ``retry_backoff=False`` waits a fixed ``retry_delay``, and
    backoff (the default) waits ``retry_delay * 2**attempts`` scaled by a
    jitter factor in [0.5, 1.0), then capped by ``retry_delay_max``.
    """
    if retry_delay is None and retry_backoff is None and retry_delay_max is None:
        return float(2**attempts) * LEGACY_BASE_SECONDS
    base = DEFAULT_RETRY_DELAY if retry_delay is None else retry_delay
    if retry_backoff is False:
        delay = base
    else:
        delay = base * 2**attempts * (0.5 + rand() / 2)
    if retry_delay_max is not None:
        delay = min(delay, retry_delay_max)
    return delay


def next_attempt_at(
    now: datetime,
    attempts: int,
    max_attempts: int,
    retry_delay: float | None,
    retry_backoff: bool | None,
    retry_delay_max: float | None,
    rand: Callable[[], float] = random.random,
) -> datetime | None:
    """The time of the next attempt, or ``None`` when no attempt is left."""
    if attempts >= max_attempts:
        return None
    delay = retry_delay_seconds(
        attempts, retry_delay, retry_backoff, retry_delay_max, rand
    )
    return now + timedelta(seconds=delay)
