"""Processor metrics: what one processor is doing and has done since it was
created, and their Prometheus exposition: counts, and per job type the run
durations, the delays from due to start and the failures by reason.

Counts move when the store has confirmed an outcome (after the flush that
wrote it), so an outcome whose lease was lost is not counted. The four
counts are disjoint: every attempt that ended with a written outcome, other
than a wait, is exactly one of completed, failed, timed out or rejected.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from dataqueue.events import QueueEvent
from dataqueue.models import FailureReason, JobRecord, MinuteStats

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric


BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
)  # fmt: skip
"""Upper bounds (seconds) of the histogram buckets, from 5 ms to an hour."""

ONE_MINUTE = timedelta(minutes=1)


@dataclass(slots=True)
class Histogram:
    """Observations counted per bucket of ``BUCKETS`` (not cumulative; the
    last count is above every bound), with their sum."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds

    def cumulative(self) -> list[tuple[str, float]]:
        """Prometheus's buckets: ``(le, observations <= le)``, ending +Inf."""
        running = 0
        out = []
        for bound, count in zip((*map(str, BUCKETS), "+Inf"), self.counts, strict=True):
            running += count
            out.append((bound, float(running)))
        return out


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
        run_seconds: Per job type, how long its attempts that completed or
            failed ran.
        start_delay_seconds: Per job type, how long after it was due each
            job started its first attempt.
        failures: Failed attempts per (job type, failure reason).
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
    run_seconds: dict[str, Histogram] = field(default_factory=dict)
    start_delay_seconds: dict[str, Histogram] = field(default_factory=dict)
    failures: dict[tuple[str, str], int] = field(default_factory=dict)


class MinuteTally:
    """Per minute and job type, what this processor did since the store last
    took it (``take``): what ``queue.get_minute_stats()`` adds up."""

    def __init__(self) -> None:
        # minute -> job type -> [started, completed, failed, first starts,
        # sum of start delays]
        self._entries: dict[datetime, dict[str, list[float]]] = {}
        # The minute of the last count, its entries and the next minute's
        # start: most counts fall in the same minute, which then costs two
        # comparisons and a look-up by job type.
        self._minute = self._next_minute = datetime.min.replace(tzinfo=UTC)
        self._by_type: dict[str, list[float]] = {}

    def _entry(self, job_type: str, at: datetime) -> list[float]:
        if not self._minute <= at < self._next_minute:
            minute = self._minute = at.replace(second=0, microsecond=0)
            self._next_minute = minute + ONE_MINUTE
            self._by_type = self._entries.setdefault(minute, {})
        entry = self._by_type.get(job_type)
        if entry is None:
            entry = self._by_type[job_type] = [0, 0, 0, 0, 0.0]
        return entry

    def started(self, job_type: str, at: datetime, delay: float | None) -> None:
        entry = self._entry(job_type, at)
        entry[0] += 1
        if delay is not None:
            entry[3] += 1
            entry[4] += delay

    def ended(self, job_type: str, at: datetime, *, completed: bool) -> None:
        self._entry(job_type, at)[1 if completed else 2] += 1

    def take(self) -> list[MinuteStats]:
        """What was counted since the last ``take``, which is forgotten."""
        entries, self._entries = self._entries, {}
        # The next count starts the minute's entries again.
        self._minute = self._next_minute
        return [
            MinuteStats(
                minute=minute,
                job_type=job_type,
                started=int(started),
                completed=int(completed),
                failed=int(failed),
                first_starts=int(first),
                start_delay_seconds=delays,
            )
            for minute, by_type in entries.items()
            for job_type, (started, completed, failed, first, delays) in (
                by_type.items()
            )
        ]

    def give_back(self, stats: list[MinuteStats]) -> None:
        """Count again what a ``take`` returned and the store did not keep."""
        for stat in stats:
            entry = self._entry(stat.job_type, stat.minute)
            entry[0] += stat.started
            entry[1] += stat.completed
            entry[2] += stat.failed
            entry[3] += stat.first_starts
            entry[4] += stat.start_delay_seconds


