"""When a failed job runs again: pure functions, the same for every backend.

Every delay is finite and at most ``MAX_RETRY_DELAY_SECONDS`` (365 days),
whatever the attempt count or the job's options: a job's values can never
make the retry computation overflow (see docs/limits.md).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import datetime, timedelta

LEGACY_BASE_SECONDS = 60.0
DEFAULT_RETRY_DELAY = 60.0
MAX_RETRY_DELAY_SECONDS = 365 * 86400.0
"""The longest delay before a next attempt; also the largest ``retry_delay``,
``retry_delay_max`` and ``timeout`` a job may be given."""
MAX_EXPONENT = 64
"""``2**attempts`` stops growing here: far past the cap for any base delay."""


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
    jitter factor in [0.5, 1.0), then capped by ``retry_delay_max``. The
    result is always capped at ``MAX_RETRY_DELAY_SECONDS``.
    """
    growth = math.ldexp(1.0, max(0, min(attempts, MAX_EXPONENT)))
    if retry_delay is None and retry_backoff is None and retry_delay_max is None:
        delay = growth * LEGACY_BASE_SECONDS
    else:
        base = DEFAULT_RETRY_DELAY if retry_delay is None else retry_delay
        delay = base if retry_backoff is False else base * growth * (0.5 + rand() / 2)
        if retry_delay_max is not None:
            delay = min(delay, retry_delay_max)
    if not delay <= MAX_RETRY_DELAY_SECONDS:  # also inf and NaN
        return MAX_RETRY_DELAY_SECONDS
    return max(delay, 0.0)


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
    try:
        return now + timedelta(seconds=delay)
    except OverflowError:  # a clock within a year of datetime.max
        return datetime.max.replace(tzinfo=now.tzinfo)
