"""The job's state machine, as data.

Every change of a job's status is one ``Transition`` below: the statuses it
may start from, the status it ends in, the event it appends, whether it
appends an ``error_history`` entry, whether the job is final afterwards and
what a flow step reports to its barrier. The functions after the table build
each event's metadata and the error entry; the stores append what they
return and keep only what must be atomic (the lease fence, the conditional
write, the event append, the barrier count). ``flow_barrier`` is the
barrier's rule, which each store applies in the atomic step that makes a
step's job final.

A new transition (held, released, dead-lettered...) is a new row here, its
metadata builder beside the others, and the one conditional write per store
that applies it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from dataqueue._actor import actor
from dataqueue._commands import (
    Completion,
    DedupeRule,
    Failure,
    NewJob,
    Outcome,
    Suspension,
)
from dataqueue.limits import HOLD_REASONS
from dataqueue.models import (
    DedupeMode,
    EventType,
    FailurePolicy,
    FailureReason,
    FlowStatus,
    JobRecord,
    JobStatus,
    StepOutcome,
)
from dataqueue.types import JSONValue

Metadata = dict[str, JSONValue]


@dataclass(frozen=True, slots=True)
class Transition:
    """One way a job's status changes.

    ``from_statuses`` empty: the job is new. ``barrier``: what a flow step
    that takes this transition reports to its flow's barrier (None: nothing,
    the step is not finished).
    """

    name: str
    from_statuses: frozenset[JobStatus]
    to_status: JobStatus
    event: EventType
    error_entry: bool
    final: bool
    barrier: StepOutcome | None
    made_by: str

    @property
    def step_outcome(self) -> StepOutcome:
        """What a flow step reports to its barrier; only a transition that
        makes a job final reports anything."""
        if self.barrier is None:
            raise ValueError(f"{self.name} does not finish a job")
        return self.barrier


ADD = Transition(
    name="add",
    from_statuses=frozenset(),
    to_status=JobStatus.PENDING,
    event=EventType.ADDED,
    error_entry=False,
    final=False,
    barrier=None,
    made_by="add_jobs, start_flow, enqueue_cron_jobs, enqueue_flow_join",
)

CLAIM = Transition(
    name="claim",
    from_statuses=frozenset((JobStatus.PENDING, JobStatus.FAILED, JobStatus.WAITING)),
    to_status=JobStatus.PROCESSING,
    event=EventType.PROCESSING,
    error_entry=False,
    final=False,
    barrier=None,
    made_by="settle_and_claim: a due job (see the protocol's module rules)",
)

RESUME_AT_TIME = Transition(
    name="resume at time",
    from_statuses=frozenset((JobStatus.WAITING,)),
    to_status=JobStatus.PENDING,
    event=EventType.RESUMED,
    error_entry=False,
    final=False,
    barrier=None,
    made_by="settle_and_claim: a time wait that came, just before its claim",
)

COMPLETE = Transition(
    name="complete",
    from_statuses=frozenset((JobStatus.PROCESSING,)),
    to_status=JobStatus.COMPLETED,
    event=EventType.COMPLETED,
    error_entry=False,
    final=True,
    barrier="success",
    made_by="settle_and_claim: a Completion",
)

FAIL_AND_RETRY = Transition(
    name="fail and retry",
    from_statuses=frozenset((JobStatus.PROCESSING,)),
    to_status=JobStatus.FAILED,
    event=EventType.FAILED,
    error_entry=True,
    final=False,
    barrier=None,
    made_by="settle_and_claim: a Failure with a next attempt",
)

FAIL_FOR_GOOD = Transition(
    name="fail for good",
    from_statuses=frozenset((JobStatus.PROCESSING,)),
    to_status=JobStatus.FAILED,
    event=EventType.FAILED,
    error_entry=True,
    final=True,
    barrier="fail",
    made_by="settle_and_claim: a Failure with no next attempt",
)

SUSPEND = Transition(
    name="suspend",
    from_statuses=frozenset((JobStatus.PROCESSING,)),
    to_status=JobStatus.WAITING,
    event=EventType.WAITING,
    error_entry=False,
    final=False,
    barrier=None,
    made_by="settle_and_claim: a Suspension (its attempt is given back)",
)

RESUME_ON_TOKEN = Transition(
    name="resume on token",
    from_statuses=frozenset((JobStatus.WAITING,)),
    to_status=JobStatus.PENDING,
    event=EventType.RESUMED,
    error_entry=False,
    final=False,
    barrier=None,
    made_by=(
        "complete_token, expire_timed_out_tokens; settle_and_claim for a "
        "Suspension whose token was resolved meanwhile"
    ),
)

CANCEL = Transition(
    name="cancel",
    from_statuses=frozenset((JobStatus.PENDING, JobStatus.WAITING)),
    to_status=JobStatus.CANCELLED,
    event=EventType.CANCELLED,
    error_entry=False,
    final=True,
    barrier="fail",
    made_by="cancel_job, cancel_jobs (the job's waiting tokens time out)",
)

RECLAIM_TO_RETRY = Transition(
    name="reclaim to retry",
    from_statuses=frozenset((JobStatus.PROCESSING,)),
    to_status=JobStatus.PENDING,
    event=EventType.RETRIED,
    error_entry=False,
    final=False,
    barrier=None,
    made_by="reclaim_stuck_jobs: a lost worker's job with attempts left",
)

RECLAIM_AS_WORKER_LOST = Transition(
    name="reclaim as worker lost",
    from_statuses=frozenset((JobStatus.PROCESSING,)),
    to_status=JobStatus.FAILED,
    event=EventType.FAILED,
    error_entry=True,
    final=True,
    barrier="fail",
    made_by=(
        "reclaim_stuck_jobs: a lost worker's job that used max_attempts (its "
        "dead letter added in the same step)"
    ),
)

RELEASE = Transition(
    name="release",
    from_statuses=frozenset((JobStatus.PROCESSING,)),
    to_status=JobStatus.PENDING,
    event=EventType.RETRIED,
    error_entry=False,
    final=False,
    barrier=None,
    made_by="release_jobs: a draining worker gives its job back (the attempt too)",
)

MANUAL_RETRY = Transition(
    name="manual retry",
    from_statuses=frozenset((JobStatus.FAILED, JobStatus.CANCELLED)),
    to_status=JobStatus.PENDING,
    event=EventType.RETRIED,
    error_entry=False,
    final=False,
    barrier=None,
    made_by="retry_job",
)

EDIT = Transition(
    name="edit",
    from_statuses=frozenset((JobStatus.PENDING,)),
    to_status=JobStatus.PENDING,
    event=EventType.EDITED,
    error_entry=False,
    final=False,
    barrier=None,
    made_by="edit_jobs",
)

PROLONG = Transition(
    name="prolong",
    from_statuses=frozenset((JobStatus.PROCESSING,)),
    to_status=JobStatus.PROCESSING,
    event=EventType.PROLONGED,
    error_entry=False,
    final=False,
    barrier=None,
    made_by="prolong_job",
)

DEAD_LETTER = Transition(
    name="dead letter",
    from_statuses=frozenset((JobStatus.FAILED,)),
    to_status=JobStatus.FAILED,
    event=EventType.DEAD_LETTERED,
    error_entry=False,
    final=False,
    barrier=None,
    made_by=(
        "settle_and_claim: a Failure with a dead letter (an error, a timeout, "
        "no handler); reclaim_stuck_jobs: a job failed as worker lost that "
        "names a dead-letter type. In the same step as its fail for good (the "
        "dead letter is added beside it)"
    ),
)

DEBOUNCE = Transition(
    name="debounce",
    from_statuses=frozenset((JobStatus.PENDING,)),
    to_status=JobStatus.PENDING,
    event=EventType.DEDUPLICATED,
    error_entry=False,
    final=False,
    barrier=None,
    made_by=(
        "add_jobs: a debounced add while its key's job is pending (the job "
        "takes the new payload and run_at)"
    ),
)

HOLD = Transition(
    name="hold",
    from_statuses=frozenset((JobStatus.PENDING,)),
    to_status=JobStatus.PENDING,
    event=EventType.HELD,
    error_entry=False,
    final=False,
    barrier=None,
    made_by=(
        "settle_and_claim: a due job a limit or a pause passed over, once per "
        "reason (limits.walk says which)"
    ),
)

UNHOLD = Transition(
    name="release hold",
    from_statuses=frozenset((JobStatus.PENDING,)),
    to_status=JobStatus.PENDING,
    event=EventType.RELEASED,
    error_entry=False,
    final=False,
    barrier=None,
    made_by="settle_and_claim: a held job claimed, just before its claim",
)

HOLD_FOR_DEPENDENCIES = Transition(
    name="hold for dependencies",
    from_statuses=frozenset(),
    to_status=JobStatus.PENDING,
    event=EventType.HELD,
    error_entry=False,
    final=False,
    barrier=None,
    made_by=(
        "add_jobs: a job added with unfinished prerequisites (pending_reason "
        "'dependency', right after its add)"
    ),
)

RELEASE_DEPENDENCIES = Transition(
    name="release dependencies",
    from_statuses=frozenset((JobStatus.PENDING,)),
    to_status=JobStatus.PENDING,
    event=EventType.RELEASED,
    error_entry=False,
    final=False,
    barrier=None,
    made_by=(
        "the step that finishes a held job's last prerequisite (settle_and_claim, "
        "cancel_job(s), reclaim_stuck_jobs)"
    ),
)

CANCEL_DEPENDENT = Transition(
    name="cancel dependent",
    from_statuses=frozenset((JobStatus.PENDING,)),
    to_status=JobStatus.CANCELLED,
    event=EventType.CANCELLED,
    error_entry=False,
    final=True,
    barrier="fail",
    made_by=(
        "the step that fails a held job's prerequisite for good or cancels it "
        "(settle_and_claim, cancel_job(s), reclaim_stuck_jobs), transitively"
    ),
)

TRANSITIONS: tuple[Transition, ...] = (
    ADD,
    CLAIM,
    RESUME_AT_TIME,
    COMPLETE,
    FAIL_AND_RETRY,
    FAIL_FOR_GOOD,
    SUSPEND,
    RESUME_ON_TOKEN,
    CANCEL,
    RECLAIM_TO_RETRY,
    RECLAIM_AS_WORKER_LOST,
    RELEASE,
    MANUAL_RETRY,
    EDIT,
    PROLONG,
    DEAD_LETTER,
    DEBOUNCE,
    HOLD,
    UNHOLD,
    HOLD_FOR_DEPENDENCIES,
    RELEASE_DEPENDENCIES,
    CANCEL_DEPENDENT,
)


def lost_before(job: JobRecord) -> bool:
    """Whether an earlier attempt of a just-claimed job ended with no
    outcome, its worker lost (``RECLAIM_TO_RETRY``): every other end of an
    attempt appends to ``error_history`` (a failure) or gives the attempt
    back (a wait, a release). Such a job runs alone, so that a job that
    kills its worker takes no neighbour down with it again."""
    return job.attempts - 1 > len(job.error_history)


LETTERED = frozenset((FAIL_FOR_GOOD, RECLAIM_AS_WORKER_LOST))
"""The transitions that fail a job for good: each adds the job's dead letter
(``dead_letter``, ``lost_worker_letter``), when it names a type, in the same
atomic step. A new way to fail a job for good belongs here, with its letter."""

CANCELLABLE = CANCEL.from_statuses
"""The statuses ``cancel_job`` changes: pending or waiting."""

RETRYABLE = MANUAL_RETRY.from_statuses
"""The statuses ``retry_job`` changes: failed or cancelled."""


def failure(next_attempt_at: datetime | None) -> Transition:
    """The transition a failed attempt takes: a retry is planned or not."""
    return FAIL_FOR_GOOD if next_attempt_at is None else FAIL_AND_RETRY


def settled_by(outcome: Outcome) -> Transition:
    """The transition an attempt's outcome makes its job take."""
    if isinstance(outcome, Completion):
        return COMPLETE
    if isinstance(outcome, Failure):
        return failure(outcome.next_attempt_at)
    if isinstance(outcome, Suspension):
        return SUSPEND
    raise TypeError(f"not an attempt's outcome: {type(outcome).__name__}")


