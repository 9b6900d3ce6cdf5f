"""The edge: every public argument is checked and normalized here, once.

Each function raises ``ValueError`` or ``TypeError`` with a message that names
the call, the field and the bad value, before anything is written.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from dataqueue._commands import EDITABLE_FIELDS, JobChanges, JobFilter, NewJob
from dataqueue.models import TAG_MODES, JobSpec, JobStatus, TagFilter, TimeRange
from dataqueue.types import JSONValue

MAX_OUTPUT_BYTES = 256 * 1024
FILTER_KEYS = ("job_type", "priority", "run_at", "tags")


def check_json(value: Any, where: str, path: str = "payload") -> JSONValue:
    """Return ``value`` if it is plain JSON, else raise naming the bad part."""
    if value is None or isinstance(value, str | bool):
        return cast(JSONValue, value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: {path} is not valid JSON: {value!r}")
        return value
    if isinstance(value, list):
        for i, item in enumerate(value):
            check_json(item, where, f"{path}[{i}]")
        return value
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(
                    f"{where}: {path} has a non-string key {key!r}; JSON keys "
                    "must be strings"
                )
            check_json(item, where, f"{path}[{key!r}]")
        return cast(JSONValue, value)
    raise TypeError(
        f"{where}: {path} must be JSON (dict, list, str, int, float, bool, "
        f"None), got {type(value).__name__}: {value!r}"
    )


def to_json_text(value: JSONValue) -> str:
    """Serialize a value already checked by ``check_json``."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def aware_utc(value: Any, where: str, name: str) -> datetime:
    """An aware datetime converted to UTC; naive or non-datetime is rejected."""
    if not isinstance(value, datetime):
        raise TypeError(
            f"{where}: {name} must be a datetime, got {type(value).__name__}: {value!r}"
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{where}: {name} must be timezone-aware, got {value}")
    return value.astimezone(UTC)


def to_seconds(value: Any, where: str, name: str, *, allow_zero: bool = True) -> float:
    """A duration (seconds or timedelta) as float seconds, never negative."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise TypeError(
            f"{where}: {name} must be seconds or a timedelta, got "
            f"{type(value).__name__}: {value!r}"
        )
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        bound = "zero or more" if allow_zero else "more than zero"
        raise ValueError(f"{where}: {name} must be {bound} seconds, got {value!r}")
    return seconds


def optional_seconds(
    value: Any, where: str, name: str, *, allow_zero: bool = True
) -> float | None:
    return (
        None if value is None else to_seconds(value, where, name, allow_zero=allow_zero)
    )


def check_int(value: Any, where: str, name: str, *, minimum: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(
            f"{where}: {name} must be an int, got {type(value).__name__}: {value!r}"
        )
    if minimum is not None and value < minimum:
        raise ValueError(f"{where}: {name} must be at least {minimum}, got {value}")
    return value


def check_bool(value: Any, where: str, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be True or False, got {value!r}")
    return value


def check_job_type(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{where}: job_type must be a str, got {value!r}")
    if not value.strip():
        raise ValueError(f"{where}: job_type must not be empty")
    return value


def check_tags(value: Any, where: str) -> list[str]:
    """Tags as a list of unique non-empty strings, in the order given."""
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise TypeError(f"{where}: tags must be a list of str, got {value!r}")
    tags: list[str] = []
    for tag in value:
        if not isinstance(tag, str) or not tag:
            raise ValueError(f"{where}: every tag must be a non-empty str, got {tag!r}")
        if tag not in tags:
            tags.append(tag)
    return tags


def check_page(limit: Any, offset: Any, where: str) -> tuple[int, int]:
    return (
        check_int(limit, where, "limit", minimum=0),
        check_int(offset, where, "offset", minimum=0),
    )


def new_job(spec: JobSpec, flow_id: str | None = None) -> NewJob:
    """Validate one job spec."""
    where = f"add_job({spec.job_type!r})"
    check_job_type(spec.job_type, where)
    key = spec.idempotency_key
    if key is not None and (not isinstance(key, str) or not key):
        raise ValueError(
            f"{where}: idempotency_key must be a non-empty str, got {key!r}"
        )
    if spec.retry_backoff is not None:
        check_bool(spec.retry_backoff, where, "retry_backoff")
    return NewJob(
        job_type=spec.job_type,
        payload=check_json(spec.payload, where),
        priority=check_int(spec.priority, where, "priority"),
        run_at=None if spec.run_at is None else aware_utc(spec.run_at, where, "run_at"),
        max_attempts=check_int(spec.max_attempts, where, "max_attempts", minimum=1),
        timeout=optional_seconds(spec.timeout, where, "timeout", allow_zero=False),
        force_kill_on_timeout=check_bool(
            spec.force_kill_on_timeout, where, "force_kill_on_timeout"
        ),
        tags=check_tags(spec.tags, where),
        idempotency_key=key,
        retry_delay=optional_seconds(spec.retry_delay, where, "retry_delay"),
        retry_backoff=spec.retry_backoff,
        retry_delay_max=optional_seconds(
            spec.retry_delay_max, where, "retry_delay_max"
        ),
        flow_id=flow_id,
    )


def tag_filter(value: Any, where: str) -> TagFilter:
    if isinstance(value, TagFilter):
        values, mode = value.values, value.mode
    elif isinstance(value, Mapping):
        unknown = set(value) - {"values", "mode"}
        if unknown:
            raise TypeError(
                f"{where}: unknown key(s) in tags filter: {sorted(unknown)}"
            )
        if "values" not in value:
            raise ValueError(f"{where}: tags filter needs 'values'")
        values, mode = value["values"], value.get("mode", "all")
    elif isinstance(value, list | tuple):
        values, mode = list(value), "all"
    else:
        raise TypeError(f"{where}: tags must be a TagFilter or a dict, got {value!r}")
    if mode not in TAG_MODES:
        raise ValueError(
            f"{where}: tag mode must be one of {', '.join(TAG_MODES)}, got {mode!r}"
        )
    return TagFilter(check_tags(values, where), mode)


def time_range(value: Any, where: str) -> TimeRange:
    if isinstance(value, datetime):
        return TimeRange(eq=aware_utc(value, where, "run_at"))
    if isinstance(value, TimeRange):
        bounds = {k: getattr(value, k) for k in ("gt", "gte", "lt", "lte", "eq")}
    elif isinstance(value, Mapping):
        bounds = dict(value)
    else:
        raise TypeError(
            f"{where}: run_at must be a datetime, a TimeRange or a dict, got {value!r}"
        )
    unknown = set(bounds) - {"gt", "gte", "lt", "lte", "eq"}
    if unknown:
        raise TypeError(
            f"{where}: unknown run_at operator(s) {sorted(unknown)}; "
            "use gt, gte, lt, lte or eq"
        )
    return TimeRange(
        **{
            k: aware_utc(v, where, f"run_at.{k}")
            for k, v in bounds.items()
            if v is not None
        }
    )


def job_filter(
    filters: Mapping[str, Any] | None, where: str, status: Any = None
) -> JobFilter:
    """Validate the filters of get_jobs and the bulk edit/cancel calls."""
    filters = dict(filters or {})
    unknown = set(filters) - set(FILTER_KEYS)
    if unknown:
        raise TypeError(
            f"{where}: unknown filter(s) {sorted(unknown)}; "
            f"use {', '.join(FILTER_KEYS)}"
        )
    job_type = filters.get("job_type")
    priority = filters.get("priority")
    run_at = filters.get("run_at")
    tags = filters.get("tags")
    return JobFilter(
        job_type=None if job_type is None else check_job_type(job_type, where),
        priority=None if priority is None else check_int(priority, where, "priority"),
        run_at=None if run_at is None else time_range(run_at, where),
        tags=None if tags is None else tag_filter(tags, where),
        status=None if status is None else job_status(status, where),
    )


def job_status(value: Any, where: str) -> JobStatus:
    try:
        return JobStatus(value)
    except ValueError:
        choices = ", ".join(s.value for s in JobStatus)
        raise ValueError(
            f"{where}: status must be one of {choices}, got {value!r}"
        ) from None


def job_changes(updates: Mapping[str, Any], where: str) -> JobChanges:
    """Validate the fields of edit_job / edit_all_pending_jobs."""
    unknown = set(updates) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(
            f"{where}: field(s) {sorted(unknown)} cannot be edited; "
            f"editable: {', '.join(EDITABLE_FIELDS)}"
        )
    values: dict[str, Any] = {}
    metadata: dict[str, JSONValue] = {}
    for name, raw in updates.items():
        value: Any
        if name == "payload":
            value = check_json(raw, where)
        elif name == "priority":
            value = check_int(raw, where, name)
        elif name == "max_attempts":
            value = check_int(raw, where, name, minimum=1)
        elif name == "run_at":
            value = None if raw is None else aware_utc(raw, where, name)
        elif name == "timeout":
            value = optional_seconds(raw, where, name, allow_zero=False)
        elif name == "tags":
            value = check_tags(raw, where)
        elif name == "retry_backoff":
            value = None if raw is None else check_bool(raw, where, name)
        else:
            value = optional_seconds(raw, where, name)
        values[name] = value
        metadata[name] = value.isoformat() if isinstance(value, datetime) else value
    return JobChanges(values, metadata)
