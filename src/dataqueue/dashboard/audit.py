"""Who did what: every action taken through the dashboard (each POST that
changed something) is a record of the ``dataqueue.dashboard.audit`` logger,
naming the identity that did it.

The identity is the HTTP Basic user with ``auth=("user", "password")``;
with an ``auth=`` function, what it stored in ``request.state.dataqueue_user``
(else the display name of an authenticated ``request.user``, as Starlette's
``AuthenticationMiddleware`` sets it, else ``"auth"``); without ``auth=``,
``"access-token"`` (whoever holds the token on this machine).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.requests import Request

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
