"""The arguments of the atomic scripts that apply a transition: an
attempt's outcomes for ``settle_and_claim.lua``, a failure's entry and event,
and a transition (from-statuses, event metadata, barrier outcome) for
``starts_from`` in ``_lib.lua``; every metadata comes from
``dataqueue._transitions``."""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache, partial

from dataqueue._commands import (
    Completion,
    Failure,
    NewJob,
    Outcome,
    Suspension,
)
from dataqueue._transitions import (
    CANCEL,
    COMPLETE,
    MANUAL_RETRY,
    Transition,
    cancelled_metadata,
    dead_lettered_metadata,
    dependent_cancelled_metadata,
    error_entry,
    failed_metadata,
    failure,
    limit_hold_events,
    metadata_template,
    processing_metadata,
    reclaimed_metadata,
    released_metadata,
    released_metadata_for_dependencies,
    resumed_at_time_metadata,
    resumed_on_token_metadata,
    retried_metadata,
    waiting_metadata,
)
from dataqueue._validate import to_json_text
from dataqueue.backends._records import lost_worker_letter
from dataqueue.backends.redis.codec import (
    decode_job,
    job_spec,
    micros_text,
)
from dataqueue.errors import BackendError, DependencyError
from dataqueue.models import (
    FailureReason,
)
from dataqueue.types import JSONValue


def failure_args(
    message: str,
    reason: FailureReason,
    retry_at: datetime | None,
    now: datetime,
    traceback: str | None = None,
) -> tuple[str, str]:
    """A failure's error_history entry and its 'failed' event's metadata
    (JSON text), as ``settle_and_claim.lua`` and ``reclaim_stuck_jobs.lua``
    append them."""
    entry = to_json_text(error_entry(message, now, traceback))
    metadata = to_json_text(failed_metadata(message, reason, retry_at))
    return entry, metadata


def transition_arg(transition: Transition, metadata: dict[str, JSONValue]) -> str:
    """A transition as the scripts read it (``starts_from`` in _lib.lua)."""
    return to_json_text(
        {
            "from": [status.value for status in sorted(transition.from_statuses)],
            "metadata": to_json_text(metadata),
            "outcome": transition.barrier or "",
        }
    )


def cancel_arg() -> str:
    """The cancel, with its event's metadata as of this call (it names who
    cancelled, when the caller said)."""
    return transition_arg(CANCEL, cancelled_metadata())


def retry_arg() -> str:
    """The manual retry, with its event's metadata as of this call."""
    return transition_arg(MANUAL_RETRY, retried_metadata())


HELD_JOB_EVENTS = to_json_text(
    {
        "released": to_json_text(released_metadata_for_dependencies()),
        "cancelled": metadata_template(dependent_cancelled_metadata, to_json_text),
        **{
            name: {reason: to_json_text(m) for reason, m in by_reason.items()}
            for name, by_reason in limit_hold_events().items()
        },
    }
)
"""The events of held jobs, each JSON text: what ``settle_dependencies`` in
_lib.lua appends when a job's change releases or cancels the jobs held on it
(``released``; ``cancelled``, a template of two parts the prerequisite's id
goes between), and by hold reason, the ``held`` and ``unheld`` events of a
job a limit or a pause holds (settle_and_claim.lua)."""


def outcome_args(outcome: Outcome, now: datetime) -> list[JSONValue]:
    """One outcome as ``settle_and_claim.lua`` reads it."""
    lease = outcome.lease
    if isinstance(outcome, Completion):
        return [
            "c",
            str(lease.job_id),
            lease.token,
            to_json_text(outcome.output),
            to_json_text(outcome.metadata),
            COMPLETE.step_outcome,
        ]
    if isinstance(outcome, Suspension):
        until, token_id = outcome.wait_until, outcome.wait_token_id
        resumed = [
            ""
            if token_id is None
            else to_json_text(resumed_on_token_metadata(token_id, timed_out=ended))
            for ended in (False, True)
        ]
        return [
            "s",
            str(lease.job_id),
            lease.token,
            to_json_text(outcome.step_data),
            "" if until is None else micros_text(until),
            token_id or "",
            to_json_text(waiting_metadata(until, token_id)),
            *resumed,
        ]
    if not isinstance(outcome, Failure):
        raise BackendError(f"the Redis store cannot write {type(outcome).__name__}")
    retry_at = outcome.next_attempt_at
    entry, metadata = failure_args(
        outcome.message, outcome.reason, retry_at, now, outcome.traceback
    )
    return [
        "f",
        str(lease.job_id),
        lease.token,
        entry,
        outcome.reason.value,
        "" if retry_at is None else micros_text(retry_at),
        metadata,
        failure(retry_at).barrier or "",
        *dead_letter_args(outcome, now),
    ]