def is_final(status: JobStatus, next_attempt_at: datetime | None) -> bool:
    """Whether a job in ``status`` stays there for good (short of a manual
    retry): completed, cancelled, or failed with no next attempt."""
    if status is JobStatus.FAILED:
        return next_attempt_at is None
    return status in (JobStatus.COMPLETED, JobStatus.CANCELLED)


# -- what each transition appends ---------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _by() -> Metadata:
    """``{"by": who}`` while a caller acts for someone (``_actor``)."""
    who = actor()
    return {} if who is None else {"by": who}


def added_metadata(job: NewJob) -> Metadata:
    """``added``: the job's type; a cron job's also its schedule, due time
    and the due times it stands in for; a traced add's trace context; who
    added it, when the caller said (``_actor``)."""
    metadata: Metadata = {"job_type": job.job_type, **_by()}
    if job.cron is not None:
        metadata["cron_job_id"] = job.cron.cron_job_id
        metadata["cron_due_at"] = job.cron.due_at.isoformat()
        metadata["cron_skipped"] = job.cron.skipped
    if job.trace_context is not None:
        metadata["trace_context"] = dict(job.trace_context)
    if job.dead_letter_of is not None:
        metadata["dead_letter_of"] = job.dead_letter_of
    return metadata


def processing_metadata(worker_id: str, attempt: int | str) -> Metadata:
    """``processing``: the claiming worker and the attempt's number (in
    ``metadata_template``, the mark of its place)."""
    return {"worker_id": worker_id, "attempt": attempt}


