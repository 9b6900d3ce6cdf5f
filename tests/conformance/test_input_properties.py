"""Generated input on every store: a clear rejection with nothing written, or
an exact round trip.

Each test states the documented limits (``docs/limits.md``) once more, on its
own, as the oracle: a value the oracle accepts must come back bit for bit; a
value it refuses must raise ``ValueError``/``TypeError`` naming the call and a
bad field, and leave the store as it was. The oracle depends on the input
alone, so the same input meets the same outcome on every store;
``derandomize=True`` keeps runs repeatable.
"""

from __future__ import annotations

import json
import math
import operator
import struct
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import dataqueue as dq
from tests.conftest import FakeClock

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# -- the limits, stated independently of dataqueue._validate -----------------

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
MAX_DEPTH = 64
MAX_PAYLOAD_BYTES = 1024 * 1024
YEAR = 365 * 86400.0
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


def text_ok(text: str) -> bool:
    return "\x00" not in text and not any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def name_ok(value: Any, limit: int = 255) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= limit
        and bool(value.strip())
        and not any(unicodedata.category(c) in ("Cc", "Cs") for c in value)
    )


def json_ok(value: Any, depth: int = 0) -> bool:
    if isinstance(value, str):
        return text_ok(value)
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return INT64[0] <= value <= INT64[1]
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return depth < MAX_DEPTH and all(json_ok(x, depth + 1) for x in value)
    if isinstance(value, dict):
        return depth < MAX_DEPTH and all(
            isinstance(k, str) and text_ok(k) and json_ok(x, depth + 1)
            for k, x in value.items()
        )
    return False


def payload_ok(value: Any) -> bool:
    if not json_ok(value):
        return False
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    return size <= MAX_PAYLOAD_BYTES


