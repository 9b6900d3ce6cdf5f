"""Redis errors as the store errors the rest of dataqueue acts on.

``StoreUnavailableError``: Redis cannot be reached now (refused, lost, timed
out, still loading its dataset); the same call may succeed later.
``StoreRefusedError``: Redis turned us away for good (bad credentials, no
permission, a database number it does not have). Each is one line naming
the store by its URL, password hidden.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from redis import exceptions as redis_errors

from dataqueue.errors import BackendError, StoreRefusedError, StoreUnavailableError

_REFUSED = (
    redis_errors.AuthenticationError,
    redis_errors.AuthorizationError,
    redis_errors.NoPermissionError,
)
_UNAVAILABLE = (
    redis_errors.ConnectionError,  # also BusyLoadingError, still loading
    redis_errors.TimeoutError,
    redis_errors.ReadOnlyError,  # a replica during failover
    # A cluster without a master for some slot, a slot moving, or no node
    # reachable at all (RedisClusterException is not a RedisError).
    redis_errors.ClusterDownError,
    redis_errors.TryAgainError,
    redis_errors.RedisClusterException,
    OSError,
)


def classify(error: BaseException, where: str) -> BackendError:
    """The store error for a redis-py (or socket) error; ``where`` names the
    store, e.g. ``Redis at redis://host:6379/0``."""
    detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
    detail = detail or type(error).__name__
    # AuthenticationError is a ConnectionError: test for refusals first.
    if isinstance(error, _REFUSED) or "DB index" in detail:
        return StoreRefusedError(f"{where} refused the connection: {detail}")
    if isinstance(error, _UNAVAILABLE):
        return StoreUnavailableError(f"{where} is unavailable: {detail}")
    return BackendError(f"{where} failed: {detail}")


@contextmanager
def store_faults(where: str) -> Iterator[None]:
    """Raise redis-py errors raised inside as the matching store error."""
    try:
        yield
    except (
        redis_errors.RedisError,
        redis_errors.RedisClusterException,
        OSError,
    ) as error:
        raise classify(error, where) from error
