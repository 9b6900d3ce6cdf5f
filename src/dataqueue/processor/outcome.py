"""Outcomes: the one place where what an attempt ended in becomes a write.

The retry decision, the ``completed`` event's metadata and the log lines are
made here; the writes themselves are buffered and handed to the store in
one ``settle_and_claim`` call per flush (fused with the next claim).

``written`` is where a flush's results come back: the changes the store
confirmed (outcomes whose lease held, then the jobs claimed) go, as one list
of ``QueueEvent``, to the processor's ``after_flush`` (metrics, hooks, queue
events and projections), so each is reported once, after it happened.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeAlias

from dataqueue import _transitions as t
from dataqueue import _validate as v
from dataqueue._commands import (
    BrokenJob,
    Claimed,
    Completion,
    Failure,
    Lease,
    Outcome,
    Suspension,
)
from dataqueue.events import QueueEvent
from dataqueue.models import FailureReason, JobRecord
from dataqueue.processor.attempt import Raised, Succeeded, Suspended
from dataqueue.retry import next_attempt_at
from dataqueue.types import JSONValue

logger = logging.getLogger("dataqueue")

_PendingEvent: TypeAlias = tuple[str, JobRecord | None, dict[str, Any]]


def encode_output(value: Any) -> tuple[JSONValue, dict[str, JSONValue]]:
    """The output to store, and the ``completed`` event's metadata: a value
    that is not JSON or is over the output limit is not stored, and the
    event says why."""
    if value is None:
        return None, {}
    try:
        output = v.check_json(
            value, "handler", "return value", max_bytes=v.MAX_OUTPUT_BYTES
        )
    except (TypeError, ValueError) as error:
        return None, {"output_dropped": str(error)}
    return output, {}


class OutcomeWriter:
    """Turns attempt results into outcomes and keeps them until flushed."""

    def __init__(
        self,
        report_error: Callable[[BaseException, JobRecord | None], None],
        rand: Callable[[], float] = random.random,
        *,
        worker_id: str | None = None,
        after_flush: Callable[[list[QueueEvent]], None] | None = None,
        reports_claims: Callable[[], bool] = lambda: True,
    ) -> None:
        self._report_error = report_error
        self._rand = rand
        self._worker_id = worker_id
        self._after_flush = after_flush
        self._reports_claims = reports_claims
        self._pending: list[Outcome] = []
        # What each unwritten outcome will be reported as once written: the
        # event's name, the job (None for a broken row) and its fields.
        self._events: dict[Lease, _PendingEvent] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def take(self) -> list[Outcome]:
        """Every outcome not yet written; the caller writes or ``restore``s them."""
        taken, self._pending = self._pending, []
        return taken

    def leases(self) -> list[Lease]:
        """The leases of the outcomes not yet written."""
        return [outcome.lease for outcome in self._pending]

    def restore(self, outcomes: Sequence[Outcome]) -> None:
        """Put back outcomes whose write failed, to be tried again."""
        self._pending[:0] = outcomes

    def discard(self) -> None:
        """Give up on every unwritten outcome (their jobs will be reclaimed)."""
        self._pending = []
        self._events.clear()

    def _event(
        self, name: str, job: JobRecord | None, lease: Lease, **fields: Any
    ) -> None:
        self._events[lease] = (name, job, fields)

    def succeeded(
        self, job: JobRecord, lease: Lease, result: Succeeded, seconds: float
    ) -> None:
        output, metadata = encode_output(result.value)
        if "output_dropped" in metadata:
            logger.warning(
                "job %s: output not stored: %s", job.id, metadata["output_dropped"]
            )
        self._pending.append(Completion(lease, output, metadata))
        self._event(
            "job:completed", job, lease, output=output, duration_seconds=seconds
        )
        logger.info("job %s (%s) completed in %.3fs", job.id, job.job_type, seconds)

    def failed(
        self,
        job: JobRecord,
        lease: Lease,
        result: Raised,
        now: datetime,
        seconds: float | None = None,
    ) -> None:
        retry_at = next_attempt_at(
            now,
            job.attempts,
            job.max_attempts,
            job.retry_delay,
            job.retry_backoff,
            job.retry_delay_max,
            self._rand,
        )
        dead_letter = t.dead_letter(job, result.message, result.reason, now, retry_at)
        self._pending.append(
            Failure(
                lease,
                result.message,
                result.reason,
                retry_at,
                result.traceback,
                dead_letter,
            )
        )
        self._event(
            "job:failed",
            job,
            lease,
            error=result.message,
            failure_reason=result.reason,
            will_retry=retry_at is not None,
            exception=result.error,
            duration_seconds=seconds,
        )
        if result.reason is FailureReason.HANDLER_ERROR and result.error is not None:
            logger.error(
                "job %s (%s) raised", job.id, job.job_type, exc_info=result.error
            )
        if retry_at is None:
            logger.info(
                "job %s (%s) failed for good: %s", job.id, job.job_type, result.message
            )
        else:
            logger.info(
                "job %s (%s) failed (%s); retry at %s",
                job.id,
                job.job_type,
                result.message,
                retry_at.isoformat(),
            )
        if result.error is not None:
            self._report_error(result.error, job)

    def suspended(self, job: JobRecord, lease: Lease, result: Suspended) -> None:
        """The job waits: written like the other outcomes, it frees its
        slot and gives back its attempt."""
        request = result.request
        self._pending.append(
            Suspension(
                lease, request.step_data, request.wait_until, request.wait_token_id
            )
        )
        self._event("job:waiting", job, lease)
        until = request.wait_until
        logger.info(
            "job %s (%s) waiting for %s",
            job.id,
            job.job_type,
            f"token {request.wait_token_id}" if until is None else until.isoformat(),
        )

    def broken(self, job: BrokenJob, lease: Lease) -> None:
        """A claimed job that cannot be decoded fails for good, alone."""
        message = f"the stored job could not be read: {job.error}"
        logger.error("job %s: %s", job.id, message)
        self._pending.append(
            Failure(lease, message, FailureReason.HANDLER_ERROR, next_attempt_at=None)
        )
        self._event(
            "job:failed",
            None,
            lease,
            error=message,
            failure_reason=FailureReason.HANDLER_ERROR,
            will_retry=False,
        )

    def written(
        self,
        outcomes: Sequence[Outcome],
        settled: Sequence[bool],
        claimed: Sequence[Claimed] = (),
        now: datetime | None = None,
    ) -> None:
        """A flush is done: log the outcomes that found their lease lost, and
        hand what the store confirmed to ``after_flush``."""
        confirmed: list[QueueEvent] = []
        for outcome, applied in zip(outcomes, settled, strict=True):
            event = self._events.pop(outcome.lease, None)
            if not applied:
                logger.warning(
                    "job %s: result not recorded: the job was taken from this "
                    "worker (lease lost)",
                    outcome.lease.job_id,
                )
            elif event is not None:
                name, job, fields = event
                confirmed.append(
                    QueueEvent(
                        name,
                        outcome.lease.job_id,
                        None if job is None else job.job_type,
                        job=job,
                        worker_id=self._worker_id,
                        at=now,
                        **fields,
                    )
                )
        # Claims are reported only to whoever asked (hooks, listeners,
        # projections): every job of a busy worker is claimed.
        if claimed and self._reports_claims():
            for claim in claimed:
                if isinstance(claim, JobRecord):
                    confirmed.append(
                        QueueEvent(
                            "job:processing",
                            claim.id,
                            claim.job_type,
                            job=claim,
                            worker_id=self._worker_id,
                            at=now,
                        )
                    )
        if confirmed and self._after_flush is not None:
            self._after_flush(confirmed)
