"""Signals from Redis pub/sub: "a job was added" and "a job became final",
relayed to a process's waiters across reconnects."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisClusterException, RedisError

logger = logging.getLogger("dataqueue")

LISTEN_POLL = 1.0
LISTEN_BACKOFF_FIRST = 0.1
LISTEN_BACKOFF_MAX = 5.0


async def listen(
    client: Any, where: str, channel: str, what: str, notify: Callable[[], None]
) -> None:
    """Relay the messages of ``channel`` until cancelled, reconnecting
    with backoff.

    A signal each time the server confirms the subscription, the first
    time too: changes made before it sent no message we could see, so a
    caller that subscribes, reads, then waits misses none. One ERROR when
    the connection is lost, one INFO when it is back.
    """
    task = asyncio.current_task()
    delay = LISTEN_BACKOFF_FIRST
    outage = False
    while True:
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(channel)
            delay = LISTEN_BACKOFF_FIRST
            # redis-py swallows a cancel that lands while it connects, so
            # the loop checks for one itself instead of blocking in listen().
            while task is None or not task.cancelling():
                message = await pubsub.get_message(timeout=LISTEN_POLL)
                if message is None:
                    continue
                if message["type"] == "subscribe" and outage:
                    logger.info("%s: %ss are back", where, what)
                    outage = False
                notify()
            raise asyncio.CancelledError
        except (RedisError, RedisClusterException, OSError) as error:
            if not outage:
                logger.error(
                    "%s: lost the %s subscription (%s); reconnecting",
                    where,
                    what,
                    str(error).strip() or type(error).__name__,
                )
                outage = True
        finally:
            # Closing a connection that is already gone may fail too.
            with contextlib.suppress(RedisError, RedisClusterException, OSError):
                await pubsub.aclose()
        await asyncio.sleep(delay)
        delay = min(delay * 2, LISTEN_BACKOFF_MAX)
