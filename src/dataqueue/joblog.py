"""Log lines that say which job they are about: the job an attempt runs is
kept in a context variable while it runs (handler code included, threads of
sync handlers too), and ``JsonFormatter`` writes it on every line."""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime

from dataqueue import _trace
from dataqueue._redact import redact


@dataclass(slots=True)
class JobLogContext:
    """The job of the attempt running in this context."""

    job_id: int
    job_type: str
    attempt: int
    worker_id: str
    trace_id: str | None = None


current_job: ContextVar[JobLogContext | None] = ContextVar(
    "dataqueue_current_job", default=None
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time level logger message``, then
    ``job_id job_type attempt worker_id trace_id`` (null outside a job; the
    trace id once ``dataqueue.otel`` is instrumented) and ``exception``;
    passwords in the message and the traceback are masked.

    Example:
        ``handler.setFormatter(dataqueue.joblog.JsonFormatter())``
    """

    def format(self, record: logging.LogRecord) -> str:
        job = current_job.get()
        trace_id = job.trace_id if job is not None else None
        if trace_id is None and _trace.active is not None:
            trace_id = _trace.active.current_trace_id()
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "job_id": None if job is None else job.job_id,
            "job_type": None if job is None else job.job_type,
            "attempt": None if job is None else job.attempt,
            "worker_id": None if job is None else job.worker_id,
            "trace_id": trace_id,
        }
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)