class MetricsRecorder:
    """The counters of one processor."""

    def __init__(self, worker_id: str, concurrency: int) -> None:
        self.worker_id = worker_id
        self.concurrency = concurrency
        self.completed = self.failed = self.timed_out = self.rejected = 0
        self._running: dict[int, float] = {}
        self.run_seconds: dict[str, Histogram] = {}
        self.start_delay_seconds: dict[str, Histogram] = {}
        self.failures: dict[tuple[str, str], int] = {}
        self.minutes = MinuteTally()

    def attempt_started(self, job: JobRecord, now: datetime) -> None:
        """An attempt starts at ``now``; a job's first start (or its start
        after a wait) is ``now - run_at`` after it was due."""
        self._running[job.id] = time.monotonic()
        if job.attempts != 1:
            self.minutes.started(job.job_type, now, None)
            return
        delay = (now - job.run_at).total_seconds()
        if delay < 0:
            delay = 0.0  # the clock was set back
        histogram_of(self.start_delay_seconds, job.job_type).observe(delay)
        self.minutes.started(job.job_type, now, delay)

    def attempt_ended(self, job_id: int) -> None:
        self._running.pop(job_id, None)

    def record(self, events: Iterable[QueueEvent]) -> None:
        """Count the outcomes of one flush."""
        for event in events:
            name = event.name
            if name == "job:completed":
                self.completed += 1
            elif name == "job:failed":
                self._failed(event)
            else:
                continue  # a claim or a wait: not an outcome counted here
            job_type = event.job_type
            if job_type is None:
                continue  # a row that would not decode
            if event.duration_seconds is not None:
                histogram = histogram_of(self.run_seconds, job_type)
                histogram.observe(event.duration_seconds)
            if event.at is not None:
                self.minutes.ended(
                    job_type, event.at, completed=name == "job:completed"
                )

    def _failed(self, event: QueueEvent) -> None:
        reason = event.failure_reason
        if reason is not None:
            key = (event.job_type or "", reason.value)
            self.failures[key] = self.failures.get(key, 0) + 1
        if event.job is None or reason is FailureReason.NO_HANDLER:
            self.rejected += 1  # no handler, or a row that would not decode
        elif reason is FailureReason.TIMEOUT:
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
            run_seconds=_copied(self.run_seconds),
            start_delay_seconds=_copied(self.start_delay_seconds),
            failures=dict(self.failures),
        )


def histogram_of(histograms: dict[str, Histogram], job_type: str) -> Histogram:
    """``job_type``'s histogram, made at its first observation."""
    histogram = histograms.get(job_type)
    if histogram is None:
        histogram = histograms[job_type] = Histogram()
    return histogram


def _copied(histograms: dict[str, Histogram]) -> dict[str, Histogram]:
    # list(): the processor's loop may add a type while a scrape reads
    return {
        job_type: Histogram(list(histogram.counts), histogram.total)
        for job_type, histogram in list(histograms.items())
    }


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
    (counters); per job type too (labels ``worker_id``, ``job_type``):
    ``dataqueue_job_run_duration_seconds`` (histogram of attempts that
    completed or failed), ``dataqueue_job_start_delay_seconds`` (histogram
    from due to the first start) and ``dataqueue_job_failures_total``
    (counter, with ``reason``).

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
        for name, attribute, help_text in gauges:
            gauge = GaugeMetricFamily(
                f"dataqueue_processor_{name}", help_text, labels=labels
            )
            for sample in samples:
                gauge.add_metric([sample.worker_id], float(getattr(sample, attribute)))
            yield gauge
        counters = [
            ("completed", "Attempts that returned."),
            ("failed", "Attempts whose handler raised."),
            ("timed_out", "Attempts stopped at their timeout."),
            ("rejected", "Claimed jobs with no handler or an unreadable row."),
        ]
        for name, help_text in counters:
            counter = CounterMetricFamily(
                f"dataqueue_processor_jobs_{name}", help_text, labels=labels
            )
            for sample in samples:
                counter.add_metric([sample.worker_id], float(getattr(sample, name)))
            yield counter
        yield from self._per_type(samples)

    @staticmethod
    def _per_type(samples: list[ProcessorMetrics]) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        labels = ["worker_id", "job_type"]
        histograms = [
            ("run_duration_seconds", "run_seconds", "How long attempts ran."),
            (
                "start_delay_seconds",
                "start_delay_seconds",
                "From when a job was due to its first start.",
            ),
        ]
        for name, attribute, help_text in histograms:
            family = HistogramMetricFamily(
                f"dataqueue_job_{name}", help_text, labels=labels
            )
            for sample in samples:
                for job_type, histogram in getattr(sample, attribute).items():
                    family.add_metric(
                        [sample.worker_id, job_type],
                        histogram.cumulative(),
                        histogram.total,
                    )
            yield family
        failures = CounterMetricFamily(
            "dataqueue_job_failures",
            "Failed attempts, by job type and reason.",
            labels=[*labels, "reason"],
        )
        for sample in samples:
            for (job_type, reason), count in sample.failures.items():
                failures.add_metric([sample.worker_id, job_type, reason], count)
        yield failures
