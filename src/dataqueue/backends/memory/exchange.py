"""The atomic steps of the memory store: each applies one transition of
``dataqueue._transitions`` (its statuses, event and metadata, error entry,
barrier outcome) to the rows, and nothing more.

Each function runs inside the caller's critical section (``Tables.lock``).
Read with ``_transitions.py`` beside it, this is the state machine every
store applies, with no store's machinery in the way.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from itertools import islice
from typing import Any

from dataqueue import _transitions as t
from dataqueue._commands import (
    ClaimRequest,
    Completion,
    CronTick,
    Dependencies,
    Failure,
    Lease,
    LimitChanges,
    NewJob,
    Outcome,
    Suspension,
)
from dataqueue.backends._records import candidate_from_row, lost_worker_letter
from dataqueue.backends.memory.codec import (
    Row,
    encode_json,
    is_due,
    job_record,
    optional_json,
)
from dataqueue.backends.memory.tables import Tables
from dataqueue.cron import CronStatus
from dataqueue.errors import DependencyError
from dataqueue.limits import (
    Candidate,
    Exclusions,
    Gate,
    Limits,
    Usage,
    changed,
    relevant,
    walk,
)
from dataqueue.models import FailureReason, FlowStatus, JobStatus, StepOutcome

FinishedStep = tuple[str, int, StepOutcome]
"""A flow step that finished for good: (flow_id, step_index, outcome)."""


def apply(
    tables: Tables,
    row: Row,
    transition: t.Transition,
    now: datetime,
    metadata: t.Metadata,
    **values: Any,
) -> t.Transition:
    """Move the job along ``transition``: its status, ``values``, the event."""
    assert JobStatus(row["status"]) in transition.from_statuses, (
        f"job {row['id']} is {row['status']}: no {transition.name}"
    )
    tables.update(row, transition.to_status, {**values, "updated_at": now})
    tables.append_event(row["id"], transition.event, now, metadata)
    return transition


def finished_step(row: Row, transition: t.Transition) -> list[FinishedStep]:
    """The flow step the job is, with what the transition reports to its
    barrier; nothing for a job that is no step, or a transition that does
    not finish it."""
    if transition.barrier is None or row["flow_step_index"] is None:
        return []
    return [(row["flow_id"], row["flow_step_index"], transition.barrier)]


def held(tables: Tables, lease: Lease) -> Row | None:
    """The job, if it is still ``processing`` under this lease."""
    row = tables.jobs.get(lease.job_id)
    if (
        row is None
        or row["status"] != JobStatus.PROCESSING
        or row["lease_token"] != lease.token
    ):
        return None
    return row


UNLOCKED = {"locked_by": None, "locked_at": None, "lease_token": None}


# -- add ----------------------------------------------------------------------


def add_jobs(tables: Tables, jobs: Sequence[NewJob], now: datetime) -> list[int]:
    """``add_jobs``, in order: a job whose dedupe key is held
    (``_transitions.dedupe_holds``) gets the holder's id instead, a debounce
    moving the holder; the others are inserted (an idempotency key already
    taken gives the existing id), a dedupe key then naming its new job.
    Then the new jobs with ``depends_on`` store it and are held while it is
    unfinished. A listed id that does not exist refuses the whole call."""
    missing = sorted(
        {
            job_id
            for job in jobs
            if job.depends_on is not None
            for job_id in job.depends_on.job_ids
            if job_id not in tables.jobs
        }
    )
    if missing:
        raise DependencyError(
            f"add_jobs: depends_on names jobs that do not exist: {missing}"
        )
    last_id = tables.last_job_id
    ids = insert_deduped(tables, jobs, now)
    for job, job_id in zip(jobs, ids, strict=True):
        if job.depends_on is not None and job_id > last_id:
            hold_for_dependencies(tables, tables.jobs[job_id], job.depends_on, ids, now)
    return ids


def insert_deduped(tables: Tables, jobs: Sequence[NewJob], now: datetime) -> list[int]:
    """Each job inserted, or its dedupe key's holder (a debounce moving it)."""
    ids: list[int] = []
    for job in jobs:
        rule = job.dedupe
        if rule is None:
            ids += tables.insert_jobs([job], now)
            continue
        record = tables.dedupe_keys.get(rule.key, {"job_id": None})
        holder = tables.jobs.get(record["job_id"])
        if (
            holder is not None
            and holder["dedupe_key"] == rule.key
            and t.dedupe_holds(
                rule,
                record["expires_at"],
                JobStatus(holder["status"]),
                holder["next_attempt_at"],
                now,
            )
        ):
            if rule.mode == "debounce":
                debounce(tables, holder, job, now)
            ids.append(holder["id"])
            continue
        (job_id,) = tables.insert_jobs([job], now)
        tables.dedupe_keys[rule.key] = {"job_id": job_id, "expires_at": rule.expires_at}
        ids.append(job_id)
    return ids


