"""cron.py: expressions and next runs, as pure functions."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cronsim import CronSim
from hypothesis import given, settings
from hypothesis import strategies as st

from dataqueue.cron import (
    MAX_COUNTED_MISSED_RUNS,
    next_run_after,
    normalize_expression,
    plan_due_run,
    resolve_wall_time,
)

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",  # 30-minute shift
    "Antarctica/Troll",  # 2-hour shift
    "America/Santiago",
    "Pacific/Chatham",  # +12:45 / +13:45
    "Asia/Kolkata",
    "America/St_Johns",
    "Pacific/Apia",  # skipped a whole day in 2011
]
MINUTES = ["*", "0", "30", "*/15", "5,35", "0-10", "59"]
HOURS = ["*", "0", "1", "2", "3", "1-3", "*/2", "2,14"]
DAYS = ["*", "1", "15", "31", "*/10"]
MONTHS = ["*", "3", "10,11", "*/3", "4", "9-11"]
WEEKDAYS = ["*", "0", "1-5", "SUN", "6"]


def _valid(expression: str) -> bool:
    try:
        normalize_expression(expression, "t")
    except ValueError:
        return False  # e.g. "0 0 31 4 *": April has no 31st
    return True


expressions = st.builds(
    lambda *fields: " ".join(fields),
    st.sampled_from(MINUTES),
    st.sampled_from(HOURS),
    st.sampled_from(DAYS),
    st.sampled_from(MONTHS),
    st.sampled_from(WEEKDAYS),
).filter(_valid)
instants = st.datetimes(
    min_value=datetime(2005, 1, 1),
    max_value=datetime(2038, 1, 1),
    timezones=st.just(UTC),
)


def _wall(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def _matches(expression: str, wall: datetime) -> bool:
    return next(CronSim(expression, wall - timedelta(seconds=1))) == wall


@settings(max_examples=300, deadline=None)
@given(expressions, st.sampled_from(ZONES), instants)
def test_next_runs_strictly_increase_and_never_fall_in_a_gap(
    expression: str, zone_name: str, start: datetime
) -> None:
    tz = ZoneInfo(zone_name)
    previous = start
    for _ in range(8):
        run = next_run_after(expression, tz, previous)
        assert run > previous
        wall = _wall(run, tz)
        # The run is the first occurrence of its wall time (a repeated time
        # fires once), a real instant (never inside a skipped hour) ...
        assert resolve_wall_time(wall, tz) == run
        # ... and either a matching wall time, or the first instant after a
        # gap that swallowed a matching one.
        if not _matches(expression, wall):
            before = _wall(run - timedelta(seconds=1), tz)
            assert wall - before > timedelta(seconds=1), (run, wall)
            gap = [
                before + timedelta(minutes=m)
                for m in range(1, int((wall - before).total_seconds() // 60) + 1)
            ]
            assert any(_matches(expression, t.replace(second=0)) for t in gap)
        previous = run


@settings(max_examples=100, deadline=None)
@given(expressions, st.sampled_from(ZONES), instants)
def test_no_run_is_missed(expression: str, zone_name: str, start: datetime) -> None:
    """Between two successive runs no minute would fire by itself."""
    tz = ZoneInfo(zone_name)
    first = next_run_after(expression, tz, start)
    second = next_run_after(expression, tz, first)
    if second - first > timedelta(days=3):
        second = first + timedelta(days=3)
    probe = first.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while probe < second:
        wall = _wall(probe, tz)
        if resolve_wall_time(wall, tz) == probe:
            assert not _matches(expression, wall), probe
        probe += timedelta(minutes=1)


def test_a_skipped_time_fires_at_the_end_of_the_gap() -> None:
    tz = ZoneInfo("America/New_York")
    run = next_run_after("30 2 * * *", tz, datetime(2024, 3, 9, 12, tzinfo=UTC))
    assert run == datetime(2024, 3, 10, 7, tzinfo=UTC)  # 03:00 EDT


def test_a_repeated_time_fires_once_at_its_first_occurrence() -> None:
    tz = ZoneInfo("Europe/Berlin")
    first = next_run_after("30 2 * * *", tz, datetime(2024, 10, 26, 12, tzinfo=UTC))
    assert first == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)  # 02:30 CEST
    assert next_run_after("30 2 * * *", tz, first) == datetime(
        2024, 10, 28, 1, 30, tzinfo=UTC
    )


def test_plan_collapses_missed_runs_into_the_newest() -> None:
    tz = ZoneInfo("UTC")
    start = datetime(2030, 1, 1, 13, tzinfo=UTC)
    plan = plan_due_run("0 * * * *", tz, start, start + timedelta(hours=3, minutes=1))
    assert (plan.due_at, plan.skipped, plan.next_run_at) == (
        start + timedelta(hours=3),
        3,
        start + timedelta(hours=4),
    )


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("@hourly", "0 * * * *"),
        ("@DAILY", "0 0 * * *"),
        ("  */5   * * * 1-5 ", "*/5 * * * 1-5"),
        ("0 9 * * MON", "0 9 * * MON"),
    ],
)
def test_normalize(text: str, normal: str) -> None:
    assert normalize_expression(text, "t") == normal


@pytest.mark.parametrize("bad", ["", "* * *", "0 0 0 * * *", "x * * * *", "@often"])
def test_normalize_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match=repr(bad).replace("*", "\\*")):
        normalize_expression(bad, "t")


def test_catching_up_after_a_long_outage_is_bounded_work() -> None:
    # Every minute, 180 days behind: 259,200 missed runs.
    tz = ZoneInfo("Europe/Berlin")
    start = datetime(2030, 1, 1, 13, tzinfo=UTC)
    now = start + timedelta(days=180, seconds=30)
    began = time.perf_counter()
    plan = plan_due_run("* * * * *", tz, start, now)
    took = time.perf_counter() - began
    assert plan.due_at == now.replace(second=0)
    assert plan.next_run_at == plan.due_at + timedelta(minutes=1)
    assert plan.skipped == 180 * 24 * 60
    # Stepping through every missed run took seconds; this is about
    # MAX_COUNTED_MISSED_RUNS steps.
    assert took < 1.0, took


@pytest.mark.parametrize(
    ("expression", "zone_name"),
    [("0 9 * * MON-FRI", "America/New_York"), ("30 2 * * *", "Europe/Berlin")],
)
def test_far_behind_the_newest_due_time_is_the_one_stepping_finds(
    expression: str, zone_name: str
) -> None:
    tz = ZoneInfo(zone_name)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    now = datetime(2029, 3, 31, 12, tzinfo=UTC)  # past many DST changes
    stepped, count = start, 0
    while (following := next_run_after(expression, tz, stepped)) <= now:
        stepped, count = following, count + 1
    plan = plan_due_run(expression, tz, start, now)
    assert count > MAX_COUNTED_MISSED_RUNS
    assert plan.due_at == stepped
    assert plan.next_run_at == next_run_after(expression, tz, stepped)
    # Beyond the counted runs the rest are estimated from their spacing.
    assert abs(plan.skipped - count) <= count * 0.05