def failed_metadata(
    message: str, reason: FailureReason, next_attempt_at: datetime | None
) -> Metadata:
    """``failed``: why, and when it runs again (null: failed for good)."""
    return {
        "message": message,
        "failure_reason": reason.value,
        "next_attempt_at": _iso(next_attempt_at),
    }


def error_entry(message: str, at: datetime, traceback: str | None = None) -> Metadata:
    """The entry a failure appends to the job's ``error_history``, with
    ``"traceback"`` when a handler's exception gave one."""
    entry: Metadata = {"message": message, "timestamp": at.isoformat()}
    if traceback is not None:
        entry["traceback"] = traceback
    return entry


def waiting_metadata(wait_until: datetime | None, token_id: str | None) -> Metadata:
    """``waiting``: the time waited for, or else the token."""
    if wait_until is not None:
        return {"wait_until": wait_until.isoformat()}
    return {"token_id": token_id}


def resumed_at_time_metadata(wait_until: datetime | str) -> Metadata:
    """``resumed`` of a time wait that came (a text: its ISO form, or in
    ``metadata_template`` the mark of its place)."""
    iso = wait_until if isinstance(wait_until, str) else wait_until.isoformat()
    return {"wait_until": iso}


def resumed_on_token_metadata(token_id: str, *, timed_out: bool) -> Metadata:
    """``resumed`` of a token wait: the token completed (and who completed
    it, when the caller said), or timed out."""
    if timed_out:
        return {"token_id": token_id, "timed_out": True}
    return {"token_id": token_id, "timed_out": False, **_by()}


