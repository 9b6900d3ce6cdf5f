"""Cron schedules: expressions, their next runs in a time zone, the record.

Expressions are parsed and matched by ``cronsim`` (Debian cron semantics:
five fields, names for months and weekdays, ``L``, ``W`` and ``#``
extensions). dataqueue adds the usual ``@`` aliases and its own
daylight-saving rules, applied the same way in every zone:

* Matching happens on the local wall clock of the schedule's IANA zone.
* A local time skipped by a spring-forward change fires once, at the first
  instant after the gap (02:30 on a night that jumps from 02:00 to 03:00
  fires at 03:00).
* A local time repeated by a fall-back change fires once, at its first
  occurrence.
* Successive runs strictly increase: two wall times that land on the same
  instant fire once.

The library's own DST handling is not used: it iterates naive wall times, and
:func:`next_run_after` maps each one to an instant by the rules above.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ALIASES: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
FIELD_COUNT = 5
ONE_SECOND = timedelta(seconds=1)
# A reference instant for checking that an expression ever fires.
_PROBE = datetime(2000, 1, 1)


class CronStatus(StrEnum):
    """Whether a schedule enqueues jobs (``active``) or is skipped (``paused``)."""

    ACTIVE = "active"
    PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class CronJob:
    """A recurring schedule. ``timeout`` and ``retry_*`` are in seconds.

    ``next_run_at`` is the next due time (UTC); ``last_job_id`` and
    ``last_enqueued_at`` describe the newest job it enqueued; ``skipped_runs``
    counts due times that enqueued no job of their own (missed during
    downtime, or blocked by a running instance when ``allow_overlap`` is
    False).
    """

    id: int
    schedule_name: str
    cron_expression: str
    job_type: str
    payload: Any
    timezone: str
    allow_overlap: bool
    status: CronStatus
    max_attempts: int
    priority: int
    timeout: float | None
    tags: list[str]
    retry_delay: float | None
    retry_backoff: bool | None
    retry_delay_max: float | None
    dead_letter_job_type: str | None
    last_enqueued_at: datetime | None
    last_job_id: int | None
    next_run_at: datetime | None
    skipped_runs: int
    created_at: datetime
    updated_at: datetime


def normalize_expression(expression: Any, where: str) -> str:
    """The expression with aliases expanded; ``ValueError`` names a bad one."""
    if not isinstance(expression, str):
        raise TypeError(
            f"{where}: cron_expression must be a str, got "
            f"{type(expression).__name__}: {expression!r}"
        )
    text = " ".join(expression.split())
    text = ALIASES.get(text.lower(), text)
    fields = text.split(" ")
    if len(fields) != FIELD_COUNT or not text:
        raise ValueError(
            f"{where}: cron expression {expression!r} must have 5 fields "
            "(minute hour day-of-month month day-of-week) or be one of "
            f"{', '.join(ALIASES)}"
        )
    # cronsim is imported where it is used: a worker whose queue has no
    # schedules never loads it (and it weighs in a worker's memory).
    from cronsim import CronSim, CronSimError

    try:
        next(CronSim(text, _PROBE))
    except CronSimError as error:
        raise ValueError(
            f"{where}: invalid cron expression {expression!r}: {error}"
        ) from None
    except StopIteration:
        raise ValueError(
            f"{where}: cron expression {expression!r} never fires"
        ) from None
    return text


def zone(name: Any, where: str) -> ZoneInfo:
    """The IANA zone called ``name``; ``ValueError`` names an unknown one."""
    if not isinstance(name, str):
        raise TypeError(
            f"{where}: timezone must be an IANA name (str), got "
            f"{type(name).__name__}: {name!r}"
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{where}: unknown timezone {name!r}; use an IANA name such as "
            "'UTC' or 'Europe/Berlin'"
        ) from None


def _wall(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def resolve_wall_time(wall: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant at which a naive local ``wall`` time fires.

    An existing time is itself; a repeated one is its first occurrence; a
    skipped one is the first instant after the gap.
    """
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if _wall(first, tz) == wall:
        return first
    # In a gap: `before` still shows a wall time earlier than `wall`, `after`
    # already a later one. Find the transition to the second.
    before = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    low, high = before, first
    while high - low > ONE_SECOND:
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle <= low:
            break
        if _wall(middle, tz) > wall:
            high = middle
        else:
            low = middle
    return high


def next_run_after(expression: str, tz: ZoneInfo, after: datetime) -> datetime:
    """The first time strictly after ``after`` (aware) at which a normalized
    ``expression`` fires in ``tz``, as an aware UTC datetime.

    Raises:
        ValueError: the expression never fires again.
    """
    from cronsim import CronSim

    after = after.astimezone(UTC)
    try:
        # Wall times at or before `after`'s own map to instants not after it;
        # inside a repeated hour they are skipped here, which is what makes
        # a repeated local time fire once.
        for wall in CronSim(expression, _wall(after, tz)):
            instant = resolve_wall_time(wall, tz)
            if instant > after:
                return instant
    except StopIteration:
        pass
    raise ValueError(f"cron expression {expression!r} never fires after {after}")


@dataclass(frozen=True, slots=True)
class DuePlan:
    """What one enqueue of a due schedule does: the due time its job is for
    (the newest one not after now), how many earlier due times it replaces,
    and the next run after it."""

    due_at: datetime
    skipped: int
    next_run_at: datetime


# Missed runs are counted one by one up to this many; a schedule further
# behind (a long outage) jumps to its newest due time, so catching up is the
# same small work however long it was down.
MAX_COUNTED_MISSED_RUNS = 1000


def plan_due_run(
    expression: str, tz: ZoneInfo, next_run_at: datetime, now: datetime
) -> DuePlan:
    """Collapse every due time from ``next_run_at`` up to ``now`` into one run.

    The next run is found by stepping from the due time, never from ``now``,
    so that no due time between them is lost. Past
    ``MAX_COUNTED_MISSED_RUNS`` the newest due time is found by walking back
    from ``now``, and the rest of the missed runs are estimated from the
    spacing of those counted.
    """
    due, skipped = next_run_at, 0
    following = next_run_after(expression, tz, due)
    while following <= now:
        if skipped == MAX_COUNTED_MISSED_RUNS:
            newest = latest_run_at_or_before(expression, tz, now)
            if newest is not None and newest > due:
                spacing = (due - next_run_at) / skipped
                skipped += max(1, round((newest - due) / spacing))
                due = newest
                following = next_run_after(expression, tz, due)
                break
        due, skipped = following, skipped + 1
        following = next_run_after(expression, tz, due)
    return DuePlan(due, skipped, following)


def latest_run_at_or_before(
    expression: str, tz: ZoneInfo, moment: datetime
) -> datetime | None:
    """The newest time not after ``moment`` at which a normalized
    ``expression`` fires in ``tz``, or None when it never did."""
    moment = moment.astimezone(UTC)
    # Reverse iteration starts strictly before its start: one minute on.
    start = _wall(moment, tz).replace(second=0, microsecond=0) + timedelta(minutes=1)
    from cronsim import CronSim

    try:
        for wall in CronSim(expression, start, reverse=True):
            instant = resolve_wall_time(wall, tz)
            if instant <= moment:
                return instant
    except StopIteration:
        pass
    return None