def debounce(tables: Tables, holder: Row, job: NewJob, now: datetime) -> None:
    """The pending holder of a debounced key takes the new add's payload
    and ``run_at``; the key's hold is renewed."""
    assert job.dedupe is not None
    run_at = now if job.run_at is None else job.run_at
    apply(
        tables,
        holder,
        t.DEBOUNCE,
        now,
        t.deduplicated_metadata(job.dedupe, run_at),
        payload=encode_json(job.payload),
        run_at=run_at,
    )
    tables.dedupe_keys[job.dedupe.key]["expires_at"] = job.dedupe.expires_at


# -- dependencies ---------------------------------------------------------------


def held_view(row: Row) -> t.Held:
    return t.Held(
        row["id"],
        tuple(row["depends_on_job_ids"] or ()),
        tuple(row["depends_on_tags"] or ()),
    )


def drain_blockers(tables: Tables, held: t.Held) -> list[Row]:
    """The other active jobs whose tags cover ``held``'s drain."""
    if not held.tags:
        return []
    return [
        row
        for row in tables.jobs.values()
        if row["id"] != held.id
        and JobStatus(row["status"]) in t.ACTIVE
        and t.covers(row["tags"], held.tags)
    ]


def still_held(tables: Tables, held: t.Held) -> bool:
    """``_transitions.dependency_hold`` on the rows as they are; the jobs
    that keep it held are flagged as having dependents, so that their own
    change brings it back here."""
    prerequisites = {
        i: JobStatus(tables.jobs[i]["status"]) for i in held.job_ids if i in tables.jobs
    }
    blockers = drain_blockers(tables, held)
    for row in blockers:
        row["has_dependents"] = True
    return t.dependency_hold(held, prerequisites, [row["id"] for row in blockers])


def hold_for_dependencies(
    tables: Tables,
    row: Row,
    depends_on: Dependencies,
    batch_ids: Sequence[int],
    now: datetime,
) -> None:
    """A new job stores its prerequisites (which learn they have a
    dependent) and is held while they are unfinished."""
    job_ids = depends_on.resolved(batch_ids)
    row.update(
        depends_on_job_ids=job_ids or None,
        depends_on_tags=list(depends_on.tags) or None,
    )
    for job_id in job_ids:
        tables.jobs[job_id]["has_dependents"] = True
    held = held_view(row)
    if still_held(tables, held):
        row.update(pending_reason=t.DEPENDENCY)
        metadata = t.held_for_dependencies_metadata()
        tables.append_event(row["id"], t.HOLD_FOR_DEPENDENCIES.event, now, metadata)


def ended_view(row: Row) -> t.Ended:
    status = JobStatus(row["status"])
    return t.Ended(
        row["id"], tuple(row["tags"]), t.dooms(status, row["next_attempt_at"])
    )


def settle_dependencies(tables: Tables, ended: Iterable[Row], now: datetime) -> None:
    """Jobs that changed (completed, failed, cancelled) and have
    dependents: each held job that depends on one (``_transitions.
    depends_on``) is cancelled when it is doomed, transitively, else
    released once ``_transitions.dependency_hold`` lets it go."""
    queue = [ended_view(row) for row in ended if row["has_dependents"]]
    while queue:
        done = queue.pop(0)
        for row in sorted(
            (
                row
                for row in tables.rows(JobStatus.PENDING)
                if row["pending_reason"] == t.DEPENDENCY
                and t.depends_on(held_view(row), done)
            ),
            key=lambda row: int(row["id"]),
        ):
            if done.doomed:
                apply(
                    tables,
                    row,
                    t.CANCEL_DEPENDENT,
                    now,
                    t.dependent_cancelled_metadata(done.id),
                    pending_reason=None,
                    last_cancelled_at=now,
                )
                queue.append(ended_view(row))
            elif not still_held(tables, held_view(row)):
                apply(
                    tables,
                    row,
                    t.RELEASE_DEPENDENCIES,
                    now,
                    t.released_metadata_for_dependencies(),
                    pending_reason=None,
                )


