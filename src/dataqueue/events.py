"""Queue events and processor hooks: callbacks told about confirmed changes.

An event is emitted in the process that caused a change, once the store has
confirmed it: ``job:added`` after the insert, a processor's ``job:completed``
after the flush that wrote the outcome, and so on. Every listener call, and
every processor hook, goes through one ``CallbackRunner``: it runs the call
on its own (an ``async def`` as a task, a plain function on a small pool of
daemon threads), at most ``MAX_RUNNING_CALLBACKS`` at once, each stopped
after ``CALLBACK_TIMEOUT`` seconds. So a callback that raises, blocks or
hangs is logged and never holds up a claim, a settle or another callback.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dataqueue.models import FailureReason, JobRecord

logger = logging.getLogger("dataqueue")

EVENT_NAMES: tuple[str, ...] = (
    "job:added",
    "job:processing",
    "job:completed",
    "job:failed",
    "job:cancelled",
    "job:retried",
    "job:waiting",
    "job:progress",
    "job:output",
    "error",
)
"""What ``queue.on(event, callback)`` accepts."""

CALLBACK_TIMEOUT = 30.0
"""Seconds a callback may run; then it is cancelled (an ``async def``) or
left to finish on its own in its thread (a plain function), and a warning
is logged."""

MAX_RUNNING_CALLBACKS = 100
"""Callbacks running at once (per queue); the others wait their turn."""

MAX_QUEUED_CALLBACKS = 10_000
"""Callbacks started or waiting (per queue); beyond this, calls are dropped
with a warning, so listeners that cannot keep up never exhaust memory."""

CALLBACK_THREADS = 32
"""Daemon threads (per process) that run plain-function callbacks, started
as needed. When every one is busy (say, with callbacks that block), further
plain-function callbacks wait for a free one; ``async def`` ones do not."""

CLOSE_GRACE = 5.0
"""Seconds ``queue.close()`` waits for callbacks still running."""

Callback = Callable[["QueueEvent"], Any]
"""A listener or hook: ``def`` or ``async def``, taking one ``QueueEvent``."""


@dataclass(frozen=True, slots=True)
class QueueEvent:
    """What a listener (``queue.on``) or a processor hook receives.

    Attributes:
        name: The event: ``job:added``, ``job:processing``, ``job:completed``,
            ``job:failed``, ``job:cancelled``, ``job:retried``,
            ``job:waiting``, ``job:progress``, ``job:output`` or ``error``.
        job_id: The job concerned (None for an ``error`` not about a job).
        job_type: Its type, when known.
        job: The job as its attempt claimed it (status ``processing``), for
            events of a processor; as read after the change for
            ``job:cancelled`` and ``job:retried``; None for ``job:added``.
        worker_id: The processor that caused the event, if any.
        error: ``job:failed``: the failure message; ``error``: the error's text.
        failure_reason: ``job:failed``: why the attempt failed.
        will_retry: ``job:failed``: True when another attempt is scheduled.
        progress: ``job:progress``: the percentage stored.
        output: ``job:completed``: the output stored (None when the handler
            returned nothing or the value could not be stored);
            ``job:output``: the value ``ctx.set_output`` stored.
        exception: ``error``, and ``job:failed`` after a handler raised: the
            exception itself.
        duration_seconds: ``job:completed`` / ``job:failed`` of a processor:
            how long the attempt ran.
        at: When the change was confirmed, by the queue's clock.
    """

    name: str
    job_id: int | None = None
    job_type: str | None = None
    job: JobRecord | None = None
    worker_id: str | None = None
    error: str | None = None
    failure_reason: FailureReason | None = None
    will_retry: bool | None = None
    progress: int | None = None
    output: Any = None
    exception: BaseException | None = None
    duration_seconds: float | None = None
    at: datetime | None = None


def _check_event(event: str, where: str) -> None:
    if event not in EVENT_NAMES:
        raise ValueError(
            f"{where}: unknown event {event!r}; events: {', '.join(EVENT_NAMES)}"
        )


def _is_async(function: Callable[..., Any]) -> bool:
    call = getattr(function, "__call__", None)  # noqa: B004 - callable objects
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(call)


def check_callback(callback: Any, where: str, name: str) -> Callback | None:
    """A hook or listener argument: None or a callable."""
    if callback is None:
        return None
    if not callable(callback):
        raise TypeError(
            f"{where}: {name} must be a function, got {type(callback).__name__}"
        )
    checked: Callback = callback
    return checked


class _DaemonThreads:
    """Threads for plain-function callbacks. Daemon threads, unlike a
    ``ThreadPoolExecutor``'s, never hold up the interpreter's exit, so a
    callback that hangs cannot keep a stopped worker alive. Each call takes
    an idle thread, or starts one while there are fewer than ``size``."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._work: queue.SimpleQueue[
            tuple[Callable[[Any], Any], Any, concurrent.futures.Future[Any]]
        ] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0
        self._waiting = 0  # calls queued while every thread was busy

    def submit(
        self, function: Callable[[Any], Any], argument: Any
    ) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._lock:
            # Counted here, not when a thread picks the call up, so that two
            # quick calls never both count on the same idle thread.
            start = not self._idle and self._threads < self._size
            if self._idle:
                self._idle -= 1
            elif start:
                self._threads += 1
            else:
                self._waiting += 1
        self._work.put((function, argument, future))
        if start:
            threading.Thread(
                target=self._serve, name="dataqueue-callback", daemon=True
            ).start()
        return future

    def _serve(self) -> None:
        while True:
            function, argument, future = self._work.get()
            # A call that timed out while queued was cancelled: skip it.
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(function(argument))
                except BaseException as error:
                    future.set_exception(error)
            with self._lock:
                if self._waiting:
                    self._waiting -= 1  # this thread takes a queued call next
                else:
                    self._idle += 1


