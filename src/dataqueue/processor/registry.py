"""The worker registry, as a running processor keeps it.

A processor's loop registers it when it starts (id, host, pid, start time,
job types, concurrency), sends a heartbeat with the ids of the jobs it runs
every heartbeat interval, and unregisters it when the loop ends. A heartbeat
the store refuses means a supervisor took this worker for dead (it was
silent too long, say during a store outage): it registers again, keeping its
start time. A worker killed outright stays listed until a supervisor removes
it (``Supervisor``'s ``dead_worker_timeout``).

Each heartbeat also carries the processor's counts, and first hands the
store what it did per minute since the last beat (``MinuteTally``): the
store's per-minute stats grow by one write per worker and beat, never per
job. A heartbeat that answers "quiet" (``queue.quiet_worker``) makes the
processor stop taking jobs for the rest of its life.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Sequence
from datetime import datetime

from dataqueue._commands import NewWorker, WorkerBeat
from dataqueue._looper import Looper
from dataqueue._outage import OutageLog
from dataqueue._runtime import Runtime
from dataqueue.processor.metrics import MetricsRecorder

logger = logging.getLogger("dataqueue")


class WorkerRegistration(Looper):
    """Keeps one processor registered while its loop runs."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        worker_id: str,
        job_types: Sequence[str] | None,
        concurrency: int,
        interval: float,
        running_job_ids: Callable[[], list[int]],
        metrics: MetricsRecorder,
    ) -> None:
        super().__init__()
        self.runtime = runtime
        self.worker_id = worker_id
        self.job_types = None if job_types is None else list(job_types)
        self.concurrency = concurrency
        self.interval = interval
        self._running_job_ids = running_job_ids
        self._metrics = metrics
        self.quiet = False
        """Asked to stop taking jobs (it stays so)."""
        self._started_at: datetime | None = None
        self._registered = False
        self._outage = OutageLog(f"processor {worker_id} registry")

    async def _loop(self) -> None:
        await self.beat()
        while not self.stopping:
            await self._pause(self.interval)
            if not self.stopping:
                await self.beat()

    async def beat(self) -> None:
        """Register, or refresh the registration; a store error is logged
        (once per outage) and the next beat tries again."""
        try:
            await self.record_stats()
            store = await self.runtime.store()
            now = self.runtime.now()
            if self._registered:
                answer = await store.heartbeat_worker(self._beat(), now=now)
                self._registered = answer != "unregistered"
                if answer == "quiet" and not self.quiet:
                    logger.info(
                        "processor %s: asked to stop taking jobs", self.worker_id
                    )
                    self.quiet = True
                if not self._registered:
                    logger.warning(
                        "processor %s: the worker registry had dropped it "
                        "(silent too long); registering again",
                        self.worker_id,
                    )
            if not self._registered:
                await store.register_worker(self._info(now), now=now)
                self._registered = True
        except Exception as error:
            self._outage.failed(error)
            return
        self._outage.recovered()

    async def record_stats(self) -> None:
        """Hand the store what was done per minute since the last call; on
        an error it is kept for the next call, and the error raised."""
        stats = self._metrics.minutes.take()
        if not stats:
            return
        try:
            store = await self.runtime.store()
            await store.record_minute_stats(stats, now=self.runtime.now())
        except BaseException:
            self._metrics.minutes.give_back(stats)
            raise

    def _beat(self) -> WorkerBeat:
        metrics = self._metrics
        return WorkerBeat(
            worker_id=self.worker_id,
            running_job_ids=self._running_job_ids(),
            processed=metrics.completed,
            failed=metrics.failed + metrics.timed_out + metrics.rejected,
        )

    def _info(self, now: datetime) -> NewWorker:
        if self._started_at is None:
            self._started_at = now
        beat = self._beat()
        return NewWorker(
            id=self.worker_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            started_at=self._started_at,
            last_heartbeat=now,
            job_types=self.job_types,
            concurrency=self.concurrency,
            running_job_ids=beat.running_job_ids,
            processed=beat.processed,
            failed=beat.failed,
            quiet=self.quiet,
        )

    async def close(self) -> None:
        """Stop the heartbeats and unregister."""
        self.stop()
        await self._join(None)
        if not self._registered:
            return
        self._registered = False
        try:
            await self.record_stats()
            store = await self.runtime.store()
            await store.unregister_worker(self.worker_id)
        except Exception as error:
            logger.warning(
                "processor %s: could not unregister (a supervisor will remove it "
                "once it is silent): %s",
                self.worker_id,
                error,
            )
