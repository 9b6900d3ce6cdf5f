"""Watching a job and sending server-sent events.

``job_updates`` is a watch loop: no store pushes "this job changed" to
another process, so it reads the job (one cheap ``get_job``) every
``poll_interval`` seconds and yields it when it differs from the last read.
It serves the status app and the dashboard, async or blocking queue alike.
``event_stream`` turns any async iterator of ``ServerSentEvent`` into a
``text/event-stream`` response with a comment every ``heartbeat_interval``
seconds while nothing happens, so proxies keep the connection open and a
closed client is noticed. ``StreamLimits`` caps how many streams an app
and each client keep open, and a client that stops reading is dropped after
``SEND_TIMEOUT`` seconds instead of holding its unsent events in memory.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Mapping,
)
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from dataqueue.errors import StoreUnavailableError
from dataqueue.models import JobRecord
from dataqueue.queue import JobQueue
from dataqueue.sync import SyncJobQueue

logger = logging.getLogger("dataqueue.web")

HEARTBEAT = b": heartbeat\n\n"
# A client that has not taken an event for this long is not reading.
SEND_TIMEOUT = 30.0
_LINE_BREAK = re.compile(r"\r\n|\r|\n")

STREAM_HEADERS = {
    "Cache-Control": "no-cache",
    # nginx buffers responses by default, which would hold events back.
    "X-Accel-Buffering": "no",
}


async def job_updates(
    queue: JobQueue | SyncJobQueue, job_id: int, *, poll_interval: float = 0.5
) -> AsyncIterator[JobRecord]:
    """Yield the job now and again each time it changes; end after yielding a
    final state (``JobRecord.is_final``), or when the job does not exist.
    While the store is unavailable it keeps trying (one warning logged)."""
    last: JobRecord | None = None
    outage = False
    while True:
        try:
            job = await _read_job(queue, job_id)
        except StoreUnavailableError as error:
            # Wait the store out: the watcher sees the next change once it is
            # back, and heartbeats keep the stream open meanwhile.
            if not outage:
                logger.warning("job %s: updates paused, %s", job_id, error)
            outage = True
        else:
            outage = False
            if job is None:
                return
            if job != last:
                last = job
                yield job
            if job.is_final:
                return
        await asyncio.sleep(poll_interval)


async def _read_job(queue: JobQueue | SyncJobQueue, job_id: int) -> JobRecord | None:
    if isinstance(queue, JobQueue):
        return await queue.get_job(job_id)
    # The blocking queue waits on its own loop thread; this loop keeps
    # serving meanwhile.
    return await asyncio.to_thread(queue.get_job, job_id)


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One event of a ``text/event-stream``: ``data`` with an optional event
    name (the browser's ``addEventListener`` type) and id (sent back by a
    reconnecting ``EventSource`` as ``Last-Event-ID``)."""

    data: str
    event: str | None = None
    id: str | None = None

    def encode(self) -> bytes:
        lines = []
        if self.event is not None:
            lines.append(f"event: {_one_line(self.event)}")
        if self.id is not None:
            lines.append(f"id: {_one_line(self.id)}")
        lines.extend(f"data: {line}" for line in _LINE_BREAK.split(self.data))
        return ("\n".join(lines) + "\n\n").encode()


def _one_line(field: str) -> str:
    if "\n" in field or "\r" in field:
        raise ValueError(f"an event name or id must be one line, got {field!r}")
    return field


class StreamLimits:
    """How many event streams an app keeps open, in all and per client
    address; ``acquire`` hands out a slot or None when one limit is full."""

    def __init__(self, total: int, per_client: int, where: str) -> None:
        for name, value in (
            ("max_streams", total),
            ("max_streams_per_client", per_client),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{where}: {name} must be an int >= 1, got {value!r}")
        self.total = total
        self.per_client = per_client
        self.open: Counter[str] = Counter()

    def acquire(self, request: Request) -> Callable[[], None] | None:
        """A slot for ``request``'s client, released by calling the result
        (once), or None when the app or this client has no slot left."""
        client = request.client.host if request.client else ""
        if self.open.total() >= self.total or self.open[client] >= self.per_client:
            return None
        self.open[client] += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.open[client] -= 1
                if not self.open[client]:
                    del self.open[client]

        return release


def event_stream(
    events: AsyncIterable[ServerSentEvent],
    *,
    heartbeat_interval: float = 15.0,
    headers: Mapping[str, str] | None = None,
    on_close: Callable[[], None] | None = None,
    send_timeout: float = SEND_TIMEOUT,
) -> StreamingResponse:
    """A ``text/event-stream`` response sending ``events`` as they come, with
    heartbeat comments in between, and ending when ``events`` ends. When the
    client leaves, or takes no event for ``send_timeout`` seconds, ``events``
    is closed (an async generator's ``finally`` runs) and ``on_close`` called
    by the time the response returns."""
    return _EventStreamResponse(
        _with_heartbeats(events, heartbeat_interval),
        media_type="text/event-stream",
        headers={**STREAM_HEADERS, **(headers or {})},
        on_close=on_close,
        send_timeout=send_timeout,
    )


class _EventStreamResponse(StreamingResponse):
    def __init__(
        self,
        content: AsyncGenerator[bytes, None],
        *,
        media_type: str,
        headers: Mapping[str, str],
        on_close: Callable[[], None] | None,
        send_timeout: float,
    ) -> None:
        super().__init__(content, media_type=media_type, headers=headers)
        self._chunks = content
        self._on_close = on_close
        self._send_timeout = send_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_or_give_up(message: Message) -> None:
            # The server waits for the socket to drain before taking more;
            # a client that never reads would hold this stream forever.
            async with asyncio.timeout(self._send_timeout):
                await send(message)

        # Starlette leaves the iterator suspended when the client leaves;
        # close it now rather than whenever it is garbage-collected.
        try:
            await super().__call__(scope, receive, send_or_give_up)
        except TimeoutError:
            logger.warning(
                "event stream %s: dropped a client that read nothing for %gs",
                scope.get("path"),
                self._send_timeout,
            )
        finally:
            try:
                await self._chunks.aclose()
            finally:
                if self._on_close is not None:
                    self._on_close()


async def _with_heartbeats(
    events: AsyncIterable[ServerSentEvent], interval: float
) -> AsyncGenerator[bytes, None]:
    iterator = aiter(events)
    # The next event is awaited in its own task so that waiting for it can
    # time out (to send a heartbeat) without cancelling the producer.
    pending: asyncio.Future[ServerSentEvent] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(iterator))
            done, _ = await asyncio.wait({pending}, timeout=interval)
            if not done:
                yield HEARTBEAT
                continue
            finished, pending = pending, None
            try:
                event = finished.result()
            except StopAsyncIteration:
                return
            yield event.encode()
    finally:
        # Stop the producer where it waits (its own cleanup then runs in its
        # task), or close it if it is idle.
        if pending is not None:
            pending.cancel()
        elif isinstance(iterator, AsyncGenerator):
            await iterator.aclose()