_threads = _DaemonThreads(CALLBACK_THREADS)


class CallbackRunner:
    """Runs callbacks without making the caller wait (see the module doc)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._dropped = 0

    def __len__(self) -> int:
        """Callbacks started or waiting."""
        return len(self._tasks)

    def call(self, callback: Callback, event: QueueEvent, what: str) -> None:
        """Start ``callback(event)``; must be called on the event loop.
        ``what`` names the callback in log lines."""
        if len(self._tasks) >= MAX_QUEUED_CALLBACKS:
            if self._dropped % 1000 == 0:
                logger.warning(
                    "%d callback(s) are running or waiting; %s for %s dropped "
                    "(%d dropped so far): callbacks are slower than the jobs",
                    len(self._tasks),
                    what,
                    event.name,
                    self._dropped + 1,
                )
            self._dropped += 1
            return
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._slots = loop, asyncio.Semaphore(MAX_RUNNING_CALLBACKS)
        task = loop.create_task(self._run(callback, event, what))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def call_each(
        self, callbacks: Iterable[Callback], event: QueueEvent, what: str
    ) -> None:
        for callback in callbacks:
            self.call(callback, event, what)

    async def _run(self, callback: Callback, event: QueueEvent, what: str) -> None:
        assert self._slots is not None
        async with self._slots:
            try:
                async with asyncio.timeout(CALLBACK_TIMEOUT):
                    if _is_async(callback):
                        await callback(event)
                    else:
                        result = await asyncio.wrap_future(
                            _threads.submit(callback, event)
                        )
                        if inspect.isawaitable(result):
                            await result
            except TimeoutError:
                logger.warning(
                    "%s for %s still running after %gs; no longer waited for",
                    what,
                    event.name,
                    CALLBACK_TIMEOUT,
                )
            except Exception:
                logger.exception("%s for %s raised", what, event.name)

    async def settle(self, timeout: float) -> None:
        """Wait until no callback is running or waiting (those a callback
        starts included).

        Raises:
            TimeoutError: some still ran after ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._tasks:
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(
                    f"{len(self._tasks)} listener or hook call(s) still running "
                    f"after {timeout:g}s"
                )
            await asyncio.wait(list(self._tasks), timeout=left)

    async def drain(self, timeout: float = CLOSE_GRACE) -> None:
        """Wait up to ``timeout`` seconds for the callbacks started so far,
        then cancel those still running."""
        tasks = list(self._tasks)
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=timeout)
        if late:
            logger.warning(
                "%d callback(s) still running after %gs; cancelled", len(late), timeout
            )
            for task in late:
                task.cancel()
            await asyncio.wait(late)


