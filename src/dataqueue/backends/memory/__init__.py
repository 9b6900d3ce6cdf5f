"""The in-memory store, for tests: one process, nothing to install."""

from dataqueue.backends.memory.backend import MemoryBackend
from dataqueue.backends.memory.tables import forget_named

__all__ = ["MemoryBackend", "forget_named"]
