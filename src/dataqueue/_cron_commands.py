"""Validated cron values handed to a store (built by ``_cron_validate``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dataqueue.models import NewJob
from dataqueue.types import JSONValue

CRON_EDITABLE_FIELDS: tuple[str, ...] = (
    "cron_expression",
    "job_type",
    "payload",
    "timezone",
    "allow_overlap",
    "max_attempts",
    "priority",
    "timeout",
    "tags",
    "retry_delay",
    "retry_backoff",
    "retry_delay_max",
)
"""What ``edit_cron_job`` may change (the name is the schedule's identity)."""


@dataclass(frozen=True, slots=True)
class NewCronJob:
    """A validated schedule, with its first run already computed."""

    schedule_name: str
    cron_expression: str
    job_type: str
    payload: JSONValue
    timezone: str
    allow_overlap: bool
    max_attempts: int
    priority: int
    timeout: float | None
    tags: list[str]
    retry_delay: float | None
    retry_backoff: bool | None
    retry_delay_max: float | None
    next_run_at: datetime


@dataclass(frozen=True, slots=True)
class CronChanges:
    """Validated edits to one schedule: only the fields in ``values`` change.

    When the expression or the time zone changes, ``next_run_at`` is the
    recomputed next run, and ``expected`` the (expression, timezone) it was
    computed from: the store applies the edit only if the schedule still has
    them, so a concurrent edit is never overwritten with a stale next run.
    """

    values: dict[str, Any]
    next_run_at: datetime | None = None
    expected: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class CronTick:
    """One due schedule to enqueue, decided in Python.

    The store claims the due time by moving the schedule's ``next_run_at``
    from ``claimed_run_at`` to ``next_run_at`` (only if it is still active
    and still has ``claimed_run_at``), and in the same atomic step inserts
    ``job`` with ``cron_job_id`` and ``cron_due_at = due_at`` and its
    ``added`` event with ``event``, unless the schedule forbids overlap and
    one of its jobs is pending, processing or waiting. A blocked due time is
    still claimed; it and the ``skipped`` ones add to ``skipped_runs``.
    """

    schedule_id: int
    claimed_run_at: datetime
    due_at: datetime
    skipped: int
    next_run_at: datetime
    job: NewJob
    event: dict[str, JSONValue] = field(default_factory=dict)
