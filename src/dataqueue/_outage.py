"""Store outages as a loop sees them: one ERROR line when calls start
failing, one INFO line when they work again, and a short backoff between
tries, so a loop is back at full speed within a second of the store."""

from __future__ import annotations

import logging
import time

from dataqueue.errors import StoreUnavailableError

logger = logging.getLogger("dataqueue")

FIRST_BACKOFF = 0.05
MAX_BACKOFF = 1.0


class OutageLog:
    """Tracks whether ``what`` can reach its store."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._since: float | None = None
        self._backoff = FIRST_BACKOFF

    @property
    def failing(self) -> bool:
        return self._since is not None

    def failed(self, error: BaseException) -> float:
        """Note a failed store call; returns the seconds to wait before retrying."""
        if self._since is None:
            self._since = time.monotonic()
            self._backoff = FIRST_BACKOFF
            # An unreachable store is expected now and then: no traceback.
            expected = isinstance(error, StoreUnavailableError)
            logger.error(
                "%s: store call failed, retrying until it works: %s",
                self.what,
                error,
                exc_info=None if expected else error,
            )
        else:
            self._backoff = min(self._backoff * 2, MAX_BACKOFF)
        return self._backoff

    def recovered(self) -> None:
        """Note a store call that worked."""
        if self._since is not None:
            logger.info(
                "%s: store reachable again after %.1fs",
                self.what,
                time.monotonic() - self._since,
            )
            self._since = None
