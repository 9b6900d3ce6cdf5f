"""The SQLite store's atomic steps, run inside one BEGIN IMMEDIATE
transaction: settling outcomes under their leases, claiming, cancelling,
resuming waits, inserting jobs and their events, and the flow barrier.
Every event's metadata comes from ``dataqueue._transitions``."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from dataqueue._commands import (
    ClaimRequest,
    Completion,
    CronTick,
    DedupeRule,
    Dependencies,
    Failure,
    Lease,
    NewFlow,
    NewJob,
    Outcome,
    Suspension,
)
from dataqueue._transitions import (
    ADD,
    CANCEL,
    CLAIM,
    COMPLETE,
    DEAD_LETTER,
    DEBOUNCE,
    RECLAIM_AS_WORKER_LOST,
    RECLAIM_TO_RETRY,
    RELEASE,
    RESUME_AT_TIME,
    RESUME_ON_TOKEN,
    SUSPEND,
    UNHOLD,
    Transition,
    added_metadata,
    cancelled_metadata,
    dead_lettered_metadata,
    dedupe_holds,
    deduplicated_metadata,
    error_entry,
    failed_metadata,
    failure,
    processing_metadata,
    reclaimed_metadata,
    released_metadata,
    resumed_at_time_metadata,
    resumed_on_token_metadata,
    unheld_metadata,
    waiting_metadata,
)
from dataqueue.backends._records import lost_worker_letter
from dataqueue.backends.sqlite import dependencies
from dataqueue.backends.sqlite.codec import (
    decode_job,
    encode_json,
    from_micros,
    from_micros_utc,
    json_list,
    leases_json,
    new_job_params,
    optional_json,
    optional_micros,
    statuses_json,
    to_micros,
)
from dataqueue.backends.sqlite.connection import (
    SQL,
)
from dataqueue.errors import BackendError
from dataqueue.models import (
    FailureReason,
    FlowStatus,
    JobStatus,
    StepOutcome,
)


def enqueue_tick(cursor: sqlite3.Cursor, tick: CronTick, now: int) -> int | None:
    """Claim one due time and insert its job, inside the caller's transaction."""
    run = tick.run
    claimed = cursor.execute(
        SQL["enqueue_cron_jobs"],
        {
            "schedule_id": run.cron_job_id,
            "claimed_run_at": to_micros(tick.claimed_run_at),
            "next_run_at": to_micros(tick.next_run_at),
            "now": now,
        },
    ).fetchone()
    if claimed is None:
        return None
    job_id: int | None = None
    if claimed["allow_overlap"] or not claimed["busy"]:
        (job_id,) = insert_jobs(cursor, [tick.job], now)
    cursor.execute(
        SQL["enqueue_cron_jobs.record"],
        {
            "id": run.cron_job_id,
            "job_id": job_id,
            "skipped": run.skipped + (job_id is None),
            "now": now,
        },
    )
    return job_id


def event_params(
    job_id: int, transition: Transition, now: int, metadata: Mapping[str, Any]
) -> dict[str, Any]:
    """The event ``transition`` appends, with the metadata built for it."""
    return {
        "job_id": job_id,
        "event_type": transition.event.value,
        "now": now,
        "metadata": encode_json(metadata),
    }


def insert_events(
    conn: sqlite3.Connection, events: Iterable[Mapping[str, Any]]
) -> None:
    """Append events (``event_params``) in one executemany."""
    conn.executemany(SQL["insert_event"], events)


def insert_jobs(cursor: sqlite3.Cursor, jobs: Sequence[NewJob], now: int) -> list[int]:
    """Run add_jobs on ``cursor`` inside the caller's transaction: a job
    whose dedupe key is held gets its holder's id (see ``held_key``); the
    new jobs with depends_on are held while it is unfinished (an unknown
    prerequisite refuses the call before anything is written)."""
    dependencies.refuse_unknown(cursor, jobs)
    if (
        len(jobs) > 1
        and cursor.connection.in_transaction
        and not any(
            job.idempotency_key is not None
            or job.dedupe is not None
            or job.depends_on is not None
            for job in jobs
        )
    ):
        return insert_plain_jobs(cursor, jobs, now)
    ids: list[int] = []
    fresh: list[tuple[int, Dependencies]] = []
    for job in jobs:
        if job.dedupe is not None:
            holder = held_key(cursor, job, job.dedupe, now)
            if holder is not None:
                ids.append(holder)
                continue
        cursor.execute(SQL["add_jobs"], new_job_params(job, now))
        if cursor.rowcount == 0:  # the idempotency key is taken
            (job_id,) = cursor.execute(
                SQL["add_jobs.existing"],
                {"idempotency_key": job.idempotency_key},
            ).fetchone()
        else:
            job_id = require_id(cursor.lastrowid)
            # Written at once: a later job of the batch that debounces this
            # one appends to its log.
            cursor.execute(
                SQL["insert_event"],
                event_params(job_id, ADD, now, added_metadata(job)),
            )
            if job.dedupe is not None:
                record_key(cursor, job.dedupe, job_id)
            if job.depends_on is not None:
                fresh.append((job_id, job.depends_on))
        ids.append(job_id)
    for job_id, depends_on in fresh:
        dependencies.hold_new(cursor, job_id, depends_on, ids, now)
    return ids


