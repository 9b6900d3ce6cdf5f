"""The SQLite store's flow control: limits read and changed, and the claim
that obeys them (``limits.walk``), inside the claim's BEGIN IMMEDIATE
transaction, which makes the counts it reads and the claim it writes one
atomic step (SQLite has one writer)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from dataqueue._commands import Claimed, ClaimRequest, LimitChanges
from dataqueue._transitions import (
    CLAIM,
    HOLD,
    UNHOLD,
    held_metadata,
    processing_metadata,
    unheld_metadata,
)
from dataqueue.backends._records import (
    candidate_from_row,
    limits_columns,
    limits_from_row,
)
from dataqueue.backends.sqlite.codec import from_micros_utc, json_list, to_micros
from dataqueue.backends.sqlite.connection import SQL
from dataqueue.backends.sqlite.exchange import claim_order, event_params, insert_events
from dataqueue.limits import (
    ALL_TYPES,
    Bucket,
    BucketKey,
    Candidate,
    Exclusions,
    Gate,
    Limits,
    Usage,
    changed,
    walk,
)
from dataqueue.models import JobRecord


def unheld(job: Claimed) -> Claimed:
    """A claimed job as it is now: the claim cleared its hold mark after
    the row was read (settle_and_claim.unhold)."""
    if isinstance(job, JobRecord) and job.pending_reason is not None:
        return replace(job, pending_reason=None)
    return job


def get_limits(conn: sqlite3.Connection) -> list[Limits]:
    return [limits_from_row(row) for row in conn.execute(SQL["get_limits"])]


def change_limits(conn: sqlite3.Connection, changes: LimitChanges, now: int) -> None:
    stored = {limits.job_type: limits for limits in get_limits(conn)}
    job_types = list(stored) if changes.job_type is None else [changes.job_type]
    for job_type in job_types:
        limits = changed(stored.get(job_type), job_type, changes.values)
        if limits.is_empty:
            conn.execute(SQL["change_limits.delete"], {"job_type": job_type})
        else:
            conn.execute(SQL["change_limits"], {**limits_columns(limits), "now": now})
        conn.execute(
            SQL["change_limits.buckets"],
            {
                "job_type": job_type,
                "type_bucket": "rate" in changes.values or limits.is_empty,
                "group_buckets": "group_rate" in changes.values or limits.is_empty,
            },
        )


def gate(conn: sqlite3.Connection, claim: ClaimRequest, now: datetime) -> Gate:
    """The claim's gate, from the stored limits of its types and what runs."""
    job_types = None if claim.job_types is None else json_list(claim.job_types)
    limits = [
        limits_from_row(row)
        for row in conn.execute(
            SQL["settle_and_claim.limits"], {"job_types": job_types}
        )
    ]
    if not limits and claim.group_concurrency is None:
        return Gate([], Usage(), now)
    return Gate(
        limits,
        usage(conn, limits, claim),
        now,
        claim.group_concurrency,
        claim.job_types,
    )


def usage(conn: sqlite3.Connection, limits: list[Limits], claim: ClaimRequest) -> Usage:
    limited = {limit.job_type for limit in limits if limit.job_type != ALL_TYPES}
    by_group = {limit.job_type for limit in limits if limit.by_group}
    running: Counter[str] = Counter()
    group_running: Counter[tuple[str, str]] = Counter()
    any_group_running: Counter[str] = Counter()
    counted = claim.group_concurrency is not None or any(
        limit.concurrency is not None or limit.group_concurrency is not None
        for limit in limits
    )
    for row in conn.execute(SQL["settle_and_claim.usage"]) if counted else ():
        job_type, group, count = row["job_type"], row["group_id"], row["running"]
        if job_type in limited:
            running[job_type] += count
        if group is not None and job_type in by_group:
            group_running[job_type, group] += count
        if group is not None and claim.group_concurrency is not None:
            any_group_running[group] += count
    rated = [limit.job_type for limit in limits if limit.rate or limit.group_rate]
    bucket_rows = (
        conn.execute(SQL["settle_and_claim.buckets"], {"job_types": json_list(rated)})
        if rated
        else ()
    )
    buckets: dict[BucketKey, Bucket] = {
        (row["job_type"], row["group_id"] or None): Bucket(
            row["tokens"], from_micros_utc(row["updated_at"])
        )
        for row in bucket_rows
    }
    return Usage(running, group_running, any_group_running, buckets)


def claim_limited(
    conn: sqlite3.Connection, claim: ClaimRequest, gate: Gate, now: int
) -> list[sqlite3.Row]:
    """The walk with this store's queries; its holds marked, its buckets
    stored, its jobs claimed (with their events)."""
    job_types = None if claim.job_types is None else json_list(claim.job_types)

    def fetch(exclusions: Exclusions, seen: Sequence[int], n: int) -> list[Candidate]:
        params = {
            "job_types": job_types,
            "excluded_types": json_list(exclusions.types),
            "excluded_groups": json_list(sorted(exclusions.groups)),
            "excluded_any_groups": json_list(sorted(exclusions.any_groups)),
            "seen": json_list(seen),
            "limit": n,
            "now": now,
        }
        rows = conn.execute(SQL["settle_and_claim.candidates"], params)
        return [candidate_from_row(row) for row in rows]

    def front_of_line(job_type: str, n: int) -> list[Candidate]:
        params = {"job_type": job_type, "limit": n, "now": now}
        rows = conn.execute(SQL["settle_and_claim.front_of_line"], params)
        return [candidate_from_row(row) for row in rows]

    decided = walk(gate, claim.limit, fetch, front_of_line)
    conn.executemany(
        SQL["settle_and_claim.hold"],
        [{"id": c.id, "reason": reason, "now": now} for c, reason in decided.held],
    )
    events = [
        event_params(c.id, HOLD, now, held_metadata(reason))
        for c, reason in decided.held
    ]
    conn.executemany(
        SQL["settle_and_claim.spend"],
        [
            {
                "job_type": job_type,
                "group_id": group or "",
                "tokens": bucket.tokens,
                "now": to_micros(bucket.at),
            }
            for (job_type, group), bucket in gate.spent().items()
        ],
    )
    taken = {c.id: c for c in decided.taken}
    rows = conn.execute(
        SQL["settle_and_claim.take"],
        {
            "ids": json_list(taken),
            "worker_id": claim.worker_id,
            "token": claim.token,
            "now": now,
        },
    ).fetchall()
    rows.sort(key=claim_order)
    for row in rows:
        held_for = taken[row["id"]].pending_reason
        if held_for is not None:
            events.append(
                event_params(row["id"], UNHOLD, now, unheld_metadata(held_for))
            )
        events.append(
            event_params(
                row["id"],
                CLAIM,
                now,
                processing_metadata(claim.worker_id, row["attempts"]),
            )
        )
    insert_events(conn, events)
    return rows
