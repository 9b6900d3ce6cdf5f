"""The edge's basics: the limits, JSON values, names, scalars, durations
and times, which the checks of every area use.

Each function raises ``ValueError`` or ``TypeError`` with a message that names
the call, the field and the bad value, before anything is written. The limits
below are the same for every store (each of them can hold every accepted
value exactly) and are listed, with their reasons, in ``docs/limits.md``.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from dataqueue.retry import MAX_RETRY_DELAY_SECONDS
from dataqueue.types import JSONValue

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
BAD_NAME_CHAR = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Lone surrogates cannot be encoded as UTF-8; NUL cannot be stored by PostgreSQL.
BAD_TEXT_CHAR = re.compile("[\x00\ud800-\udfff]")
SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
BRACES = frozenset("{}")
GLOB_CHARS = frozenset("*?[]\\")

Unit = Literal["seconds", "minutes", "days"]
UNIT_SECONDS: dict[str, float] = {"seconds": 1.0, "minutes": 60.0, "days": 86400.0}


def show(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters: safe to put in any message."""
    if isinstance(value, int) and value.bit_length() > 256:
        return f"<int of {value.bit_length()} bits>"  # repr may refuse: 4300 digits
    try:
        text = repr(value)
    except RecursionError:
        text = f"<deeply nested {type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def kind(value: Any) -> str:
    return f"{type(value).__name__}: {show(value)}"


# -- JSON values --------------------------------------------------------------


class _BadJSON(Exception):
    """Raised deep inside ``_walk``; collects the path while unwinding."""

    def __init__(self, error: type[Exception], problem: str) -> None:
        super().__init__(problem)
        self.error = error
        self.problem = problem
        self.path: list[str] = []


def text_problem(text: str) -> str | None:
    bad = BAD_TEXT_CHAR.search(text)
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
            problem = text_problem(value)
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
        "must be JSON (dict, list, str, int, float, bool, None), got " + kind(value),
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


# One encoder for every call: json.dumps with options builds a new one each time.
_ENCODE_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def to_json_text(value: JSONValue) -> str:
    """Serialize a value already checked by ``check_json``; floats keep every
    bit (``repr``), so the text reads back to the same value."""
    return _ENCODE_JSON(value)


def storable_text(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Any text made storable on every store: NUL and lone surrogates become
    U+FFFD, and it is cut to ``limit`` characters. For messages dataqueue
    records itself (a handler's exception text), which must never fail."""
    return BAD_TEXT_CHAR.sub("\ufffd", text[:limit])


# -- names and scalars -----------------------------------------------------


def check_name(
    value: Any, where: str, name: str, *, max_chars: int = MAX_NAME_CHARS
) -> str:
    """A name (job type, tag, key, worker id): a str of 1 to ``max_chars``
    characters, not only whitespace, without control characters."""
    if not isinstance(value, str):
        raise TypeError(f"{where}: {name} must be a str, got {kind(value)}")
    if not value.strip():
        raise ValueError(f"{where}: {name} must not be empty or blank, got {value!r}")
    if len(value) > max_chars:
        raise ValueError(
            f"{where}: {name} is {len(value)} characters long, over the limit of "
            f"{max_chars}: {show(value)}"
        )
    bad = BAD_NAME_CHAR.search(value)
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
        raise TypeError(f"{where}: {name} must be an int, got {kind(value)}")
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
        raise TypeError(f"{where}: {name} must be True or False, got {kind(value)}")
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
        raise TypeError(f"{where}: {name} must be a list of str, got {kind(value)}")
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
    factor = UNIT_SECONDS[unit]
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
            f"{kind(value)}"
        )
    in_range = minimum <= seconds <= maximum and (seconds > 0 or allow_zero)
    if not in_range:  # also NaN
        low = number_text(minimum / factor)
        bound = f"at least {low}" if allow_zero else f"more than {low}"
        top = f"{number_text(maximum / factor)} {unit}"
        if unit != "days":
            top += f" ({number_text(maximum / 86400)} days)"
        raise ValueError(
            f"{where}: {name} must be {bound} and at most {top} (or a timedelta), "
            f"got {show(value)}"
        )
    return seconds + 0.0  # -0.0 becomes 0.0


def number_text(value: float) -> str:
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
        raise TypeError(f"{where}: {name} must be a datetime, got {kind(value)}")
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


def retry_delays_in_order(
    delay: float | None, delay_max: float | None, where: str
) -> None:
    if delay is not None and delay_max is not None and delay_max < delay:
        raise ValueError(
            f"{where}: retry_delay_max ({delay_max:g}s) must not be less than "
            f"retry_delay ({delay:g}s)"
        )
