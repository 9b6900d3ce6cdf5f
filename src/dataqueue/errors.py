"""Errors raised by dataqueue.

DataQueueError
 ├── BackendError            the store failed, or the call is not available on it
 │    ├── NotMigratedError   the PostgreSQL schema is missing or out of date
 │    ├── StoreUnavailableError  the store cannot be reached now; retrying may help
 │    └── StoreRefusedError  the store refused us for good (credentials, database)
 ├── UnsupportedInForceKill  a JobContext feature used inside a force-killed handler
 ├── TokenError              complete_token on an unknown, completed or expired token
 ├── HandlerImportError      a handler could not be imported by module path
 └── JobTimeoutError         a handler ran past its deadline

Bad arguments raise the built-in ``ValueError`` or ``TypeError`` with a message
that names the call, the field and the value.
"""

from __future__ import annotations

from dataqueue._redact import redact


class DataQueueError(Exception):
    """A dataqueue operation failed."""

    def __init__(self, message: str | None = None) -> None:
        # Messages are shown in logs, HTTP answers and tool results: no
        # store password ever reaches them, whoever wrote the text.
        super().__init__(redact(message or self.__doc__ or ""))


class BackendError(DataQueueError):
    """The store failed, or this operation is not available on this backend."""


class NotMigratedError(BackendError):
    """The database has no dataqueue schema yet: run `dataqueue migrate` first."""


class StoreUnavailableError(BackendError):
    """The store cannot be reached right now (connection refused, lost or
    timed out); the same call may succeed once it is back."""


class StoreRefusedError(BackendError):
    """The store refused the connection for good (bad credentials, unknown
    database or role): retrying will not help until the settings change."""


class UnsupportedInForceKill(DataQueueError):
    """This JobContext feature is not available when force_kill_on_timeout=True."""


class TokenError(DataQueueError):
    """The token cannot be completed: it does not exist, or it was already
    completed or expired."""


class HandlerImportError(DataQueueError):
    """A handler could not be imported by its module path."""


class JobTimeoutError(DataQueueError):
    """The job ran past its timeout."""


class DependencyError(DataQueueError, ValueError):
    """``depends_on`` names jobs that do not exist, the job itself, or a
    cycle; nothing of the call was written."""
