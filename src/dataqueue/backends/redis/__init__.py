"""The Redis backend (needs the ``redis`` extra)."""

from dataqueue.backends.redis.backend import RedisBackend

__all__ = ["RedisBackend"]
