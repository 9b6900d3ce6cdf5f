"""One answer to every input on every store (issue 8), row by row.

Each row of the issue's table and of its "accepted although mistakes" list is
tried through the public API on every store: it is rejected with a
``ValueError``/``TypeError`` naming the call, the field and the value, and
nothing is written; or it is accepted and read back exactly. The limits come
from ``docs/limits.md``.
"""

from __future__ import annotations

import json
import math
import sqlite3
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import dataqueue as dq
from dataqueue._commands import BrokenJob, ClaimRequest, JobFilter
from dataqueue.backends.memory.tables import named_tables
from dataqueue.backends.redis import keys
from tests.conftest import (
    PG_URL,
    FakeClock,
    drop_namespace,
    namespace,
    open_store,
    store_options,
)

Call = Callable[[dq.JobQueue], Awaitable[Any]]


def nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


def exact(value: Any) -> str:
    """A text equal for two JSON values only when they are the same bit for
    bit: floats by ``repr`` (``-0.0`` kept), ints apart from floats, key order
    kept."""
    return json.dumps(value)


def bits(value: float | None) -> bytes | None:
    return None if value is None else struct.pack("!d", value)


def add(payload: Any = None, job_type: str = "send_email", **options: Any) -> Call:
    return lambda q: q.add_job(job_type, payload, **options)


# (row, call, error, words that the message must contain)
REJECTED: list[tuple[str, Call, type[Exception], list[str]]] = [
    # -- the table
    (
        "lone surrogate in payload",
        add({"s": "\ud800"}),
        ValueError,
        ["add_job('send_email')", "payload['s']", "lone surrogate"],
    ),
    (
        "NUL in payload",
        add({"s": "a\x00b"}),
        ValueError,
        ["payload['s']", "NUL"],
    ),
    ("NUL in payload key", add({"k\x00": 1}), ValueError, ["payload[", "NUL"]),
    ("NUL in job_type", add({}, "send\x00"), ValueError, ["job_type", "'\\x00'"]),
    ("NUL in tags", add({}, tags=["a\x00"]), ValueError, ["tags[0]", "'\\x00'"]),
    (
        "NUL in idempotency_key",
        add({}, idempotency_key="k\x00"),
        ValueError,
        ["idempotency_key", "'\\x00'"],
    ),
    ("priority 2**31", add({}, priority=2**31), ValueError, ["priority", "2147483648"]),
    ("priority -2**31-1", add({}, priority=-(2**31) - 1), ValueError, ["priority"]),
    ("max_attempts 2**31", add({}, max_attempts=2**31), ValueError, ["max_attempts"]),
    ("priority 2**63", add({}, priority=2**63), ValueError, ["priority"]),
    ("get_job 2**63", lambda q: q.get_job(2**63), ValueError, ["get_job", "job_id"]),
    (
        "get_job_events 2**63",
        lambda q: q.get_job_events(2**63),
        ValueError,
        ["get_job_events", "job_id"],
    ),
    ("retry_job 2**63", lambda q: q.retry_job(2**63), ValueError, ["retry_job"]),
    ("cancel_job 2**63", lambda q: q.cancel_job(2**63), ValueError, ["cancel_job"]),
    (
        "edit_job 2**63",
        lambda q: q.edit_job(2**63, priority=1),
        ValueError,
        ["edit_job", "job_id"],
    ),
    (
        "limit 2**63",
        lambda q: q.get_jobs(limit=2**63),
        ValueError,
        ["get_jobs", "limit"],
    ),
    (
        "offset 2**63",
        lambda q: q.get_all_jobs(10, 2**63),
        ValueError,
        ["get_jobs", "offset"],
    ),
    (
        "payload nested 980 deep",
        add(nested(980)),
        ValueError,
        ["payload[0]", "nested deeper than 64"],
    ),
    ("payload int 2**63", add([2**63]), ValueError, ["payload[0]", "64-bit"]),
    # -- accepted although they were mistakes
    ("job_type of 256 characters", add({}, "x" * 256), ValueError, ["job_type", "256"]),
    ("job_type with a tab", add({}, "a\tb"), ValueError, ["job_type", "control"]),
    (
        "idempotency_key of 256 characters",
        add({}, idempotency_key="k" * 256),
        ValueError,
        ["idempotency_key", "256"],
    ),
    (
        "idempotency_key with a newline",
        add({}, idempotency_key="k\n"),
        ValueError,
        ["idempotency_key", "control"],
    ),
    (
        "retry_delay_max < retry_delay",
        add({}, retry_delay=60, retry_delay_max=10),
        ValueError,
        ["retry_delay_max", "retry_delay"],
    ),
    ("tags as a dict", add({}, tags={"a": 1}), TypeError, ["tags", "dict"]),
    ("tags as a set", add({}, tags={"a"}), TypeError, ["tags", "set"]),
    (
        "add_jobs(None)",
        lambda q: q.add_jobs(None),  # type: ignore[arg-type]
        TypeError,
        ["add_jobs", "specs", "None"],
    ),
    (
        "cleanup_old_jobs(10**9)",
        lambda q: q.cleanup_old_jobs(10**9),
        ValueError,
        ["cleanup_old_jobs", "days_to_keep", "1000000000"],
    ),
    (
        "cleanup_old_job_events(-1)",
        lambda q: q.cleanup_old_job_events(-1),
        ValueError,
        ["cleanup_old_job_events", "days_to_keep"],
    ),
    (
        "reclaim_stuck_jobs(-1)",
        lambda q: q.reclaim_stuck_jobs(-1),
        ValueError,
        ["reclaim_stuck_jobs", "max_processing_minutes"],
    ),
    # -- issue 7: no job's values can stop reclaim, retries or the supervisor
    ("timeout=1e12", add({}, timeout=1e12), ValueError, ["timeout", "365 days"]),
    ("retry_delay=1e300", add({}, retry_delay=1e300), ValueError, ["retry_delay"]),
    (
        "retry_delay_max=inf",
        add({}, retry_delay_max=math.inf),
        ValueError,
        ["retry_delay_max"],
    ),
    (
        "run_at before 1970",
        add({}, run_at=datetime(1969, 12, 31, tzinfo=UTC)),
        ValueError,
        ["run_at"],
    ),
    # -- the same limits for edits and filters
    (
        "edit payload with NUL",
        lambda q: q.edit_all_pending_jobs(None, payload={"a": "\x00"}),
        ValueError,
        ["edit_all_pending_jobs", "payload['a']", "NUL"],
    ),
    (
        "edit tags as a set",
        lambda q: q.edit_all_pending_jobs(None, tags={"a"}),
        TypeError,
        ["edit_all_pending_jobs", "tags", "set"],
    ),
    (
        "filter priority 2**31",
        lambda q: q.cancel_all_upcoming_jobs(priority=2**31),
        ValueError,
        ["cancel_all_upcoming_jobs", "priority"],
    ),
    (
        "filter tag values as a set",
        lambda q: q.get_jobs(tags={"values": {"a"}}),
        TypeError,
        ["get_jobs", "tags.values", "set"],
    ),
    (
        "filters as a list",
        lambda q: q.get_jobs([("job_type", "a")]),  # type: ignore[arg-type]
        TypeError,
        ["get_jobs", "filters"],
    ),
]


