"""Outcomes: the one place where what an attempt ended in becomes a write.

The retry decision, the ``completed`` event's metadata and the log lines are
made here; the writes themselves are buffered and handed to the store in
one ``settle_and_claim`` call per flush (fused with the next claim).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from dataqueue import _validate as v
from dataqueue._commands import (
    BrokenJob,
    Completion,
    Failure,
    Lease,
    Outcome,
    Suspension,
)
from dataqueue.models import FailureReason, JobRecord
from dataqueue.processor.attempt import Raised, Succeeded, Suspended
from dataqueue.retry import next_attempt_at
from dataqueue.types import JSONValue

logger = logging.getLogger("dataqueue")


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
        report_error: Callable[[BaseException], None],
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._report_error = report_error
        self._rand = rand
        self._pending: list[Outcome] = []

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

    def succeeded(
        self, job: JobRecord, lease: Lease, result: Succeeded, seconds: float
    ) -> None:
        output, metadata = encode_output(result.value)
        if "output_dropped" in metadata:
            logger.warning(
                "job %s: output not stored: %s", job.id, metadata["output_dropped"]
            )
        self._pending.append(Completion(lease, output, metadata))
        logger.info("job %s (%s) completed in %.3fs", job.id, job.job_type, seconds)

    def failed(
        self, job: JobRecord, lease: Lease, result: Raised, now: datetime
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
        self._pending.append(Failure(lease, result.message, result.reason, retry_at))
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
            self._report_error(result.error)

    def suspended(self, job: JobRecord, lease: Lease, result: Suspended) -> None:
        """The job waits: written like the other outcomes, it frees its
        slot and gives back its attempt."""
        request = result.request
        self._pending.append(
            Suspension(
                lease, request.step_data, request.wait_until, request.wait_token_id
            )
        )
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

    @staticmethod
    def written(outcomes: Sequence[Outcome], settled: Sequence[bool]) -> None:
        """Log the outcomes that found their lease lost."""
        for outcome, applied in zip(outcomes, settled, strict=True):
            if not applied:
                logger.warning(
                    "job %s: result not recorded: the job was taken from this "
                    "worker (lease lost)",
                    outcome.lease.job_id,
                )
