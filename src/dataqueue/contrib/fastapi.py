"""dataqueue in FastAPI and Starlette: a lifespan that opens and closes the
queue (and can run a worker inside the app), and a dependency that hands
the queue to routes.

    from fastapi import Depends, FastAPI
    from dataqueue.contrib.fastapi import DataQueue

    jobs = DataQueue("postgresql://localhost/app", handlers=handlers, run_worker=True)
    app = FastAPI(lifespan=jobs.lifespan)

    @app.post("/signup")
    async def signup(email: str, queue: dq.JobQueue = Depends(jobs.queue)):
        await queue.add_job("send_welcome", {"to": email})

Nothing here imports FastAPI or Starlette: the lifespan is an async context
manager of the app, as both frameworks take it. See docs/fastapi.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from dataqueue.connect import connect
from dataqueue.queue import JobQueue
from dataqueue.types import Handlers


class DataQueue:
    """One queue for one app: ``lifespan`` for the app, ``queue`` for routes.

    Args:
        url: The store (default: ``$DATAQUEUE_URL``, then a local SQLite file).
        handlers: Job type to handler, for the worker and the dashboard.
        run_worker: Also run a processor and a supervisor inside the app
            while it serves (one per app process; fine for small sites,
            ``dataqueue worker`` beside the app for the rest).
        processor_options: Keyword arguments of ``create_processor``.
        drain_timeout: Seconds running jobs get to finish at shutdown.
        **connect_options: Keyword arguments of ``dataqueue.connect``.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        handlers: Handlers | None = None,
        run_worker: bool = False,
        processor_options: Mapping[str, Any] | None = None,
        drain_timeout: float = 30,
        **connect_options: Any,
    ) -> None:
        if run_worker and not handlers:
            raise ValueError("DataQueue(run_worker=True) needs handlers=")
        self.url = url
        self.handlers = dict(handlers or {})
        self.run_worker = run_worker
        self.processor_options = dict(processor_options or {})
        self.drain_timeout = drain_timeout
        self.connect_options = connect_options
        self._queue: JobQueue | None = None

    @asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[dict[str, Any]]:
        """Open the queue (and start the worker) for as long as the app runs.

        Yields the lifespan state ``{"dataqueue": queue}`` (Starlette's
        ``request.state.dataqueue``). To combine with a lifespan of your
        own, enter it there: ``async with jobs.lifespan(app): yield``.
        """
        queue = connect(self.url, **self.connect_options)
        await queue.open()
        processor = supervisor = None
        if self.run_worker:
            processor = queue.create_processor(self.handlers, **self.processor_options)
            supervisor = queue.create_supervisor()
            processor.start_in_background()
            supervisor.start_in_background()
        self._queue = queue
        try:
            yield {"dataqueue": queue}
        finally:
            self._queue = None
            if processor is not None and supervisor is not None:
                await processor.stop_and_drain(self.drain_timeout)
                await supervisor.stop_and_drain(self.drain_timeout)
            await queue.close()

    def queue(self) -> JobQueue:
        """The open queue: a FastAPI dependency (``Depends(jobs.queue)``), or
        call it anywhere while the app runs."""
        if self._queue is None:
            raise RuntimeError(
                "the queue is open only while the app runs: pass "
                "lifespan=jobs.lifespan to FastAPI() or Starlette()"
            )
        return self._queue
