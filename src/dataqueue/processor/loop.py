"""Processor: claim batches, run them with bounded concurrency, wake on new jobs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dataqueue import _validate as v
from dataqueue.backends.protocol import Backend
from dataqueue.processor.execute import JobRun
from dataqueue.types import Duration, Handlers

if TYPE_CHECKING:
    from dataqueue.queue import JobQueue

logger = logging.getLogger("dataqueue")


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Processor:
    """Runs jobs of one queue. Create it with ``queue.create_processor()``."""

    def __init__(
        self,
        queue: JobQueue,
        handlers: Handlers,
        *,
        worker_id: str | None = None,
        batch_size: int = 10,
        concurrency: int = 3,
        poll_interval: Duration = 5,
        on_error: Callable[[BaseException], Any] | None = None,
        verbose: bool = False,
        job_type: str | list[str] | None = None,
    ) -> None:
        where = "create_processor"
        for name, handler in handlers.items():
            if not callable(handler):
                raise TypeError(f"{where}: handler for {name!r} is not callable")
        self.queue = queue
        self.handlers = dict(handlers)
        self.worker_id = worker_id or default_worker_id()
        self.batch_size = v.check_int(batch_size, where, "batch_size", minimum=1)
        self.concurrency = v.check_int(concurrency, where, "concurrency", minimum=1)
        self.poll_interval = v.to_seconds(poll_interval, where, "poll_interval")
        self.on_error = on_error
        self.verbose = verbose
        if isinstance(job_type, str):
            job_type = [job_type]
        self.job_types = (
            None if job_type is None else [v.check_job_type(t, where) for t in job_type]
        )
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()

    @property
    def store(self) -> Backend:
        return self.queue.backend

    def now(self) -> datetime:
        return self.queue.clock.now()

    def report_error(self, error: BaseException) -> None:
        if self.on_error is None:
            return
        try:
            self.on_error(error)
        except Exception:
            logger.exception("on_error callback raised")

    async def start(self) -> int:
        """Claim one batch, run it (at most ``concurrency`` at a time), and
        return how many jobs ran."""
        await self._enqueue_due_cron_jobs()
        store = await self.queue._store()
        jobs = await store.claim_batch(
            self.worker_id, self.batch_size, self.job_types, now=self.now()
        )
        if not jobs:
            return 0
        slots = asyncio.Semaphore(self.concurrency)

        async def run_one(run: JobRun) -> None:
            async with slots:
                logger.info(
                    "job %s (%s) processing, attempt %s",
                    run.job.id,
                    run.job.job_type,
                    run.job.attempts,
                )
                try:
                    await run.execute()
                except Exception as error:
                    # A store error while recording the result: the job stays
                    # processing and is reclaimed later, so nothing is lost.
                    logger.exception("job %s: could not record its result", run.job.id)
                    self.report_error(error)

        tasks = [asyncio.ensure_future(run_one(JobRun(self, job))) for job in jobs]
        self._in_flight.update(tasks)
        try:
            await asyncio.gather(*tasks)
        finally:
            self._in_flight.difference_update(tasks)
        return len(jobs)

    async def _enqueue_due_cron_jobs(self) -> None:
        """Enqueue due cron schedules before a claim, so that their jobs can
        be in this very batch. One cheap store call when nothing is due; a
        failure is reported and never stops the claim."""
        try:
            await self.queue.enqueue_due_cron_jobs()
        except Exception as error:
            logger.exception(
                "processor %s: enqueueing cron jobs failed", self.worker_id
            )
            self.report_error(error)

    async def run(self) -> None:
        """Process until ``stop()``: a full batch is followed by the next claim
        at once; otherwise wait ``poll_interval`` or until a job is added."""
        self._stopping.clear()
        wakeup = await self.store.subscribe()
        try:
            while not self._stopping.is_set():
                try:
                    ran = await self.start()
                except Exception as error:
                    logger.exception("processor %s: batch failed", self.worker_id)
                    self.report_error(error)
                    ran = 0
                if ran >= self.batch_size or self._stopping.is_set():
                    continue
                await self._idle(wakeup)
        finally:
            await wakeup.close()

    async def _idle(self, wakeup: Any) -> None:
        stop = asyncio.ensure_future(self._stopping.wait())
        wake = asyncio.ensure_future(wakeup.wait(self.poll_interval))
        await asyncio.wait({stop, wake}, return_when=asyncio.FIRST_COMPLETED)
        for task in (stop, wake):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def start_in_background(self) -> None:
        """Run ``run()`` as a task on the running event loop."""
        if self.is_running():
            return
        self._stopping.clear()
        self._task = asyncio.get_running_loop().create_task(self.run())

    def stop(self) -> None:
        """Stop claiming; jobs already running finish in the background."""
        self._stopping.set()

    async def stop_and_drain(self, timeout: Duration = 30) -> None:
        """Stop claiming and wait up to ``timeout`` seconds for running jobs."""
        seconds = v.to_seconds(timeout, "stop_and_drain", "timeout")
        self.stop()
        task = self._task
        if task is None:
            return
        done, _ = await asyncio.wait({task}, timeout=seconds)
        if not done:
            logger.warning(
                "processor %s: jobs still running after %ss; they will be "
                "reclaimed by the supervisor",
                self.worker_id,
                seconds,
            )
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        elif task.exception() is not None:
            logger.error("processor %s stopped with an error", self.worker_id)
        self._task = None

    def is_running(self) -> bool:
        """True while the background loop runs."""
        return self._task is not None and not self._task.done()
