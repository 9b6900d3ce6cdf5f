"""OpenTelemetry traces and metrics for dataqueue (needs ``dataqueue[otel]``).

``instrument()`` makes every add (``add_job``, ``add_jobs``, ``start_flow``,
``ctx.start_flow``) a producer span whose context is stored with the jobs,
and every attempt a ``receive`` and a ``process`` consumer span that
continue that trace, in whatever process or host runs it. Spans follow
OpenTelemetry's messaging semantic conventions, with ``messaging.system``
``dataqueue`` and the job type as the destination. Nothing here is imported
until you import it.

``observe_queue()`` and ``observe_processor()`` report the numbers of
``dq.QueueCollector`` and ``dq.PrometheusCollector`` as OpenTelemetry
observable instruments, for a meter provider that exports them (OTLP, or
OpenTelemetry's own Prometheus exporter).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from opentelemetry import metrics, propagate, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import Link, SpanKind, StatusCode

from dataqueue import _trace
from dataqueue.models import JobRecord
from dataqueue.processor.metrics import HasMetrics
from dataqueue.queue import JobQueue
from dataqueue.queue_metrics import QueueStatsReader
from dataqueue.sync import SyncJobQueue

__all__ = ["instrument", "observe_processor", "observe_queue", "uninstrument"]

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


def observe_queue(
    queue: JobQueue | SyncJobQueue,
    *,
    meter_provider: metrics.MeterProvider | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
    max_age: float = 5.0,
    timeout: float = 10.0,
) -> None:
    """Report the whole queue, read from the store, as observable gauges:
    ``dataqueue.queue.jobs`` (attributes ``job_type``, ``status``) and
    ``dataqueue.queue.oldest_pending_age`` (seconds, attribute
    ``job_type``). Arguments as ``dq.QueueCollector``'s; the meter
    provider's reader calls them from its own thread.

    Example:
        ``dataqueue.otel.observe_queue(queue)`` in a worker or the web app.
    """
    reader = QueueStatsReader(
        queue, loop=loop, max_age=max_age, timeout=timeout, where="observe_queue"
    )
    meter = metrics.get_meter("dataqueue", meter_provider=meter_provider)

    def jobs(options: CallbackOptions) -> Iterable[Observation]:
        for entry in reader.stats() or []:
            for status, count in entry.counts.items():
                attributes = {"job_type": entry.job_type, "status": status.value}
                yield Observation(count, attributes)

    def oldest(options: CallbackOptions) -> Iterable[Observation]:
        for entry in reader.stats() or []:
            waited = reader.oldest_pending_seconds(entry)
            yield Observation(waited, {"job_type": entry.job_type})

    meter.create_observable_gauge(
        "dataqueue.queue.jobs",
        [jobs],
        unit="{job}",
        description="Jobs in the store, per job type and status.",
    )
    meter.create_observable_gauge(
        "dataqueue.queue.oldest_pending_age",
        [oldest],
        unit="s",
        description="How long the oldest due pending job of the type has waited.",
    )


def observe_processor(
    *processors: HasMetrics, meter_provider: metrics.MeterProvider | None = None
) -> None:
    """Report processors' counts as observable instruments (attribute
    ``worker_id``): ``dataqueue.processor.active_jobs`` and
    ``dataqueue.processor.utilization`` (gauges), and
    ``dataqueue.processor.jobs`` (counter, attribute ``outcome``:
    completed, failed, timed_out, rejected) and
    ``dataqueue.job.failures`` (counter, attributes ``job_type``,
    ``reason``). Run durations are the ``process`` spans' durations."""
    meter = metrics.get_meter("dataqueue", meter_provider=meter_provider)

    def active(options: CallbackOptions) -> Iterable[Observation]:
        for processor in processors:
            sample = processor.metrics()
            yield Observation(sample.active, {"worker_id": sample.worker_id})

    def utilization(options: CallbackOptions) -> Iterable[Observation]:
        for processor in processors:
            sample = processor.metrics()
            percent = sample.utilization_percent
            yield Observation(percent / 100, {"worker_id": sample.worker_id})

    def outcomes(options: CallbackOptions) -> Iterable[Observation]:
        for processor in processors:
            sample = processor.metrics()
            for outcome in ("completed", "failed", "timed_out", "rejected"):
                attributes = {"worker_id": sample.worker_id, "outcome": outcome}
                yield Observation(getattr(sample, outcome), attributes)

    def failures(options: CallbackOptions) -> Iterable[Observation]:
        for processor in processors:
            sample = processor.metrics()
            for (job_type, reason), count in sample.failures.items():
                attributes = {
                    "worker_id": sample.worker_id,
                    "job_type": job_type,
                    "reason": reason,
                }
                yield Observation(count, attributes)

    meter.create_observable_gauge(
        "dataqueue.processor.active_jobs", [active], unit="{job}"
    )
    meter.create_observable_gauge(
        "dataqueue.processor.utilization", [utilization], unit="1"
    )
    meter.create_observable_counter(
        "dataqueue.processor.jobs", [outcomes], unit="{job}"
    )
    meter.create_observable_counter("dataqueue.job.failures", [failures], unit="{job}")