# -- settle -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Settlement:
    """What ``settle`` wrote: ``settled[i]`` for ``outcomes[i]``, how many
    jobs became final, and the flows whose barrier they met."""

    settled: list[bool]
    finished: int
    ready_flows: list[str]
    added: int = 0


def settle(tables: Tables, outcomes: Sequence[Outcome], now: datetime) -> Settlement:
    """Write each outcome whose lease still holds, in order (an outcome
    listed twice is written once: the first write ends the lease); then the
    flow steps that finished for good meet their barrier, in the same order."""
    settled: list[bool] = []
    steps: list[FinishedStep] = []
    changed: list[Row] = []
    finished = added = 0
    for outcome in outcomes:
        row = held(tables, outcome.lease)
        settled.append(row is not None)
        if row is None:
            continue
        changed.append(row)
        if isinstance(outcome, Completion):
            transition = complete(tables, row, outcome, now)
        elif isinstance(outcome, Failure):
            transition = fail(tables, row, outcome, now)
            if outcome.dead_letter is not None:
                dead_letter(tables, row, outcome.dead_letter, now)
                added += 1
        elif isinstance(outcome, Suspension):
            transition = suspend(tables, row, outcome, now)
        else:
            raise TypeError(f"settle_and_claim cannot write a {type(outcome).__name__}")
        finished += transition.final
        steps += finished_step(row, transition)
    settle_dependencies(tables, changed, now)
    return Settlement(settled, finished, flow_barrier(tables, steps, now), added)


def complete(
    tables: Tables, row: Row, outcome: Completion, now: datetime
) -> t.Transition:
    return apply(
        tables,
        row,
        t.COMPLETE,
        now,
        outcome.metadata,
        completed_at=now,
        output=optional_json(outcome.output),
        **UNLOCKED,
    )


def fail(tables: Tables, row: Row, outcome: Failure, now: datetime) -> t.Transition:
    retry_at = outcome.next_attempt_at
    return apply(
        tables,
        row,
        t.failure(retry_at),
        now,
        t.failed_metadata(outcome.message, outcome.reason, retry_at),
        error_history=[
            *row["error_history"],
            t.error_entry(outcome.message, now, outcome.traceback),
        ],
        failure_reason=outcome.reason.value,
        last_failed_at=now,
        next_attempt_at=retry_at,
        **UNLOCKED,
    )


def dead_letter(tables: Tables, row: Row, job: NewJob, now: datetime) -> None:
    """The job that just failed for good gets its dead letter: ``job`` is
    added, and the failed job keeps its id."""
    (job_id,) = tables.insert_jobs([job], now)
    apply(
        tables,
        row,
        t.DEAD_LETTER,
        now,
        t.dead_lettered_metadata(job, job_id),
        dead_letter_job_id=job_id,
        dead_lettered_at=now,
    )


def suspend(
    tables: Tables, row: Row, outcome: Suspension, now: datetime
) -> t.Transition:
    """The job waits, its attempt given back; a token already resolved (or
    unknown) makes it due at once instead, with a ``resumed`` event after
    the ``waiting`` one."""
    token_id = outcome.wait_token_id
    transition = apply(
        tables,
        row,
        t.SUSPEND,
        now,
        t.waiting_metadata(outcome.wait_until, token_id),
        step_data=encode_json(outcome.step_data),
        wait_until=outcome.wait_until,
        wait_token_id=token_id,
        attempts=max(row["attempts"] - 1, 0),
        **UNLOCKED,
    )
    if token_id is None:
        return transition
    token = tables.tokens.get(token_id)
    resolved_as = "unknown" if token is None else token["status"]
    if resolved_as == "waiting":
        return transition
    timed_out = resolved_as != "completed"
    return apply(
        tables,
        row,
        t.RESUME_ON_TOKEN,
        now,
        t.resumed_on_token_metadata(token_id, timed_out=timed_out),
        run_at=now,
    )