async def everything(queue: dq.JobQueue) -> list[tuple[Any, ...]]:
    """Every job with its events: what "nothing written" compares."""
    jobs = await queue.get_all_jobs(limit=1000)
    return [(job, await queue.get_job_events(job.id)) for job in jobs]


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [pytest.param(call, error, words, id=row) for row, call, error, words in REJECTED],
)
async def test_rejected_the_same_way_with_nothing_written(
    queue: dq.JobQueue, call: Call, error: type[Exception], words: list[str]
) -> None:
    await queue.add_job("existing", {"n": 1}, tags=["a"])
    before = await everything(queue)
    with pytest.raises(error) as raised:
        await call(queue)
    message = str(raised.value)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    message.encode()  # printable as it is: no lone surrogate
    assert len(message) < 500
    assert await everything(queue) == before


# -- processor, supervisor and connection options ------------------------------


OPTION_ROWS: list[tuple[str, Callable[[dq.JobQueue], Any], type[Exception], str]] = [
    (
        "poll_interval=0",
        lambda q: q.create_processor({"a": print}, poll_interval=0),
        ValueError,
        "poll_interval",
    ),
    (
        "create_processor(job_type=5)",
        lambda q: q.create_processor({"a": print}, job_type=5),
        TypeError,
        "job_type",
    ),
    (
        "create_processor([...])",
        lambda q: q.create_processor([print]),
        TypeError,
        "handlers",
    ),
    (
        "cleanup_jobs_days_to_keep=-1",
        lambda q: q.create_supervisor(cleanup_jobs_days_to_keep=-1),
        ValueError,
        "cleanup_jobs_days_to_keep",
    ),
]


@pytest.mark.parametrize(
    ("make", "error", "field"),
    [
        pytest.param(make, error, field, id=row)
        for row, make, error, field in OPTION_ROWS
    ],
)
async def test_worker_options_are_checked_when_called(
    queue: dq.JobQueue,
    make: Callable[[dq.JobQueue], Any],
    error: type[Exception],
    field: str,
) -> None:
    with pytest.raises(error) as raised:
        make(queue)
    message = str(raised.value)
    assert field in message
    assert message.startswith(("create_processor", "create_supervisor"))


