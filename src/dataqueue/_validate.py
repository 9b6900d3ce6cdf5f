"""The edge: every public argument is checked and normalized here, once.

Each function raises ``ValueError`` or ``TypeError`` with a message that names
the call, the field and the bad value, before anything is written. The limits
below are the same for every store (each of them can hold every accepted
value exactly) and are listed, with their reasons, in ``docs/limits.md``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from dataqueue._commands import (
    CRON_EDITABLE_FIELDS,
    EDITABLE_FIELDS,
    CronChanges,
    JobChanges,
    JobFilter,
    NewCronJob,
    NewJob,
)
from dataqueue.cron import (
    CronJob,
    CronStatus,
    next_run_after,
    normalize_expression,
    zone,
)
from dataqueue.models import (
    TAG_MODES,
    Entity,
    JobSpec,
    JobStatus,
    TagFilter,
    TimeRange,
)
from dataqueue.retry import MAX_RETRY_DELAY_SECONDS
from dataqueue.types import Handler, JSONValue

# -- the limits (docs/limits.md) ----------------------------------------------

MAX_NAME_CHARS = 255
"""job_type, idempotency_key, each tag, worker_id: characters, not bytes."""
MAX_TAGS = 100
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
"""priority and max_attempts: PostgreSQL INTEGER."""
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
"""ids, limit, offset (non-negative part) and integers inside JSON values."""
MAX_JSON_DEPTH = 64
"""Nested lists/dicts in a payload or output; far below Python's recursion
limit and the 1000 of Lua cjson."""
MAX_PAYLOAD_BYTES = 1024 * 1024
"""A payload (or edited payload) serialized as UTF-8 JSON."""
MAX_OUTPUT_BYTES = 256 * 1024
"""A handler's return value serialized as UTF-8 JSON."""
MAX_JOB_DURATION_SECONDS = MAX_RETRY_DELAY_SECONDS
"""timeout, retry_delay, retry_delay_max, the stuck threshold, poll and
supervisor intervals: 365 days."""
MAX_SPAN_SECONDS = 36500 * 86400.0
"""Any other duration (days to keep, drain timeouts): 100 years."""
EARLIEST_RUN_AT = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_RUN_AT = datetime(9999, 1, 1, tzinfo=UTC)
"""A stored run_at lies in [EARLIEST_RUN_AT, LATEST_RUN_AT): a year of headroom
below ``datetime.max`` so that no time computed from it can overflow."""
MAX_BATCH_SIZE = 1000
MAX_CONCURRENCY = 1000
MAX_CONNECTIONS = 1000
MIN_POLL_INTERVAL = 0.01
"""An idle processor claims at most 100 times a second."""
MAX_KEY_PREFIX_CHARS = 100
# Five fields of lists and ranges fit easily; more only costs every reader
# (each dashboard view evaluates the expression).
MAX_CRON_EXPRESSION_CHARS = 256
MAX_MESSAGE_CHARS = 8192
"""An error message stored in ``error_history`` is cut to this length."""
MAX_TRACEBACK_BYTES = 8192
"""A handler's traceback stored in ``error_history`` keeps its last 8 KiB."""

FILTER_KEYS = ("job_type", "priority", "run_at", "tags")

# Control characters (Unicode category Cc) and lone surrogates: never in a name.
_BAD_NAME_CHAR = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Lone surrogates cannot be encoded as UTF-8; NUL cannot be stored by PostgreSQL.
_BAD_TEXT_CHAR = re.compile("[\x00\ud800-\udfff]")
_SCHEMA = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_BRACES = frozenset("{}")
_GLOB_CHARS = frozenset("*?[]\\")

Unit = Literal["seconds", "minutes", "days"]
_UNIT_SECONDS: dict[str, float] = {"seconds": 1.0, "minutes": 60.0, "days": 86400.0}


