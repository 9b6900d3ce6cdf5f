"""What operators and their tools use, apart from the jobs' life: the
worker registry, the per-minute stats workers report, deleting finished
jobs by id, the held jobs' counts, the payload search."""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, cast

import psycopg

from dataqueue._commands import (
    MINUTE_STATS_KEPT,
    HeartbeatAnswer,
    JobFilter,
    NewWorker,
    WorkerBeat,
)
from dataqueue.backends._records import held_counts_from_rows
from dataqueue.backends.postgres.codec import (
    Row,
    filter_params,
    job_row,
    json_text,
    worker_from_row,
    worker_params,
)
from dataqueue.models import (
    HeldCounts,
    JobRecord,
    MinuteStats,
    RecordedAction,
    WorkerInfo,
)
from dataqueue.types import JSONValue

# The payload search through the trigram index gives up (and the caller
# reads the newest jobs instead) after this long.
SEARCH_TIMEOUT_MS = 3000
# A trigram index finds nothing shorter than a trigram by its trigrams.
SEARCH_MIN_CHARS = 3


class _SearchTimedOut(Exception):
    pass


def like_pattern(text: str) -> str:
    """``%text%`` for LIKE, with its wildcards and escape taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class AdminStatements:
    """The methods of ``WorkerStore``, ``StatsStore`` and ``delete_jobs``,
    over the store's one way of running a statement."""

    _schema: str
    _queries: dict[str, bytes]

    @abstractmethod
    async def _fetch(self, name: str, params: Mapping[str, Any]) -> list[Row]: ...

    @abstractmethod
    def _cursor(
        self,
        what: str,
        *,
        transaction: bool = False,
        pipeline: bool = False,
        raw: bool = False,
    ) -> AbstractAsyncContextManager[psycopg.AsyncCursor[Row]]: ...

    async def delete_jobs(self, job_ids: Sequence[int]) -> list[int]:
        rows = await self._fetch("delete_jobs", {"ids": list(job_ids)})
        return [row["id"] for row in rows]

    async def register_worker(self, worker: NewWorker, *, now: datetime) -> None:
        await self._fetch("register_worker", worker_params(worker))

    async def heartbeat_worker(
        self, beat: WorkerBeat, *, now: datetime
    ) -> HeartbeatAnswer:
        params = {
            "id": beat.worker_id,
            "running_job_ids": list(beat.running_job_ids),
            "processed": beat.processed,
            "failed": beat.failed,
            "now": now,
        }
        rows = await self._fetch("heartbeat_worker", params)
        if not rows:
            return "unregistered"
        return "quiet" if rows[0]["quiet"] else "running"

    async def quiet_worker(self, worker_id: str) -> bool:
        return bool(await self._fetch("quiet_worker", {"id": worker_id}))

    async def unregister_worker(self, worker_id: str) -> None:
        await self._fetch("unregister_worker", {"id": worker_id})

    async def list_workers(self) -> list[WorkerInfo]:
        return [worker_from_row(row) for row in await self._fetch("list_workers", {})]

    async def remove_dead_workers(self, *, before: datetime) -> int:
        rows = await self._fetch("remove_dead_workers", {"before": before})
        return int(rows[0]["n"])

    async def record_minute_stats(
        self, stats: Sequence[MinuteStats], *, now: datetime
    ) -> None:
        await self._fetch(
            "record_minute_stats",
            {
                "minutes": [entry.minute for entry in stats],
                "job_types": [entry.job_type for entry in stats],
                "started": [entry.started for entry in stats],
                "completed": [entry.completed for entry in stats],
                "failed": [entry.failed for entry in stats],
                "first_starts": [entry.first_starts for entry in stats],
                "start_delay_seconds": [entry.start_delay_seconds for entry in stats],
                "before": now - MINUTE_STATS_KEPT,
            },
        )

    async def get_minute_stats(
        self, since: datetime, until: datetime
    ) -> list[MinuteStats]:
        rows = await self._fetch("get_minute_stats", {"since": since, "until": until})
        return [MinuteStats(**row) for row in rows]

    async def record_action(
        self,
        who: str,
        action: str,
        details: dict[str, JSONValue],
        *,
        now: datetime,
        keep: int,
    ) -> None:
        params = {
            "at": now,
            "who": who,
            "action": action,
            "details": json_text(details),
            "keep": keep,
        }
        await self._fetch("record_action", params)

    async def get_actions(self, limit: int) -> list[RecordedAction]:
        rows = await self._fetch("get_actions", {"limit": limit})
        return [
            RecordedAction(row["at"], row["who"], row["action"], _details(row))
            for row in rows
        ]

    async def held_counts(self, limit: int) -> HeldCounts:
        rows = await self._fetch("held_counts", {"limit": limit})
        counted = [(row["job_type"], row["reason"], row["n"]) for row in rows]
        read = sum(n for *_, n in counted)
        return held_counts_from_rows(counted, complete=read < limit)

    async def find_in_payloads(
        self, text: str, where: JobFilter, limit: int
    ) -> list[JobRecord] | None:
        if len(text) < SEARCH_MIN_CHARS:
            return None
        rows = await self._fetch("find_in_payloads.indexed", {"schema": self._schema})
        if not rows[0]["indexed"]:
            return None
        params = {**filter_params(where), "pattern": like_pattern(text), "limit": limit}
        try:
            async with self._cursor("find_in_payloads", transaction=True) as cur:
                timeout = {"timeout": str(SEARCH_TIMEOUT_MS)}
                await cur.execute(self._queries["find_in_payloads.timeout"], timeout)
                try:
                    await cur.execute(self._queries["find_in_payloads"], params)
                except psycopg.errors.QueryCanceled:
                    raise _SearchTimedOut from None
                found = await cur.fetchall()
        except _SearchTimedOut:
            return None
        return [job_row(row) for row in found]


def _details(row: Row) -> dict[str, JSONValue]:
    details = row["details"]
    if isinstance(details, str | bytes):
        details = json.loads(details)
    return cast(dict[str, JSONValue], details)
