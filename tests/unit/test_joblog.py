"""JsonFormatter: one JSON object per line, the job's fields, no password."""

from __future__ import annotations

import io
import json
import logging

from dataqueue.joblog import JobLogContext, JsonFormatter, current_job


def logged(*args: object, exc: bool = False) -> dict[str, object]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("joblog-test")
    log.addHandler(handler)
    try:
        if exc:
            try:
                raise ConnectionError("redis://:s3cret@cache:6379/0 refused")
            except ConnectionError:
                log.exception(*args)  # type: ignore[arg-type]
        else:
            log.warning(*args)  # type: ignore[arg-type]
    finally:
        log.removeHandler(handler)
    [line] = out.getvalue().splitlines()
    return dict(json.loads(line))


def test_a_line_outside_a_job_has_null_job_fields() -> None:
    line = logged("worker %s started", "w-1")
    assert line["message"] == "worker w-1 started"
    assert line["level"] == "WARNING" and line["logger"] == "joblog-test"
    assert [line[k] for k in ("job_id", "job_type", "attempt", "trace_id")] == [
        None,
        None,
        None,
        None,
    ]


def test_a_line_inside_a_job_names_it() -> None:
    token = current_job.set(JobLogContext(7, "email", 2, "w-1", trace_id="ab" * 16))
    try:
        line = logged("sending")
    finally:
        current_job.reset(token)
    assert (line["job_id"], line["job_type"], line["attempt"]) == (7, "email", 2)
    assert (line["worker_id"], line["trace_id"]) == ("w-1", "ab" * 16)


def test_passwords_are_masked_in_message_and_traceback() -> None:
    line = logged("cannot reach %s", "postgresql://app:hunter2@db/app", exc=True)
    assert line["message"] == "cannot reach postgresql://app:***@db/app"
    assert "s3cret" not in str(line["exception"])
    assert "redis://:***@cache:6379/0 refused" in str(line["exception"])