def show(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters: safe to put in any message."""
    if isinstance(value, int) and value.bit_length() > 256:
        return f"<int of {value.bit_length()} bits>"  # repr may refuse: 4300 digits
    try:
        text = repr(value)
    except RecursionError:
        text = f"<deeply nested {type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _kind(value: Any) -> str:
    return f"{type(value).__name__}: {show(value)}"


# -- JSON values --------------------------------------------------------------


class _BadJSON(Exception):
    """Raised deep inside ``_walk``; collects the path while unwinding."""

    def __init__(self, error: type[Exception], problem: str) -> None:
        super().__init__(problem)
        self.error = error
        self.problem = problem
        self.path: list[str] = []


def _text_problem(text: str) -> str | None:
    bad = _BAD_TEXT_CHAR.search(text)
    if bad is None:
        return None
    if bad.group() == "\x00":
        return "contains NUL ('\\x00'), which PostgreSQL cannot store"
    return (
        f"contains a lone surrogate {bad.group()!r}, which is not valid Unicode "
        "text (it cannot be encoded as UTF-8)"
    )


def _walk(value: Any, depth: int) -> int:
    """Check one JSON value; return an upper bound of its serialized size."""
    if isinstance(value, str):
        if not value.isascii() or "\x00" in value:
            problem = _text_problem(value)
            if problem is not None:
                raise _BadJSON(ValueError, f"{show(value)} {problem}")
        return 6 * len(value) + 2  # no character serializes to more than 6 bytes
    if value is None or isinstance(value, bool):
        return 5
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise _BadJSON(
                ValueError,
                f"integer {show(value)} is outside the 64-bit range "
                f"[-2**63, 2**63 - 1] that every store keeps exactly",
            )
        return 20
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _BadJSON(ValueError, f"{value!r} is not a JSON number")
        return 24
    if isinstance(value, list | dict):
        if depth >= MAX_JSON_DEPTH:
            raise _BadJSON(
                ValueError, f"is nested deeper than {MAX_JSON_DEPTH} lists/dicts"
            )
        size = 2
        if isinstance(value, list):
            for index, item in enumerate(value):
                try:
                    size += _walk(item, depth + 1) + 1
                except _BadJSON as bad:
                    bad.path.append(f"[{index}]")
                    raise
            return size
        for key, item in value.items():
            if not isinstance(key, str):
                raise _BadJSON(
                    TypeError,
                    f"has a non-string key {show(key)}; JSON keys must be strings",
                )
            try:
                size += _walk(key, depth + 1) + _walk(item, depth + 1) + 2
            except _BadJSON as bad:
                bad.path.append(f"[{show(key, 40)}]")
                raise
        return size
    raise _BadJSON(
        TypeError,
        "must be JSON (dict, list, str, int, float, bool, None), got " + _kind(value),
    )


def check_json(
    value: Any,
    where: str,
    path: str = "payload",
    *,
    max_bytes: int = MAX_PAYLOAD_BYTES,
) -> JSONValue:
    """Return ``value`` if it is JSON that every store keeps exactly.

    Strings hold any Unicode text but NUL; integers are 64-bit; floats are
    finite; lists and dicts nest at most ``MAX_JSON_DEPTH`` deep; the UTF-8
    JSON text is at most ``max_bytes``. Otherwise raise naming the bad part.
    """
    try:
        bound = _walk(value, 0)
    except _BadJSON as bad:
        steps = bad.path[::-1]
        if len(steps) > 8:  # a path 64 levels deep says no more than this
            steps = [*steps[:4], "…", *steps[-2:]]
        where_in = path + "".join(steps)
        raise bad.error(f"{where}: {where_in} {bad.problem}") from None
    if bound > max_bytes:
        size = len(to_json_text(cast(JSONValue, value)).encode())
        if size > max_bytes:
            raise ValueError(
                f"{where}: {path} is {size} bytes as JSON, over the limit of "
                f"{max_bytes} bytes"
            )
    return cast(JSONValue, value)


def to_json_text(value: JSONValue) -> str:
    """Serialize a value already checked by ``check_json``; floats keep every
    bit (``repr``), so the text reads back to the same value."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def storable_text(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Any text made storable on every store: NUL and lone surrogates become
    U+FFFD, and it is cut to ``limit`` characters. For messages dataqueue
    records itself (a handler's exception text), which must never fail."""
    return _BAD_TEXT_CHAR.sub("\ufffd", text[:limit])


# -- names and scalars -----------------------------------------------------


def check_name(
    value: Any, where: str, name: str, *, max_chars: int = MAX_NAME_CHARS
) -> str:
    """A name (job type, tag, key, worker id): a str of 1 to ``max_chars``
    characters, not only whitespace, without control characters."""
    if not isinstance(value, str):
        raise TypeError(f"{where}: {name} must be a str, got {_kind(value)}")
    if not value.strip():
        raise ValueError(f"{where}: {name} must not be empty or blank, got {value!r}")
    if len(value) > max_chars:
        raise ValueError(
            f"{where}: {name} is {len(value)} characters long, over the limit of "
            f"{max_chars}: {show(value)}"
        )
    bad = _BAD_NAME_CHAR.search(value)
    if bad is not None:
        raise ValueError(
            f"{where}: {name} must not contain control characters or lone "
            f"surrogates, found {bad.group()!r} in {show(value)}"
        )
    return str.__str__(value)  # a plain str, also for a str subclass


def check_job_type(value: Any, where: str) -> str:
    return check_name(value, where, "job_type")


def check_int(
    value: Any,
    where: str,
    name: str,
    *,
    minimum: int | None = INT64_MIN,
    maximum: int = INT64_MAX,
) -> int:
    """An ``int`` (not a bool) in ``[minimum, maximum]``, as a plain int."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be an int, got {_kind(value)}")
    low = INT64_MIN if minimum is None else minimum
    if not low <= value <= maximum:
        raise ValueError(
            f"{where}: {name} must be between {low} and {maximum}, got {show(value)}"
        )
    return int(value)


def check_id(value: Any, where: str, name: str = "job_id") -> int:
    return check_int(value, where, name, minimum=1)


def check_priority(value: Any, where: str) -> int:
    return check_int(value, where, "priority", minimum=INT32_MIN, maximum=INT32_MAX)


def check_max_attempts(value: Any, where: str) -> int:
    return check_int(value, where, "max_attempts", minimum=1, maximum=INT32_MAX)


def check_bool(value: Any, where: str, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be True or False, got {_kind(value)}")
    return value


def check_page(limit: Any, offset: Any, where: str) -> tuple[int, int]:
    return (
        check_int(limit, where, "limit", minimum=0),
        check_int(offset, where, "offset", minimum=0),
    )


def check_tags(value: Any, where: str, name: str = "tags") -> list[str]:
    """Tags as a list of unique names, in the order given (None: no tags).

    Only a list or tuple is accepted: a set has no order and a dict is most
    likely a filter given where tags were meant.
    """
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise TypeError(f"{where}: {name} must be a list of str, got {_kind(value)}")
    if len(value) > MAX_TAGS:
        raise ValueError(
            f"{where}: {name} has {len(value)} entries, over the limit of {MAX_TAGS}"
        )
    return list(
        dict.fromkeys(
            check_name(tag, where, f"{name}[{i}]") for i, tag in enumerate(value)
        )
    )


# -- durations and times ------------------------------------------------------


def to_seconds(
    value: Any,
    where: str,
    name: str,
    *,
    allow_zero: bool = True,
    unit: Unit = "seconds",
    minimum: float = 0.0,
    maximum: float = MAX_SPAN_SECONDS,
) -> float:
    """A duration as float seconds: a ``timedelta``, or a number of ``unit``
    (seconds, minutes or days). Zero only with ``allow_zero``; never below
    ``minimum`` (seconds) nor above ``maximum`` (seconds)."""
    factor = _UNIT_SECONDS[unit]
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            seconds = float(value) * factor
        except OverflowError:
            seconds = math.inf
    else:
        raise TypeError(
            f"{where}: {name} must be a number of {unit} or a timedelta, got "
            f"{_kind(value)}"
        )
    in_range = minimum <= seconds <= maximum and (seconds > 0 or allow_zero)
    if not in_range:  # also NaN
        low = _number(minimum / factor)
        bound = f"at least {low}" if allow_zero else f"more than {low}"
        top = f"{_number(maximum / factor)} {unit}"
        if unit != "days":
            top += f" ({_number(maximum / 86400)} days)"
        raise ValueError(
            f"{where}: {name} must be {bound} and at most {top} (or a timedelta), "
            f"got {show(value)}"
        )
    return seconds + 0.0  # -0.0 becomes 0.0


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else f"{value:g}"


def optional_seconds(
    value: Any,
    where: str,
    name: str,
    *,
    allow_zero: bool = True,
    maximum: float = MAX_SPAN_SECONDS,
) -> float | None:
    if value is None:
        return None
    return to_seconds(value, where, name, allow_zero=allow_zero, maximum=maximum)


def job_duration(
    value: Any, where: str, name: str, *, allow_zero: bool
) -> float | None:
    """timeout / retry_delay / retry_delay_max of a job: None, or seconds up
    to ``MAX_JOB_DURATION_SECONDS``."""
    return optional_seconds(
        value, where, name, allow_zero=allow_zero, maximum=MAX_JOB_DURATION_SECONDS
    )


def aware_utc(value: Any, where: str, name: str) -> datetime:
    """An aware datetime converted to UTC; naive or non-datetime is rejected."""
    if not isinstance(value, datetime):
        raise TypeError(f"{where}: {name} must be a datetime, got {_kind(value)}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{where}: {name} must be timezone-aware, got {value}")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"{where}: {name} {value} is outside the range of datetime in UTC"
        ) from None


def check_run_at(value: Any, where: str, name: str = "run_at") -> datetime:
    """A run_at to store: aware, in [1970-01-01, 9999-01-01) UTC."""
    when = aware_utc(value, where, name)
    if not EARLIEST_RUN_AT <= when < LATEST_RUN_AT:
        raise ValueError(
            f"{where}: {name} must be from {EARLIEST_RUN_AT.isoformat()} up to "
            f"{LATEST_RUN_AT.isoformat()} (exclusive), got {when.isoformat()}"
        )
    return when


def _retry_delays_in_order(
    delay: float | None, delay_max: float | None, where: str
) -> None:
    if delay is not None and delay_max is not None and delay_max < delay:
        raise ValueError(
            f"{where}: retry_delay_max ({delay_max:g}s) must not be less than "
            f"retry_delay ({delay:g}s)"
        )


# -- jobs ------------------------------------------------------------------


def check_entity(value: Any, where: str, name: str = "entity") -> Entity:
    """An entity binding: a dict with exactly the names ``id`` and ``type``."""
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{where}: {name} must be a dict with 'id' and 'type', got {_kind(value)}"
        )
    if set(value) != {"id", "type"}:
        raise ValueError(
            f"{where}: {name} must have exactly the keys 'id' and 'type', got "
            f"{sorted(map(str, value))}"
        )
    return Entity(
        id=check_name(value["id"], where, f"{name}['id']"),
        type=check_name(value["type"], where, f"{name}['type']"),
    )


def new_job(
    spec: JobSpec,
    flow_id: str | None = None,
    *,
    where: str | None = None,
    flow_step_index: int | None = None,
) -> NewJob:
    """Validate one job spec (``where`` names the call; default ``add_job``)."""
    if where is None:
        where = f"add_job({show(spec.job_type, 60)})"
    job_type = check_job_type(spec.job_type, where)
    key = spec.idempotency_key
    if key is not None:
        key = check_name(key, where, "idempotency_key")
    retry_delay = job_duration(spec.retry_delay, where, "retry_delay", allow_zero=True)
    retry_delay_max = job_duration(
        spec.retry_delay_max, where, "retry_delay_max", allow_zero=True
    )
    _retry_delays_in_order(retry_delay, retry_delay_max, where)
    return NewJob(
        job_type=job_type,
        payload=check_json(spec.payload, where),
        priority=check_priority(spec.priority, where),
        run_at=None if spec.run_at is None else check_run_at(spec.run_at, where),
        max_attempts=check_max_attempts(spec.max_attempts, where),
        timeout=job_duration(spec.timeout, where, "timeout", allow_zero=False),
        force_kill_on_timeout=check_bool(
            spec.force_kill_on_timeout, where, "force_kill_on_timeout"
        ),
        tags=check_tags(spec.tags, where),
        idempotency_key=key,
        retry_delay=retry_delay,
        retry_backoff=None
        if spec.retry_backoff is None
        else check_bool(spec.retry_backoff, where, "retry_backoff"),
        retry_delay_max=retry_delay_max,
        flow_id=flow_id,
        flow_step_index=flow_step_index,
        entity=None if spec.entity is None else check_entity(spec.entity, where),
    )


def new_jobs(specs: Any, where: str = "add_jobs") -> list[NewJob]:
    """Validate the specs of ``add_jobs``: a list or tuple of ``JobSpec``."""
    if not isinstance(specs, list | tuple):
        raise TypeError(
            f"{where}: specs must be a list of dataqueue.JobSpec, got {_kind(specs)}"
        )
    jobs = []
    for index, spec in enumerate(specs):
        if not isinstance(spec, JobSpec):
            raise TypeError(
                f"{where}: specs[{index}] must be a dataqueue.JobSpec, got "
                f"{_kind(spec)}"
            )
        label = f"{where}: specs[{index}] ({show(spec.job_type, 60)})"
        jobs.append(new_job(spec, where=label))
    return jobs


def _reject_unknown_fields(
    updates: Mapping[str, Any], editable: tuple[str, ...], where: str
) -> None:
    unknown = set(updates) - set(editable)
    if unknown:
        raise TypeError(
            f"{where}: field(s) {sorted(map(str, unknown))} cannot be edited; "
            f"editable: {', '.join(editable)}"
        )


def _job_option(name: str, raw: Any, where: str) -> Any:
    """One edited job option, as ``add_job`` checks it: the fields that
    ``edit_job`` and ``edit_cron_job`` (whose schedules copy them onto each
    job) share. ``name`` is already known to be editable."""
    if name == "payload":
        return check_json(raw, where)
    if name == "priority":
        return check_priority(raw, where)
    if name == "max_attempts":
        return check_max_attempts(raw, where)
    if name == "timeout":
        return job_duration(raw, where, name, allow_zero=False)
    if name == "tags":
        return check_tags(raw, where)
    if name == "retry_backoff":
        return None if raw is None else check_bool(raw, where, name)
    return job_duration(raw, where, name, allow_zero=True)  # retry_delay(_max)


def job_changes(updates: Mapping[str, Any], where: str) -> JobChanges:
    """Validate the fields of edit_job / edit_all_pending_jobs."""
    _reject_unknown_fields(updates, EDITABLE_FIELDS, where)
    values: dict[str, Any] = {}
    metadata: dict[str, JSONValue] = {}
    for name, raw in updates.items():
        value: Any
        if name == "run_at":
            value = None if raw is None else check_run_at(raw, where)
        else:
            value = _job_option(name, raw, where)
        values[name] = value
        metadata[name] = value.isoformat() if isinstance(value, datetime) else value
    _retry_delays_in_order(
        values.get("retry_delay"), values.get("retry_delay_max"), where
    )
    return JobChanges(values, metadata)


# -- filters ---------------------------------------------------------------


def tag_filter(value: Any, where: str) -> TagFilter:
    values: Any
    if isinstance(value, TagFilter):
        values, mode = value.values, value.mode
    elif isinstance(value, Mapping):
        unknown = set(value) - {"values", "mode"}
        if unknown:
            raise TypeError(
                f"{where}: unknown key(s) in tags filter: {sorted(map(str, unknown))}"
            )
        if "values" not in value:
            raise ValueError(f"{where}: tags filter needs 'values'")
        values, mode = value["values"], value.get("mode", "all")
    elif isinstance(value, list | tuple):
        values, mode = value, "all"
    else:
        raise TypeError(
            f"{where}: tags must be a TagFilter, a dict or a list, got {_kind(value)}"
        )
    if mode not in TAG_MODES:
        raise ValueError(
            f"{where}: tag mode must be one of {', '.join(TAG_MODES)}, got {show(mode)}"
        )
    return TagFilter(check_tags(values, where, "tags.values"), mode)


def time_range(value: Any, where: str) -> TimeRange:
    if isinstance(value, datetime):
        return TimeRange(eq=aware_utc(value, where, "run_at"))
    if isinstance(value, TimeRange):
        bounds = {k: getattr(value, k) for k in ("gt", "gte", "lt", "lte", "eq")}
    elif isinstance(value, Mapping):
        bounds = dict(value)
    else:
        raise TypeError(
            f"{where}: run_at must be a datetime, a TimeRange or a dict, got "
            f"{_kind(value)}"
        )
    unknown = set(bounds) - {"gt", "gte", "lt", "lte", "eq"}
    if unknown:
        raise TypeError(
            f"{where}: unknown run_at operator(s) {sorted(map(str, unknown))}; "
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
    filters: Mapping[str, Any] | None,
    where: str,
    status: Any = None,
    more: Mapping[str, Any] | None = None,
) -> JobFilter:
    """Validate the filters of get_jobs and the bulk edit/cancel calls:
    ``filters`` (a dict) and ``more`` (given as keywords) combined."""
    if filters is not None and not isinstance(filters, Mapping):
        raise TypeError(f"{where}: filters must be a dict, got {_kind(filters)}")
    filters = {**(filters or {}), **(more or {})}
    unknown = set(filters) - set(FILTER_KEYS)
    if unknown:
        raise TypeError(
            f"{where}: unknown filter(s) {sorted(map(str, unknown))}; "
            f"use {', '.join(FILTER_KEYS)}"
        )
    job_type = filters.get("job_type")
    priority = filters.get("priority")
    run_at = filters.get("run_at")
    tags = filters.get("tags")
    return JobFilter(
        job_type=None if job_type is None else check_job_type(job_type, where),
        priority=None if priority is None else check_priority(priority, where),
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
            f"{where}: status must be one of {choices}, got {show(value)}"
        ) from None


# -- cron schedules ----------------------------------------------------------


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
) -> NewCronJob:
    """Validate the arguments of ``add_cron_job``: the schedule, and the job
    options it copies onto each job, checked as ``add_job`` checks them."""
    where = f"add_cron_job({show(schedule_name, 60)})"
    name = check_schedule_name(schedule_name, where)
    text = check_cron_expression(cron_expression, where)
    tz_name = timezone_name(timezone, where)
    delay = job_duration(retry_delay, where, "retry_delay", allow_zero=True)
    delay_max = job_duration(retry_delay_max, where, "retry_delay_max", allow_zero=True)
    _retry_delays_in_order(delay, delay_max, where)
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
    )


def cron_changes(
    updates: Mapping[str, Any], current: CronJob, now: datetime, where: str
) -> CronChanges:
    """Validate edits to ``current``; recompute the next run when the
    expression or the time zone changes."""
    _reject_unknown_fields(updates, CRON_EDITABLE_FIELDS, where)
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
        else:
            value = _job_option(name, raw, where)
        values[name] = value
    _retry_delays_in_order(
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


# -- maintenance -----------------------------------------------------------


def stuck_threshold(value: Any, where: str, name: str) -> float:
    """The stuck-job threshold in seconds: minutes, or a timedelta."""
    return to_seconds(
        value, where, name, unit="minutes", maximum=MAX_JOB_DURATION_SECONDS
    )


def days_to_keep(value: Any, where: str, name: str = "days_to_keep") -> float:
    """How long finished jobs or events are kept, in seconds: days, or a
    timedelta; at most 100 years."""
    return to_seconds(value, where, name, unit="days")


# -- processors, supervisors, connections ------------------------------------


@dataclass(frozen=True, slots=True)
class ProcessorOptions:
    """The checked arguments of ``create_processor``."""

    handlers: dict[str, Handler]
    worker_id: str | None
    batch_size: int
    concurrency: int
    poll_interval: float
    on_error: Callable[[BaseException], Any] | None
    verbose: bool
    job_types: tuple[str, ...] | None
    heartbeat_interval: float


def processor_options(
    handlers: Any,
    *,
    worker_id: Any = None,
    batch_size: Any = 10,
    concurrency: Any = 3,
    poll_interval: Any = 5,
    on_error: Any = None,
    verbose: Any = False,
    job_type: Any = None,
    heartbeat_interval: Any = 10,
    where: str = "create_processor",
) -> ProcessorOptions:
    """Check every argument of ``create_processor`` at the call."""
    if not isinstance(handlers, Mapping):
        raise TypeError(
            f"{where}: handlers must be a dict of job type to function, got "
            f"{_kind(handlers)}"
        )
    checked: dict[str, Handler] = {}
    for name, handler in handlers.items():
        check_name(name, where, "handlers key")
        if not callable(handler):
            raise TypeError(
                f"{where}: handler for {show(name)} is not callable: {_kind(handler)}"
            )
        checked[name] = handler
    if on_error is not None and not callable(on_error):
        raise TypeError(f"{where}: on_error must be callable, got {_kind(on_error)}")
    job_types: tuple[str, ...] | None = None
    if job_type is not None:
        many = [job_type] if isinstance(job_type, str) else job_type
        if not isinstance(many, list | tuple):
            raise TypeError(
                f"{where}: job_type must be a str or a list of str, got "
                f"{_kind(job_type)}"
            )
        if not many:
            raise ValueError(f"{where}: job_type must not be an empty list")
        job_types = tuple(
            dict.fromkeys(
                check_name(t, where, f"job_type[{i}]") for i, t in enumerate(many)
            )
        )
    return ProcessorOptions(
        handlers=checked,
        worker_id=None
        if worker_id is None
        else check_name(worker_id, where, "worker_id"),
        batch_size=check_int(
            batch_size, where, "batch_size", minimum=1, maximum=MAX_BATCH_SIZE
        ),
        concurrency=check_int(
            concurrency, where, "concurrency", minimum=1, maximum=MAX_CONCURRENCY
        ),
        poll_interval=to_seconds(
            poll_interval,
            where,
            "poll_interval",
            minimum=MIN_POLL_INTERVAL,
            maximum=MAX_JOB_DURATION_SECONDS,
        ),
        on_error=on_error,
        verbose=check_bool(verbose, where, "verbose"),
        job_types=job_types,
        heartbeat_interval=to_seconds(
            heartbeat_interval,
            where,
            "heartbeat_interval",
            minimum=MIN_POLL_INTERVAL,
            maximum=MAX_JOB_DURATION_SECONDS,
        ),
    )


@dataclass(frozen=True, slots=True)
class SupervisorOptions:
    """The checked arguments of ``create_supervisor``, in seconds; ``None``:
    that cleanup is off."""

    interval: float
    stuck_seconds: float
    keep_jobs_seconds: float | None
    keep_events_seconds: float | None


def supervisor_options(
    *,
    interval: Any = 60,
    stuck_jobs_timeout_minutes: Any = 1,
    cleanup_jobs_days_to_keep: Any = 30,
    cleanup_events_days_to_keep: Any = 30,
    where: str = "create_supervisor",
) -> SupervisorOptions:
    """Check every argument of ``create_supervisor`` at the call."""
    stuck = to_seconds(
        stuck_jobs_timeout_minutes,
        where,
        "stuck_jobs_timeout_minutes",
        allow_zero=False,
        unit="minutes",
        maximum=MAX_JOB_DURATION_SECONDS,
    )

    def keep(value: Any, name: str) -> float | None:
        return None if value is None else days_to_keep(value, where, name)

    return SupervisorOptions(
        interval=to_seconds(
            interval,
            where,
            "interval",
            minimum=MIN_POLL_INTERVAL,
            maximum=MAX_JOB_DURATION_SECONDS,
        ),
        stuck_seconds=stuck,
        keep_jobs_seconds=keep(cleanup_jobs_days_to_keep, "cleanup_jobs_days_to_keep"),
        keep_events_seconds=keep(
            cleanup_events_days_to_keep, "cleanup_events_days_to_keep"
        ),
    )


def check_url(value: Any, where: str = "connect") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{where}: url must be a str, got {_kind(value)}")
    bad = _BAD_NAME_CHAR.search(value)
    if bad is not None:
        raise ValueError(
            f"{where}: url must not contain control characters, found {bad.group()!r}"
        )
    return value


def check_schema(value: Any, where: str = "connect") -> str | None:
    """A PostgreSQL schema: a plain identifier, not reserved (``pg_…``)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{where}: schema must be a str, got {_kind(value)}")
    if not _SCHEMA.fullmatch(value) or value.lower().startswith("pg_"):
        raise ValueError(
            f"{where}: schema must be a plain identifier (a letter or _, then "
            "letters, digits or _; at most 63 characters; not starting with "
            f"pg_), got {show(value)}"
        )
    return value


def check_key_prefix(value: Any, where: str = "connect") -> str | None:
    """A Redis key prefix: a name of at most 100 characters without the glob
    characters ``* ? [ ] \\`` (the prefix is matched when keys are scanned)
    nor braces (dataqueue makes the prefix the hash tag ``{prefix}`` itself)."""
    if value is None:
        return None
    prefix = check_name(value, where, "key_prefix", max_chars=MAX_KEY_PREFIX_CHARS)
    glob = sorted(_GLOB_CHARS.intersection(prefix))
    if glob:
        raise ValueError(
            f"{where}: key_prefix must not contain the glob characters "
            f"{' '.join(glob)}, got {show(prefix)}"
        )
    braces = sorted(_BRACES.intersection(prefix))
    if braces:
        raise ValueError(
            f"{where}: key_prefix must not contain {' '.join(braces)} "
            f"(dataqueue wraps the prefix in one hash tag itself), got {show(prefix)}"
        )
    return prefix


def check_tls(value: Any, where: str, name: str) -> Mapping[str, Any] | None:
    if value is not None and not isinstance(value, Mapping):
        raise TypeError(
            f"{where}: {name} must be a dict (ca, cert, key, reject_unauthorized), "
            f"got {_kind(value)}"
        )
    return value


def check_clock(value: Any, where: str = "connect") -> Any:
    if value is not None and not callable(getattr(value, "now", None)):
        raise TypeError(
            f"{where}: clock must have a now() method returning a datetime, got "
            f"{_kind(value)}"
        )
    return value
