"""The edge: what every public argument accepts, and how a rejection reads."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

import dataqueue as dq
from dataqueue import _validate as v
from dataqueue._commands import Dependencies


def nested(depth: int) -> object:
    value: object = 0
    for _ in range(depth):
        value = [value]
    return value


# -- JSON values --------------------------------------------------------------


def test_check_json_accepts_plain_json() -> None:
    value = {"a": [1, 2.5, "x", None, True, {"b": []}], "é": "\U0001f600\n\t"}
    assert v.check_json(value, "w") is value


@pytest.mark.parametrize(
    "bad", [{"a": {1, 2}}, (1, 2), b"bytes", {"a": float("inf")}, {"a": object()}]
)
def test_check_json_rejects_non_json_and_names_the_path(bad: object) -> None:
    with pytest.raises((TypeError, ValueError), match="payload"):
        v.check_json(bad, "add_job('x')")


@pytest.mark.parametrize(
    ("bad", "path", "words"),
    [
        ({"a": ["ok", "\ud800"]}, r"payload\['a'\]\[1\]", "lone surrogate"),
        ({"a": "x\x00y"}, r"payload\['a'\]", "NUL"),
        ({"k\x00": 1}, r"payload\['k\\x00'\]", "NUL"),
        ({"\udfff": 1}, r"payload\['\\udfff'\]", "lone surrogate"),
        ([2**63], r"payload\[0\]", "64-bit"),
        ([-(2**63) - 1], r"payload\[0\]", "64-bit"),
        ([10**5000], r"payload\[0\]", "int of 16610 bits"),
        ({"n": math.nan}, r"payload\['n'\]", "not a JSON number"),
        ({1: "x"}, "payload has", "non-string key 1"),
    ],
)
def test_check_json_names_the_bad_part(bad: object, path: str, words: str) -> None:
    with pytest.raises((TypeError, ValueError), match=path) as raised:
        v.check_json(bad, "add_job('x')")
    assert words in str(raised.value)
    assert str(raised.value).startswith("add_job('x'): ")


def test_integers_inside_payloads_are_64_bit() -> None:
    assert v.check_json([2**63 - 1, -(2**63)], "w") == [2**63 - 1, -(2**63)]


def test_nesting_up_to_the_limit_is_accepted_and_one_more_is_not() -> None:
    v.check_json(nested(v.MAX_JSON_DEPTH), "w")
    v.check_json({"a": nested(v.MAX_JSON_DEPTH - 1)}, "w")
    with pytest.raises(ValueError, match="nested deeper than 64") as raised:
        v.check_json(nested(v.MAX_JSON_DEPTH + 1), "w")
    assert len(str(raised.value)) < 120  # the path is cut short


def test_deep_and_cyclic_values_never_raise_recursion_error() -> None:
    deep = nested(100_000)
    with pytest.raises(ValueError, match="nested deeper"):
        v.check_json(deep, "w")
    cycle: list[object] = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="nested deeper"):
        v.check_json(cycle, "w")


def test_payload_size_limit_is_exact_in_utf8_bytes() -> None:
    # '"' + n characters + '"': exactly at the limit, then one byte over.
    at_limit = "x" * (v.MAX_PAYLOAD_BYTES - 2)
    assert v.check_json(at_limit, "w") == at_limit
    with pytest.raises(ValueError, match=r"1048577 bytes as JSON, over the limit"):
        v.check_json(at_limit + "x", "w")
    wide = "é" * (v.MAX_PAYLOAD_BYTES // 2)  # 2 bytes each in UTF-8
    with pytest.raises(ValueError, match="over the limit"):
        v.check_json(wide, "w")
    with pytest.raises(ValueError, match="over the limit of 10 bytes"):
        v.check_json(["abcdefghij"], "w", "return value", max_bytes=10)


def test_size_bound_never_skips_a_payload_over_the_limit() -> None:
    # The walk's upper bound skips serializing small payloads; worst-case
    # escapes (control characters: 6 bytes each) must still be caught.
    text = "\x01" * (v.MAX_PAYLOAD_BYTES // 6 + 1)
    assert len(v.to_json_text(text).encode()) > v.MAX_PAYLOAD_BYTES
    with pytest.raises(ValueError, match="over the limit"):
        v.check_json(text, "w")


def test_json_text_keeps_every_float_bit() -> None:
    for x in (1e16, 1e308, -0.0, 5e-324, 0.1, -1.7976931348623157e308):
        back = json.loads(v.to_json_text([x]))[0]
        assert math.copysign(1, back) == math.copysign(1, x)
        assert back == x and type(back) is float


def test_storable_text_never_fails_to_store() -> None:
    assert v.storable_text("a\x00b\ud800c") == "a\ufffdb\ufffdc"
    assert len(v.storable_text("x" * 10_000)) == v.MAX_MESSAGE_CHARS


# -- names, integers, tags ----------------------------------------------------


@pytest.mark.parametrize(
    ("value", "error", "words"),
    [
        (5, TypeError, "must be a str, got int: 5"),
        ("", ValueError, "empty or blank"),
        ("  ", ValueError, "empty or blank"),
        ("x" * 256, ValueError, "256 characters long, over the limit of 255"),
        ("a\x00b", ValueError, r"control characters .* found '\\x00'"),
        ("a\nb", ValueError, "control characters"),
        ("a\x85b", ValueError, "control characters"),
        ("a\ud800", ValueError, "lone surrogates"),
    ],
)
def test_names_are_checked(value: object, error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words) as raised:
        v.check_name(value, "add_job('t')", "idempotency_key")
    assert "add_job('t'): idempotency_key" in str(raised.value)


def test_names_accept_any_printable_text_up_to_255_characters() -> None:
    for name in ("x" * 255, "emails:welcome", "письмо", "\U0001f4e7 mail", "a\u200db"):
        assert v.check_name(name, "w", "job_type") == name


def test_a_str_subclass_becomes_a_plain_str() -> None:
    class Kind(str):
        pass

    assert type(v.check_name(Kind("email"), "w", "job_type")) is str


@pytest.mark.parametrize(
    ("check", "good", "bad"),
    [
        (v.check_priority, [-(2**31), 0, 2**31 - 1], [2**31, -(2**31) - 1]),
        (v.check_max_attempts, [1, 2**31 - 1], [0, -1, 2**31]),
        (v.check_id, [1, 2**63 - 1], [0, -1, 2**63]),
    ],
)
def test_integer_ranges(check: object, good: list[int], bad: list[int]) -> None:
    for value in good:
        assert check(value, "w") == value  # type: ignore[operator]
    for value in bad:
        with pytest.raises(ValueError, match=f"got {value}"):
            check(value, "w")  # type: ignore[operator]
    with pytest.raises(TypeError, match="must be an int, got bool"):
        check(True, "w")  # type: ignore[operator]


def test_page_bounds_are_63_bit() -> None:
    assert v.check_page(2**63 - 1, 2**63 - 1, "get_jobs") == (2**63 - 1, 2**63 - 1)
    with pytest.raises(ValueError, match="get_jobs: offset"):
        v.check_page(10, 2**63, "get_jobs")
    with pytest.raises(ValueError, match="get_jobs: limit"):
        v.check_page(-1, 0, "get_jobs")


@pytest.mark.parametrize(
    ("tags", "error", "words"),
    [
        ({"a"}, TypeError, "tags must be a list of str, got set"),
        ({"a": 1}, TypeError, "tags must be a list of str, got dict"),
        ("solo", TypeError, "tags must be a list of str, got str"),
        (iter(["a"]), TypeError, "got list_iterator"),
        ([""], ValueError, r"tags\[0\] must not be empty"),
        (["ok", "bad\x00"], ValueError, r"tags\[1\] must not contain control"),
        (["x"] * 101, ValueError, "101 entries, over the limit of 100"),
    ],
)
def test_tags_are_a_list_of_names(
    tags: object, error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        v.check_tags(tags, "add_job('t')")


def test_tags_keep_their_order_without_duplicates() -> None:
    assert v.check_tags(("b", "a", "b"), "w") == ["b", "a"]
    assert v.check_tags(None, "w") == []


# -- durations and times ------------------------------------------------------


def test_durations_accept_seconds_and_timedelta() -> None:
    assert v.to_seconds(timedelta(minutes=2), "w", "timeout") == 120
    assert v.to_seconds(1.5, "w", "timeout") == 1.5
    with pytest.raises(TypeError, match="timeout"):
        v.to_seconds("5", "w", "timeout")
    with pytest.raises(ValueError, match="more than 0"):
        v.to_seconds(0, "w", "timeout", allow_zero=False)
    assert math.copysign(1, v.to_seconds(-0.0, "w", "retry_delay")) == 1


@pytest.mark.parametrize("bad", [math.nan, math.inf, -1, 10**400, 1e300])
def test_durations_out_of_range_are_value_errors(bad: float) -> None:
    with pytest.raises(ValueError, match="w: timeout must be at least 0"):
        v.to_seconds(bad, "w", "timeout")


def test_numbers_keep_their_unit_and_timedeltas_are_taken_as_they_are() -> None:
    assert v.stuck_threshold(10, "reclaim_stuck_jobs", "m") == 600
    assert v.stuck_threshold(timedelta(minutes=10), "reclaim_stuck_jobs", "m") == 600
    assert v.days_to_keep(30, "cleanup_old_jobs") == 30 * 86400
    assert v.days_to_keep(timedelta(days=30), "cleanup_old_jobs") == 30 * 86400
    with pytest.raises(ValueError, match=r"at most 36500 days .* got 1000000000"):
        v.days_to_keep(10**9, "cleanup_old_jobs")
    with pytest.raises(ValueError, match="at most 525600 minutes"):
        v.stuck_threshold(timedelta(days=366), "reclaim_stuck_jobs", "m")


@pytest.mark.parametrize("name", ["timeout", "retry_delay", "retry_delay_max"])
def test_job_durations_are_at_most_365_days(name: str) -> None:
    year = timedelta(days=365)
    job = v.new_job(dq.JobSpec("t", **{name: year}))  # type: ignore[arg-type]
    assert getattr(job, name) == year.total_seconds()
    with pytest.raises(ValueError, match=f"add_job\\('t'\\): {name} must be"):
        v.new_job(dq.JobSpec("t", **{name: year + timedelta(seconds=1)}))  # type: ignore[arg-type]


def test_retry_delay_max_must_not_be_below_retry_delay() -> None:
    with pytest.raises(ValueError, match=r"retry_delay_max \(5s\) must not be less"):
        v.new_job(dq.JobSpec("t", retry_delay=10, retry_delay_max=5))
    with pytest.raises(ValueError, match="edit_job: retry_delay_max"):
        v.job_changes({"retry_delay": 10, "retry_delay_max": 5}, "edit_job")
    assert v.new_job(dq.JobSpec("t", retry_delay=5, retry_delay_max=5)).retry_delay == 5


def test_naive_datetime_is_rejected_never_guessed() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        v.aware_utc(datetime(2030, 1, 1), "w", "run_at")
    aware = datetime(2030, 1, 1, tzinfo=UTC)
    assert v.aware_utc(aware, "w", "run_at") == aware


def test_datetimes_that_cannot_be_expressed_in_utc_are_value_errors() -> None:
    east = timezone(timedelta(hours=5))
    with pytest.raises(ValueError, match="outside the range"):
        v.aware_utc(datetime(1, 1, 1, tzinfo=east), "w", "run_at")


def test_run_at_lies_between_1970_and_9999() -> None:
    low, high = v.EARLIEST_RUN_AT, v.LATEST_RUN_AT
    assert v.check_run_at(low, "w") == low
    high_ok = high - timedelta(microseconds=1)
    assert v.check_run_at(high_ok, "w") == high_ok
    for bad in (low - timedelta(microseconds=1), high):
        with pytest.raises(ValueError, match="w: run_at must be from 1970"):
            v.check_run_at(bad, "w")


# -- jobs, edits, filters ----------------------------------------------------


def test_new_jobs_names_the_spec() -> None:
    with pytest.raises(TypeError, match="add_jobs: specs must be a list"):
        v.new_jobs(None)
    with pytest.raises(TypeError, match=r"add_jobs: specs\[1\] must be a dataqueue"):
        v.new_jobs([dq.JobSpec("a"), {"job_type": "b"}])
    with pytest.raises(ValueError, match=r"add_jobs: specs\[1\] \('b'\): priority"):
        v.new_jobs([dq.JobSpec("a"), dq.JobSpec("b", priority=2**40)])


def test_messages_stay_short_and_printable_whatever_the_value() -> None:
    with pytest.raises(ValueError, match="job_type is 1000 characters") as raised:
        v.new_job(dq.JobSpec("\ud800" * 1000))
    message = str(raised.value)
    assert len(message) < 400
    message.encode()  # no lone surrogate in the message itself


def test_job_changes_records_json_metadata() -> None:
    when = datetime(2030, 1, 1, tzinfo=UTC)
    changes = v.job_changes({"run_at": when, "timeout": None}, "edit_job")
    assert changes.values == {"run_at": when, "timeout": None}
    assert changes.metadata == {"run_at": when.isoformat(), "timeout": None}


def test_job_changes_use_the_limits_of_add_job() -> None:
    for updates in (
        {"priority": 2**31},
        {"tags": {"a"}},
        {"payload": {"a": "\x00"}},
        {"timeout": 1e12},
        {"run_at": datetime(1969, 1, 1, tzinfo=UTC)},
    ):
        with pytest.raises((TypeError, ValueError), match="edit_job: "):
            v.job_changes(updates, "edit_job")


def test_tag_filter_forms() -> None:
    assert v.tag_filter({"values": ["a"]}, "w") == dq.TagFilter(["a"], "all")
    assert v.tag_filter(dq.TagFilter(["a"], "none"), "w").mode == "none"
    assert v.tag_filter(["a", "b"], "w") == dq.TagFilter(["a", "b"], "all")
    with pytest.raises(TypeError, match="unknown key"):
        v.tag_filter({"values": ["a"], "modes": "any"}, "w")
    with pytest.raises(TypeError, match=r"tags\.values must be a list of str, got set"):
        v.tag_filter({"values": {"a"}}, "w")


def test_job_filter_merges_keywords_and_checks_the_container() -> None:
    where = v.job_filter({"job_type": "a"}, "get_jobs", "pending", {"priority": 3})
    assert (where.job_type, where.priority, where.status) == ("a", 3, "pending")
    with pytest.raises(TypeError, match="get_jobs: filters must be a dict, got list"):
        v.job_filter([("job_type", "a")], "get_jobs")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="get_jobs: priority"):
        v.job_filter({"priority": 2**31}, "get_jobs")


# -- processors, supervisors, connections ------------------------------------


def test_processor_options_defaults() -> None:
    options = v.processor_options({"a": print})
    assert options.handlers == {"a": print}
    assert (options.batch_size, options.concurrency, options.poll_interval) == (
        10,
        3,
        5.0,
    )
    # only the types it has handlers for, unless told "*"
    assert options.job_types == ("a",) and options.worker_id is None
    assert v.processor_options({"a": print}, job_type="*").job_types is None
    assert options.heartbeat_interval == 10.0
    one = v.processor_options({}, job_type="a", poll_interval=timedelta(seconds=2))
    assert one.job_types == ("a",) and one.poll_interval == 2.0
    many = v.processor_options({}, job_type=["a", "b", "a"])
    assert many.job_types == ("a", "b")


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"handlers": [print]}, TypeError, "handlers must be a dict .* got list"),
        ({"handlers": {"a": 5}}, TypeError, "handler for 'a' is not callable"),
        ({"handlers": {"": print}}, ValueError, "handlers key must not be empty"),
        ({"job_type": 5}, TypeError, "job_type must be a str or a list of str"),
        ({"job_type": []}, ValueError, "job_type must not be an empty list"),
        ({"job_type": ["a", 5]}, TypeError, r"job_type\[1\] must be a str"),
        ({"poll_interval": 0}, ValueError, "poll_interval must be at least 0.01"),
        ({"poll_interval": "5"}, TypeError, "poll_interval must be a number"),
        ({"batch_size": 0}, ValueError, "batch_size must be between 1 and 1000"),
        ({"concurrency": 10**6}, ValueError, "concurrency must be between 1 and"),
        ({"worker_id": "w\n1"}, ValueError, "worker_id must not contain control"),
        ({"on_error": 5}, TypeError, "on_error must be callable"),
        ({"verbose": "yes"}, TypeError, "verbose must be True or False"),
        ({"heartbeat_interval": 0}, ValueError, "heartbeat_interval must be"),
    ],
)
def test_processor_options_reject_with_named_fields(
    kwargs: dict[str, object], error: type[Exception], words: str
) -> None:
    handlers = kwargs.pop("handlers", {})
    with pytest.raises(error, match=f"create_processor: {words}"):
        v.processor_options(handlers, **kwargs)


def test_supervisor_options_keep_their_units() -> None:
    options = v.supervisor_options(
        interval=timedelta(seconds=30),
        stuck_jobs_timeout_minutes=timedelta(minutes=10),
        cleanup_jobs_days_to_keep=timedelta(days=7),
        cleanup_events_days_to_keep=None,
    )
    assert options == v.SupervisorOptions(30.0, 600.0, 7 * 86400.0, None)
    # The same default as create_supervisor's: one minute without a heartbeat.
    assert v.supervisor_options().stuck_seconds == 60.0


def test_the_public_stuck_threshold_default_is_one_minute(tmp_path: Path) -> None:
    queue = dq.connect(f"sqlite:///{tmp_path / 'q.db'}")
    assert queue.create_supervisor().stuck_seconds == 60.0


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"cleanup_jobs_days_to_keep": -1}, "cleanup_jobs_days_to_keep must be"),
        ({"cleanup_events_days_to_keep": 10**9}, "cleanup_events_days_to_keep"),
        ({"stuck_jobs_timeout_minutes": 0}, "stuck_jobs_timeout_minutes must be"),
        ({"interval": 0}, "interval must be at least 0.01"),
    ],
)
def test_supervisor_options_reject_with_named_fields(
    kwargs: dict[str, object], words: str
) -> None:
    with pytest.raises(ValueError, match=f"create_supervisor: {words}"):
        v.supervisor_options(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"key_prefix": ""}, ValueError, "key_prefix must not be empty"),
        ({"key_prefix": "*"}, ValueError, "key_prefix must not contain the glob"),
        ({"key_prefix": "a[1]:"}, ValueError, r"glob characters \[ \]"),
        ({"key_prefix": "{app}:"}, ValueError, "key_prefix must not contain { }"),
        ({"key_prefix": "\x00"}, ValueError, "key_prefix must not contain control"),
        ({"key_prefix": 5}, TypeError, "key_prefix must be a str"),
        ({"schema": ""}, ValueError, "schema must be a plain identifier"),
        ({"schema": "pg_mine"}, ValueError, "not starting with pg_"),
        ({"schema": "a" * 64}, ValueError, "at most 63 characters"),
        ({"schema": 5}, TypeError, "schema must be a str"),
        ({"max_connections": 0}, ValueError, "max_connections must be between 1"),
        ({"max_connections": -5}, ValueError, "max_connections must be between 1"),
        ({"max_connections": 2.5}, TypeError, "max_connections must be an int"),
        ({"verbose": 1}, TypeError, "verbose must be True or False"),
        ({"ssl": "yes"}, TypeError, "ssl must be a dict"),
        ({"clock": 5}, TypeError, "clock must have a now"),
    ],
)
def test_connect_rejects_bad_options_before_connecting(
    kwargs: dict[str, object], error: type[Exception], words: str
) -> None:
    # Port 1: a connection would fail; the check comes first on every store.
    for url in ("postgresql://u@127.0.0.1:1/x", "redis://127.0.0.1:1/0"):
        with pytest.raises(error, match=f"connect: .*{words}"):
            dq.connect(url, **kwargs)  # type: ignore[arg-type]


def test_connect_rejects_a_url_that_is_not_text() -> None:
    with pytest.raises(TypeError, match="connect: url must be a str, got int"):
        dq.connect(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="connect: url must not contain control"):
        dq.connect("sqlite:///a\x00.db")


def test_batch_refs_that_go_round_in_a_circle_are_refused() -> None:
    from dataqueue._validate.jobs import new_jobs
    from dataqueue.errors import DependencyError

    def spec(*refs: int) -> dq.JobSpec:
        return dq.JobSpec(
            "a", {}, depends_on={"job_ids": [dq.batch_ref(r) for r in refs]}
        )

    assert len(new_jobs([spec(), spec(0), spec(0, 1)])) == 3
    assert new_jobs([spec(1), spec()])[0].depends_on == Dependencies((), (1,), ())
    with pytest.raises(
        DependencyError, match=r"specs\[0\] -> specs\[1\] -> specs\[0\]"
    ):
        new_jobs([spec(1), spec(0)])
    with pytest.raises(
        DependencyError, match="specs\\[1\\] -> specs\\[2\\] -> specs\\[3\\]"
    ):
        new_jobs([spec(), spec(2), spec(3), spec(1)])
    deps = new_jobs(
        [dq.JobSpec("a", depends_on=dq.DependsOn(job_ids=[3, 3, 1], tags=["t"]))]
    )
    assert deps[0].depends_on == Dependencies((1, 3), (), ("t",))
