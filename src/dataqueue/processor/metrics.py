"""Processor metrics: what one processor is doing and has done since it was
created, and their Prometheus exposition.

Counts move when the store has confirmed an outcome (after the flush that
wrote it), so an outcome whose lease was lost is not counted. The four
counts are disjoint: every attempt that ended with a written outcome, other
than a wait, is exactly one of completed, failed, timed out or rejected.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from dataqueue.events import QueueEvent
from dataqueue.models import FailureReason

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric


@dataclass(frozen=True, slots=True)
class ProcessorMetrics:
    """A processor's numbers at one moment (``processor.metrics()``).

    Attributes:
        worker_id: The processor's worker id.
        active: Attempts running now.
        completed: Attempts that returned (their output stored).
        failed: Attempts whose handler raised.
        timed_out: Attempts stopped at their timeout.
        rejected: Claimed jobs this processor could not run: no handler for
            their type, or a stored job that could not be read.
        concurrency: The most attempts it runs at once.
        utilization_percent: ``active`` as a percentage of ``concurrency``.
        oldest_running_seconds: How long the longest-running attempt has
            run (0 when none runs).
    """

    worker_id: str
    active: int
    completed: int
    failed: int
    timed_out: int
    rejected: int
    concurrency: int
    utilization_percent: float
    oldest_running_seconds: float


class MetricsRecorder:
    """The counters of one processor."""

    def __init__(self, worker_id: str, concurrency: int) -> None:
        self.worker_id = worker_id
        self.concurrency = concurrency
        self.completed = self.failed = self.timed_out = self.rejected = 0
        self._running: dict[int, float] = {}

    def attempt_started(self, job_id: int) -> None:
        self._running[job_id] = time.monotonic()

    def attempt_ended(self, job_id: int) -> None:
        self._running.pop(job_id, None)

    def record(self, events: Iterable[QueueEvent]) -> None:
        """Count the outcomes of one flush."""
        for event in events:
            if event.name == "job:completed":
                self.completed += 1
            elif event.name == "job:failed":
                if (
                    event.job is None
                    or event.failure_reason is FailureReason.NO_HANDLER
                ):
                    self.rejected += 1  # no handler, or a row that would not decode
                elif event.failure_reason is FailureReason.TIMEOUT:
                    self.timed_out += 1
                else:
                    self.failed += 1

    def snapshot(self) -> ProcessorMetrics:
        # min() over a dict of floats runs without releasing the GIL, so this
        # may be read from another thread (a Prometheus scrape).
        started = min(self._running.values(), default=None)
        active = len(self._running)
        return ProcessorMetrics(
            worker_id=self.worker_id,
            active=active,
            completed=self.completed,
            failed=self.failed,
            timed_out=self.timed_out,
            rejected=self.rejected,
            concurrency=self.concurrency,
            utilization_percent=100.0 * active / self.concurrency,
            oldest_running_seconds=0.0
            if started is None
            else max(0.0, time.monotonic() - started),
        )


class HasMetrics(Protocol):
    def metrics(self) -> ProcessorMetrics: ...


class PrometheusCollector:
    """A ``prometheus_client`` collector over processors' metrics, one sample
    per processor labelled ``worker_id`` (needs ``dataqueue[prometheus]``).

    Metrics: ``dataqueue_processor_active_jobs``,
    ``dataqueue_processor_concurrency``,
    ``dataqueue_processor_utilization_percent``,
    ``dataqueue_processor_oldest_running_seconds`` (gauges) and
    ``dataqueue_processor_jobs_{completed,failed,timed_out,rejected}_total``
    (counters).

    Example:
        ``prometheus_client.REGISTRY.register(dq.PrometheusCollector(processor))``
    """

    def __init__(self, *processors: HasMetrics) -> None:
        self.processors = processors

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        samples = [processor.metrics() for processor in self.processors]
        labels = ["worker_id"]
        gauges: list[tuple[str, str, str]] = [
            ("active_jobs", "active", "Attempts running now."),
            ("concurrency", "concurrency", "Most attempts run at once."),
            (
                "utilization_percent",
                "utilization_percent",
                "Running attempts as a percentage of concurrency.",
            ),
            (
                "oldest_running_seconds",
                "oldest_running_seconds",
                "How long the longest-running attempt has run.",
            ),
        ]
        for name, field, help_text in gauges:
            gauge = GaugeMetricFamily(
                f"dataqueue_processor_{name}", help_text, labels=labels
            )
            for sample in samples:
                gauge.add_metric([sample.worker_id], float(getattr(sample, field)))
            yield gauge
        counters = [
            ("completed", "Attempts that returned."),
            ("failed", "Attempts whose handler raised."),
            ("timed_out", "Attempts stopped at their timeout."),
            ("rejected", "Claimed jobs with no handler or an unreadable row."),
        ]
        for field, help_text in counters:
            counter = CounterMetricFamily(
                f"dataqueue_processor_jobs_{field}", help_text, labels=labels
            )
            for sample in samples:
                counter.add_metric([sample.worker_id], float(getattr(sample, field)))
            yield counter