# -- claim ------------------------------------------------------------------


def resume_due_waits(tables: Tables, now: datetime) -> None:
    """Waiting jobs whose ``wait_until`` has come become pending, due since
    then, so that the claim after takes them in their turn."""
    due = [
        row
        for row in tables.rows(JobStatus.WAITING)
        if row["wait_until"] is not None and row["wait_until"] <= now
    ]
    for row in sorted(due, key=lambda row: int(row["id"])):
        wait_until = row["wait_until"]
        apply(
            tables,
            row,
            t.RESUME_AT_TIME,
            now,
            t.resumed_at_time_metadata(wait_until),
            run_at=wait_until,
        )


def claim(
    tables: Tables, request: ClaimRequest, now: datetime
) -> tuple[list[Row], Gate]:
    """Up to ``request.limit`` due jobs become ``processing`` under the
    request's lease, in claim order, as the limits allow (``limits.walk``:
    the jobs it passes over are marked held); returns them and the gate."""
    types = request.job_types
    limits = relevant(tables.limits.values(), types)
    gate = Gate(
        limits, usage(tables, limits, request), now, request.group_concurrency, types
    )
    # Caps with room for the whole claim: the walk would take what the
    # plain claim takes (Gate.fence), and the store's lock keeps the room.
    if gate.is_open or gate.fence(request.limit) is not None:
        taken = list(islice(tables.due(types, now), request.limit))
    else:
        taken = claim_limited(tables, types, gate, request.limit, now)
    for row in taken:
        if row["pending_reason"] is not None:
            apply(tables, row, t.UNHOLD, now, t.unheld_metadata(row["pending_reason"]))
        attempt = row["attempts"] + 1
        apply(
            tables,
            row,
            t.CLAIM,
            now,
            t.processing_metadata(request.worker_id, attempt),
            locked_by=request.worker_id,
            locked_at=now,
            lease_token=request.token,
            attempts=attempt,
            started_at=now if row["started_at"] is None else row["started_at"],
            # a job that spent an attempt before is being retried
            last_retried_at=now if attempt > 1 else row["last_retried_at"],
            next_attempt_at=None,
            pending_reason=None,
        )
    return taken, gate


def claim_limited(
    tables: Tables,
    job_types: Sequence[str] | None,
    gate: Gate,
    limit: int,
    now: datetime,
) -> list[Row]:
    """The walk over the due jobs of ``job_types`` (None: every type): its
    holds marked, its spent buckets stored; returns the rows it takes."""

    # Candidates are read from the front of the lines of the types not
    # excluded, only as many as the walk asks for.
    def fetch(exclusions: Exclusions, seen: Sequence[int], n: int) -> list[Candidate]:
        passed = set(seen)
        types = list(tables.lines) if job_types is None else job_types
        rows = (
            row
            for row in tables.due(
                [job_type for job_type in types if job_type not in exclusions.types],
                now,
            )
            if row["id"] not in passed
            and not exclusions.excludes(row["job_type"], row["group_id"])
        )
        return [candidate_from_row(row) for row in islice(rows, n)]

    def front_of_line(job_type: str, n: int) -> list[Candidate]:
        pending = (
            row
            for row in tables.rows(JobStatus.PENDING, [job_type])
            if is_due(row, now)
        )
        first = heapq.nsmallest(n, pending, key=lambda r: int(r["id"]))
        return [candidate_from_row(row) for row in first]

    decided = walk(gate, limit, fetch, front_of_line)
    for held_job, reason in decided.held:
        row = tables.jobs[held_job.id]
        apply(tables, row, t.HOLD, now, t.held_metadata(reason), pending_reason=reason)
    tables.buckets.update(gate.spent())
    return [tables.jobs[taken.id] for taken in decided.taken]


