"""add_jobs on PostgreSQL: plain jobs in one statement (``add_jobs.sql``);
a batch with dedupe keys in one transaction that locks its keys first, then
asks ``_transitions.dedupe_holds`` about each key's holder, job by job in
batch order. ``run`` executes one statement on the connection in use (the
pool's, or the caller's for ``db=``) and returns its rows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from dataqueue._commands import DedupeRule, NewJob
from dataqueue._transitions import dedupe_holds, deduplicated_metadata
from dataqueue.backends.postgres.codec import Row, distinct_specs, json_text
from dataqueue.models import JobStatus

Run = Callable[[bytes, Mapping[str, Any]], Awaitable[list[Row]]]
ParamsFor = Callable[[Sequence[NewJob]], dict[str, Any]]


def deduped(jobs: Sequence[NewJob]) -> bool:
    """Whether adding ``jobs`` needs add_jobs' transaction of several
    statements (some have a dedupe key)."""
    return any(job.dedupe is not None for job in jobs)


async def add_jobs(
    run: Run,
    queries: Mapping[str, bytes],
    jobs: Sequence[NewJob],
    now: datetime,
    params_for: ParamsFor,
    namespace: str,
) -> list[int]:
    """Insert ``jobs``; ``ids[i]`` belongs to ``jobs[i]``. Run inside a
    transaction when ``deduped(jobs)``."""
    if not deduped(jobs):
        return await insert(run, queries, jobs, params_for)
    keys = sorted({job.dedupe.key for job in jobs if job.dedupe is not None})
    await run(queries["add_jobs.dedupe_lock"], {"keys": keys, "namespace": namespace})
    ids: list[int] = []
    plain: list[NewJob] = []
    for job in jobs:
        if job.dedupe is None:
            plain.append(job)
            continue
        ids += await insert(run, queries, plain, params_for)
        plain = []
        ids.append(await add_deduped(run, queries, job, job.dedupe, now, params_for))
    return ids + await insert(run, queries, plain, params_for)


async def insert(
    run: Run,
    queries: Mapping[str, bytes],
    jobs: Sequence[NewJob],
    params_for: ParamsFor,
) -> list[int]:
    if not jobs:
        return []
    distinct, slots = distinct_specs(jobs)
    rows = await run(queries["add_jobs"], params_for(distinct))
    ids = [int(row["id"]) for row in rows]
    return [ids[slot] for slot in slots]


async def add_deduped(
    run: Run,
    queries: Mapping[str, bytes],
    job: NewJob,
    rule: DedupeRule,
    now: datetime,
    params_for: ParamsFor,
) -> int:
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
        return holder
    (job_id,) = await insert(run, queries, [job], params_for)
    params = {"key": rule.key, "job_id": job_id, "expires_at": rule.expires_at}
    await run(queries["add_jobs.dedupe_record"], params)
    return job_id
