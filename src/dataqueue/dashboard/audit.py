"""Who did what: every action taken through the dashboard (each POST that
changed something) is a record of the ``dataqueue.dashboard.audit`` logger,
naming the identity that did it, and is stored in the queue's audit trail
(``queue.record_action``; the dashboard's Activity list and
``GET /api/activity`` read it back). A failure to store it is logged
(``dataqueue.dashboard.audit``, level ERROR) and does not undo the action,
which has already happened. An action that changes a job is also in the
job's own events: the change runs inside ``acting(request)``, so the event it
appends (``cancelled``, ``retried``, ``added`` by a cron run-now,
``resumed`` by a completed token) holds ``"by": <identity>``. Deleted jobs
lose their events; their audit is the log record and the stored action.

The identity is the HTTP Basic user with ``auth=("user", "password")``;
with an ``auth=`` function, what it stored in ``request.state.dataqueue_user``
(else the display name of an authenticated ``request.user``, as Starlette's
``AuthenticationMiddleware`` sets it, else ``"auth"``); without ``auth=``,
``"access-token"`` (whoever holds the token on this machine).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.requests import Request

from dataqueue._actor import acting_as
from dataqueue.dashboard._json import plain
from dataqueue.dashboard._queue import QueueView
from dataqueue.dashboard.security import basic_user

logger = logging.getLogger("dataqueue.dashboard.audit")

IDENTITY_KEY = "dataqueue.identity"
STATE_USER = "dataqueue_user"
# The longest identity the audit trail stores (a name's limit).
WHO_MAX_CHARS = 200
# A detail whose JSON text is longer (a cron edit's new payload) is stored
# as a note of its size; the log record has it whole.
DETAIL_MAX_CHARS = 4096


def identity_of(request: Request, *, basic: bool, token: bool) -> str:
    """Who sends ``request``, once it was let in (see the module's doc)."""
    if token:
        return "access-token"
    if basic:
        return basic_user(request)
    named = getattr(request.state, STATE_USER, None)
    if isinstance(named, str) and named:
        return named
    user = request.scope.get("user")
    if user is not None and getattr(user, "is_authenticated", False):
        return str(getattr(user, "display_name", "") or "auth")
    return "auth"


@contextmanager
def acting(request: Request) -> Iterator[None]:
    """Job changes made inside the block record the request's identity in
    their event (``"by"``)."""
    with acting_as(request.scope.get(IDENTITY_KEY, "unknown")):
        yield


async def record(
    queue: QueueView, request: Request, action: str, **details: Any
) -> dict[str, Any]:
    """Log ``action`` by the request's identity, with ``details``, and store
    it in the queue's audit trail; returns the record as logged (also in the
    log record's ``dataqueue_audit``)."""
    who = str(request.scope.get(IDENTITY_KEY, "unknown"))
    stored = {name: plain(value) for name, value in details.items()}
    entry = {"who": who, "action": action, **stored}
    logger.info("%s: %s", who, json.dumps(entry), extra={"dataqueue_audit": entry})
    try:
        await queue.record_action(who[:WHO_MAX_CHARS], action, _bounded(stored))
    except Exception:
        logger.exception(
            "%s: %s was done but could not be stored in the audit trail",
            who,
            action,
            extra={"dataqueue_audit": entry},
        )
    return entry


def _bounded(details: dict[str, Any]) -> dict[str, Any]:
    """``details`` with each value over ``DETAIL_MAX_CHARS`` of JSON text
    (ASCII-escaped, so never fewer bytes than characters) replaced by a note
    of its size."""
    bounded: dict[str, Any] = {}
    for name, value in details.items():
        size = len(json.dumps(value))
        bounded[name] = (
            value
            if size <= DETAIL_MAX_CHARS
            else f"({size} characters of JSON, in the log record only)"
        )
    return bounded
