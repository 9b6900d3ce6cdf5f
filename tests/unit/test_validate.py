from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import dataqueue as dq
from dataqueue import _validate as v


def test_check_json_accepts_plain_json() -> None:
    value = {"a": [1, 2.5, "x", None, True, {"b": []}]}
    assert v.check_json(value, "w") is value


@pytest.mark.parametrize(
    "bad", [{"a": {1, 2}}, (1, 2), b"bytes", {"a": float("inf")}, {"a": object()}]
)
def test_check_json_rejects_non_json_and_names_the_path(bad: object) -> None:
    with pytest.raises((TypeError, ValueError), match="payload"):
        v.check_json(bad, "add_job('x')")


def test_durations_accept_seconds_and_timedelta() -> None:
    assert v.to_seconds(timedelta(minutes=2), "w", "timeout") == 120
    assert v.to_seconds(1.5, "w", "timeout") == 1.5
    with pytest.raises(TypeError, match="timeout"):
        v.to_seconds("5", "w", "timeout")
    with pytest.raises(ValueError, match="more than zero"):
        v.to_seconds(0, "w", "timeout", allow_zero=False)


def test_naive_datetime_is_rejected_never_guessed() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        v.aware_utc(datetime(2030, 1, 1), "w", "run_at")
    aware = datetime(2030, 1, 1, tzinfo=UTC)
    assert v.aware_utc(aware, "w", "run_at") == aware


def test_tag_filter_forms() -> None:
    assert v.tag_filter({"values": ["a"]}, "w") == dq.TagFilter(["a"], "all")
    assert v.tag_filter(dq.TagFilter(["a"], "none"), "w").mode == "none"
    with pytest.raises(TypeError, match="unknown key"):
        v.tag_filter({"values": ["a"], "modes": "any"}, "w")


def test_job_changes_records_json_metadata() -> None:
    when = datetime(2030, 1, 1, tzinfo=UTC)
    changes = v.job_changes({"run_at": when, "timeout": None}, "edit_job")
    assert changes.values == {"run_at": when, "timeout": None}
    assert changes.metadata == {"run_at": when.isoformat(), "timeout": None}
