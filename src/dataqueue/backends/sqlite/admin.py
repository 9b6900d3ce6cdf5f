"""What operators and their tools use, apart from the jobs' life: the
worker registry, the per-minute stats workers report, deleting finished
jobs by id."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime

from dataqueue._commands import (
    MINUTE_STATS_KEPT,
    HeartbeatAnswer,
    JobFilter,
    NewWorker,
    WorkerBeat,
)
from dataqueue.backends._records import held_counts_from_rows
from dataqueue.backends.sqlite.codec import (
    decode_worker,
    encode_json,
    from_micros,
    from_micros_utc,
    json_list,
    to_micros,
)
from dataqueue.backends.sqlite.connection import SQL, Connection
from dataqueue.models import (
    HeldCounts,
    JobRecord,
    MinuteStats,
    RecordedAction,
    WorkerInfo,
)
from dataqueue.types import JSONValue


class AdminStatements:
    """The methods of ``WorkerStore``, ``StatsStore`` and ``delete_jobs``
    over the store's connection."""

    _db: Connection

    async def delete_jobs(self, job_ids: Sequence[int]) -> list[int]:
        params = {"ids": json_list(job_ids)}

        def delete(conn: sqlite3.Connection) -> list[int]:
            rows = conn.execute(SQL["delete_jobs"], params).fetchall()
            return sorted(row[0] for row in rows)

        return await self._db.write_op("delete_jobs", delete)

    async def register_worker(self, worker: NewWorker, *, now: datetime) -> None:
        params = {
            "id": worker.id,
            "host": worker.host,
            "pid": worker.pid,
            "started_at": to_micros(worker.started_at),
            "last_heartbeat": to_micros(worker.last_heartbeat),
            "job_types": None
            if worker.job_types is None
            else json_list(worker.job_types),
            "concurrency": worker.concurrency,
            "running_job_ids": json_list(worker.running_job_ids),
            "processed": worker.processed,
            "failed": worker.failed,
            "quiet": int(worker.quiet),
        }

        def register(conn: sqlite3.Connection) -> None:
            conn.execute(SQL["register_worker"], params)

        await self._db.write_op("register_worker", register)

    async def heartbeat_worker(
        self, beat: WorkerBeat, *, now: datetime
    ) -> HeartbeatAnswer:
        params = {
            "id": beat.worker_id,
            "running_job_ids": json_list(beat.running_job_ids),
            "processed": beat.processed,
            "failed": beat.failed,
            "now": to_micros(now),
        }

        def heartbeat(conn: sqlite3.Connection) -> HeartbeatAnswer:
            row = conn.execute(SQL["heartbeat_worker"], params).fetchone()
            if row is None:
                return "unregistered"
            return "quiet" if row[0] else "running"

        return await self._db.write_op("heartbeat_worker", heartbeat)

    async def quiet_worker(self, worker_id: str) -> bool:
        def quiet(conn: sqlite3.Connection) -> bool:
            row = conn.execute(SQL["quiet_worker"], {"id": worker_id}).fetchone()
            return row is not None

        return await self._db.write_op("quiet_worker", quiet)

    async def unregister_worker(self, worker_id: str) -> None:
        def unregister(conn: sqlite3.Connection) -> None:
            conn.execute(SQL["unregister_worker"], {"id": worker_id})

        await self._db.write_op("unregister_worker", unregister)

    async def list_workers(self) -> list[WorkerInfo]:
        rows = await self._db.read("list_workers", SQL["list_workers"], {})
        return [decode_worker(row) for row in rows]

    async def remove_dead_workers(self, *, before: datetime) -> int:
        params = {"before": to_micros(before)}

        def remove(conn: sqlite3.Connection) -> int:
            return conn.execute(SQL["remove_dead_workers"], params).rowcount

        return await self._db.write_op("remove_dead_workers", remove)

    async def record_minute_stats(
        self, stats: Sequence[MinuteStats], *, now: datetime
    ) -> None:
        rows = [
            {
                "minute": to_micros(entry.minute),
                "job_type": entry.job_type,
                "started": entry.started,
                "completed": entry.completed,
                "failed": entry.failed,
                "first_starts": entry.first_starts,
                "start_delay_seconds": entry.start_delay_seconds,
            }
            for entry in stats
        ]
        before = {"before": to_micros(now - MINUTE_STATS_KEPT)}

        def record(conn: sqlite3.Connection) -> None:
            conn.execute(SQL["record_minute_stats.forget"], before)
            conn.executemany(SQL["record_minute_stats"], rows)

        await self._db.write_op("record_minute_stats", record)

    async def get_minute_stats(
        self, since: datetime, until: datetime
    ) -> list[MinuteStats]:
        params = {"since": to_micros(since), "until": to_micros(until)}
        rows = await self._db.read("get_minute_stats", SQL["get_minute_stats"], params)
        return [
            MinuteStats(**{**dict(row), "minute": from_micros(row["minute"])})
            for row in rows
        ]

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
            "at": to_micros(now),
            "who": who,
            "action": action,
            "details": encode_json(details),
        }

        def record(conn: sqlite3.Connection) -> None:
            conn.execute(SQL["record_action"], params)
            conn.execute(SQL["record_action.forget"], {"keep": keep})

        await self._db.write_op("record_action", record)

    async def get_actions(self, limit: int) -> list[RecordedAction]:
        params = {"limit": limit}
        rows = await self._db.read("get_actions", SQL["get_actions"], params)
        return [
            RecordedAction(
                from_micros_utc(row["at"]),
                row["who"],
                row["action"],
                json.loads(row["details"]),
            )
            for row in rows
        ]

    async def find_in_payloads(
        self, text: str, where: JobFilter, limit: int
    ) -> list[JobRecord] | None:
        return None  # no index of the payloads' text: the caller reads the jobs

    async def held_counts(self, limit: int) -> HeldCounts:
        rows = await self._db.read("held_counts", SQL["held_counts"], {"limit": limit})
        counted = [(row["job_type"], row["reason"], row["n"]) for row in rows]
        read = sum(n for *_, n in counted)
        return held_counts_from_rows(counted, complete=read < limit)
