"""Build model objects from decoded store rows (shared by every backend)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any, Protocol

from dataqueue import _transitions as t
from dataqueue._commands import NewJob
from dataqueue.cron import CronJob, CronStatus
from dataqueue.limits import Candidate, Limits, Rate
from dataqueue.models import (
    EventType,
    FailureReason,
    HeldCounts,
    JobEvent,
    JobRecord,
    JobStatus,
    JobTypeStats,
)

logger = logging.getLogger("dataqueue")

JOB_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(JobRecord))
JOB_TIME_FIELDS: frozenset[str] = frozenset(
    f.name for f in fields(JobRecord) if "datetime" in str(f.type)
)
"""The JobRecord fields that hold a datetime (stores without one encode them)."""


def job_from_row(row: Mapping[str, Any]) -> JobRecord:
    """``row`` holds every JobRecord field with Python values already decoded."""
    return job_from_values({name: row[name] for name in JOB_FIELDS})


def job_from_values(values: dict[str, Any]) -> JobRecord:
    """``job_from_row`` of a dict of exactly the JobRecord fields, changed in
    place: a caller that built it for this job spares the copy."""
    values["status"] = JobStatus(values["status"])
    reason = values["failure_reason"]
    values["failure_reason"] = None if reason is None else FailureReason(reason)
    values["tags"] = list(values["tags"] or [])
    values["error_history"] = list(values["error_history"] or [])
    values["force_kill_on_timeout"] = bool(values["force_kill_on_timeout"])
    if values["retry_backoff"] is not None:
        values["retry_backoff"] = bool(values["retry_backoff"])
    if values["depends_on_job_ids"] is not None:  # ids as text in Redis
        values["depends_on_job_ids"] = [int(i) for i in values["depends_on_job_ids"]]
    if values["depends_on_tags"] is not None:
        values["depends_on_tags"] = list(values["depends_on_tags"])
    return JobRecord(**values)


def lost_worker_letter(
    job_id: int, decode: Callable[[], JobRecord], message: str, failed_at: datetime
) -> NewJob | None:
    """``_transitions.lost_worker_letter`` of a job a reclaim failed for
    good, ``decode`` reading its row; None for a row that will not decode
    (it fails with no letter, as a claimed ``BrokenJob`` does), so one
    damaged row never stops the reclaim of the others."""
    try:
        job = decode()
    except Exception as error:
        no_letter(job_id, error)
        return None
    return t.lost_worker_letter(job, message, failed_at)


def no_letter(job_id: int, error: Exception) -> None:
    """Log a job failed for good with no dead letter: its row is damaged."""
    logger.warning(
        "job %s: failed for good with no dead letter: its stored row cannot "
        "be decoded (%s: %s)",
        job_id,
        type(error).__name__,
        error,
    )


def event_from_row(row: Mapping[str, Any]) -> JobEvent:
    return JobEvent(
        id=row["id"],
        job_id=row["job_id"],
        event_type=EventType(row["event_type"]),
        created_at=row["created_at"],
        metadata=row["metadata"],
    )


CRON_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(CronJob))
CRON_TIME_FIELDS: frozenset[str] = frozenset(
    f.name for f in fields(CronJob) if "datetime" in str(f.type)
)
"""The CronJob fields that hold a datetime (stores without one encode them)."""


def cron_from_row(row: Mapping[str, Any]) -> CronJob:
    """``row`` holds every CronJob field with Python values already decoded."""
    values = {name: row[name] for name in CRON_FIELDS}
    values["status"] = CronStatus(values["status"])
    values["tags"] = list(values["tags"] or [])
    values["allow_overlap"] = bool(values["allow_overlap"])
    values["skipped_runs"] = int(values["skipped_runs"] or 0)
    if values["retry_backoff"] is not None:
        values["retry_backoff"] = bool(values["retry_backoff"])
    return CronJob(**values)


def type_stats_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[JobTypeStats]:
    """Fold grouped rows (``job_type status jobs oldest_pending_at completed
    failed``, times decoded) into one JobTypeStats per type, by type name. A
    row counts ``jobs`` for its status; one without a status carries only
    per-type values; the oldest time and the sums are taken over a type's
    rows."""
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row["job_type"], []).append(row)
    stats = []
    for job_type, group in sorted(grouped.items()):
        counts = dict.fromkeys(JobStatus, 0)
        for row in group:
            if row["status"] is not None:
                counts[JobStatus(row["status"])] = int(row["jobs"])
        due: list[datetime] = [
            row["oldest_pending_at"]
            for row in group
            if row["oldest_pending_at"] is not None
        ]
        stats.append(
            JobTypeStats(
                job_type=job_type,
                counts=counts,
                oldest_pending_at=min(due, default=None),
                completed=sum(int(row["completed"]) for row in group),
                failed=sum(int(row["failed"]) for row in group),
            )
        )
    return stats


class Columns(Protocol):
    """A row read by column name (a mapping, or sqlite3.Row)."""

    def __getitem__(self, name: str, /) -> Any: ...


def held_counts_from_rows(
    rows: Iterable[tuple[str, str, int]], *, complete: bool
) -> HeldCounts:
    """``(job type, reason, count)`` rows as ``HeldCounts``, by type and
    reason."""
    counts: dict[str, dict[str, int]] = {}
    for job_type, reason, n in sorted(rows):
        if n:
            by_reason = counts.setdefault(job_type, {})
            by_reason[reason] = by_reason.get(reason, 0) + int(n)
    return HeldCounts(counts, complete)


def limits_from_row(row: Columns) -> Limits:
    """A stored limits row (the columns of ``limits_columns``)."""

    def rate(count: int | None, per: float | None) -> Rate | None:
        return None if count is None or per is None else Rate(count, per)

    return Limits(
        job_type=row["job_type"],
        concurrency=row["concurrency"],
        rate=rate(row["rate_count"], row["rate_per"]),
        group_concurrency=row["group_concurrency"],
        group_rate=rate(row["group_rate_count"], row["group_rate_per"]),
        paused=bool(row["paused"]),
    )


def limits_columns(limits: Limits) -> dict[str, Any]:
    """The columns a SQL store keeps ``limits`` in."""
    rate, group_rate = limits.rate, limits.group_rate
    return {
        "job_type": limits.job_type,
        "concurrency": limits.concurrency,
        "rate_count": None if rate is None else rate.count,
        "rate_per": None if rate is None else rate.per,
        "group_concurrency": limits.group_concurrency,
        "group_rate_count": None if group_rate is None else group_rate.count,
        "group_rate_per": None if group_rate is None else group_rate.per,
        "paused": limits.paused,
    }


def candidate_from_row(row: Columns) -> Candidate:
    """A due job as a limited claim's walk sees it."""
    return Candidate(
        row["id"],
        row["job_type"],
        row["group_id"],
        row["pending_reason"],
        row["status"] == "pending",
    )
