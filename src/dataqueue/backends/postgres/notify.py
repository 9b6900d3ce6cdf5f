"""LISTEN/NOTIFY wake-ups: a job added by any process wakes idle processors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg import sql

from dataqueue.backends._wakeup import Listener

# NOTIFY rejects channel names longer than this (NAMEDATALEN - 1).
MAX_CHANNEL_LENGTH = 63


def channel_for(schema: str) -> str:
    """The channel that ``add_jobs`` notifies for ``schema``.

    Long schema names are cut to fit; two schemas sharing a cut name only
    wake each other's processors for nothing.
    """
    return f"dataqueue_{schema}"[:MAX_CHANNEL_LENGTH]


def job_listener(
    connect: Callable[[], Awaitable[psycopg.AsyncConnection[Any]]], channel: str
) -> Listener:
    """A WakeupHub listener on its own autocommit connection (never a pooled
    one: LISTEN would outlive its borrower)."""

    async def listen(notify: Callable[[], None]) -> None:
        async with await connect() as conn:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            # Jobs added before LISTEN took effect sent no signal we can see.
            notify()
            async for _ in conn.notifies():
                notify()

    return listen