def insert_plain_jobs(
    cursor: sqlite3.Cursor, jobs: Sequence[NewJob], now: int
) -> list[int]:
    """Jobs with no idempotency key, dedupe key or prerequisites, inside a
    transaction: every one is inserted, by one executemany. Under the write
    lock the transaction holds, AUTOINCREMENT gives them consecutive ids
    ending at the last one inserted."""
    cursor.executemany(SQL["add_jobs"], [new_job_params(job, now) for job in jobs])
    if cursor.rowcount != len(jobs):
        raise BackendError(
            f"sqlite add_jobs: {cursor.rowcount} of {len(jobs)} jobs inserted"
        )
    (last,) = cursor.execute("SELECT last_insert_rowid()").fetchone()
    ids = list(range(last - len(jobs) + 1, last + 1))
    cursor.executemany(
        SQL["insert_event"],
        [
            event_params(job_id, ADD, now, added_metadata(job))
            for job_id, job in zip(ids, jobs, strict=True)
        ],
    )
    return ids


def require_id(row_id: int | None) -> int:
    if row_id is None:
        raise BackendError("sqlite add_jobs: the insert reported no id")
    return row_id


def held_key(
    cursor: sqlite3.Cursor, job: NewJob, rule: DedupeRule, now: int
) -> int | None:
    """The id of the job holding the new job's dedupe key
    (``_transitions.dedupe_holds``), a debounce moving it; None: the key
    is free."""
    row = cursor.execute(SQL["add_jobs.dedupe_holder"], {"key": rule.key}).fetchone()
    if row is None or not dedupe_holds(
        rule,
        from_micros(row["expires_at"]),
        JobStatus(row["status"]),
        from_micros(row["next_attempt_at"]),
        from_micros_utc(now),
    ):
        return None
    holder = int(row["id"])
    if rule.mode == "debounce":
        run_at = now if job.run_at is None else to_micros(job.run_at)
        params = {"id": holder, "payload": encode_json(job.payload), "run_at": run_at}
        cursor.execute(SQL["add_jobs.debounce"], {**params, "now": now})
        metadata = deduplicated_metadata(rule, from_micros_utc(run_at))
        cursor.execute(
            SQL["insert_event"], event_params(holder, DEBOUNCE, now, metadata)
        )
        record_key(cursor, rule, holder)
    return holder


def record_key(cursor: sqlite3.Cursor, rule: DedupeRule, job_id: int) -> None:
    """The dedupe key names ``job_id`` until the rule's expiry."""
    params = {
        "key": rule.key,
        "job_id": job_id,
        "expires_at": optional_micros(rule.expires_at),
    }
    cursor.execute(SQL["add_jobs.dedupe_record"], params)


FinishedStep = tuple[str, int, StepOutcome]
"""A flow step that finished for good: (flow_id, step_index, outcome)."""


@dataclass(frozen=True, slots=True)
class Settlement:
    """What ``settle`` wrote: ``settled[i]`` for ``outcomes[i]``, how many
    jobs became final, and the flows whose barrier they met."""

    settled: list[bool]
    finished: int
    ready_flows: list[str]
    added: int = 0


