"""Where the queue lives, read from Django's settings.

``DATAQUEUE = {"URL": ..., "SCHEMA": ..., "KEY_PREFIX": ..., "DATABASE": ...,
"HANDLERS": ...}``, or the same keys in the ``OPTIONS`` of a ``TASKS``
backend that is ``DataQueueBackend`` (those win over ``DATAQUEUE``). With no
``URL`` the jobs live in a Django database (``DATABASE``, default
``"default"``), so enqueueing inside ``transaction.atomic()`` on it commits
with the transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

BACKEND_PATH = "dataqueue.contrib.django.DataQueueBackend"
DEFAULT_QUEUES = ("default",)
DEFAULT_QUEUES = ("default",)
KEYS = ("URL", "SCHEMA", "KEY_PREFIX", "DATABASE", "HANDLERS")
# Keys of a PostgreSQL DATABASES entry's OPTIONS that are Django's, not libpq's.
DJANGO_ONLY_PG_OPTIONS = frozenset(
    {"pool", "server_side_binding", "isolation_level", "assume_role", "cursor_factory"}
)


@dataclass(frozen=True)
class QueueSettings:
    url: str
    schema: str | None = None
    key_prefix: str | None = None
    database: str | None = None
    """The Django database alias the jobs live in, when they do."""
    handlers: str | None = None
    """``MODULE:HANDLERS`` of plain dataqueue handlers the worker also runs."""


def queue_settings(options: Mapping[str, Any] | None = None) -> QueueSettings:
    """The queue described by ``DATAQUEUE`` overlaid with ``options`` (by
    default the OPTIONS of the first ``DataQueueBackend`` in ``TASKS``)."""
    base = _mapping_setting("DATAQUEUE", getattr(settings, "DATAQUEUE", {}))
    own = tasks_backend_options() if options is None else options
    merged = {**base, **_mapping_setting("OPTIONS", own)}
    unknown = sorted(set(merged) - set(KEYS))
    if unknown:
        raise ImproperlyConfigured(
            f"dataqueue settings: unknown key(s) {', '.join(unknown)}; "
            f"known: {', '.join(KEYS)}"
        )
    for key, value in merged.items():
        if value is not None and not isinstance(value, str):
            raise ImproperlyConfigured(
                f"dataqueue settings: {key} must be a string, "
                f"got {type(value).__name__}"
            )
    url, database = merged.get("URL"), merged.get("DATABASE")
    if url and database:
        raise ImproperlyConfigured(
            "dataqueue settings: give URL (a store of its own) or DATABASE (a "
            "Django database alias to keep the jobs in), not both"
        )
    if not url:
        database = database or "default"
        url = database_url(database)
    return QueueSettings(
        url=url,
        schema=merged.get("SCHEMA"),
        key_prefix=merged.get("KEY_PREFIX"),
        database=database,
        handlers=merged.get("HANDLERS"),
    )


def job_type(queue_name: str) -> str:
    """The job type of the tasks enqueued to the Django queue ``queue_name``."""
    return f"django:{queue_name}"


def task_backends() -> dict[str, Mapping[str, Any]]:
    """The ``TASKS`` entries that are a ``DataQueueBackend``, by alias."""
    return {
        alias: entry
        for alias, entry in getattr(settings, "TASKS", {}).items()
        if entry.get("BACKEND") == BACKEND_PATH
    }


def tasks_backend_options() -> Mapping[str, Any]:
    """The OPTIONS of the first ``TASKS`` entry that is a ``DataQueueBackend``."""
    for alias, entry in task_backends().items():
        return _mapping_setting(f"TASKS[{alias!r}]['OPTIONS']", entry.get("OPTIONS"))
    return {}


def task_job_types() -> list[str]:
    """The job types of every queue of the ``DataQueueBackend`` entries whose
    store is the one the commands use."""
    store = queue_settings()
    found: list[str] = []
    for entry in task_backends().values():
        if queue_settings(entry.get("OPTIONS") or {}) == store:
            for name in entry.get("QUEUES", DEFAULT_QUEUES):
                if job_type(name) not in found:
                    found.append(job_type(name))
    return found


def database_url(alias: str) -> str:
    """A dataqueue URL for the Django database ``alias`` (PostgreSQL or SQLite)."""
    databases = settings.DATABASES
    if alias not in databases:
        raise ImproperlyConfigured(
            f"dataqueue settings: DATABASE {alias!r} is not in DATABASES "
            f"({', '.join(databases) or 'none'})"
        )
    db = databases[alias]
    engine = db.get("ENGINE", "")
    if engine == "django.db.backends.sqlite3":
        name = str(db.get("NAME", ""))
        if not name or name == ":memory:" or name.startswith("file:"):
            raise ImproperlyConfigured(
                f"dataqueue settings: DATABASES[{alias!r}] is an in-memory SQLite "
                "database that workers cannot share; give it a file or set URL"
            )
        return f"sqlite:///{Path(name).resolve()}"
    if engine == "django.db.backends.postgresql":
        return _postgres_url(db)
    raise ImproperlyConfigured(
        f"dataqueue settings: DATABASES[{alias!r}] uses {engine or 'no ENGINE'}; "
        "dataqueue keeps jobs in PostgreSQL, SQLite or Redis: set URL"
    )


def _postgres_url(db: Mapping[str, Any]) -> str:
    user, password = db.get("USER") or "", db.get("PASSWORD") or ""
    credentials = quote(user, safe="")
    if password:
        credentials += ":" + quote(password, safe="")
    host, port = str(db.get("HOST") or ""), str(db.get("PORT") or "")
    query = {
        key: str(value)
        for key, value in (db.get("OPTIONS") or {}).items()
        if key not in DJANGO_ONLY_PG_OPTIONS and isinstance(value, str | int)
    }
    if host.startswith("/"):
        # A Unix socket directory is not a URL host; libpq takes it as a parameter.
        query["host"], host = host, ""
    netloc = f"{credentials}@" if credentials else ""
    netloc += host + (f":{port}" if port else "")
    suffix = f"?{urlencode(query)}" if query else ""
    return f"postgresql://{netloc}/{quote(str(db.get('NAME') or ''), safe='')}{suffix}"


def _mapping_setting(name: str, value: Any) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ImproperlyConfigured(
            f"dataqueue settings: {name} must be a dict, got {type(value).__name__}"
        )
    return value
