"""Who did what: every action taken through the dashboard (each POST that
changed something) is a record of the ``dataqueue.dashboard.audit`` logger,
naming the identity that did it. An action that changes a job is also in the
job's own events: the change runs inside ``acting(request)``, so the event it
appends (``cancelled``, ``retried``, ``added`` by a cron run-now,
``resumed`` by a completed token) holds ``"by": <identity>``. Deleted jobs
lose their events; their audit is the log record alone.

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
from dataqueue.dashboard.security import basic_user

logger = logging.getLogger("dataqueue.dashboard.audit")

IDENTITY_KEY = "dataqueue.identity"
STATE_USER = "dataqueue_user"


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


def record(request: Request, action: str, **details: Any) -> dict[str, Any]:
    """Log ``action`` by the request's identity, with ``details``; returns
    the record as logged (also in the log record's ``dataqueue_audit``)."""
    entry = {
        "who": request.scope.get(IDENTITY_KEY, "unknown"),
        "action": action,
        **{name: plain(value) for name, value in details.items()},
    }
    logger.info(
        "%s: %s", entry["who"], json.dumps(entry), extra={"dataqueue_audit": entry}
    )
    return entry