def cancelled_metadata() -> Metadata:
    """``cancelled`` by ``cancel_job(s)``: who cancelled it, when the caller
    said (``_actor``), else nothing."""
    return _by()


def retried_metadata() -> Metadata:
    """``retried`` by ``retry_job``: who retried it, when the caller said."""
    return _by()


def edited_metadata(changed: Metadata) -> Metadata:
    """``edited``: the changed fields (their JSON form), and who changed
    them, when the caller said."""
    return {**changed, **_by()}


def reclaimed_metadata(locked_by: str | None) -> Metadata:
    """``retried`` of a stuck job taken back from the worker that held it
    (null when none did; in ``metadata_template``, the mark of its place)."""
    return {"reclaimed_from": locked_by}


def released_metadata(worker_id: str | None) -> Metadata:
    """``retried`` of a job its worker gave back unfinished (in
    ``metadata_template``, the mark of the worker's place)."""
    return {"released_by": worker_id}


def prolonged_metadata(timeout: float) -> Metadata:
    return {"timeout": timeout}


def dead_lettered_metadata(dead_letter: NewJob, dead_letter_id: int | str) -> Metadata:
    """``dead_lettered``: the dead letter's type and id (known once it is
    inserted; in ``metadata_template``, the mark of its place)."""
    return {
        "dead_letter_job_type": dead_letter.job_type,
        "dead_letter_job_id": dead_letter_id,
    }


# -- dedupe -----------------------------------------------------------------------


def dedupe_rule(
    key: str, mode: DedupeMode, window: float | None, now: datetime
) -> DedupeRule:
    """The rule a new job's ``dedupe=`` becomes: its hold ends ``window``
    seconds from now (None: only when the job finishes, ``until_done``)."""
    expires_at = None if window is None else now + timedelta(seconds=window)
    return DedupeRule(key, mode, expires_at, {"key": key, "mode": mode})