@pytest.mark.parametrize(
    ("option", "value", "error"),
    [
        ("key_prefix", "", ValueError),
        ("key_prefix", "*", ValueError),
        ("key_prefix", "\x00", ValueError),
        ("key_prefix", 5, TypeError),
        ("schema", "", ValueError),
        ("max_connections", 0, ValueError),
        ("max_connections", -5, ValueError),
    ],
)
def test_connect_options_are_checked_on_every_store(
    store: str, tmp_path: Path, option: str, value: Any, error: type[Exception]
) -> None:
    options = {**store_options(store, tmp_path, namespace()), option: value}
    with pytest.raises(error, match=f"connect: {option}"):
        dq.connect(**options)


# -- what is accepted comes back exactly --------------------------------------

ALL_CODE_POINTS = "".join(
    chr(c) for c in range(1, 0x110000) if not 0xD800 <= c <= 0xDFFF
)


async def test_floats_come_back_bit_for_bit(queue: dq.JobQueue) -> None:
    floats = [1e16, 1e308, -0.0, 5e-324, 0.1, -1.7976931348623157e308, 2.0**53 + 2]
    payload = {"floats": floats, "ints": [2**63 - 1, -(2**63), 10**16, 0]}
    job = await queue.get_job(await queue.add_job("t", payload))
    assert job is not None
    assert exact(job.payload) == exact(payload)
    assert [bits(x) for x in job.payload["floats"]] == [bits(x) for x in floats]
    assert all(type(x) is int for x in job.payload["ints"])


async def test_every_code_point_comes_back(queue: dq.JobQueue) -> None:
    # NUL is the one character no store-independent text can hold.
    chunk = 200_000  # under the 1 MiB payload limit as UTF-8 JSON
    for start in range(0, len(ALL_CODE_POINTS), chunk):
        text = ALL_CODE_POINTS[start : start + chunk]
        payload = {text[:50]: text}
        job = await queue.get_job(await queue.add_job("t", payload))
        assert job is not None
        assert job.payload == payload