def usage(tables: Tables, limits: list[Limits], request: ClaimRequest) -> Usage:
    """What runs now, as the gate of ``limits`` needs it."""
    limited = {limit.job_type for limit in limits}
    by_group = {limit.job_type for limit in limits if limit.by_group}
    running: Counter[str] = Counter()
    group_running: Counter[tuple[str, str]] = Counter()
    any_group_running: Counter[str] = Counter()
    # Only the limited types' running jobs count, unless the claim caps
    # every group key.
    types = None if request.group_concurrency is not None else limited
    for row in tables.rows(JobStatus.PROCESSING, types):
        job_type, group = row["job_type"], row["group_id"]
        if job_type in limited:
            running[job_type] += 1
        if group is not None and job_type in by_group:
            group_running[job_type, group] += 1
        if group is not None and request.group_concurrency is not None:
            any_group_running[group] += 1
    buckets = {k: b for k, b in tables.buckets.items() if k[0] in limited}
    return Usage(running, group_running, any_group_running, buckets)


def change_limits(tables: Tables, changes: LimitChanges) -> None:
    """Apply ``changes`` to one type's row (or every row); a row left empty
    goes, and a changed rate starts with full buckets."""
    job_types = list(tables.limits) if changes.job_type is None else [changes.job_type]
    for job_type in job_types:
        limits = changed(tables.limits.get(job_type), job_type, changes.values)
        if limits.is_empty:
            tables.limits.pop(job_type, None)
        else:
            tables.limits[job_type] = limits
        for key in list(tables.buckets):
            if key[0] != job_type:
                continue
            if ("rate" if key[1] is None else "group_rate") in changes.values:
                del tables.buckets[key]


# -- the flow barrier ---------------------------------------------------------


def flow_barrier(
    tables: Tables, steps: Iterable[FinishedStep], now: datetime
) -> list[str]:
    """Apply the barrier's rule (``_transitions.flow_barrier``) to flow
    steps that finished for good, one at a time in order; returns the flows
    made ready, in the order they became ready."""
    ready: list[str] = []
    for flow_id, step_index, outcome in steps:
        flow = tables.flows.get(flow_id)
        if flow is None:
            continue
        before = t.BarrierState(
            status=FlowStatus(flow["status"]),
            remaining_steps=flow["remaining_steps"],
            aborted=flow["aborted"],
            outcomes={
                index: step["outcome"]
                for index, step in flow["steps"].items()
                if step["outcome"] is not None
            },
        )
        after = t.flow_barrier(before, flow["failure_policy"], [(step_index, outcome)])
        if after == before:
            continue  # recorded before, or the flow is no longer running
        flow["steps"][step_index]["outcome"] = outcome
        flow.update(
            status=after.status.value,
            remaining_steps=after.remaining_steps,
            aborted=after.aborted,
            updated_at=now,
        )
        if after.status is FlowStatus.READY:
            ready.append(flow_id)
    return ready


# -- cancel, reclaim, release, tokens --------------------------------------------


def cancel_ids(tables: Tables, ids: Iterable[int], now: datetime) -> list[int]:
    """The cancellable jobs among ``ids`` become cancelled, by id: their
    waiting tokens expire and their flow steps meet the barrier as fails.
    Returns the ids cancelled."""
    cancelled: list[int] = []
    steps: list[FinishedStep] = []
    for job_id in sorted(set(ids)):
        row = tables.jobs.get(job_id)
        if row is None or row["status"] not in t.CANCELLABLE:
            continue
        transition = apply(
            tables,
            row,
            t.CANCEL,
            now,
            t.cancelled_metadata(),
            locked_by=None,
            locked_at=None,
            last_cancelled_at=now,
        )
        steps += finished_step(row, transition)
        cancelled.append(job_id)
    settle_dependencies(tables, (tables.jobs[i] for i in cancelled), now)
    expired = set(cancelled)
    for token in tables.tokens.values():
        if token["job_id"] in expired and token["status"] == "waiting":
            token.update(status="timed_out", completed_at=now)
    flow_barrier(tables, steps, now)
    return cancelled


