"""The PostgreSQL store's flow control: limits read and changed, and the
claim that obeys them (``limits.walk``).

``settle_and_claim.sql`` claims nothing when limits apply to the claim (it
reports the claim ``gated``); the claim then runs here, in one transaction:
the limits rows of its types are locked first (and, for a processor's cap
per group key, an advisory lock), so that claims of overlapping types take
turns, and every later statement of the transaction reads a fresh snapshot
that holds what the claim before committed. The gate decides in Python
with the store's queries as its ``fetch``; the store applies its holds,
buckets and claim. A claim whose limits are concurrency caps with room for
it (``Gate.fence`` of the claim before) runs as the plain statement behind
a fence instead (``claim_fence``, migrations/0019_claim_fence.sql), and
comes here only when the fence fails.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import DictRow, dict_row

from dataqueue._commands import BrokenJob, Claimed, ClaimRequest, LimitChanges
from dataqueue._transitions import (
    held_metadata,
    processing_metadata,
    resumed_at_time_metadata,
    unheld_metadata,
)
from dataqueue.backends._records import (
    candidate_from_row,
    limits_columns,
    limits_from_row,
)
from dataqueue.backends.postgres.codec import job_row, json_text
from dataqueue.limits import (
    Bucket,
    BucketKey,
    Candidate,
    Exclusions,
    Gate,
    Limits,
    Usage,
    changed,
    walk_async,
)

Cursor = psycopg.AsyncCursor[DictRow]


async def change_limits(
    cur: Cursor,
    queries: dict[str, bytes],
    changes: LimitChanges,
    now: datetime,
    channel: str,
) -> None:
    job_types = None if changes.job_type is None else [changes.job_type]
    await cur.execute(
        queries["change_limits.lock"], {"job_types": job_types, "now": now}
    )
    for row in await cur.fetchall():
        limits = changed(limits_from_row(row), row["job_type"], changes.values)
        params = {
            **limits_columns(limits),
            "delete": limits.is_empty,
            "type_bucket": "rate" in changes.values or limits.is_empty,
            "group_buckets": "group_rate" in changes.values or limits.is_empty,
            "now": now,
            "channel": channel,
        }
        await cur.execute(queries["change_limits"], params)


def groups_lock_key(schema: str) -> int:
    """The advisory lock of a schema's claims capped per group key."""
    return zlib.crc32(f"dataqueue:{schema}:groups".encode())


