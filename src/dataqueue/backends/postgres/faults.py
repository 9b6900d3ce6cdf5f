"""psycopg errors as dataqueue's store errors, in one line without secrets.

A connection the server refused for good (bad password, unknown role or
database, no pg_hba entry) is ``StoreRefusedError``: retrying cannot help.
A server that is down, starting, shutting down or unreachable, or a
connection lost mid-statement, is ``StoreUnavailableError``: the same call
may work in a moment. Anything else is the plain ``BackendError``.
"""

from __future__ import annotations

import psycopg
from psycopg.conninfo import conninfo_to_dict

from dataqueue.errors import BackendError, StoreRefusedError, StoreUnavailableError

# FATAL errors at connection time that pass: the server is starting, stopping
# or full. Every other FATAL at connection time is a refusal.
TRANSIENT_FATAL = (
    "starting up",
    "shutting down",
    "in recovery mode",
    "too many",
    "not yet accepting connections",
    "terminating connection",
)
# SQLSTATE classes of a lost connection: 08 (connection exception) and 57P
# (operator intervention: terminated, crash, cannot connect now).
UNAVAILABLE_STATES = ("08", "57P")


def location(conninfo: str) -> str:
    """``user@host:port/dbname`` of a connection string; never the password."""
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "PostgreSQL"
    user = params.get("user")
    host = params.get("host") or params.get("hostaddr") or "localhost"
    port = params.get("port") or "5432"
    dbname = params.get("dbname") or user or ""
    who = f"{user}@" if user else ""
    return f"PostgreSQL at {who}{host}:{port}/{dbname}"


def cause(error: BaseException) -> str:
    """The server's or libpq's reason, on one line."""
    text = str(error).strip() or type(error).__name__
    if "FATAL:" in text:
        text = text.rsplit("FATAL:", 1)[1]
    elif "failed:" in text:
        text = text.rsplit("failed:", 1)[1]
    return " ".join(text.split()).rstrip(".")


def connect_error(error: psycopg.OperationalError, where: str) -> BackendError:
    """What a failed connection attempt means for the caller."""
    text = str(error)
    if "FATAL:" in text and not any(t in text for t in TRANSIENT_FATAL):
        return StoreRefusedError(f"{where} refused the connection: {cause(error)}")
    return StoreUnavailableError(f"{where} is unavailable: {cause(error)}")


def statement_error(error: psycopg.Error, where: str, what: str) -> BackendError:
    """What an error raised while running ``what`` means for the caller."""
    state = error.sqlstate
    if isinstance(error, psycopg.OperationalError) and (
        state is None or state.startswith(UNAVAILABLE_STATES)
    ):
        return StoreUnavailableError(f"{where} is unavailable ({what}): {cause(error)}")
    return BackendError(f"{where}: {what} failed: {cause(error)}")