def reclaim(
    tables: Tables, threshold: float, message: str, now: datetime
) -> tuple[list[int], int]:
    """Take back processing jobs whose lock is older than the threshold (or
    their own longer timeout), by id; the lost attempt counts as used. A
    job failed for good gets its dead letter (``_transitions.
    lost_worker_letter``) in the same step. Returns their ids and how many
    failed for good."""
    stuck = sorted(
        (
            row
            for row in tables.rows(JobStatus.PROCESSING)
            if row["locked_at"]
            < now - timedelta(seconds=max(threshold, row["timeout"] or 0))
        ),
        key=lambda row: int(row["id"]),
    )
    steps: list[FinishedStep] = []
    failed = 0
    for row in stuck:
        if row["attempts"] < row["max_attempts"]:
            apply(
                tables,
                row,
                t.RECLAIM_TO_RETRY,
                now,
                t.reclaimed_metadata(row["locked_by"]),
                run_at=now,
                next_attempt_at=None,
                **UNLOCKED,
            )
            continue
        failed += 1
        transition = apply(
            tables,
            row,
            t.RECLAIM_AS_WORKER_LOST,
            now,
            t.failed_metadata(message, FailureReason.WORKER_LOST, None),
            error_history=[*row["error_history"], t.error_entry(message, now)],
            failure_reason=FailureReason.WORKER_LOST.value,
            last_failed_at=now,
            next_attempt_at=None,
            **UNLOCKED,
        )
        letter = lost_worker_letter(row["id"], partial(job_record, row), message, now)
        if letter is not None:
            dead_letter(tables, row, letter, now)
        steps += finished_step(row, transition)
    settle_dependencies(tables, stuck, now)
    flow_barrier(tables, steps, now)
    return [row["id"] for row in stuck], failed


def release(tables: Tables, leases: Sequence[Lease], now: datetime) -> int:
    """Jobs still held under their leases become pending, due now (an
    earlier ``run_at`` kept), with the attempt they never made restored."""
    rows = {lease.job_id: row for lease in leases if (row := held(tables, lease))}
    for job_id in sorted(rows):
        row = rows[job_id]
        apply(
            tables,
            row,
            t.RELEASE,
            now,
            t.released_metadata(row["locked_by"]),
            run_at=min(row["run_at"], now),
            attempts=max(row["attempts"] - 1, 0),
            **UNLOCKED,
        )
    return len(rows)


def resume_token_waits(
    tables: Tables, token_ids: Iterable[str], now: datetime, timed_out: bool
) -> int:
    """Jobs waiting on ``token_ids`` (just resolved) become due now, each
    with a ``resumed`` event; returns how many."""
    tokens = set(token_ids)
    resumed = 0
    waiting = sorted(tables.rows(JobStatus.WAITING), key=lambda row: int(row["id"]))
    for row in waiting:
        token_id = row["wait_token_id"]
        if token_id in tokens:
            apply(
                tables,
                row,
                t.RESUME_ON_TOKEN,
                now,
                t.resumed_on_token_metadata(token_id, timed_out=timed_out),
                run_at=now,
            )
            resumed += 1
    return resumed


# -- cron -------------------------------------------------------------------

BUSY = frozenset({JobStatus.PENDING, JobStatus.PROCESSING, JobStatus.WAITING})
"""A cron schedule's job in these statuses blocks its next one (no overlap)."""


def enqueue_tick(tables: Tables, tick: CronTick, now: datetime) -> int | None:
    """Claim the tick's due time; insert its job unless an instance still
    runs and overlap is forbidden (then the due time is skipped)."""
    run = tick.run
    row = tables.crons.get(run.cron_job_id)
    if (
        row is None
        or row["status"] != CronStatus.ACTIVE
        or row["next_run_at"] != tick.claimed_run_at
    ):
        return None
    row.update(next_run_at=tick.next_run_at, updated_at=now)
    busy = any(
        job["cron_job_id"] == run.cron_job_id and job["status"] in BUSY
        for job in tables.jobs.values()
    )
    job_id: int | None = None
    if row["allow_overlap"] or not busy:
        (job_id,) = tables.insert_jobs([tick.job], now)
        row.update(last_job_id=job_id, last_enqueued_at=now)
    row["skipped_runs"] += run.skipped + (job_id is None)
    return job_id
