from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dataqueue.retry import next_attempt_at, retry_delay_seconds


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
