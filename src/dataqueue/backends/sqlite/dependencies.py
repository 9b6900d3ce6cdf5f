"""Job dependencies in the SQLite store, inside the caller's BEGIN
IMMEDIATE transaction: the check and hold of ``add_jobs``, and the release
or cancel of held jobs when a job they wait on changes. Every decision is
``dataqueue._transitions``' (``dependency_hold``, ``depends_on``,
``dooms``); the rows come from the ``settle_and_claim.*`` statements."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dataqueue import _transitions as t
from dataqueue._commands import Dependencies, NewJob
from dataqueue.backends.sqlite.codec import encode_json, from_micros, json_list
from dataqueue.backends.sqlite.connection import SQL
from dataqueue.errors import DependencyError
from dataqueue.models import JobStatus


def refuse_unknown(cursor: sqlite3.Cursor, jobs: Sequence[NewJob]) -> None:
    """``DependencyError`` (nothing written yet) when a job's depends_on
    names an id no job has."""
    wanted = {i for job in jobs if job.depends_on for i in job.depends_on.job_ids}
    if not wanted:
        return
    found = {
        row[0]
        for row in cursor.execute(
            SQL["add_jobs.prerequisites"], {"ids": json_list(wanted)}
        )
    }
    if missing := sorted(wanted - found):
        raise DependencyError(
            f"add_jobs: depends_on names jobs that do not exist: {missing}"
        )


def hold_new(
    cursor: sqlite3.Cursor,
    job_id: int,
    depends_on: Dependencies,
    batch_ids: Sequence[int],
    now: int,
) -> None:
    """A new job stores its prerequisites (which learn they have a
    dependent) and is held while they are unfinished."""
    job_ids = depends_on.resolved(batch_ids)
    params = {
        "id": job_id,
        "job_ids": json_list(job_ids) if job_ids else None,
        "tags": json_list(depends_on.tags) if depends_on.tags else None,
    }
    cursor.execute(SQL["add_jobs.depends_on"], params)
    flag(cursor, job_ids)
    held = t.Held(job_id, tuple(job_ids), depends_on.tags)
    if still_held(cursor, held):
        hold(cursor, job_id, t.DEPENDENCY, now)
        metadata = t.held_for_dependencies_metadata()
        event(cursor, job_id, t.HOLD_FOR_DEPENDENCIES, now, metadata)


def settle(cursor: sqlite3.Cursor, changed: Iterable[int], now: int) -> None:
    """Jobs that changed (completed, failed, cancelled, reclaimed): for
    each that has dependents, every held job that depends on it is
    cancelled when it is doomed (transitively), else released once
    ``dependency_hold`` lets it go."""
    ids = sorted(set(changed))
    if not ids:
        return
    queue = [
        ended_view(row)
        for row in cursor.execute(
            SQL["settle_and_claim.ended"], {"ids": json_list(ids)}
        )
    ]
    while queue:
        done = queue.pop(0)
        for held, tags in held_jobs(cursor):
            if not t.depends_on(held, done):
                continue
            if done.doomed:
                cancel(cursor, held.id, done.id, now)
                queue.append(t.Ended(held.id, tags, True))
            elif not still_held(cursor, held):
                hold(cursor, held.id, None, now)
                event(
                    cursor,
                    held.id,
                    t.RELEASE_DEPENDENCIES,
                    now,
                    t.released_metadata_for_dependencies(),
                )


def ended_view(row: sqlite3.Row) -> t.Ended:
    status = JobStatus(row["status"])
    doomed = t.dooms(status, from_micros(row["next_attempt_at"]))
    return t.Ended(row["id"], tuple(json.loads(row["tags"])), doomed)


def held_jobs(cursor: sqlite3.Cursor) -> list[tuple[t.Held, tuple[str, ...]]]:
    """Every held job, with its own tags."""
    return [
        (
            t.Held(
                row["id"],
                tuple(json.loads(row["depends_on_job_ids"] or "[]")),
                tuple(json.loads(row["depends_on_tags"] or "[]")),
            ),
            tuple(json.loads(row["tags"])),
        )
        for row in cursor.execute(SQL["settle_and_claim.held"])
    ]


def still_held(cursor: sqlite3.Cursor, held: t.Held) -> bool:
    """``dependency_hold`` on the rows as they are; the jobs that keep it
    held are flagged as having dependents."""
    statuses = {
        row["id"]: JobStatus(row["status"])
        for row in cursor.execute(
            SQL["settle_and_claim.statuses"], {"ids": json_list(held.job_ids)}
        )
    }
    blockers: list[int] = []
    if held.tags:
        params = {"id": held.id, "tags": json_list(held.tags)}
        blockers = [
            row[0] for row in cursor.execute(SQL["settle_and_claim.blockers"], params)
        ]
        flag(cursor, blockers)
    return t.dependency_hold(held, statuses, blockers)


def flag(cursor: sqlite3.Cursor, ids: Sequence[int]) -> None:
    if ids:
        cursor.execute(SQL["settle_and_claim.flag_dependents"], {"ids": json_list(ids)})


def hold(cursor: sqlite3.Cursor, job_id: int, reason: str | None, now: int) -> None:
    cursor.execute(
        SQL["settle_and_claim.dependency_hold"],
        {"id": job_id, "reason": reason, "now": now},
    )


def cancel(cursor: sqlite3.Cursor, job_id: int, prerequisite: int, now: int) -> None:
    cursor.execute(SQL["settle_and_claim.cancel_dependent"], {"id": job_id, "now": now})
    event(
        cursor,
        job_id,
        t.CANCEL_DEPENDENT,
        now,
        t.dependent_cancelled_metadata(prerequisite),
    )


def event(
    cursor: sqlite3.Cursor,
    job_id: int,
    transition: t.Transition,
    now: int,
    metadata: Mapping[str, Any],
) -> None:
    params = {
        "job_id": job_id,
        "event_type": transition.event.value,
        "now": now,
        "metadata": encode_json(metadata),
    }
    cursor.execute(SQL["insert_event"], params)
