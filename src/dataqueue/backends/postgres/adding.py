"""add_jobs on PostgreSQL: plain jobs in one statement (``add_jobs.sql``);
a batch with dedupe keys or dependencies in one transaction that checks the
prerequisites and locks the dedupe keys first, then asks
``_transitions.dedupe_holds`` about each key's holder, job by job in batch
order, and holds the new jobs that depend on unfinished ones. ``run``
executes one statement on the connection in use (the pool's, or the
caller's for ``db=``) and returns its rows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg

from dataqueue._commands import DedupeRule, NewJob
from dataqueue._transitions import (
    dedupe_holds,
    deduplicated_metadata,
    held_for_dependencies_metadata,
)
from dataqueue.backends.postgres.codec import (
    Row,
    add_params,
    distinct_specs,
    in_utc,
    json_text,
)
from dataqueue.errors import DependencyError
from dataqueue.models import JobStatus

Run = Callable[[bytes, Mapping[str, Any]], Awaitable[list[Row]]]
ParamsFor = Callable[[Sequence[NewJob]], dict[str, Any]]
Added = tuple[int, bool]
"""A job's id, and whether the call created it."""


def on_cursor(cur: psycopg.AsyncCursor[Row]) -> Run:
    """``run`` on a cursor of the pool."""

    async def run(query: bytes, params: Mapping[str, Any]) -> list[Row]:
        await cur.execute(query, params)
        return [in_utc(row) for row in await cur.fetchall()]

    return run


def needs_transaction(jobs: Sequence[NewJob]) -> bool:
    """Whether adding ``jobs`` takes a transaction of several statements
    (some have a dedupe key or depends_on)."""
    return any(job.dedupe is not None or job.depends_on is not None for job in jobs)


async def add_jobs(
    run: Run,
    queries: Mapping[str, bytes],
    jobs: Sequence[NewJob],
    now: datetime,
    sequence: str,
    channel: str,
    namespace: str,
) -> list[int]:
    """Insert ``jobs`` (ids from ``sequence``, NOTIFY on ``channel``);
    ``ids[i]`` belongs to ``jobs[i]``. Run inside a transaction when
    ``needs_transaction(jobs)``; ``namespace`` (the schema) scopes the
    dedupe locks. Unknown prerequisites refuse the call before anything is
    written; the new jobs with depends_on are then held while it is
    unfinished (``hold_for_dependencies``, migrations/0014)."""

    def params_for(specs: Sequence[NewJob]) -> dict[str, Any]:
        extra = {"now": now, "sequence": sequence, "channel": channel}
        return {**add_params(specs), **extra}

    if not needs_transaction(jobs):
        return [job_id for job_id, _ in await insert(run, queries, jobs, params_for)]
    await refuse_unknown(run, queries, jobs)
    keys = sorted({job.dedupe.key for job in jobs if job.dedupe is not None})
    if keys:
        params = {"keys": keys, "namespace": namespace}
        await run(queries["add_jobs.dedupe_lock"], params)
    added: list[Added] = []
    plain: list[NewJob] = []
    for job in jobs:
        if job.dedupe is None:
            plain.append(job)
            continue
        added += await insert(run, queries, plain, params_for)
        plain = []
        added.append(await add_deduped(run, queries, job, job.dedupe, now, params_for))
    added += await insert(run, queries, plain, params_for)
    ids = [job_id for job_id, _ in added]
    for job, (job_id, created) in zip(jobs, added, strict=True):
        if created and job.depends_on is not None:
            hold: dict[str, Any] = {
                "id": job_id,
                "job_ids": job.depends_on.resolved(ids),
                "tags": list(job.depends_on.tags),
                "metadata": json_text(held_for_dependencies_metadata()),
                "now": now,
            }
            await run(queries["add_jobs.hold"], hold)
    return ids


async def refuse_unknown(
    run: Run, queries: Mapping[str, bytes], jobs: Sequence[NewJob]
) -> None:
    """``DependencyError`` when a job's depends_on names an id no job has.
    The ones found are locked (FOR SHARE) until the add commits."""
    wanted = sorted(
        {i for job in jobs if job.depends_on for i in job.depends_on.job_ids}
    )
    if not wanted:
        return
    rows = await run(queries["add_jobs.prerequisites"], {"ids": wanted})
    if missing := sorted(set(wanted) - {int(row["id"]) for row in rows}):
        raise DependencyError(
            f"add_jobs: depends_on names jobs that do not exist: {missing}"
        )


async def insert(
    run: Run,
    queries: Mapping[str, bytes],
    jobs: Sequence[NewJob],
    params_for: ParamsFor,
) -> list[Added]:
    """add_jobs.sql: each job's id, and whether this call created it (not
    a job that already had its idempotency key, nor a later spec sharing a
    key with an earlier one)."""
    if not jobs:
        return []
    distinct, slots = distinct_specs(jobs)
    rows = await run(queries["add_jobs"], params_for(distinct))
    added = [(int(row["id"]), bool(row["created"])) for row in rows]
    first = {slot: n for n, slot in reversed(list(enumerate(slots)))}
    return [
        (added[slot][0], added[slot][1] and first[slot] == n)
        for n, slot in enumerate(slots)
    ]


async def add_deduped(
    run: Run,
    queries: Mapping[str, bytes],
    job: NewJob,
    rule: DedupeRule,
    now: datetime,
    params_for: ParamsFor,
) -> Added:
    """The holder's id when the key is held (a debounce moving the
    holder), else the id of ``job``, inserted and now holding the key."""
    rows = await run(queries["add_jobs.dedupe_holder"], {"key": rule.key})
    if rows and dedupe_holds(
        rule,
        rows[0]["expires_at"],
        JobStatus(rows[0]["status"]),
        rows[0]["next_attempt_at"],
        now,
    ):
        holder = int(rows[0]["id"])
        if rule.mode == "debounce":
            run_at = job.run_at or now
            params = {
                "id": holder,
                "payload": json_text(job.payload),
                "run_at": run_at,
                "key": rule.key,
                "expires_at": rule.expires_at,
                "metadata": json_text(deduplicated_metadata(rule, run_at)),
                "now": now,
            }
            await run(queries["add_jobs.debounce"], params)
        return holder, False
    ((job_id, created),) = await insert(run, queries, [job], params_for)
    params = {"key": rule.key, "job_id": job_id, "expires_at": rule.expires_at}
    await run(queries["add_jobs.dedupe_record"], params)
    return job_id, created
