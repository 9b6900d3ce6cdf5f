"""The embedded SQLite store."""

from dataqueue.backends.sqlite.backend import SqliteBackend

__all__ = ["SqliteBackend"]