def settle(
    conn: sqlite3.Connection, outcomes: Sequence[Outcome], now: int, at: datetime
) -> Settlement:
    """Write outcomes whose lease still holds.

    One read finds the leases that hold (and which jobs are flow steps), then
    one executemany per kind writes the jobs and one more their events: a
    flush costs a handful of statements whatever its size. Flow steps that
    finished for good then meet their barrier, one step at a time; a flush
    without flow steps runs nothing more.
    """
    held = {
        (row[0], row[1]): row
        for row in conn.execute(
            SQL["held_leases"], {"leases": leases_json(o.lease for o in outcomes)}
        )
    }
    settled: list[bool] = []
    completions: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    suspensions: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    steps: list[FinishedStep] = []
    dead_letters: list[tuple[int, NewJob]] = []
    with_dependents: list[int] = []
    finished = 0
    token_states = waited_token_states(conn, outcomes)
    for outcome in outcomes:
        job_id = outcome.lease.job_id
        # Matched on the whole lease (job and token), and settled once even
        # if listed twice.
        row = held.pop((job_id, outcome.lease.token), None)
        if row is None:
            settled.append(False)
            continue
        settled.append(True)
        if row["has_dependents"]:
            with_dependents.append(job_id)
        if isinstance(outcome, Completion):
            finished += 1
            if row["flow_step_index"] is not None:
                steps.append(
                    (row["flow_id"], row["flow_step_index"], COMPLETE.step_outcome)
                )
            completions.append(
                {
                    "id": job_id,
                    "token": outcome.lease.token,
                    "output": optional_json(outcome.output),
                    "now": now,
                }
            )
            events.append(event_params(job_id, COMPLETE, now, outcome.metadata))
        elif isinstance(outcome, Failure):
            retry_at = outcome.next_attempt_at
            failed = failure(retry_at)
            if failed.barrier is not None:
                finished += 1
                if row["flow_step_index"] is not None:
                    steps.append(
                        (row["flow_id"], row["flow_step_index"], failed.step_outcome)
                    )
            failures.append(
                {
                    "id": job_id,
                    "token": outcome.lease.token,
                    "error": encode_json(
                        error_entry(outcome.message, at, outcome.traceback)
                    ),
                    "failure_reason": outcome.reason.value,
                    "next_attempt_at": optional_micros(retry_at),
                    "now": now,
                }
            )
            events.append(
                event_params(
                    job_id,
                    failed,
                    now,
                    failed_metadata(outcome.message, outcome.reason, retry_at),
                )
            )
            if outcome.dead_letter is not None:
                dead_letters.append((job_id, outcome.dead_letter))
        elif isinstance(outcome, Suspension):
            suspensions.append(suspension_params(outcome, token_states, now, events))
        else:
            raise TypeError(f"settle_and_claim cannot write a {type(outcome).__name__}")
    if completions:
        conn.executemany(SQL["settle_and_claim.complete"], completions)
    if failures:
        conn.executemany(SQL["settle_and_claim.fail"], failures)
    if suspensions:
        conn.executemany(SQL["settle_and_claim.suspend"], suspensions)
    if events:
        insert_events(conn, events)
    if dead_letters:
        add_dead_letters(conn, dead_letters, now)
    if with_dependents:
        dependencies.settle(conn.cursor(), with_dependents, now)
    ready_flows = flow_barrier(conn, steps, now) if steps else []
    return Settlement(settled, finished, ready_flows, len(dead_letters))


def add_dead_letters(
    conn: sqlite3.Connection, letters: Sequence[tuple[int, NewJob]], now: int
) -> None:
    """Jobs this flush failed for good get their dead letters: each letter
    is added, and its failed job keeps its id, with a ``dead_lettered``
    event."""
    ids = insert_jobs(conn.cursor(), [letter for _, letter in letters], now)
    conn.executemany(
        SQL["settle_and_claim.dead_letter"],
        [
            {"id": job_id, "dead_letter_job_id": letter_id, "now": now}
            for (job_id, _), letter_id in zip(letters, ids, strict=True)
        ],
    )
    insert_events(
        conn,
        [
            event_params(
                job_id,
                DEAD_LETTER,
                now,
                dead_lettered_metadata(letter, letter_id),
            )
            for (job_id, letter), letter_id in zip(letters, ids, strict=True)
        ],
    )


def finished_steps(
    rows: Iterable[sqlite3.Row], transition: Transition
) -> list[FinishedStep]:
    """The flow steps among jobs just made final by ``transition`` (rows
    with ``flow_id`` and ``flow_step_index``), with what it reports."""
    outcome = transition.step_outcome
    return [
        (row["flow_id"], row["flow_step_index"], outcome)
        for row in rows
        if row["flow_step_index"] is not None
    ]


def flow_barrier(
    conn: sqlite3.Connection, steps: Iterable[FinishedStep], now: int
) -> list[str]:
    """Count flow steps that finished for good, in the caller's transaction
    (the one that made their jobs final); returns the flows made ready.

    Steps are counted in order, so that under the abort policy the first
    fail decides and the outcomes after it are not recorded.
    """
    ready: list[str] = []
    for flow_id, step_index, outcome in steps:
        params = {
            "flow_id": flow_id,
            "step_index": step_index,
            "outcome": outcome,
            "now": now,
        }
        counted = conn.execute(SQL["flow_barrier"], params).fetchone()
        if counted is None:
            continue  # recorded before, or the flow is no longer running
        conn.execute(SQL["flow_barrier.record"], params)
        if counted["status"] == FlowStatus.READY:
            ready.append(flow_id)
    return ready


