"""Who asked for a change, when a caller knows: an internal context, not
part of the public API.

A caller that acts for someone (the dashboard, for the identity its request
was let in as) wraps its call in ``acting_as(who)``. The event metadata
builders of ``_transitions`` read it, so the ``cancelled``, ``retried``,
``edited``, ``added`` and ``resumed`` (token completed) event that the
change appends holds ``"by": who``. Without it the metadata is what it
always was. It is a ``ContextVar``: it follows the call into the tasks and
threads the call hands its work to (``asyncio.to_thread``, the
``SyncJobQueue`` loop thread, the SQLite store's thread), and into nothing
else.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_ACTOR: ContextVar[str | None] = ContextVar("dataqueue_actor", default=None)


@contextmanager
def acting_as(who: str) -> Iterator[None]:
    """Changes made inside the block record ``"by": who`` in their event."""
    token = _ACTOR.set(who)
    try:
        yield
    finally:
        _ACTOR.reset(token)


def actor() -> str | None:
    """Who the current change is made for; None when no caller said."""
    return _ACTOR.get()
