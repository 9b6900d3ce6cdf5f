"""The edge for cron: arguments of the cron methods checked and normalized.

Every function raises ``ValueError`` or ``TypeError`` naming the call, the
field and the bad value, before anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from dataqueue import _validate as v
from dataqueue._cron_commands import CRON_EDITABLE_FIELDS, CronChanges, NewCronJob
from dataqueue.cron import (
    CronJob,
    CronStatus,
    next_run_after,
    normalize_expression,
    zone,
)


def check_schedule_name(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{where}: schedule_name must be a str, got {value!r}")
    if not value.strip():
        raise ValueError(f"{where}: schedule_name must not be empty")
    return value


def expression(value: Any, where: str) -> str:
    """The expression as the user wrote it (trimmed), once known to be valid."""
    normalize_expression(value, where)
    return str(value).strip()


def timezone_name(value: Any, where: str) -> str:
    zone(value, where)
    return str(value)


def cron_status(value: Any, where: str) -> CronStatus:
    try:
        return CronStatus(value)
    except ValueError:
        raise ValueError(
            f"{where}: status must be 'active', 'paused' or None, got {value!r}"
        ) from None


def first_run(expression_text: str, timezone: str, now: datetime) -> datetime:
    """The first run strictly after ``now`` of a validated expression."""
    where = "cron"
    return next_run_after(
        normalize_expression(expression_text, where), zone(timezone, where), now
    )


def new_cron_job(
    *,
    schedule_name: Any,
    cron_expression: Any,
    job_type: Any,
    payload: Any,
    timezone: Any,
    allow_overlap: Any,
    max_attempts: Any,
    priority: Any,
    timeout: Any,
    tags: Any,
    retry_delay: Any,
    retry_backoff: Any,
    retry_delay_max: Any,
    now: datetime,
) -> NewCronJob:
    where = f"add_cron_job({schedule_name!r})"
    name = check_schedule_name(schedule_name, where)
    text = expression(cron_expression, where)
    tz_name = timezone_name(timezone, where)
    return NewCronJob(
        schedule_name=name,
        cron_expression=text,
        job_type=v.check_job_type(job_type, where),
        payload=v.check_json(payload, where),
        timezone=tz_name,
        allow_overlap=v.check_bool(allow_overlap, where, "allow_overlap"),
        max_attempts=v.check_int(max_attempts, where, "max_attempts", minimum=1),
        priority=v.check_int(priority, where, "priority"),
        timeout=v.optional_seconds(timeout, where, "timeout", allow_zero=False),
        tags=v.check_tags(tags, where),
        retry_delay=v.optional_seconds(retry_delay, where, "retry_delay"),
        retry_backoff=(
            None
            if retry_backoff is None
            else v.check_bool(retry_backoff, where, "retry_backoff")
        ),
        retry_delay_max=v.optional_seconds(retry_delay_max, where, "retry_delay_max"),
        next_run_at=first_run(text, tz_name, now),
    )


def cron_changes(
    updates: Mapping[str, Any], current: CronJob, now: datetime, where: str
) -> CronChanges:
    """Validate edits to ``current``; recompute the next run when the
    expression or the time zone changes."""
    unknown = set(updates) - set(CRON_EDITABLE_FIELDS)
    if unknown:
        raise TypeError(
            f"{where}: field(s) {sorted(unknown)} cannot be edited; "
            f"editable: {', '.join(CRON_EDITABLE_FIELDS)}"
        )
    values: dict[str, Any] = {}
    for name, raw in updates.items():
        value: Any
        if name == "cron_expression":
            value = expression(raw, where)
        elif name == "timezone":
            value = timezone_name(raw, where)
        elif name == "job_type":
            value = v.check_job_type(raw, where)
        elif name == "payload":
            value = v.check_json(raw, where)
        elif name == "allow_overlap":
            value = v.check_bool(raw, where, name)
        elif name == "max_attempts":
            value = v.check_int(raw, where, name, minimum=1)
        elif name == "priority":
            value = v.check_int(raw, where, name)
        elif name == "timeout":
            value = v.optional_seconds(raw, where, name, allow_zero=False)
        elif name == "tags":
            value = v.check_tags(raw, where)
        elif name == "retry_backoff":
            value = None if raw is None else v.check_bool(raw, where, name)
        else:
            value = v.optional_seconds(raw, where, name)
        values[name] = value
    text = values.get("cron_expression", current.cron_expression)
    tz_name = values.get("timezone", current.timezone)
    if (text, tz_name) == (current.cron_expression, current.timezone):
        return CronChanges(values)
    return CronChanges(
        values,
        next_run_at=first_run(text, tz_name, now),
        expected=(current.cron_expression, current.timezone),
    )
