from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from dataqueue.retry import (
    MAX_RETRY_DELAY_SECONDS,
    next_attempt_at,
    retry_delay_seconds,
)


@pytest.mark.parametrize(("attempts", "seconds"), [(1, 120), (2, 240), (3, 480)])
def test_legacy_backoff_without_options(attempts: int, seconds: float) -> None:
    assert retry_delay_seconds(attempts, None, None, None) == seconds


def test_fixed_delay() -> None:
    assert retry_delay_seconds(4, 7, False, None) == 7


def test_exponential_delay_jitter_bounds_and_cap() -> None:
    assert retry_delay_seconds(3, 10, True, None, rand=lambda: 0.0) == 40
    assert retry_delay_seconds(3, 10, True, None, rand=lambda: 0.999) == pytest.approx(
        79.96
    )
    assert retry_delay_seconds(3, 10, None, 50, rand=lambda: 0.999) == 50


def test_backoff_is_the_default_once_any_option_is_set() -> None:
    assert retry_delay_seconds(1, None, None, 1000, rand=lambda: 0.0) == 60


def test_no_next_attempt_when_attempts_are_used_up() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert next_attempt_at(now, 3, 3, None, None, None) is None
    assert next_attempt_at(now, 1, 3, 5, False, None) == now + timedelta(seconds=5)


@pytest.mark.parametrize("attempts", [20, 32, 33, 64, 1000, 10**6])
def test_default_backoff_is_capped_at_365_days(attempts: int) -> None:
    assert retry_delay_seconds(attempts, None, None, None) == MAX_RETRY_DELAY_SECONDS


def test_default_backoff_grows_until_the_cap() -> None:
    assert retry_delay_seconds(19, None, None, None) == 2**19 * 60
    assert MAX_RETRY_DELAY_SECONDS == 365 * 86400


@pytest.mark.parametrize(
    ("delay", "backoff", "delay_max"),
    [
        (1e300, True, None),
        (1e300, None, 1e301),
        (1e300, False, None),
        (math.inf, True, None),
        (math.nan, True, None),
        (1.0, True, math.inf),
    ],
)
@pytest.mark.parametrize("attempts", [1, 40, 5000])
def test_huge_options_never_overflow(
    delay: float, backoff: bool | None, delay_max: float | None, attempts: int
) -> None:
    seconds = retry_delay_seconds(attempts, delay, backoff, delay_max, rand=lambda: 0.9)
    assert 0 <= seconds <= MAX_RETRY_DELAY_SECONDS
    now = datetime(2030, 1, 1, tzinfo=UTC)
    later = next_attempt_at(now, attempts, attempts + 1, delay, backoff, delay_max)
    assert later is not None
    assert now <= later <= now + timedelta(days=365)


def test_next_attempt_near_the_end_of_time_does_not_overflow() -> None:
    end = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)
    assert next_attempt_at(end, 50, 60, None, None, None) == datetime.max.replace(
        tzinfo=UTC
    )