def dead_letter_args(failure: Failure, now: datetime) -> list[JSONValue]:
    """A failure's dead letter as the script adds it (the job as
    ``create_job`` reads it), and its ``dead_lettered`` event's metadata
    (a ``metadata_template``); empty texts when it has none."""
    return letter_args(failure.dead_letter, now)


def letter_args(letter: NewJob | None, now: datetime) -> list[JSONValue]:
    """A dead letter as a script adds it, and its ``dead_lettered`` event's
    metadata as a ``metadata_template``; empty texts for none."""
    if letter is None:
        return ["", ""]
    return [
        to_json_text(job_spec(letter, now)),
        # the letter's id, known once it is added, goes between the parts
        metadata_template(partial(dead_lettered_metadata, letter), to_json_text),
    ]


RECLAIMED_TEMPLATE = to_json_text(metadata_template(reclaimed_metadata, to_json_text))
"""The 'retried' event of a stuck job with attempts left, as
``reclaim_stuck_jobs.lua`` writes it: a JSON list of the two texts the JSON
of the worker that held it goes between."""

RELEASED_TEMPLATE = to_json_text(metadata_template(released_metadata, to_json_text))
"""The 'retried' event of a job its worker gives back, as ``release_jobs.lua``
writes it: a JSON list of the two texts the JSON of that worker goes
between."""

TIMED_OUT_TEMPLATE = to_json_text(
    metadata_template(partial(resumed_on_token_metadata, timed_out=True), to_json_text)
)
"""The 'resumed' event of a job whose token timed out, as
``expire_timed_out_tokens.lua`` writes it: a JSON list of the two texts the
JSON of the token's id goes between."""


@lru_cache(maxsize=64)
def claim_events_arg(worker_id: str) -> str:
    """The events a claim by ``worker_id`` writes, as ``settle_and_claim.lua``
    reads them: by name, the two texts the store-only value goes between:
    ``processing`` (the attempt's number) and ``resumed`` of a job whose
    wait_until came (the JSON of that time's ISO text). Built once per
    worker, not on every exchange."""
    return to_json_text(
        {
            "processing": metadata_template(
                partial(processing_metadata, worker_id), to_json_text
            ),
            "resumed": metadata_template(resumed_at_time_metadata, to_json_text),
        }
    )


RECLAIM_PASSES = 3
"""Calls of ``reclaim_stuck_jobs.lua`` one reclaim makes at most: the first
leaves the jobs it would fail for good with a dead-letter type as they are
and returns them; the next fails them with the letters built from what it
returned. A job still left (its lease changed meanwhile) waits for the
next reclaim."""


def lost_worker_letters(wanting: str, message: str, now: datetime) -> str:
    """The letters of the jobs ``reclaim_stuck_jobs.lua`` left for them
    (``wanting``, its JSON list of their hashes), as its next call reads
    them: by job id, the lease token the hash was read under, the letter
    (``_transitions.lost_worker_letter``; none for a hash that will not
    decode) and its event's metadata. ``"{}"`` for none."""
    letters: dict[str, JSONValue] = {
        str(row["id"]): [
            row.get("lease_token", ""),
            *letter_args(
                lost_worker_letter(
                    int(row["id"]), partial(decode_job, row), message, now
                ),
                now,
            ),
        ]
        for row in json.loads(wanting)
    }
    return to_json_text(letters)


DEPENDENCY_MISSING = "DEPENDENCY_MISSING "
"""The start of add_jobs.lua's error reply for unknown prerequisites."""


def dependency_refusal(error: BackendError) -> BackendError | DependencyError:
    """add_jobs.lua's refusal of unknown prerequisites as the
    ``DependencyError`` it is; any other store error as it is."""
    cause = str(error.__cause__ or "")
    if not cause.startswith(DEPENDENCY_MISSING):
        return error
    missing = sorted(int(i) for i in json.loads(cause.removeprefix(DEPENDENCY_MISSING)))
    return DependencyError(
        f"add_jobs: depends_on names jobs that do not exist: {missing}"
    )