def waited_token_states(
    conn: sqlite3.Connection, outcomes: Sequence[Outcome]
) -> dict[str, str]:
    """The status of every token a suspension of ``outcomes`` waits on."""
    ids = [
        o.wait_token_id
        for o in outcomes
        if isinstance(o, Suspension) and o.wait_token_id is not None
    ]
    if not ids:
        return {}
    rows = conn.execute(SQL["settle_and_claim.tokens"], {"ids": json_list(ids)})
    return {row["id"]: row["status"] for row in rows}


def suspension_params(
    outcome: Suspension,
    token_states: Mapping[str, str],
    now: int,
    events: list[dict[str, Any]],
) -> dict[str, Any]:
    """The suspend statement's parameters; appends the job's events. A token
    already completed or expired (between the handler's look and this
    write) makes the job due at once rather than wait for ever."""
    job_id = outcome.lease.job_id
    token_id = outcome.wait_token_id
    status = SUSPEND.to_status
    waiting = waiting_metadata(outcome.wait_until, token_id)
    events.append(event_params(job_id, SUSPEND, now, waiting))
    if token_id is not None and token_states.get(token_id) != "waiting":
        status = RESUME_ON_TOKEN.to_status
        resumed = resumed_on_token_metadata(
            token_id, timed_out=token_states.get(token_id) != "completed"
        )
        events.append(event_params(job_id, RESUME_ON_TOKEN, now, resumed))
    return {
        "id": job_id,
        "token": outcome.lease.token,
        "status": status.value,
        "step_data": encode_json(outcome.step_data),
        "wait_until": optional_micros(outcome.wait_until),
        "wait_token_id": token_id,
        "now": now,
    }


def resume_due_waits(conn: sqlite3.Connection, now: int) -> None:
    """Waiting jobs whose time has come become pending (with their events)."""
    rows = conn.execute(SQL["settle_and_claim.resume"], {"now": now}).fetchall()
    if rows:
        insert_events(
            conn,
            [
                event_params(
                    row["id"],
                    RESUME_AT_TIME,
                    now,
                    resumed_at_time_metadata(from_micros_utc(row["wait_until"])),
                )
                for row in rows
            ],
        )


def resume_token_waits(
    conn: sqlite3.Connection, tokens: list[str], now: int, timed_out: bool
) -> int:
    """Jobs waiting on ``tokens`` (just resolved) become due now, each with a
    ``resumed`` event; returns how many."""
    if not tokens:
        return 0
    rows = conn.execute(
        SQL["expire_timed_out_tokens.resume"],
        {"token_ids": json_list(tokens), "now": now},
    ).fetchall()
    insert_events(
        conn,
        [
            event_params(
                row["id"],
                RESUME_ON_TOKEN,
                now,
                resumed_on_token_metadata(row["wait_token_id"], timed_out=timed_out),
            )
            for row in rows
        ],
    )
    return len(rows)


def claim_order(row: sqlite3.Row) -> tuple[int, int, int]:
    """Claim order (priority high first, run_at, id), tolerant of a damaged
    row so that one bad job cannot fail the whole claim."""
    priority, run_at = row["priority"], row["run_at"]
    return (
        -priority if isinstance(priority, int) else 0,
        run_at if isinstance(run_at, int) else 0,
        row["id"],
    )


def claim_jobs(
    conn: sqlite3.Connection, claim: ClaimRequest, now: int
) -> list[sqlite3.Row]:
    rows = conn.execute(
        SQL["settle_and_claim.claim"],
        {
            "worker_id": claim.worker_id,
            "token": claim.token,
            "limit": claim.limit,
            "job_types": None
            if claim.job_types is None
            else json_list(claim.job_types),
            "now": now,
        },
    ).fetchall()
    rows.sort(key=claim_order)
    held = [row["id"] for row in rows if row["pending_reason"] is not None]
    if held:
        conn.execute(SQL["settle_and_claim.unhold"], {"ids": json_list(held)})
    events = []
    for row in rows:
        if row["pending_reason"] is not None:
            metadata = unheld_metadata(row["pending_reason"])
            events.append(event_params(row["id"], UNHOLD, now, metadata))
        metadata = processing_metadata(claim.worker_id, row["attempts"])
        events.append(event_params(row["id"], CLAIM, now, metadata))
    insert_events(conn, events)
    return rows