def dedupe_holds(
    rule: DedupeRule,
    expires_at: datetime | None,
    status: JobStatus | None,
    next_attempt_at: datetime | None,
    now: datetime,
) -> bool:
    """Whether the key's record (its ``expires_at``, and its job's status
    and ``next_attempt_at``; status None: the job is gone) still holds the
    key against a new add under ``rule``: before its expiry, while the job
    is unfinished (``until_done``), exists (``throttle``) or is still
    pending (``debounce``)."""
    if status is None or (expires_at is not None and now >= expires_at):
        return False
    if rule.mode == "debounce":
        return status is JobStatus.PENDING
    if rule.mode == "throttle":
        return True
    return not is_final(status, next_attempt_at)


def deduplicated_metadata(rule: DedupeRule, run_at: datetime) -> Metadata:
    """``deduplicated`` of a debounced job: the key, the mode and its new
    ``run_at``."""
    return {**rule.metadata, "run_at": run_at.isoformat()}


# -- dependencies -------------------------------------------------------------------

DEPENDENCY = "dependency"
"""The ``pending_reason`` of a job held by ``depends_on``: no claim takes it."""

ACTIVE = frozenset((JobStatus.PENDING, JobStatus.PROCESSING, JobStatus.WAITING))
"""A job in these statuses blocks the tag drains its tags cover."""


@dataclass(frozen=True, slots=True)
class Held:
    """A job held by ``depends_on``, as the rule reads it."""

    id: int
    job_ids: tuple[int, ...]
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Ended:
    """A job whose change may free or doom the jobs that depend on it: its
    tags, and whether it can still complete (``doomed``: failed for good
    or cancelled)."""

    id: int
    tags: tuple[str, ...]
    doomed: bool


def covers(tags: Iterable[str], drain: Iterable[str]) -> bool:
    """Whether a job with ``tags`` blocks the drain of ``drain`` (it has
    every one of them; an empty drain is blocked by nothing)."""
    wanted = set(drain)
    return bool(wanted) and wanted <= set(tags)


def dooms(status: JobStatus, next_attempt_at: datetime | None) -> bool:
    """A prerequisite in this state will never complete (short of a
    manual retry): its dependents are cancelled."""
    return is_final(status, next_attempt_at) and status is not JobStatus.COMPLETED


def depends_on(held: Held, ended: Ended) -> bool:
    """Whether ``held`` waits on ``ended``: it lists its id, or ``ended``
    covers its drain."""
    return held.id != ended.id and (
        ended.id in held.job_ids or covers(ended.tags, held.tags)
    )


def dependency_hold(
    held: Held,
    prerequisites: Mapping[int, JobStatus],
    blockers: Iterable[int],
) -> bool:
    """Whether ``held`` stays held: a listed job has not completed (absent
    from ``prerequisites``: gone, which counts as unfinished), or another
    active job covers its drain (``blockers``: the ids of the active jobs
    whose tags cover it)."""
    if any(prerequisites.get(i) is not JobStatus.COMPLETED for i in held.job_ids):
        return True
    return any(blocker != held.id for blocker in blockers)


def held_for_dependencies_metadata() -> Metadata:
    """``held``: why (``reason``, as ``pending_reason`` says); what it
    waits on is the job's ``depends_on_job_ids`` and ``depends_on_tags``."""
    return {"reason": DEPENDENCY}


def released_metadata_for_dependencies() -> Metadata:
    """``released``: the dependencies are done."""
    return {"reason": DEPENDENCY}


def dependent_cancelled_metadata(prerequisite: int | str) -> Metadata:
    """``cancelled`` of a dependent: the prerequisite that doomed it (its
    id; in ``metadata_template``, the mark of its place)."""
    return {"reason": DEPENDENCY, "prerequisite": prerequisite}


def metadata_template(
    build: Callable[[str], Metadata], encode: Callable[[JSONValue], str]
) -> list[JSONValue]:
    """The metadata ``build`` makes of one value as JSON text (``encode``:
    the store's encoder), cut in two where that value goes. A store that
    learns the value only in its atomic step (a dependent's prerequisite,
    a stuck job's worker, an attempt's number) writes the first part, the
    value as JSON (an id's digits, a string's quoted text) and the second
    part, and knows nothing of the shape."""
    mark = "\x00"  # JSON escapes it, so its text is found only where it was put
    before, after = encode(build(mark)).split(encode(mark))
    return [before, after]


