"""The arguments of ``set_limits``, ``clear_limits``, ``pause`` and ``resume``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dataqueue._commands import LimitChanges
from dataqueue._validate.basics import (
    MAX_JOB_DURATION_SECONDS,
    check_int,
    check_job_type,
    kind,
    to_seconds,
)
from dataqueue.limits import ALL_TYPES, Rate

MAX_LIMIT = 1_000_000
"""The largest concurrency or rate count: far beyond any real fleet."""


def check_rate(value: Any, where: str, name: str) -> Rate | None:
    if value is None:
        return None
    if not isinstance(value, Rate):
        raise TypeError(
            f"{where}: {name} must be a dq.Rate(count, per=seconds), got {kind(value)}"
        )
    count = check_int(value.count, where, f"{name}.count", minimum=1, maximum=MAX_LIMIT)
    per = to_seconds(
        value.per,
        where,
        f"{name}.per",
        allow_zero=False,
        maximum=MAX_JOB_DURATION_SECONDS,
    )
    return Rate(count, per)


def check_cap(value: Any, where: str, name: str) -> int | None:
    if value is None:
        return None
    return check_int(value, where, name, minimum=1, maximum=MAX_LIMIT)


def limit_changes(job_type: Any, values: Mapping[str, Any], where: str) -> LimitChanges:
    """``set_limits``: only the limits given change; None removes one."""
    job_type = limited_type(job_type, where)
    checked: dict[str, Any] = {}
    for name, value in values.items():
        if name in ("rate", "group_rate"):
            checked[name] = check_rate(value, where, name)
        else:
            checked[name] = check_cap(value, where, name)
    return LimitChanges(job_type, checked)


def limited_type(job_type: Any, where: str) -> str:
    checked: str = check_job_type(job_type, where)
    if checked == ALL_TYPES:
        raise ValueError(
            f"{where}: job_type {ALL_TYPES!r} is not a type; limits are per job type"
        )
    return checked


def pause_changes(job_type: Any, paused: bool, where: str) -> LimitChanges:
    """``pause(job_type)`` / ``resume(job_type)``; None: every type (resume
    clears every pause; pause is kept under ``"*"``)."""
    if job_type is None:
        return LimitChanges(ALL_TYPES if paused else None, {"paused": paused})
    return LimitChanges(limited_type(job_type, where), {"paused": paused})