def cancel_ids(conn: sqlite3.Connection, ids: list[int], now: int) -> list[int]:
    """Cancel the pending or waiting jobs among ``ids``, with their events,
    their waiting tokens expired and their flows' barriers met (as fails);
    returns the ids cancelled."""
    # RETURNING gives no order: the jobs go (to the barrier too) by id.
    rows = sorted(
        conn.execute(
            SQL["cancel_jobs"],
            {"ids": json_list(ids), "statuses": statuses_json(CANCEL), "now": now},
        ),
        key=lambda row: int(row["id"]),
    )
    if not rows:
        return []
    insert_events(
        conn, (event_params(r["id"], CANCEL, now, cancelled_metadata()) for r in rows)
    )
    cancelled = json_list(r["id"] for r in rows)
    conn.execute(SQL["cancel_jobs.expire_tokens"], {"ids": cancelled, "now": now})
    flow_barrier(conn, finished_steps(rows, CANCEL), now)
    dependencies.settle(conn.cursor(), (r["id"] for r in rows), now)
    return [r["id"] for r in rows]


def reclaim_stuck(
    max_processing_seconds: float,
    message: str,
    at: datetime,
    conn: sqlite3.Connection,
) -> tuple[list[int], int]:
    """Take back the stuck jobs (see ``reclaim_stuck_jobs.sql``), with their
    events, their flows' barriers and the dead letters of those failed for
    good (``_transitions.lost_worker_letter``); returns their ids, in id
    order, and how many failed for good."""
    now = to_micros(at)
    find = {"now": now, "threshold": max_processing_seconds}
    stuck = {
        row["id"]: row["locked_by"]
        for row in conn.execute(SQL["reclaim_stuck_jobs.find"], find)
    }
    if not stuck:
        return [], 0
    lost = RECLAIM_AS_WORKER_LOST
    reason = FailureReason.WORKER_LOST
    # RETURNING gives no order: the jobs go (to the barrier too) by id.
    rows = sorted(
        conn.execute(
            SQL["reclaim_stuck_jobs"],
            {
                "ids": json_list(stuck),
                "error": encode_json(error_entry(message, at)),
                "failure_reason": reason.value,
                "now": now,
            },
        ),
        key=lambda row: int(row["id"]),
    )
    lost_jobs = [r for r in rows if r["status"] == lost.to_status]
    flow_barrier(conn, finished_steps(lost_jobs, lost), now)
    lost_event = failed_metadata(message, reason, None)
    insert_events(
        conn,
        (
            event_params(r["id"], lost, now, lost_event)
            if r["status"] == lost.to_status
            else event_params(
                r["id"], RECLAIM_TO_RETRY, now, reclaimed_metadata(stuck[r["id"]])
            )
            for r in rows
        ),
    )
    letters: list[tuple[int, NewJob]] = []
    for r in lost_jobs:
        if r["dead_letter_job_type"] is not None:
            decode = partial(decode_job, r)
            if letter := lost_worker_letter(r["id"], decode, message, at):
                letters.append((r["id"], letter))
    if letters:
        add_dead_letters(conn, letters, now)
    dependencies.settle(conn.cursor(), (r["id"] for r in rows), now)
    return [r["id"] for r in rows], len(lost_jobs)


def release(leases: Sequence[Lease], now: int, conn: sqlite3.Connection) -> int:
    """Give back the jobs still held under ``leases``, with their events."""
    held = {
        row["id"]: row["locked_by"]
        for row in conn.execute(SQL["held_leases"], {"leases": leases_json(leases)})
    }
    if not held:
        return 0
    rows = conn.execute(
        SQL["release_jobs"], {"ids": json_list(held), "now": now}
    ).fetchall()
    insert_events(
        conn,
        (
            event_params(r["id"], RELEASE, now, released_metadata(held[r["id"]]))
            for r in rows
        ),
    )
    return len(rows)


def start_flow(flow: NewFlow, now: int, conn: sqlite3.Connection) -> list[int]:
    """Insert the flow, its steps' jobs and their step records."""
    entity = flow.entity
    conn.execute(
        SQL["start_flow"],
        {
            "id": flow.id,
            "failure_policy": flow.failure_policy,
            "total_steps": len(flow.steps),
            "timeout_at": optional_micros(flow.timeout_at),
            "join_job_type": flow.join_job_type,
            "join_spec": flow.join_spec,
            "entity_id": None if entity is None else entity["id"],
            "entity_type": None if entity is None else entity["type"],
            "now": now,
        },
    )
    ids = insert_jobs(conn.cursor(), flow.steps, now)
    conn.executemany(
        SQL["start_flow.step"],
        (
            {"flow_id": flow.id, "step_index": step.flow_step_index, "job_id": job_id}
            for step, job_id in zip(flow.steps, ids, strict=True)
        ),
    )
    return ids
