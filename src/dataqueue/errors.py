"""Errors raised by dataqueue.

DataQueueError
 ├── BackendError            the store failed, or the call is not available on it
 │    └── NotMigratedError   the PostgreSQL schema is missing or out of date
 ├── UnsupportedInForceKill  a JobContext feature used inside a force-killed handler
 ├── HandlerImportError      a handler could not be imported by module path
 └── JobTimeoutError         a handler ran past its deadline

Bad arguments raise the built-in ``ValueError`` or ``TypeError`` with a message
that names the call, the field and the value.
"""

from __future__ import annotations


class DataQueueError(Exception):
    """A dataqueue operation failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.__doc__)


class BackendError(DataQueueError):
    """The store failed, or this operation is not available on this backend."""


class NotMigratedError(BackendError):
    """The database has no dataqueue schema yet: run `dataqueue migrate` first."""


class UnsupportedInForceKill(DataQueueError):
    """This JobContext feature is not available when force_kill_on_timeout=True."""


class HandlerImportError(DataQueueError):
    """A handler could not be imported by its module path."""


class JobTimeoutError(DataQueueError):
    """The job ran past its timeout."""
