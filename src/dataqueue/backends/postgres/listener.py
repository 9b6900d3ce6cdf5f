"""LISTEN/NOTIFY wake-ups: a job added by any process wakes idle processors,
and a job finished by any process wakes whoever waits for it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg import sql

from dataqueue.backends._wakeup import Listener
from dataqueue.backends.postgres.faults import cause
from dataqueue.errors import BackendError

logger = logging.getLogger("dataqueue")

# NOTIFY rejects channel names longer than this (NAMEDATALEN - 1).
MAX_CHANNEL_LENGTH = 63
FIRST_BACKOFF = 0.05
MAX_BACKOFF = 2.0


def channel_for(schema: str) -> str:
    """The channel that ``add_jobs`` notifies for ``schema``.

    Long schema names are cut to fit; two schemas sharing a cut name only
    wake each other's processors for nothing.
    """
    return f"dataqueue_{schema}"[:MAX_CHANNEL_LENGTH]


def finished_channel_for(schema: str) -> str:
    """The channel notified when jobs of ``schema`` become final. A schema
    name has no ``:``, so it never equals a ``channel_for`` channel."""
    return f"dataqueue:finished:{schema}"[:MAX_CHANNEL_LENGTH]


def job_listener(
    connect: Callable[[], Awaitable[psycopg.AsyncConnection[Any]]],
    channel: str,
    where: Callable[[], str],
    signal: str = "new jobs",
) -> Listener:
    """A WakeupHub listener on its own autocommit connection (never a pooled
    one: LISTEN would outlive its borrower).

    It runs until cancelled: a lost connection is reconnected with backoff,
    logging one ERROR per outage and one INFO once listening again. Every
    (re)connection fires a wake-up, since jobs added while nobody listened
    sent no signal that anyone saw.
    """

    async def listen(notify: Callable[[], None]) -> None:
        backoff = FIRST_BACKOFF
        down_since: float | None = None
        loop = asyncio.get_running_loop()
        while True:
            try:
                async with await connect() as conn:
                    await conn.execute(
                        sql.SQL("LISTEN {}").format(sql.Identifier(channel))
                    )
                    if down_since is not None:
                        logger.info(
                            "%s: listening for %s again after %.1fs",
                            where(),
                            signal,
                            loop.time() - down_since,
                        )
                        down_since = None
                    backoff = FIRST_BACKOFF
                    notify()
                    async for _ in conn.notifies():
                        notify()
            except (psycopg.Error, OSError, BackendError) as error:
                if down_since is None:
                    down_since = loop.time()
                    logger.error(
                        "%s: lost the connection listening for %s, reconnecting: %s",
                        where(),
                        signal,
                        cause(error),
                    )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    return listen