async def claim_limited(
    cur: Cursor,
    queries: dict[str, bytes],
    claim: ClaimRequest,
    now: datetime,
    schema: str,
) -> tuple[Cursor | None, Gate]:
    """The gated claim, in the caller's transaction on a connection in
    pipeline mode (see the module): the reads that come first (the locked
    limits, what runs, the buckets, and the candidates a claim with nothing
    excluded would take) go in one round trip, the writes and the commit in
    one more. Returns the cursor of the claimed rows (``read_taken``), None
    when nothing was taken."""
    job_types = None if claim.job_types is None else list(claim.job_types)
    candidates = queries[
        "settle_and_claim.candidates" + ("" if job_types is None else "_typed")
    ]
    conn = cur.connection
    read = [conn.cursor(row_factory=dict_row) for _ in range(4)]
    await cur.execute(queries["settle_and_claim.limits"], {"job_types": job_types})
    if claim.group_concurrency is not None:
        await read[0].execute(
            queries["settle_and_claim.groups_lock"], {"key": groups_lock_key(schema)}
        )
    await read[1].execute(
        queries["settle_and_claim.resume"], {"job_types": job_types, "now": now}
    )
    await read[2].execute(queries["settle_and_claim.usage"])
    await read[3].execute(queries["settle_and_claim.buckets"], {"job_types": job_types})
    nothing = Exclusions({}, frozenset(), frozenset())
    prefetched = conn.cursor(row_factory=dict_row)
    await prefetched.execute(
        candidates,
        candidates_params(job_types, nothing, (), claim.limit, now),
    )
    limits = [limits_from_row(row) for row in await cur.fetchall()]
    resumed = await read[1].fetchall()
    running = await read[2].fetchall()
    buckets = await read[3].fetchall()
    gate = Gate(
        limits,
        usage(limits, claim, running, buckets),
        now,
        claim.group_concurrency,
        claim.job_types,
    )

    attempts: dict[int, int] = {}  # each candidate's so far: its 'processing' event

    async def fetch(
        exclusions: Exclusions, seen: Sequence[int], n: int
    ) -> list[Candidate]:
        if exclusions == nothing and not seen and n == claim.limit:
            rows = await prefetched.fetchall()
        else:
            params = candidates_params(job_types, exclusions, seen, n, now)
            await cur.execute(candidates, params)
            rows = await cur.fetchall()
        attempts.update((row["id"], row["attempts"]) for row in rows)
        return [candidate_from_row(row) for row in rows]

    async def front_of_line(job_type: str, n: int) -> list[Candidate]:
        params = {"job_type": job_type, "claim_limit": n, "now": now}
        await cur.execute(queries["settle_and_claim.front_of_line"], params)
        return [candidate_from_row(row) for row in await cur.fetchall()]

    decided = await walk_async(gate, claim.limit, fetch, front_of_line)
    if resumed:
        await read[2].execute(
            queries["settle_and_claim.resumed"],
            {
                "ids": [row["id"] for row in resumed],
                "metadata": [
                    json_text(
                        resumed_at_time_metadata(row["wait_until"].astimezone(UTC))
                    )
                    for row in resumed
                ],
                "now": now,
            },
        )
    if decided.held:
        await read[0].execute(
            queries["settle_and_claim.hold"],
            {
                "ids": [c.id for c, _ in decided.held],
                "reasons": [reason for _, reason in decided.held],
                "metadata": [json_text(held_metadata(r)) for _, r in decided.held],
                "now": now,
            },
        )
    spent = gate.spent()
    if spent:
        await read[1].execute(
            queries["settle_and_claim.spend"],
            {
                "job_types": [job_type for job_type, _ in spent],
                "group_ids": [group or "" for _, group in spent],
                "tokens": [bucket.tokens for bucket in spent.values()],
                "now": now,
            },
        )
    if not decided.taken:
        return None, gate
    taken = conn.cursor(row_factory=dict_row)
    await taken.execute(
        queries["settle_and_claim.take"],
        {
            "ids": [c.id for c in decided.taken],
            "released": [
                None
                if c.pending_reason is None
                else json_text(unheld_metadata(c.pending_reason))
                for c in decided.taken
            ],
            "processing": [
                json_text(processing_metadata(claim.worker_id, attempts[c.id] + 1))
                for c in decided.taken
            ],
            "worker_id": claim.worker_id,
            "token": claim.token,
            "now": now,
        },
    )
    return taken, gate


async def read_taken(taken: Cursor | None) -> list[Claimed]:
    """The jobs ``claim_limited`` took, read once its transaction committed
    (so the commit rides in the same round trip as the claim)."""
    if taken is None:
        return []
    claimed: list[Claimed] = []
    for row in await taken.fetchall():
        row.pop("released", None)
        row.pop("processing", None)
        try:
            claimed.append(job_row(row))
        except Exception as e:  # a damaged row must not fail the whole claim
            claimed.append(BrokenJob(row["id"], f"{type(e).__name__}: {e}"))
    return claimed


def candidates_params(
    job_types: list[str] | None,
    exclusions: Exclusions,
    seen: Sequence[int],
    n: int,
    now: datetime,
) -> dict[str, Any]:
    return {
        "job_types": job_types,
        "excluded_types": list(exclusions.types),
        "excluded_groups": [f"{t}\n{g}" for t, g in sorted(exclusions.groups)],
        "excluded_any_groups": sorted(exclusions.any_groups),
        "seen": list(seen),
        "claim_limit": n,
        "now": now,
    }


def usage(
    limits: list[Limits],
    claim: ClaimRequest,
    running_rows: list[DictRow],
    bucket_rows: list[DictRow],
) -> Usage:
    """What runs now (settle_and_claim.usage) and the buckets, as the gate
    of ``limits`` needs them."""
    limited = {limit.job_type for limit in limits}
    by_group = {limit.job_type for limit in limits if limit.by_group}
    running: Counter[str] = Counter()
    group_running: Counter[tuple[str, str]] = Counter()
    any_group_running: Counter[str] = Counter()
    for row in running_rows:
        job_type, group, count = row["job_type"], row["group_id"], row["running"]
        if job_type in limited:
            running[job_type] += count
        if group is not None and job_type in by_group:
            group_running[job_type, group] += count
        if group is not None and claim.group_concurrency is not None:
            any_group_running[group] += count
    buckets: dict[BucketKey, Bucket] = {
        (row["job_type"], row["group_id"] or None): Bucket(
            row["tokens"], row["updated_at"]
        )
        for row in bucket_rows
        if row["job_type"] in limited
    }
    return Usage(running, group_running, any_group_running, buckets)
