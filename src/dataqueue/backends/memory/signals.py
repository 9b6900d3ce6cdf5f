"""Wake-ups that cross event loops: a named memory store may be shared by
queues running on different loops and threads of one process (a
``connect_sync`` queue runs on its own thread)."""

from __future__ import annotations

import asyncio
import contextlib
import threading


class Signals:
    """Fans one kind of signal out to every subscription, whatever its loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: set[Subscription] = set()

    def notify(self) -> None:
        with self._lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            subscription.signal()

    async def subscribe(self) -> Subscription:
        subscription = Subscription(self, asyncio.get_running_loop())
        with self._lock:
            self._subscriptions.add(subscription)
        return subscription

    def discard(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)


class Subscription:
    """One waiter's signals, set on the loop it waits on."""

    def __init__(self, signals: Signals, loop: asyncio.AbstractEventLoop) -> None:
        self._signals = signals
        self._loop = loop
        self._event = asyncio.Event()

    def signal(self) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._event.set()
            return
        # A closed loop raises: nobody waits on it any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._event.set)

    async def wait(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return False
        self._event.clear()
        return True

    async def close(self) -> None:
        self._signals.discard(self)
