"""The partitioned history layout that ``partition_history`` sets up in a
schema (``migrate_partitioned.sql``): events in daily partitions that
cleanup drops whole, and jobs counted in ``job_counts`` so that counting a
schema that keeps millions of finished jobs reads a few rows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from dataqueue.backends.postgres.codec import Row

# The layout keeps this many days of partitions ready beyond today, so that
# a supervisor down for a few days costs nothing.
PARTITION_DAYS_AHEAD = 7
# The cleanup that makes the first partitions: its cutoff is before every
# event, so it drops none.
FIRST_PARTITIONS = {
    "before": datetime(1970, 1, 1, tzinfo=UTC),
    "days_ahead": PARTITION_DAYS_AHEAD,
}

Fetch = Callable[[str, Mapping[str, Any]], Awaitable[list[Row]]]


class HistoryLayout:
    """What a schema's layout lets the store do, read through ``fetch``."""

    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch
        self._counted: bool | None = None

    async def counted(self) -> bool:
        """Whether job_counts keeps the jobs counted; read once, as the
        layout is never undone."""
        if self._counted is None:
            [layout] = await self._fetch("partition_history.layout", {})
            self._counted = bool(layout["counted"])
        return self._counted

    def set_up(self) -> None:
        """partition_history has just set the layout up."""
        self._counted = True

    async def drop_event_partitions(self, before: datetime) -> int | None:
        """Drop the daily event partitions that end by ``before`` (and make
        the coming days' ones); how many events went. None without the
        layout."""
        [layout] = await self._fetch("partition_history.layout", {})
        if not layout["partitioned"]:
            return None
        params = {"before": before, "days_ahead": PARTITION_DAYS_AHEAD}
        [dropped] = await self._fetch("cleanup_old_job_events.partitions", params)
        return int(dropped["n"])

    async def compact_counts(self) -> None:
        """Fold the job_counts rows of backends that are gone."""
        if await self.counted():
            await self._fetch("cleanup_old_jobs.counts", {})
