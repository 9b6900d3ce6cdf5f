"""Where tracing plugs in. ``dataqueue.otel.instrument()`` sets ``active``;
until then it is None and dataqueue never imports OpenTelemetry, so an
uninstrumented queue pays one ``is None`` test per add and per attempt."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Protocol

from dataqueue.models import JobRecord

TRACE_CONTEXT_KEY = "trace_context"
"""The ``added`` event's metadata key holding the producer's trace context."""


class Producing(Protocol):
    """The producer span of one add: its context to store with the jobs."""

    carrier: dict[str, str]

    def added(self, job_ids: Sequence[int]) -> None:
        """The jobs were stored with these ids."""


class Processing(Protocol):
    """The consumer span of one attempt."""

    def failed(self, message: str, error: BaseException | None) -> None:
        """The attempt failed."""


class Tracer(Protocol):
    def producing(
        self, operation: str, job_types: Sequence[str]
    ) -> AbstractContextManager[Producing]:
        """A producer span around storing new jobs of these types."""

    def processing(
        self,
        job: JobRecord,
        carrier: Mapping[str, str] | None,
        worker_id: str,
        claimed_ns: int,
    ) -> AbstractContextManager[Processing]:
        """The claim (a ``receive`` span from ``claimed_ns``, epoch
        nanoseconds, to now) and the run (a ``process`` span for the block),
        both continuing the trace of ``carrier``, the producer's context
        stored with the job."""

    def current_trace_id(self) -> str | None:
        """The trace id of the current span, as 32 hex digits."""


active: Tracer | None = None


def producing(
    operation: str, job_types: Sequence[str]
) -> AbstractContextManager[Producing | None]:
    """The active tracer's producer span, or nothing when none is active."""
    if active is None:
        return nullcontext()
    return active.producing(operation, job_types)
