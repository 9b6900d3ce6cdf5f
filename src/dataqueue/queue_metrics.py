"""The whole queue's numbers for Prometheus, read from the store: one scrape
of any process that serves them shows every job type, whoever runs it."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from dataqueue.errors import DataQueueError
from dataqueue.models import JobTypeStats
from dataqueue.queue import JobQueue
from dataqueue.sync import SyncJobQueue

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric


class QueueStatsReader:
    """``get_queue_stats()`` from any thread, a read reused for ``max_age``
    seconds; None while the store does not answer (shared by the Prometheus
    collector and the OpenTelemetry gauges)."""

    def __init__(
        self,
        queue: JobQueue | SyncJobQueue,
        *,
        loop: asyncio.AbstractEventLoop | None,
        max_age: float,
        timeout: float,
        where: str,
    ) -> None:
        self.queue = queue
        self.max_age = max_age
        self.timeout = timeout
        if isinstance(queue, JobQueue) and loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                raise RuntimeError(
                    f"{where}(JobQueue) needs loop= when made outside the "
                    "queue's event loop"
                ) from None
        self._loop = loop
        self._lock = threading.Lock()
        self._read_at = -float("inf")
        self._stats: list[JobTypeStats] | None = None
        self.read_seconds = 0.0

    def _read(self) -> list[JobTypeStats]:
        queue = self.queue
        if isinstance(queue, SyncJobQueue):
            return queue.get_queue_stats()
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(queue.get_queue_stats(), self._loop)
        try:
            return future.result(self.timeout)
        except TimeoutError:
            future.cancel()
            raise

    def stats(self) -> list[JobTypeStats] | None:
        """The last read if fresh enough, else a new one."""
        with self._lock:
            if time.monotonic() - self._read_at >= self.max_age:
                started = time.perf_counter()
                try:
                    self._stats = self._read()
                except (DataQueueError, TimeoutError):
                    self._stats = None
                self.read_seconds = time.perf_counter() - started
                self._read_at = time.monotonic()
            return self._stats

    def oldest_pending_seconds(self, entry: JobTypeStats) -> float:
        """How long the type's oldest due pending job has waited (0: none)."""
        if entry.oldest_pending_at is None:
            return 0.0
        waited = self.queue.clock.now() - entry.oldest_pending_at
        return max(0.0, waited.total_seconds())


class QueueCollector:
    """A ``prometheus_client`` collector of the queue's state per job type,
    read with ``get_queue_stats()`` (needs ``dataqueue[prometheus]``).

    Metrics: ``dataqueue_queue_jobs`` (gauge, labels ``job_type``,
    ``status``), ``dataqueue_queue_oldest_pending_age_seconds`` (gauge,
    label ``job_type``: how long the oldest due pending job has waited, 0
    when none), ``dataqueue_queue_up`` (1 when the last read succeeded) and
    ``dataqueue_queue_read_seconds`` (how long it took). A scrape within
    ``max_age`` seconds of the last read reuses it, so many scrapers cost
    the store one read.

    Args:
        queue: A ``JobQueue`` (then scrapes must come from another thread
            than its event loop's, as ``prometheus_client``'s server does)
            or a ``SyncJobQueue``.
        loop: The event loop the ``JobQueue`` runs on (default: the running
            one when the collector is made).
        max_age: Seconds a read is reused.
        timeout: Seconds a read may take before the scrape reports the queue
            down.

    Example:
        ``registry.register(dq.QueueCollector(queue))``
    """

    def __init__(
        self,
        queue: JobQueue | SyncJobQueue,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        max_age: float = 5.0,
        timeout: float = 10.0,
    ) -> None:
        self.reader = QueueStatsReader(
            queue, loop=loop, max_age=max_age, timeout=timeout, where="QueueCollector"
        )

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        reader = self.reader
        stats = reader.stats()
        up = GaugeMetricFamily(
            "dataqueue_queue_up", "1 when the store answered the last read."
        )
        up.add_metric([], 0.0 if stats is None else 1.0)
        yield up
        yield GaugeMetricFamily(
            "dataqueue_queue_read_seconds",
            "How long the last read of the queue's numbers took.",
            value=reader.read_seconds,
        )
        if stats is None:
            return
        jobs = GaugeMetricFamily(
            "dataqueue_queue_jobs",
            "Jobs in the store, per job type and status.",
            labels=["job_type", "status"],
        )
        oldest = GaugeMetricFamily(
            "dataqueue_queue_oldest_pending_age_seconds",
            "How long the oldest due pending job of the type has waited.",
            labels=["job_type"],
        )
        for entry in stats:
            for status, count in entry.counts.items():
                jobs.add_metric([entry.job_type, status.value], float(count))
            oldest.add_metric([entry.job_type], reader.oldest_pending_seconds(entry))
        yield jobs
        yield oldest