def seconds_of(value: Any) -> float | None:
    """Seconds of a duration the limits accept, else None."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:
            return None
    else:
        return None
    return seconds if 0 <= seconds <= YEAR else None


def int_ok(value: Any, low: int, high: int) -> bool:
    return (
        isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    )


def utc_of(value: Any) -> datetime | None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        return None
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return None


def exact(value: Any) -> str:
    """Equal only for the same JSON bit for bit (floats by repr, key order)."""
    return json.dumps(value)


def bits(value: float | None) -> bytes | None:
    return None if value is None else struct.pack("!d", value)


# -- strategies ----------------------------------------------------------------
# Each field is valid most of the time (``mostly``), so that accepted jobs and
# every kind of refusal both occur often.


def mostly(valid: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> Any:
    """``valid`` six times in seven, else ``odd`` (which may be valid too)."""
    return st.integers(0, 6).flatmap(lambda i: odd if i == 0 else valid)


ODD_CHARS = ["\x00", "\ud800", "\udfff", "\n", "\t", "\x7f", "\x85", "\u200d", " "]
good_chars = st.characters(exclude_categories=("Cc", "Cs"))
chars = mostly(st.characters(exclude_characters="\x00"), st.sampled_from(ODD_CHARS))
texts = st.text(chars, max_size=12)
names = mostly(
    st.one_of(
        st.text(good_chars, min_size=1, max_size=12),
        st.sampled_from(["email", "é", "a:b", "\U0001f4e7", "x" * 255]),
    ),
    st.one_of(
        texts,
        st.text(st.characters(), min_size=250, max_size=260),
        st.sampled_from(["", " ", "x" * 256, "a\x00", "\ud800"]),
    ),
)
ints = mostly(
    st.integers(-(2**40), 2**40),
    st.one_of(
        st.integers(-(2**70), 2**70),
        st.sampled_from(
            [2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**31, -(2**31) - 1, 2**31 - 1]
        ),
    ),
)
floats = mostly(
    st.floats(allow_nan=False, allow_infinity=False),
    st.one_of(st.floats(), st.sampled_from([1e16, 1e308, -0.0, 5e-324, 0.1])),
)
leaves = st.one_of(st.none(), st.booleans(), ints, floats, texts)


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"d": value} if depth % 2 else [value]
    return value


payloads = mostly(
    st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=4)
        ),
        max_leaves=20,
    ),
    st.one_of(
        st.integers(MAX_DEPTH - 2, MAX_DEPTH + 2).map(nested),
        st.sampled_from([b"bytes", (1, 2), {1: "int key"}, {"a": {1, 2}}]),
    ),
)
durations = mostly(
    st.one_of(
        st.none(),
        st.floats(min_value=0, max_value=YEAR),
        st.integers(0, 10**6),
        st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=365)),
    ),
    st.one_of(
        st.floats(),
        st.timedeltas(),
        st.sampled_from(
            [-1, 0, YEAR, YEAR + 1, math.inf, math.nan, 1e300, 10**400, "5", True]
        ),
    ),
)
zones = st.sampled_from(
    [UTC, timezone(timedelta(hours=9)), timezone(timedelta(hours=-5, minutes=-30))]
)
run_ats = mostly(
    st.one_of(
        st.none(),
        st.datetimes(
            min_value=datetime(1971, 1, 1),
            max_value=datetime(9998, 1, 1),
            timezones=zones,
        ),
    ),
    st.one_of(
        st.datetimes(timezones=zones),
        st.datetimes(min_value=datetime(1960, 1, 1), max_value=datetime(2100, 1, 1)),
        st.sampled_from([EARLIEST, LATEST, LATEST - timedelta(microseconds=1)]),
    ),
)
tag_lists = mostly(
    st.one_of(
        st.none(),
        st.lists(names, max_size=4),
        st.lists(st.sampled_from(["a", "b", "c"]), max_size=5).map(tuple),
    ),
    st.one_of(
        st.sets(st.sampled_from(["a", "b"]), max_size=2),
        st.dictionaries(st.sampled_from(["a"]), st.integers(), max_size=1),
        st.just(["t"] * 101),
        st.just([f"{i}" for i in range(101)]),
        st.just([f"{i}" for i in range(100)]),
    ),
)
options = st.fixed_dictionaries(
    {},
    optional={
        "priority": mostly(ints, st.sampled_from([True, 1.5, None, "1"])),
        "max_attempts": mostly(
            st.integers(1, 100), st.one_of(ints, st.sampled_from([0, True, 2.0]))
        ),
        "timeout": durations,
        "retry_delay": durations,
        "retry_delay_max": durations,
        "retry_backoff": mostly(st.sampled_from([None, True, False]), st.just(1)),
        "force_kill_on_timeout": mostly(st.booleans(), st.just(0)),
        "tags": tag_lists,
        "idempotency_key": mostly(st.one_of(st.none(), names), st.just(5)),
        "run_at": run_ats,
    },
)


def add_job_problems(job_type: Any, payload: Any, kw: dict[str, Any]) -> set[str]:
    """The fields the limits refuse (empty: the job must be accepted)."""
    bad = set()
    if not name_ok(job_type):
        bad.add("job_type")
    if not payload_ok(payload):
        bad.add("payload")
    if not int_ok(kw.get("priority", 0), *INT32):
        bad.add("priority")
    if not int_ok(kw.get("max_attempts", 3), 1, INT32[1]):
        bad.add("max_attempts")
    delays = {}
    for name in ("timeout", "retry_delay", "retry_delay_max"):
        value = kw.get(name)
        if value is not None:
            delays[name] = seconds_of(value)
            zero_ok = name != "timeout"
            if delays[name] is None or (delays[name] == 0 and not zero_ok):
                bad.add(name)
    low, high = delays.get("retry_delay"), delays.get("retry_delay_max")
    if low is not None and high is not None and high < low:
        bad.add("retry_delay_max")
    backoff = kw.get("retry_backoff")
    if backoff is not None and type(backoff) is not bool:
        bad.add("retry_backoff")
    if type(kw.get("force_kill_on_timeout", False)) is not bool:
        bad.add("force_kill_on_timeout")
    tags = kw.get("tags")
    if tags is not None and not (
        isinstance(tags, list | tuple) and len(tags) <= 100 and all(map(name_ok, tags))
    ):
        bad.add("tags")
    key = kw.get("idempotency_key")
    if key is not None and not name_ok(key):
        bad.add("idempotency_key")
    run_at = kw.get("run_at")
    if run_at is not None:
        utc = utc_of(run_at)
        if utc is None or not EARLIEST <= utc < LATEST:
            bad.add("run_at")
    return bad


async def count_jobs(queue: dq.JobQueue) -> int:
    return len(await queue.get_all_jobs(limit=100_000))


def assert_clear_rejection(error: Exception, call: str, fields: set[str]) -> None:
    message = str(error)
    assert isinstance(error, TypeError | ValueError)
    assert message.startswith(call), message
    assert any(field in message for field in fields), (fields, message)
    message.encode()  # printable: no lone surrogate


@SETTINGS
@given(job_type=mostly(names, st.sampled_from([None, 5])), payload=payloads, kw=options)
async def test_add_job_is_refused_clearly_or_comes_back_exactly(
    queue: dq.JobQueue,
    clock: FakeClock,
    job_type: Any,
    payload: Any,
    kw: dict[str, Any],
) -> None:
    bad = add_job_problems(job_type, payload, kw)
    before = await count_jobs(queue)
    try:
        job_id = await queue.add_job(job_type, payload, **kw)
    except (TypeError, ValueError) as caught:
        error: Exception | None = caught
    else:
        error = None
    event(f"refused: {sorted(bad)}" if bad else "accepted")
    if error is not None:
        assert bad, f"accepted input refused: {error}"
        assert_clear_rejection(error, "add_job(", bad)
        assert await count_jobs(queue) == before
        return
    assert not bad, f"refused input accepted: {bad}"
    job = await queue.get_job(job_id)
    assert job is not None
    key = kw.get("idempotency_key")
    if await count_jobs(queue) == before:  # the key was taken by an earlier add
        assert key is not None and job.idempotency_key == key
        return
    assert job.job_type == job_type
    assert exact(job.payload) == exact(payload)
    assert job.priority == kw.get("priority", 0)
    assert job.max_attempts == kw.get("max_attempts", 3)
    for name in ("timeout", "retry_delay", "retry_delay_max"):
        value = kw.get(name)
        assert bits(getattr(job, name)) == bits(
            None if value is None else seconds_of(value)
        ), name
    assert job.retry_backoff == kw.get("retry_backoff")
    assert job.force_kill_on_timeout == kw.get("force_kill_on_timeout", False)
    assert job.tags == list(dict.fromkeys(kw.get("tags") or []))
    assert job.idempotency_key == key
    run_at = kw.get("run_at")
    assert job.run_at == (clock.now() if run_at is None else utc_of(run_at))


edits = st.fixed_dictionaries(
    {},
    optional={
        "payload": payloads,
        "priority": ints,
        "max_attempts": ints,
        "timeout": durations,
        "retry_delay": durations,
        "retry_delay_max": durations,
        "retry_backoff": st.sampled_from([None, True, False, 1]),
        "tags": tag_lists,
        "run_at": run_ats,
        "bogus": st.just(1),
    },
)


@settings(SETTINGS, max_examples=150)
@given(updates=edits)
async def test_edit_job_is_refused_clearly_or_comes_back_exactly(
    queue: dq.JobQueue, clock: FakeClock, updates: dict[str, Any]
) -> None:
    job_id = await queue.add_job("edit", {"v": 1}, timeout=5, tags=["t"])
    original = await queue.get_job(job_id)
    events = await queue.get_job_events(job_id)
    # An edit takes what add_job takes, and None for the clearable fields,
    # which add_job_problems already accepts.
    kw = {k: v for k, v in updates.items() if k not in ("payload", "bogus")}
    bad = add_job_problems("edit", updates.get("payload", {}), kw)
    if "bogus" in updates:
        bad.add("bogus")
    try:
        await queue.edit_job(job_id, **updates)
    except (TypeError, ValueError) as caught:
        error: Exception | None = caught
    else:
        error = None
    event("refused" if bad else "accepted")
    if error is not None:
        assert bad, f"accepted edit refused: {error}"
        assert_clear_rejection(error, "edit_job", bad)
        assert await queue.get_job(job_id) == original
        assert await queue.get_job_events(job_id) == events
        return
    assert not bad, f"refused edit accepted: {bad}"
    job = await queue.get_job(job_id)
    assert job is not None and original is not None
    if not updates:
        assert job == original
        return
    expected: dict[str, Any] = {
        "payload": updates.get("payload", original.payload),
        "priority": updates.get("priority", original.priority),
        "max_attempts": updates.get("max_attempts", original.max_attempts),
        "tags": list(dict.fromkeys(updates.get("tags", original.tags) or [])),
        "retry_backoff": updates.get("retry_backoff", original.retry_backoff),
    }
    assert exact(job.payload) == exact(expected["payload"])
    for name in ("priority", "max_attempts", "tags", "retry_backoff"):
        assert getattr(job, name) == expected[name], name
    for name in ("timeout", "retry_delay", "retry_delay_max"):
        if name in updates:
            value = updates[name]
            want = None if value is None else seconds_of(value)
            assert bits(getattr(job, name)) == bits(want), name
    if "run_at" in updates:
        run_at = updates["run_at"]
        assert job.run_at == (clock.now() if run_at is None else utc_of(run_at))
    last = (await queue.get_job_events(job_id))[-1]
    assert last.event_type == "edited"
    assert last.metadata is not None and set(last.metadata) == set(updates)


# -- filters: the same jobs selected on every store -----------------------------

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
JOBS = [  # job_type, priority, tags, run_at offset (hours), cancelled
    ("a", 0, [], 0, False),
    ("a", 5, ["x"], 1, False),
    ("b", -1, ["x", "y"], -2, False),
    ("é", 5, ["y", "z:1"], 3, True),
    ("b", 0, ["z:1"], 0, False),
    ("a", -1, ["x", "y", "z:1"], -1, True),
    ("b", 5, ["y"], 2, False),
    ("é", 0, ["x", "z:1"], 5, False),
]
RUN_ATS = [NOW + timedelta(hours=h) for h in range(-3, 7)]
tag_values = mostly(
    st.lists(st.sampled_from(["x", "y", "z:1", "w"]), max_size=3),
    st.one_of(st.lists(names, max_size=2), st.sets(st.sampled_from(["x"]))),
)
modes = mostly(st.sampled_from(["all", "any", "none", "exact"]), st.just("some"))
tag_filters = mostly(
    st.one_of(
        st.builds(lambda v, m: {"values": v, "mode": m}, tag_values, modes),
        st.builds(lambda v: {"values": v}, tag_values),
        st.lists(st.sampled_from(["x", "y"]), max_size=2),
    ),
    st.sampled_from([{"mode": "any"}, {"values": ["x"], "bad": 1}, "x", 5]),
)
bounds = mostly(st.sampled_from(["gt", "gte", "lt", "lte", "eq"]), st.just("ne"))
moments = mostly(
    st.one_of(
        st.sampled_from(RUN_ATS),
        st.sampled_from(RUN_ATS).map(lambda t: t + timedelta(microseconds=1)),
        st.sampled_from(RUN_ATS).map(
            lambda t: t.astimezone(timezone(timedelta(hours=9)))
        ),
    ),
    st.sampled_from(
        [
            datetime(2030, 1, 1),
            datetime(1, 1, 1, tzinfo=UTC),
            datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
            datetime.max.replace(tzinfo=UTC),
        ]
    ),
)
run_at_filters = st.one_of(
    moments, st.dictionaries(bounds, moments, min_size=1, max_size=2)
)
filters = st.fixed_dictionaries(
    {},
    optional={
        "job_type": mostly(st.sampled_from(["a", "b", "é", "zz"]), names),
        "priority": mostly(st.sampled_from([-1, 0, 5, 7]), ints),
        "tags": tag_filters,
        "run_at": run_at_filters,
    },
)
statuses = mostly(
    st.sampled_from([None, "pending", "cancelled", "processing"]), st.just("bogus")
)
pages = mostly(
    st.sampled_from([0, 1, 2, 3, 100]),
    st.sampled_from([2**63 - 1, 2**63, -1, True, 1.0]),
)


def filter_problems(f: dict[str, Any], status: Any, limit: Any, offset: Any) -> bool:
    """True when the limits refuse this filter."""
    if "job_type" in f and not name_ok(f["job_type"]):
        return True
    if "priority" in f and not int_ok(f["priority"], *INT32):
        return True
    if "tags" in f:
        tags = f["tags"]
        if isinstance(tags, dict):
            values = tags.get("values")
            if set(tags) - {"values", "mode"} or values is None:
                return True
            if tags.get("mode", "all") not in ("all", "any", "none", "exact"):
                return True
        elif isinstance(tags, list):
            values = tags
        else:
            return True
        if not isinstance(values, list | tuple) or not all(map(name_ok, values)):
            return True
    if "run_at" in f:
        when = f["run_at"]
        ranges = when if isinstance(when, dict) else {"eq": when}
        if set(ranges) - {"gt", "gte", "lt", "lte", "eq"}:
            return True
        if any(utc_of(t) is None for t in ranges.values()):
            return True
    if status not in (None, "pending", "cancelled", "processing"):
        return True
    return not (int_ok(limit, 0, INT64[1]) and int_ok(offset, 0, INT64[1]))


COMPARE = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "eq": operator.eq,
}


def selected(
    jobs: list[dq.JobRecord], f: dict[str, Any], status: Any, limit: int, offset: int
) -> list[int]:
    """The ids the filter selects, by the documented meaning of each filter."""
    chosen = []
    for job in jobs:
        if "job_type" in f and job.job_type != f["job_type"]:
            continue
        if "priority" in f and job.priority != f["priority"]:
            continue
        if status is not None and job.status != status:
            continue
        if "tags" in f:
            tags = f["tags"]
            values = set(tags["values"] if isinstance(tags, dict) else tags)
            mode = tags.get("mode", "all") if isinstance(tags, dict) else "all"
            have = set(job.tags)
            if not {
                "all": values <= have,
                "any": bool(values & have),
                "none": not values & have,
                "exact": values == have,
            }[mode]:
                continue
        if "run_at" in f:
            when = f["run_at"]
            ranges = when if isinstance(when, dict) else {"eq": when}
            if not all(COMPARE[k](job.run_at, utc_of(b)) for k, b in ranges.items()):
                continue
        chosen.append(job.id)
    chosen.sort(reverse=True)
    return chosen[offset : offset + limit]


@pytest.fixture
async def filter_jobs(queue: dq.JobQueue, clock: FakeClock) -> list[dq.JobRecord]:
    assert clock.now() == NOW
    specs = [
        dq.JobSpec(t, {"i": i}, priority=p, tags=tags, run_at=NOW + timedelta(hours=h))
        for i, (t, p, tags, h, _) in enumerate(JOBS)
    ]
    ids = await queue.add_jobs(specs)
    for job_id, row in zip(ids, JOBS, strict=True):
        if row[4]:
            await queue.cancel_job(job_id)
    jobs = [await queue.get_job(job_id) for job_id in ids]
    return [job for job in jobs if job is not None]


@settings(SETTINGS, max_examples=200)
@given(f=filters, status=statuses, limit=pages, offset=pages)
async def test_filters_select_the_same_jobs_or_are_refused_clearly(
    queue: dq.JobQueue,
    filter_jobs: list[dq.JobRecord],
    f: dict[str, Any],
    status: Any,
    limit: Any,
    offset: Any,
) -> None:
    refused = filter_problems(f, status, limit, offset)
    try:
        found = await queue.get_jobs(f, limit, offset, status=status)
    except (TypeError, ValueError) as caught:
        error: Exception | None = caught
    else:
        error = None
    if error is not None:
        event("refused")
        assert refused, f"accepted filter refused: {error}"
        assert str(error).startswith("get_jobs: "), error
        # The bulk calls take the same filters and refuse them the same way.
        if filter_problems(f, None, 0, 0):
            with pytest.raises(type(error)):
                await queue.cancel_all_upcoming_jobs(f)
            with pytest.raises(type(error)):
                await queue.edit_all_pending_jobs(f, priority=1)
        assert [await queue.get_job(job.id) for job in filter_jobs] == filter_jobs
        return
    assert not refused, "refused filter accepted"
    want = selected(filter_jobs, f, status, limit, offset)
    event("selected some" if want else "selected none")
    assert [job.id for job in found] == want
