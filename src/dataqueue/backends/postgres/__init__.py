"""The PostgreSQL backend (needs ``pip install 'dataqueue[postgres]'``)."""

from dataqueue.backends.postgres.backend import PostgresBackend

__all__ = ["PostgresBackend"]