@dataclass(frozen=True, eq=False)
class _Listener:
    """One subscription (compared by identity: the same callback may be
    subscribed twice, and each subscription is removed on its own)."""

    callback: Callback
    once: bool


class EventBus:
    """The listeners of one queue's events (``queue.on``)."""

    def __init__(self, runner: CallbackRunner) -> None:
        self._runner = runner
        # Replaced, never changed in place, under the lock: a SyncJobQueue
        # subscribes from the caller's thread while the loop thread emits.
        self._listeners: dict[str, tuple[_Listener, ...]] = {}
        self._lock = threading.Lock()

    def on(
        self, event: str, callback: Callback, *, once: bool = False, where: str = "on"
    ) -> Callable[[], None]:
        """Call ``callback(QueueEvent)`` on each ``event`` (only the next one
        with ``once``); returns a function that unsubscribes it."""
        _check_event(event, where)
        if check_callback(callback, where, "callback") is None:
            raise TypeError(f"{where}: callback must be a function, got None")
        listener = _Listener(callback, once)
        with self._lock:
            self._listeners[event] = (*self._listeners.get(event, ()), listener)

        def unsubscribe() -> None:
            self._remove_entry(event, listener)

        return unsubscribe

    def off(self, event: str, callback: Callback) -> None:
        """Unsubscribe ``callback`` from ``event`` (its latest subscription;
        nothing when it has none)."""
        _check_event(event, "off")
        self._remove(event, lambda entry: entry.callback == callback, last=True)

    def remove_all_listeners(self, event: str | None = None) -> None:
        """Unsubscribe every listener of ``event``, or of every event."""
        with self._lock:
            if event is None:
                self._listeners = {}
                return
            _check_event(event, "remove_all_listeners")
            self._listeners = {k: v for k, v in self._listeners.items() if k != event}

    def _remove(
        self, event: str, matches: Callable[[_Listener], bool], last: bool = False
    ) -> bool:
        with self._lock:
            listeners = list(self._listeners.get(event, ()))
            found = [entry for entry in listeners if matches(entry)]
            if not found:
                return False
            listeners.remove(found[-1] if last else found[0])
            self._listeners[event] = tuple(listeners)
            return True

    def wants(self, event: str) -> bool:
        """True when ``event`` has a listener."""
        return bool(self._listeners.get(event))

    def emit(self, event: QueueEvent) -> None:
        callbacks = []
        for entry in self._listeners.get(event.name, ()):
            # A once-listener is called by the emit that removes it.
            if not entry.once or self._remove_entry(event.name, entry):
                callbacks.append(entry.callback)
        self._runner.call_each(callbacks, event, "listener")

    def _remove_entry(self, event: str, listener: _Listener) -> bool:
        return self._remove(event, lambda entry: entry is listener)

    def emit_all(self, events: Iterable[QueueEvent]) -> None:
        for event in events:
            self.emit(event)


HOOK_EVENTS: Mapping[str, str] = {
    "job:processing": "on_job_start",
    "job:completed": "on_job_complete",
    "job:failed": "on_job_fail",
}
"""The processor hook called for each event of its flushes."""


class ProcessorHooks:
    """``on_job_start`` / ``on_job_complete`` / ``on_job_fail`` of a processor."""

    def __init__(
        self,
        runner: CallbackRunner,
        *,
        on_job_start: Any = None,
        on_job_complete: Any = None,
        on_job_fail: Any = None,
        where: str = "create_processor",
    ) -> None:
        self._runner = runner
        given = {
            "on_job_start": on_job_start,
            "on_job_complete": on_job_complete,
            "on_job_fail": on_job_fail,
        }
        self._hooks: dict[str, Callback] = {}
        for event, name in HOOK_EVENTS.items():
            hook = check_callback(given[name], where, name)
            if hook is not None:
                self._hooks[event] = hook

    def wants(self, event: str) -> bool:
        """True when a hook is set for ``event``."""
        return event in self._hooks

    def fire(self, events: Iterable[QueueEvent]) -> None:
        if not self._hooks:
            return
        for event in events:
            hook = self._hooks.get(event.name)
            if hook is not None:
                self._runner.call(hook, event, HOOK_EVENTS[event.name])