async def test_limits_themselves_are_accepted_and_come_back(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    year = timedelta(days=365)
    names = "\U0001f4e7" * 255  # 255 characters, 1020 bytes
    tags = [f"{i:03d}" + "t" * 252 for i in range(100)]
    latest = datetime(9998, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    payload = {"deep": nested(63), "big": ""}
    payload["big"] = "x" * (
        1024 * 1024 - len(json.dumps(payload, separators=(",", ":")))
    )
    job_id = await queue.add_job(
        names,
        payload,
        priority=-(2**31),
        max_attempts=2**31 - 1,
        timeout=year,
        tags=tags,
        idempotency_key=names,
        retry_delay=year,
        retry_delay_max=year,
        run_at=latest,
    )
    job = await queue.get_job(job_id)
    assert job is not None
    assert (job.job_type, job.idempotency_key) == (names, names)
    assert exact(job.payload) == exact(payload)
    assert (job.priority, job.max_attempts) == (-(2**31), 2**31 - 1)
    assert job.tags == tags
    assert job.run_at == latest
    assert bits(job.timeout) == bits(year.total_seconds())
    assert bits(job.retry_delay_max) == bits(year.total_seconds())
    second = await queue.add_job("t", {}, priority=2**31 - 1, run_at=dq_epoch())
    job = await queue.get_job(second)
    assert job is not None
    assert (job.priority, job.run_at) == (2**31 - 1, dq_epoch())
    assert await queue.get_jobs(job_type=names, limit=2**63 - 1, offset=0) != []
    assert await queue.get_jobs(limit=1, offset=2**63 - 1) == []
    assert await queue.get_job(2**63 - 1) is None


def dq_epoch() -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC)


# -- durations keep their unit (issue 7, point 10) ---------------------------


async def test_reclaim_threshold_as_a_timedelta_means_what_it_says(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    job_id = await queue.add_job("t", {})
    exchange = await queue.backend.settle_and_claim(
        [], ClaimRequest("w", "token-1", 1), now=clock.now()
    )
    assert [job.id for job in exchange.claimed] == [job_id]
    clock.advance(9 * 60)
    assert await queue.reclaim_stuck_jobs(timedelta(minutes=10)) == 0
    assert await queue.reclaim_stuck_jobs(10) == 0
    clock.advance(2 * 60)
    assert await queue.reclaim_stuck_jobs(timedelta(minutes=10)) == 1


async def test_cleanup_keep_as_a_timedelta_means_what_it_says(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    job_id = await queue.add_job("t", {})
    await queue.cancel_job(job_id)
    clock.advance(29 * 86400)
    assert await queue.cleanup_old_jobs(timedelta(days=30)) == 0
    clock.advance(2 * 86400)
    assert await queue.cleanup_old_jobs(timedelta(days=30)) == 1
    assert await queue.cleanup_old_job_events(timedelta(days=30)) == 0


# -- a stored job can never poison a claim ------------------------------------


@pytest.fixture
async def raw_queue(
    store: str, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[tuple[dq.JobQueue, Callable[[int, str], Awaitable[None]]]]:
    """A queue, and a function that overwrites a job's stored payload text
    behind dataqueue's back (what a bug, a migration or a person might do)."""
    ns = namespace()
    queue = await open_store(store, tmp_path, clock, ns)

    async def corrupt(job_id: int, text: str) -> None:
        if store == "postgres":
            import psycopg
            from psycopg import sql

            async with await psycopg.AsyncConnection.connect(
                PG_URL, autocommit=True
            ) as conn:
                table = sql.Identifier(ns, "job_queue")
                query = sql.SQL("UPDATE {} SET payload = %s WHERE id = %s")
                await conn.execute(query.format(table), (text, job_id))
        elif store in ("redis", "redis_cluster"):
            key = keys.job(f"{ns}:", job_id)
            await queue.get_redis_client().hset(key, "payload", text)
        elif store == "memory":
            tables = named_tables(ns)
            with tables.lock:
                tables.jobs[job_id]["payload"] = text
        else:
            path = store_options(store, tmp_path, ns)["url"].removeprefix("sqlite:///")
            with sqlite3.connect(path) as conn:
                conn.execute(
                    "UPDATE job_queue SET payload = ? WHERE id = ?", (text, job_id)
                )
            conn.close()

    try:
        yield queue, corrupt
    finally:
        await queue.close()
        await drop_namespace(store, ns)


# Valid JSON to every store's server, but more digits than Python converts
# to an int (4300 by default). Depth is no such value: how deep Python's
# decoder goes changes between versions (3.13 takes 3000 levels).
UNDECODABLE = '{"n": ' + "9" * 5000 + "}"


async def test_an_undecodable_job_fails_alone_and_its_batch_is_claimed(
    raw_queue: tuple[dq.JobQueue, Callable[[int, str], Awaitable[None]]],
    clock: FakeClock,
) -> None:
    queue, corrupt = raw_queue
    ids = await queue.add_jobs([dq.JobSpec("t", {"i": i}) for i in range(5)])
    await corrupt(ids[0], UNDECODABLE)
    exchange = await queue.backend.settle_and_claim(
        [], ClaimRequest("w", "token-1", 10), now=clock.now()
    )
    broken = [job for job in exchange.claimed if isinstance(job, BrokenJob)]
    good = [job for job in exchange.claimed if not isinstance(job, BrokenJob)]
    assert [job.id for job in broken] == [ids[0]]
    assert broken[0].error
    assert sorted(job.id for job in good) == ids[1:]
    assert all(job.payload == {"i": ids.index(job.id)} for job in good)


async def test_an_undecodable_lost_job_fails_without_its_letter_and_others_get_theirs(
    raw_queue: tuple[dq.JobQueue, Callable[[int, str], Awaitable[None]]],
    clock: FakeClock,
) -> None:
    queue, corrupt = raw_queue
    ids = await queue.add_jobs(
        [
            dq.JobSpec("t", {"i": i}, max_attempts=1, dead_letter_job_type="dl")
            for i in range(3)
        ]
    )
    exchange = await queue.backend.settle_and_claim(
        [], ClaimRequest("w", "token-1", 10), now=clock.now()
    )
    assert len(exchange.claimed) == 3
    await corrupt(ids[0], UNDECODABLE)
    clock.advance(120)
    assert await queue.reclaim_stuck_jobs(1) == 3
    counts = await queue.backend.count_jobs(JobFilter(job_type="t"))
    assert counts[dq.JobStatus.FAILED] == 3
    letters = await queue.get_jobs(job_type="dl")
    originals = sorted(letter.payload["original_job"]["id"] for letter in letters)
    assert originals == ids[1:]


# -- what dataqueue records itself is storable too ------------------------------


async def test_an_error_text_no_store_can_hold_fails_its_job_alone(
    queue: dq.JobQueue,
) -> None:
    bad = await queue.add_job("bad", {})
    good = await queue.add_job("good", {})

    def fail(payload: Any) -> None:
        raise ValueError("NUL \x00 and a lone surrogate \ud800")

    processor = queue.create_processor({"bad": fail, "good": lambda p: {"ok": 1}})
    await processor.start()
    failed, done = await queue.get_job(bad), await queue.get_job(good)
    assert failed is not None and done is not None
    assert done.status == dq.JobStatus.COMPLETED
    assert failed.status == dq.JobStatus.FAILED
    assert "\ufffd" in failed.error_history[-1]["message"]
