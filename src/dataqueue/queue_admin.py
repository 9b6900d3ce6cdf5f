"""The queue's methods for operators and their tools: workers, per-minute
stats, deleting finished jobs. ``JobQueue`` inherits them."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from dataqueue import _validate as v
from dataqueue.models import (
    HeldCounts,
    JobRecord,
    JobSearch,
    JobStatus,
    MinuteStats,
    RecordedAction,
    WorkerInfo,
)
from dataqueue.types import Duration

if TYPE_CHECKING:
    from dataqueue._clock import Clock
    from dataqueue.backends.protocol import Backend

MAX_DELETE = 1000
"""Most job ids one ``delete_jobs`` call takes (each call one store write)."""
STATS_WINDOW_MAX = 86400
HELD_READ_MAX = 10_000
"""Most jobs one ``get_held_counts`` call reads."""
SEARCH_SCAN = 2000
"""Most jobs a ``search_jobs`` without an index reads and searches."""
SEARCH_PAGE = 500
SEARCH_MAX_CHARS = 200
SEARCH_LIMIT_MAX = 500
ACTIONS_KEPT = 10_000
"""How many recorded actions a store keeps: the newest; each
``record_action`` forgets the older ones."""
ACTIONS_READ_MAX = 1000
"""Most actions one ``get_actions`` call reads."""
ACTION_DETAILS_MAX_BYTES = 65_536


class AdminMethods:
    """Workers, per-minute stats and deleting finished jobs."""

    @property
    def clock(self) -> Clock:
        raise NotImplementedError

    async def _store(self) -> Backend:
        raise NotImplementedError

    async def list_workers(self) -> list[WorkerInfo]:
        """The processors running now (registered, and not yet found silent
        by a supervisor), by start time, with what each is running and its
        counts (as of its last heartbeat)."""
        return await (await self._store()).list_workers()

    async def quiet_worker(self, worker_id: str) -> bool:
        """Ask a running worker to stop taking jobs ("quiet" it, before a
        deploy): at its next heartbeat it stops claiming, lets the jobs it
        runs finish, and keeps running, listed with ``quiet=True``, until it
        is stopped. Returns False when no worker has this id.

        Example:
            ``await queue.quiet_worker(workers[0].id)``
        """
        worker_id = v.check_name(worker_id, "quiet_worker", "worker_id")
        return await (await self._store()).quiet_worker(worker_id)

    async def get_minute_stats(
        self, window: Duration = 3600, *, job_type: str | None = None
    ) -> list[MinuteStats]:
        """What the workers did per minute and job type over the last
        ``window`` (at most a day; whole minutes, the current one
        included), by minute then job type. Minutes with nothing to report
        are absent. Workers report with their heartbeats (and a batch of
        ``processor.start()`` at its end), so the last few seconds may be
        missing; a worker killed outright loses what it had not reported.

        Example:
            ``sum(m.completed for m in await queue.get_minute_stats(300))``
        """
        span = v.to_seconds(
            window,
            "get_minute_stats",
            "window",
            allow_zero=False,
            maximum=STATS_WINDOW_MAX,
        )
        if job_type is not None:
            job_type = v.check_name(job_type, "get_minute_stats", "job_type")
        until = self.clock.now().replace(second=0, microsecond=0)
        since = until - timedelta(seconds=span) + timedelta(minutes=1)
        since = since.replace(second=0, microsecond=0)
        stats = await (await self._store()).get_minute_stats(since, until)
        return [s for s in stats if job_type is None or s.job_type == job_type]

    async def get_held_counts(self) -> HeldCounts:
        """How many pending jobs are held back now, per job type and
        ``pending_reason`` (a pause, a limit, their dependencies). A claim
        marks only the held jobs it meets (see docs/flow-control.md), so a
        long line behind a pause or a limit counts its front. The read is
        bounded: at most ``HELD_READ_MAX`` (10,000) jobs, the held ones
        only on PostgreSQL and SQLite (an index of them); Redis, which
        keeps no such index, reads each type's pending jobs from the front
        of its line. ``complete`` is False when the bound was reached.

        Example:
            ``(await queue.get_held_counts()).counts.get("email", {})``
        """
        return await (await self._store()).held_counts(HELD_READ_MAX)

    async def search_jobs(
        self,
        text: str,
        /,
        filters: Mapping[str, Any] | None = None,
        *,
        status: JobStatus | str | None = None,
        limit: int = 50,
    ) -> JobSearch:
        """Jobs whose payload holds ``text`` (any case, in the payload's
        JSON text), among those that match ``filters`` and ``status`` (as
        ``get_jobs`` takes them), newest first, at most ``limit`` (1-500).

        Bounded: on PostgreSQL with the optional trigram index of the
        payloads (docs/dashboard.md, "Payload search") every job is searched
        through it (``indexed``); otherwise, and for a text shorter than 3
        characters, the newest ``SEARCH_SCAN`` (2,000) jobs that match the
        filters are read, 500 at a time, and searched (``scanned``,
        ``exhausted``).

        Example:
            ``(await queue.search_jobs("bounce@example.com")).jobs``
        """
        where = "search_jobs"
        text = v.check_name(text, where, "text", max_chars=SEARCH_MAX_CHARS)
        limit = v.check_int(limit, where, "limit", minimum=1, maximum=SEARCH_LIMIT_MAX)
        selected = v.job_filter(filters, where, status, {})
        store = await self._store()
        found = await store.find_in_payloads(text, selected, limit)
        if found is not None:
            return JobSearch(found, indexed=True, scanned=0, exhausted=True)
        needle = text.casefold()
        matches: list[JobRecord] = []
        scanned = 0
        while scanned < SEARCH_SCAN and len(matches) < limit:
            page = await store.get_jobs(selected, SEARCH_PAGE, scanned)
            scanned += len(page)
            matches += [job for job in page if needle in _json_text(job.payload)]
            if len(page) < SEARCH_PAGE:
                return JobSearch(matches[:limit], False, scanned, exhausted=True)
        return JobSearch(matches[:limit], False, scanned, exhausted=False)

    async def delete_jobs(self, job_ids: Sequence[int]) -> list[int]:
        """Delete the given jobs that are finished (completed, cancelled, or
        failed with no attempt left), with their events, as cleanup does;
        others are left alone. At most ``MAX_DELETE`` (1000) ids a call.
        Returns the ids deleted, in id order.

        Example:
            ``await queue.delete_jobs([failed_id])``
        """
        if isinstance(job_ids, str | bytes) or not isinstance(job_ids, Sequence):
            raise TypeError(
                f"delete_jobs: job_ids must be a list of job ids, got {job_ids!r:.80}"
            )
        if len(job_ids) > MAX_DELETE:
            raise ValueError(
                f"delete_jobs: at most {MAX_DELETE} ids a call, got {len(job_ids)}"
            )
        ids = [
            v.check_id(job_id, "delete_jobs", f"job_ids[{i}]")
            for i, job_id in enumerate(job_ids)
        ]
        if not ids:
            return []
        return await (await self._store()).delete_jobs(sorted(set(ids)))

    async def record_action(
        self, who: str, action: str, details: Mapping[str, Any] | None = None
    ) -> None:
        """Store that ``who`` did ``action`` (with ``details``, a JSON
        object of at most 64 KiB) now, for ``get_actions`` to read back: an
        audit trail of what operators did that no job's events hold (the
        dashboard records each of its actions so). The store keeps the
        newest ``ACTIONS_KEPT`` (10,000) and forgets older ones as it writes.

        Example:
            ``await queue.record_action("alice", "pause", {"job_type": "email"})``
        """
        where = "record_action"
        who = v.check_name(who, where, "who")
        action = v.check_name(action, where, "action")
        if details is None:
            details = {}
        if not isinstance(details, Mapping):
            raise TypeError(
                f"{where}: details must be a dict, got {type(details).__name__}"
            )
        checked = v.check_json(
            dict(details), where, "details", max_bytes=ACTION_DETAILS_MAX_BYTES
        )
        assert isinstance(checked, dict)
        await (await self._store()).record_action(
            who, action, checked, now=self.clock.now(), keep=ACTIONS_KEPT
        )

    async def get_actions(self, limit: int = 100) -> list[RecordedAction]:
        """The newest recorded actions (``record_action``), newest first, at
        most ``limit`` (1-1000).

        Example:
            ``[a.action for a in await queue.get_actions(10)]``
        """
        limit = v.check_int(
            limit, "get_actions", "limit", minimum=1, maximum=ACTIONS_READ_MAX
        )
        return await (await self._store()).get_actions(limit)


def _json_text(payload: Any) -> str:
    """A payload's compact JSON text, case-folded, as a search reads it."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).casefold()
