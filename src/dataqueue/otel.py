"""OpenTelemetry traces for dataqueue (needs ``dataqueue[otel]``).

``instrument()`` makes every add (``add_job``, ``add_jobs``, ``start_flow``,
``ctx.start_flow``) a producer span whose context is stored with the jobs,
and every attempt a ``receive`` and a ``process`` consumer span that
continue that trace, in whatever process or host runs it. Spans follow
OpenTelemetry's messaging semantic conventions, with ``messaging.system``
``dataqueue`` and the job type as the destination. Nothing here is imported
until you import it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from opentelemetry import propagate, trace
from opentelemetry.trace import Link, SpanKind, StatusCode

from dataqueue import _trace
from dataqueue.models import JobRecord

__all__ = ["instrument", "uninstrument"]

SYSTEM = "dataqueue"


def instrument(tracer_provider: trace.TracerProvider | None = None) -> None:
    """Trace every queue and processor of this process from now on.

    Args:
        tracer_provider: Where spans go (default: the global provider, as
            set by the OpenTelemetry SDK or ``opentelemetry-instrument``).

    Example:
        ``dataqueue.otel.instrument()`` once at start, in the web app and in
        the worker (``dataqueue worker --otel`` does it).
    """
    tracer = trace.get_tracer("dataqueue", tracer_provider=tracer_provider)
    _trace.active = OpenTelemetryTracer(tracer)


def uninstrument() -> None:
    """Stop tracing: adds and attempts make no spans any more."""
    _trace.active = None


def _destination(job_types: Sequence[str]) -> str | None:
    kinds = set(job_types)
    return job_types[0] if len(kinds) == 1 else None


@dataclass
class _Producing:
    span: trace.Span
    count: int
    carrier: dict[str, str] = field(default_factory=dict)

    def added(self, job_ids: Sequence[int]) -> None:
        if self.count == 1:
            self.span.set_attribute("messaging.message.id", str(job_ids[0]))


@dataclass
class _Processing:
    span: trace.Span

    def failed(self, message: str, error: BaseException | None) -> None:
        if error is not None:
            self.span.record_exception(error)
            self.span.set_attribute("error.type", type(error).__qualname__)
        self.span.set_status(StatusCode.ERROR, message)


class OpenTelemetryTracer:
    """The spans of adds and attempts (see the module's docstring)."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    @contextmanager
    def producing(
        self, operation: str, job_types: Sequence[str]
    ) -> Iterator[_trace.Producing]:
        destination = _destination(job_types)
        attributes: dict[str, str | int] = {
            "messaging.system": SYSTEM,
            "messaging.operation.type": "send",
            "messaging.operation.name": operation,
        }
        if destination is not None:
            attributes["messaging.destination.name"] = destination
        if len(job_types) > 1:
            attributes["messaging.batch.message_count"] = len(job_types)
        name = "send" if destination is None else f"send {destination}"
        with self._tracer.start_as_current_span(
            name, kind=SpanKind.PRODUCER, attributes=attributes
        ) as span:
            producing = _Producing(span, len(job_types))
            propagate.inject(producing.carrier)
            yield producing

    @contextmanager
    def processing(
        self,
        job: JobRecord,
        carrier: Mapping[str, str] | None,
        worker_id: str,
        claimed_ns: int,
    ) -> Iterator[_trace.Processing]:
        parent = propagate.extract(dict(carrier)) if carrier else None
        producer = trace.get_current_span(parent).get_span_context()
        links = [Link(producer)] if producer.is_valid else []
        attributes: dict[str, str | int] = {
            "messaging.system": SYSTEM,
            "messaging.destination.name": job.job_type,
            "messaging.message.id": str(job.id),
            "messaging.client.id": worker_id,
            "dataqueue.job.attempt": job.attempts,
        }
        self._tracer.start_span(
            f"receive {job.job_type}",
            context=parent,
            kind=SpanKind.CONSUMER,
            links=links,
            start_time=claimed_ns,
            attributes={
                **attributes,
                "messaging.operation.type": "receive",
                "messaging.operation.name": "claim",
            },
        ).end(time.time_ns())
        with self._tracer.start_as_current_span(
            f"process {job.job_type}",
            context=parent,
            kind=SpanKind.CONSUMER,
            links=links,
            attributes={
                **attributes,
                "messaging.operation.type": "process",
                "messaging.operation.name": "run",
            },
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            yield _Processing(span)

    def current_trace_id(self) -> str | None:
        context = trace.get_current_span().get_span_context()
        return trace.format_trace_id(context.trace_id) if context.is_valid else None
