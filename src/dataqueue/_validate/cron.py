"""Cron schedules at the edge: names, expressions, time zones, new
schedules and their edits."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from dataqueue._commands import (
    CRON_EDITABLE_FIELDS,
    CronChanges,
    NewCronJob,
)
from dataqueue._validate.basics import (
    MAX_CRON_EXPRESSION_CHARS,
    check_bool,
    check_job_type,
    check_json,
    check_max_attempts,
    check_name,
    check_priority,
    check_tags,
    job_duration,
    retry_delays_in_order,
    show,
)
from dataqueue._validate.jobs import (
    dead_letter_type,
    job_option,
    reject_unknown_fields,
)
from dataqueue.cron import (
    CronJob,
    CronStatus,
    next_run_after,
    normalize_expression,
    zone,
)


def check_schedule_name(value: Any, where: str) -> str:
    return check_name(value, where, "schedule_name")


def check_cron_expression(value: Any, where: str) -> str:
    """The expression as the user wrote it (trimmed), once known to be valid."""
    if isinstance(value, str) and len(value) > MAX_CRON_EXPRESSION_CHARS:
        raise ValueError(
            f"{where}: cron_expression is {len(value)} characters, over the limit "
            f"of {MAX_CRON_EXPRESSION_CHARS}"
        )
    normalize_expression(value, where)
    return str(value).strip()


def timezone_name(value: Any, where: str) -> str:
    zone(value, where)
    return str(value)


IF_EXISTS = ("error", "update", "skip")
"""What ``add_cron_job`` does when the name is taken."""


def if_exists(value: Any, where: str) -> str:
    if value not in IF_EXISTS:
        raise ValueError(
            f"{where}: if_exists must be one of {', '.join(IF_EXISTS)}, "
            f"got {show(value)}"
        )
    return str(value)


def cron_status(value: Any, where: str) -> CronStatus:
    try:
        return CronStatus(value)
    except ValueError:
        raise ValueError(
            f"{where}: status must be 'active', 'paused' or None, got {show(value)}"
        ) from None


def first_run(expression: str, timezone: str, now: datetime) -> datetime:
    """The first run strictly after ``now`` of a validated expression."""
    where = "cron"
    return next_run_after(
        normalize_expression(expression, where), zone(timezone, where), now
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
    dead_letter_job_type: Any = None,
) -> NewCronJob:
    """Validate the arguments of ``add_cron_job``: the schedule, and the job
    options it copies onto each job, checked as ``add_job`` checks them."""
    where = f"add_cron_job({show(schedule_name, 60)})"
    name = check_schedule_name(schedule_name, where)
    text = check_cron_expression(cron_expression, where)
    tz_name = timezone_name(timezone, where)
    delay = job_duration(retry_delay, where, "retry_delay", allow_zero=True)
    delay_max = job_duration(retry_delay_max, where, "retry_delay_max", allow_zero=True)
    retry_delays_in_order(delay, delay_max, where)
    return NewCronJob(
        schedule_name=name,
        cron_expression=text,
        job_type=check_job_type(job_type, where),
        payload=check_json(payload, where),
        timezone=tz_name,
        allow_overlap=check_bool(allow_overlap, where, "allow_overlap"),
        max_attempts=check_max_attempts(max_attempts, where),
        priority=check_priority(priority, where),
        timeout=job_duration(timeout, where, "timeout", allow_zero=False),
        tags=check_tags(tags, where),
        retry_delay=delay,
        retry_backoff=None
        if retry_backoff is None
        else check_bool(retry_backoff, where, "retry_backoff"),
        retry_delay_max=delay_max,
        next_run_at=first_run(text, tz_name, now),
        dead_letter_job_type=dead_letter_type(dead_letter_job_type, where),
    )


def cron_changes(
    updates: Mapping[str, Any], current: CronJob, now: datetime, where: str
) -> CronChanges:
    """Validate edits to ``current``; recompute the next run when the
    expression or the time zone changes."""
    reject_unknown_fields(updates, CRON_EDITABLE_FIELDS, where)
    values: dict[str, Any] = {}
    for name, raw in updates.items():
        value: Any
        if name == "cron_expression":
            value = check_cron_expression(raw, where)
        elif name == "timezone":
            value = timezone_name(raw, where)
        elif name == "job_type":
            value = check_job_type(raw, where)
        elif name == "allow_overlap":
            value = check_bool(raw, where, name)
        elif name == "dead_letter_job_type":
            value = dead_letter_type(raw, where)
        else:
            value = job_option(name, raw, where)
        values[name] = value
    retry_delays_in_order(
        values.get("retry_delay", current.retry_delay),
        values.get("retry_delay_max", current.retry_delay_max),
        where,
    )
    text = values.get("cron_expression", current.cron_expression)
    tz_name = values.get("timezone", current.timezone)
    if (text, tz_name) == (current.cron_expression, current.timezone):
        return CronChanges(values)
    return CronChanges(
        values,
        next_run_at=first_run(text, tz_name, now),
        expected=(current.cron_expression, current.timezone),
    )
