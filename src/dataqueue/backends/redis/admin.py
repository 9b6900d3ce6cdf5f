"""What operators and their tools use, apart from the jobs' life: the
worker registry, the per-minute stats workers report, deleting finished
jobs by id."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from dataqueue._commands import (
    MINUTE_STATS_KEPT,
    HeartbeatAnswer,
    JobFilter,
    NewWorker,
    WorkerBeat,
)
from dataqueue.backends._records import held_counts_from_rows
from dataqueue.backends.redis.codec import (
    as_text,
    decode_worker,
    ids_text,
    micros_text,
    time_from,
    worker_args,
)
from dataqueue.backends.redis.scripts import Scripts
from dataqueue.models import (
    HeldCounts,
    JobRecord,
    MinuteStats,
    RecordedAction,
    WorkerInfo,
)
from dataqueue.types import JSONValue

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HEARTBEAT_ANSWERS: dict[int, HeartbeatAnswer] = {
    0: "unregistered",
    1: "running",
    2: "quiet",
}
COUNTS = ("started", "completed", "failed", "first_starts")


def minute_number(minute: datetime) -> int:
    """Minutes since the epoch (as ``ended`` keys count them)."""
    return (minute - EPOCH) // MINUTE


class AdminScripts:
    """The methods of ``WorkerStore``, ``StatsStore`` and ``delete_jobs``,
    each one script."""

    _scripts: Scripts

    async def delete_jobs(self, job_ids: Sequence[int]) -> list[int]:
        if not job_ids:
            return []
        deleted = await self._scripts.run("delete_jobs", *map(str, job_ids))
        return sorted(int(as_text(job_id)) for job_id in deleted)

    async def register_worker(self, worker: NewWorker, *, now: datetime) -> None:
        await self._scripts.run(
            "register_worker",
            worker.id,
            micros_text(worker.last_heartbeat),
            *worker_args(worker),
        )

    async def heartbeat_worker(
        self, beat: WorkerBeat, *, now: datetime
    ) -> HeartbeatAnswer:
        answer = await self._scripts.run(
            "heartbeat_worker",
            beat.worker_id,
            micros_text(now),
            ids_text(beat.running_job_ids),
            beat.processed,
            beat.failed,
        )
        return HEARTBEAT_ANSWERS[int(answer)]

    async def quiet_worker(self, worker_id: str) -> bool:
        return bool(await self._scripts.run("quiet_worker", worker_id))

    async def unregister_worker(self, worker_id: str) -> None:
        await self._scripts.run("unregister_worker", worker_id)

    async def list_workers(self) -> list[WorkerInfo]:
        rows = json.loads(await self._scripts.run("list_workers"))
        workers = [decode_worker(row) for row in rows]
        return sorted(workers, key=lambda worker: (worker.started_at, worker.id))

    async def remove_dead_workers(self, *, before: datetime) -> int:
        return int(await self._scripts.run("remove_dead_workers", micros_text(before)))

    async def record_minute_stats(
        self, stats: Sequence[MinuteStats], *, now: datetime
    ) -> None:
        args: list[str | int] = []
        for entry in stats:
            # Relative to the queue's clock: a test's may be far from Redis's.
            lives = (entry.minute + MINUTE_STATS_KEPT - now).total_seconds()
            if lives < 1:
                continue
            args += [
                minute_number(entry.minute),
                int(lives),
                entry.job_type,
                *(getattr(entry, name) for name in COUNTS),
                repr(float(entry.start_delay_seconds)),
            ]
        if args:
            await self._scripts.run("record_minute_stats", *args)

    async def get_minute_stats(
        self, since: datetime, until: datetime
    ) -> list[MinuteStats]:
        found = json.loads(
            await self._scripts.run(
                "get_minute_stats", minute_number(since), minute_number(until)
            )
        )
        stats: list[MinuteStats] = []
        for minute in sorted(found, key=int):
            stats += _entries(EPOCH + int(minute) * MINUTE, found[minute])
        return stats

    async def record_action(
        self,
        who: str,
        action: str,
        details: dict[str, JSONValue],
        *,
        now: datetime,
        keep: int,
    ) -> None:
        entry = {
            "at": int(micros_text(now)),
            "who": who,
            "action": action,
            "details": details,
        }
        text = json.dumps(entry, separators=(",", ":"), ensure_ascii=False)
        await self._scripts.run("record_action", text, keep)

    async def get_actions(self, limit: int) -> list[RecordedAction]:
        found = await self._scripts.run("get_actions", limit)
        actions: list[RecordedAction] = []
        for text in found:
            entry = json.loads(as_text(text))
            at = time_from(str(entry["at"]))
            actions.append(
                RecordedAction(at, entry["who"], entry["action"], entry["details"])
            )
        return actions

    async def find_in_payloads(
        self, text: str, where: JobFilter, limit: int
    ) -> list[JobRecord] | None:
        return None  # no index of the payloads' text: the caller reads the jobs

    async def held_counts(self, limit: int) -> HeldCounts:
        complete, *found = await self._scripts.run("held_counts", limit)
        rows = [
            (as_text(found[i]), as_text(found[i + 1]), int(found[i + 2]))
            for i in range(0, len(found), 3)
        ]
        return held_counts_from_rows(rows, complete=bool(int(complete)))


def _entries(minute: datetime, fields: dict[str, str]) -> list[MinuteStats]:
    """One minute's hash (``type TAB field`` → number) as entries by type."""
    by_type: dict[str, dict[str, Any]] = {}
    for name, value in fields.items():
        job_type, _, field = name.rpartition("\t")
        numbers = by_type.setdefault(job_type, {})
        numbers[field] = float(value) if field == "start_delay_seconds" else int(value)
    return [
        MinuteStats(
            minute=minute,
            job_type=job_type,
            **{name: numbers.get(name, 0) for name in COUNTS},
            start_delay_seconds=numbers.get("start_delay_seconds", 0.0),
        )
        for job_type, numbers in sorted(by_type.items())
    ]