def limit_hold_events() -> dict[str, dict[str, JSONValue]]:
    """The ``held`` and ``unheld`` (``released``) metadata of every reason a
    limit or a pause holds a job for, for a store that finds the reason in
    the stored row and picks the prepared one."""
    held: dict[str, JSONValue] = {r: held_metadata(r) for r in HOLD_REASONS}
    unheld: dict[str, JSONValue] = {r: unheld_metadata(r) for r in HOLD_REASONS}
    return {"held": held, "unheld": unheld}


# -- dead letters ----------------------------------------------------------------

DEAD_LETTER_MAX_ATTEMPTS = 1
"""A dead letter runs once: its handler records or alerts, it is no retry."""


def dead_letter(
    job: JobRecord,
    message: str,
    reason: FailureReason,
    failed_at: datetime,
    next_attempt_at: datetime | None,
) -> NewJob | None:
    """The job a failure adds when it fails ``job`` for good and ``job``
    names a ``dead_letter_job_type``; None otherwise. Its payload is the
    envelope ``{"original_job", "original_payload", "failure"}``."""
    if next_attempt_at is not None or job.dead_letter_job_type is None:
        return None
    return NewJob(
        job_type=job.dead_letter_job_type,
        payload={
            "original_job": {
                "id": job.id,
                "job_type": job.job_type,
                "attempts": job.attempts,
                "max_attempts": job.max_attempts,
            },
            "original_payload": job.payload,
            "failure": {
                "message": message,
                "reason": reason.value,
                "failed_at": failed_at.isoformat(),
            },
        },
        priority=0,
        run_at=None,
        max_attempts=DEAD_LETTER_MAX_ATTEMPTS,
        timeout=None,
        force_kill_on_timeout=False,
        tags=[],
        idempotency_key=None,
        retry_delay=None,
        retry_backoff=None,
        retry_delay_max=None,
        dead_letter_of=job.id,
    )


def lost_worker_letter(
    job: JobRecord, message: str, failed_at: datetime
) -> NewJob | None:
    """The dead letter a reclaim adds when it fails ``job`` for good as
    ``worker_lost`` (``RECLAIM_AS_WORKER_LOST``): the same envelope as a
    handler's failure, with the reclaim's ``message``; None when ``job``
    names no ``dead_letter_job_type``. ``job`` is the row as the reclaim
    read it (id, type, attempts, payload: none of them changes while it is
    processing under one lease)."""
    return dead_letter(job, message, FailureReason.WORKER_LOST, failed_at, None)


def held_metadata(reason: str) -> Metadata:
    """``held``: why the claim passed the job over (``limits.HoldReason``)."""
    return {"reason": reason}


def unheld_metadata(reason: str) -> Metadata:
    """``released``: the hold that ended, as its ``pending_reason`` said."""
    return {"reason": reason}


# -- the flow barrier ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BarrierState:
    """What the barrier keeps of a flow: its status, the steps still to
    finish, whether a fail aborted it, and each step's recorded outcome."""

    status: FlowStatus
    remaining_steps: int
    aborted: bool
    outcomes: Mapping[int, StepOutcome]

    @classmethod
    def started(cls, steps: int) -> BarrierState:
        return cls(FlowStatus.RUNNING, steps, False, {})


def flow_barrier(
    state: BarrierState,
    policy: FailurePolicy,
    finished: Iterable[tuple[int, StepOutcome]],
) -> BarrierState:
    """The barrier after steps finished for good, ``(step_index, outcome)``
    in the order one call reports them.

    A step's outcome is recorded only while the flow is running and the
    step has none yet (duplicates and late outcomes change nothing); each
    recorded outcome counts ``remaining_steps`` down by one. The flow
    becomes ready when none remain, or at its first fail under ``abort``
    (``aborted`` set), after which the call's later outcomes are not
    recorded.
    """
    for step_index, outcome in finished:
        if state.status is not FlowStatus.RUNNING or step_index in state.outcomes:
            continue
        remaining = state.remaining_steps - 1
        aborted = outcome == "fail" and policy == "abort"
        state = replace(
            state,
            status=FlowStatus.READY
            if remaining <= 0 or aborted
            else FlowStatus.RUNNING,
            remaining_steps=remaining,
            aborted=aborted,
            outcomes={**state.outcomes, step_index: outcome},
        )
    return state
