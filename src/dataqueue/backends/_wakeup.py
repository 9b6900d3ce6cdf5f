"""Fan "a job was added" signals out to every idle processor in the process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger("dataqueue")

Listener = Callable[[Callable[[], None]], Awaitable[None]]
"""Runs until cancelled, calling ``notify()`` for each signal from the store."""

RELISTEN_DELAY = 1.0


class WakeupHub:
    """One listener per backend, however many processors subscribe.

    In-process adds call ``notify()`` directly; the optional ``listener``
    carries signals from other processes (LISTEN/NOTIFY, pub/sub).
    """

    def __init__(self, listener: Listener | None = None) -> None:
        self._listener = listener
        self._subscribers: set[_Subscription] = set()
        self._task: asyncio.Task[None] | None = None

    def notify(self) -> None:
        for subscription in self._subscribers:
            subscription.event.set()

    async def subscribe(self) -> _Subscription:
        subscription = _Subscription(self)
        self._subscribers.add(subscription)
        if self._listener is not None and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._listen())
        return subscription

    async def _unsubscribe(self, subscription: _Subscription) -> None:
        self._subscribers.discard(subscription)
        if not self._subscribers:
            await self.close()

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _listen(self) -> None:
        assert self._listener is not None
        while True:
            try:
                await self._listener(self.notify)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("job wake-up listener failed; retrying", exc_info=True)
            # Signals may have been missed while disconnected: let pollers look.
            self.notify()
            await asyncio.sleep(RELISTEN_DELAY)


class _Subscription:
    def __init__(self, hub: WakeupHub) -> None:
        self._hub = hub
        self.event = asyncio.Event()

    async def wait(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self.event.wait(), timeout)
        except TimeoutError:
            return False
        self.event.clear()
        return True

    async def close(self) -> None:
        await self._hub._unsubscribe(self)
