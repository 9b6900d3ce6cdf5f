"""The data of one memory store, and the registry of named stores.

Every operation of the store runs under ``Tables.lock``, start to finish,
with no ``await`` inside: that one critical section is what the other
stores get from a transaction or a Lua script. The lock is a thread lock
because a named store may be used by queues on several threads of the
process (a ``connect_sync`` queue runs its own loop on its own thread).
"""

from __future__ import annotations

import bisect
import heapq
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dataqueue._commands import NewJob
from dataqueue._transitions import ADD, added_metadata
from dataqueue.backends.memory.codec import (
    ClaimKey,
    Row,
    claim_order,
    encode_json,
    in_line,
    is_due,
    new_job_row,
)
from dataqueue.backends.memory.signals import Signals
from dataqueue.limits import Bucket, BucketKey, Limits
from dataqueue.models import (
    EventType,
    JobStatus,
    MinuteStats,
    RecordedAction,
    WorkerInfo,
)


@dataclass
class Tables:
    """Jobs, their events, tokens, cron schedules, flows and workers.

    Dicts keep insertion order, which stands in for the other stores' row
    order where they order by it (flows by creation).
    """

    lock: threading.Lock = field(default_factory=threading.Lock)
    jobs: dict[int, Row] = field(default_factory=dict)
    events: dict[int, list[Row]] = field(default_factory=dict)
    """Each job's events, oldest first (a job's list goes with it)."""
    idempotency_keys: dict[str, int] = field(default_factory=dict)
    dedupe_keys: dict[str, Row] = field(default_factory=dict)
    """Each dedupe key's record: {"job_id", "expires_at"}."""
    tokens: dict[str, Row] = field(default_factory=dict)
    crons: dict[int, Row] = field(default_factory=dict)
    flows: dict[str, Row] = field(default_factory=dict)
    """Each flow with its ``steps``: step index -> {"job_id", "outcome"}."""
    workers: dict[str, WorkerInfo] = field(default_factory=dict)
    minute_stats: dict[tuple[datetime, str], MinuteStats] = field(default_factory=dict)
    """Per (minute, job type), what workers reported."""
    actions: list[RecordedAction] = field(default_factory=list)
    """Recorded actions, oldest first (at most the ``keep`` of the last
    ``record_action``)."""
    by_status: dict[str, dict[str, dict[int, Row]]] = field(default_factory=dict)
    """The jobs again, by status and then type: every change of a job's
    status goes through ``set_status``, so that a claim, a count or a sweep
    reads the jobs it may touch and not every job kept."""
    lines: dict[str, list[ClaimKey]] = field(default_factory=dict)
    """Per type, sorted, the claim order (``claim_order``) of the jobs a
    claim may take once due: pending ones, and failed ones with a retry
    to come. Kept in step by ``update``, so that a claim reads from the
    front of its types' lines and stops at its batch."""
    limits: dict[str, Limits] = field(default_factory=dict)
    buckets: dict[BucketKey, Bucket] = field(default_factory=dict)
    """The rate limits' token buckets spent so far (absent: full)."""
    last_job_id: int = 0
    last_event_id: int = 0
    last_cron_id: int = 0
    added: Signals = field(default_factory=Signals)
    """Idle processors: jobs were added or became due now."""
    finished: Signals = field(default_factory=Signals)
    """``wait_for_job``: jobs became final."""

    # -- jobs and events -------------------------------------------------

    def insert_jobs(self, jobs: Sequence[NewJob], now: datetime) -> list[int]:
        """``add_jobs``: a job whose idempotency key is taken gets the
        existing job's id and changes nothing."""
        ids: list[int] = []
        for job in jobs:
            key = job.idempotency_key
            if key is not None and key in self.idempotency_keys:
                ids.append(self.idempotency_keys[key])
                continue
            self.last_job_id += 1
            job_id = self.last_job_id
            row = self.jobs[job_id] = new_job_row(job_id, job, now)
            self._index(row)
            if key is not None:
                self.idempotency_keys[key] = job_id
            self.append_event(job_id, ADD.event, now, added_metadata(job))
            ids.append(job_id)
        return ids

    def rows(
        self, status: JobStatus, job_types: Iterable[str] | None = None
    ) -> list[Row]:
        """The jobs in ``status`` (of ``job_types``; None: every type), in
        no particular order."""
        by_type = self.by_status.get(status.value, {})
        types = by_type.keys() if job_types is None else job_types
        return [row for job_type in types for row in by_type.get(job_type, {}).values()]

    def due(self, job_types: Iterable[str] | None, now: datetime) -> Iterator[Row]:
        """The due jobs of ``job_types`` (None: every type), in claim order.
        Nothing may change the jobs while the iterator is read."""
        types = list(self.lines) if job_types is None else job_types
        lines = [self.lines.get(job_type, []) for job_type in types]
        for _, _, job_id in heapq.merge(*lines):
            row = self.jobs[job_id]
            if is_due(row, now):
                yield row

    def update(self, row: Row, status: JobStatus, values: Mapping[str, Any]) -> None:
        """Change a job's status and ``values``, keeping the indexes in step."""
        self._unindex(row)
        row.update(values, status=status.value)
        self._index(row)

    def _index(self, row: Row) -> None:
        by_type = self.by_status.setdefault(row["status"], {})
        by_type.setdefault(row["job_type"], {})[row["id"]] = row
        if in_line(row):
            bisect.insort(self.lines.setdefault(row["job_type"], []), claim_order(row))

    def _unindex(self, row: Row) -> None:
        by_type = self.by_status[row["status"]]
        same = by_type[row["job_type"]]
        del same[row["id"]]
        if not same:
            del by_type[row["job_type"]]
        if in_line(row):
            line = self.lines[row["job_type"]]
            del line[bisect.bisect_left(line, claim_order(row))]
            if not line:
                del self.lines[row["job_type"]]

    def append_event(
        self,
        job_id: int,
        event_type: EventType,
        now: datetime,
        metadata: Mapping[str, Any],
    ) -> None:
        self.last_event_id += 1
        self.events.setdefault(job_id, []).append(
            {
                "id": self.last_event_id,
                "job_id": job_id,
                "event_type": event_type.value,
                "created_at": now,
                "metadata": encode_json(metadata),
            }
        )

    def delete_jobs(self, job_ids: Iterable[int]) -> None:
        """Delete jobs with their events; their idempotency keys become free."""
        for job_id in job_ids:
            row = self.jobs.pop(job_id)
            self._unindex(row)
            self.events.pop(job_id, None)
            key = row["idempotency_key"]
            if key is not None:
                del self.idempotency_keys[key]
            dedupe = self.dedupe_keys.get(row["dedupe_key"])
            if dedupe is not None and dedupe["job_id"] == job_id:
                del self.dedupe_keys[row["dedupe_key"]]


_named: dict[str, Tables] = {}
_named_lock = threading.Lock()


def named_tables(name: str) -> Tables:
    """The process's store called ``name``, made on first use; it lives as
    long as the process (or until ``forget_named``)."""
    with _named_lock:
        tables = _named.get(name)
        if tables is None:
            tables = _named[name] = Tables()
        return tables


def forget_named(name: str) -> None:
    """Drop the store called ``name``: the next ``memory://name`` starts empty."""
    with _named_lock:
        _named.pop(name, None)
