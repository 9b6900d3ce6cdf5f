"""What operators and their tools use, apart from the jobs' life: the
worker registry, the per-minute stats workers report, deleting finished
jobs by id."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TypeVar, cast

from dataqueue import _transitions as t
from dataqueue._commands import (
    MINUTE_STATS_KEPT,
    HeartbeatAnswer,
    JobFilter,
    NewWorker,
    WorkerBeat,
)
from dataqueue.backends._records import held_counts_from_rows
from dataqueue.backends.memory.codec import copy_worker
from dataqueue.backends.memory.tables import Tables
from dataqueue.models import (
    HeldCounts,
    JobRecord,
    JobStatus,
    MinuteStats,
    RecordedAction,
    WorkerInfo,
)
from dataqueue.types import JSONValue

T = TypeVar("T")


class AdminOperations:
    """The methods of ``WorkerStore``, ``StatsStore`` and ``delete_jobs``,
    each one critical section over the tables."""

    _tables: Tables

    def _atomically(self, operation: Callable[[Tables], T]) -> T:
        with self._tables.lock:
            return operation(self._tables)

    async def delete_jobs(self, job_ids: Sequence[int]) -> list[int]:
        def delete(tables: Tables) -> list[int]:
            finished = sorted(
                job_id
                for job_id in set(job_ids)
                if (row := tables.jobs.get(job_id)) is not None
                and t.is_final(JobStatus(row["status"]), row["next_attempt_at"])
            )
            tables.delete_jobs(finished)
            return finished

        return self._atomically(delete)

    async def register_worker(self, worker: NewWorker, *, now: datetime) -> None:
        def register(tables: Tables) -> None:
            tables.workers[worker.id] = copy_worker(worker)

        self._atomically(register)

    async def heartbeat_worker(
        self, beat: WorkerBeat, *, now: datetime
    ) -> HeartbeatAnswer:
        def heartbeat(tables: Tables) -> HeartbeatAnswer:
            worker = tables.workers.get(beat.worker_id)
            if worker is None:
                return "unregistered"
            tables.workers[beat.worker_id] = replace(
                worker,
                last_heartbeat=now,
                running_job_ids=list(beat.running_job_ids),
                processed=beat.processed,
                failed=beat.failed,
            )
            return "quiet" if worker.quiet else "running"

        return self._atomically(heartbeat)

    async def quiet_worker(self, worker_id: str) -> bool:
        def quiet(tables: Tables) -> bool:
            worker = tables.workers.get(worker_id)
            if worker is None:
                return False
            tables.workers[worker_id] = replace(worker, quiet=True)
            return True

        return self._atomically(quiet)

    async def unregister_worker(self, worker_id: str) -> None:
        self._atomically(lambda tables: tables.workers.pop(worker_id, None))

    async def list_workers(self) -> list[WorkerInfo]:
        return self._atomically(
            lambda tables: sorted(
                map(copy_worker, tables.workers.values()),
                key=lambda w: (w.started_at, w.id),
            )
        )

    async def remove_dead_workers(self, *, before: datetime) -> int:
        def remove(tables: Tables) -> int:
            dead = [w.id for w in tables.workers.values() if w.last_heartbeat < before]
            for worker_id in dead:
                del tables.workers[worker_id]
            return len(dead)

        return self._atomically(remove)

    async def record_minute_stats(
        self, stats: Sequence[MinuteStats], *, now: datetime
    ) -> None:
        def record(tables: Tables) -> None:
            kept = tables.minute_stats
            for key in [key for key in kept if key[0] < now - MINUTE_STATS_KEPT]:
                del kept[key]
            for entry in stats:
                key = (entry.minute, entry.job_type)
                old = kept.get(key)
                kept[key] = entry if old is None else _added(old, entry)

        self._atomically(record)

    async def get_minute_stats(
        self, since: datetime, until: datetime
    ) -> list[MinuteStats]:
        return self._atomically(
            lambda tables: [
                entry
                for key, entry in sorted(tables.minute_stats.items())
                if since <= key[0] <= until
            ]
        )

    async def record_action(
        self,
        who: str,
        action: str,
        details: dict[str, JSONValue],
        *,
        now: datetime,
        keep: int,
    ) -> None:
        stored = RecordedAction(now, who, action, _copied(details))

        def record(tables: Tables) -> None:
            tables.actions.append(stored)
            del tables.actions[:-keep]

        self._atomically(record)

    async def get_actions(self, limit: int) -> list[RecordedAction]:
        def read(tables: Tables) -> list[RecordedAction]:
            newest = tables.actions[-limit:][::-1]
            return [replace(a, details=_copied(a.details)) for a in newest]

        return self._atomically(read)

    async def find_in_payloads(
        self, text: str, where: JobFilter, limit: int
    ) -> list[JobRecord] | None:
        return None  # no index of the payloads' text: the caller reads the jobs

    async def held_counts(self, limit: int) -> HeldCounts:
        def count(tables: Tables) -> HeldCounts:
            held: dict[tuple[str, str], int] = {}
            read = 0
            for row in tables.jobs.values():
                if read == limit:
                    break
                reason = row["pending_reason"]
                if row["status"] != JobStatus.PENDING or reason is None:
                    continue
                read += 1
                key = (row["job_type"], reason)
                held[key] = held.get(key, 0) + 1
            rows = [(job_type, reason, n) for (job_type, reason), n in held.items()]
            return held_counts_from_rows(rows, complete=read < limit)

        return self._atomically(count)


def _added(old: MinuteStats, new: MinuteStats) -> MinuteStats:
    return replace(
        old,
        started=old.started + new.started,
        completed=old.completed + new.completed,
        failed=old.failed + new.failed,
        first_starts=old.first_starts + new.first_starts,
        start_delay_seconds=old.start_delay_seconds + new.start_delay_seconds,
    )


def _copied(details: dict[str, JSONValue]) -> dict[str, JSONValue]:
    """A deep copy, so neither the caller nor a reader changes what is stored."""
    return cast(dict[str, JSONValue], json.loads(json.dumps(details)))
