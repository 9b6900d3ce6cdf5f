"""Stores behind one protocol: postgres, redis, sqlite (imported lazily)."""

from dataqueue.backends.protocol import Backend, JobStore, Wakeup, WorkStore

__all__ = ["Backend", "JobStore", "Wakeup", "WorkStore"]
