"""The in-memory store: every role of the protocol on Python dicts.

For tests: nothing to install or start, nothing left behind. It behaves as
the other stores do (the conformance suite runs on it too), within one
process: ``memory://`` is private to the queue that opened it, and
``memory://NAME`` is shared by every queue of the process that names it.
Nothing survives the process.

Every method is one critical section (``Tables.lock``) that reads and
writes the tables with no ``await`` inside, so each operation is atomic as
a transaction or a Lua script is in the other stores. The steps that move a
job between statuses live in ``exchange.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from dataqueue import _transitions as t
from dataqueue._commands import (
    Claimed,
    ClaimRequest,
    CronChanges,
    CronTick,
    Exchange,
    JobChanges,
    JobFilter,
    Lease,
    LimitChanges,
    NewCronJob,
    NewFlow,
    NewJob,
    NewToken,
    Outcome,
    StoredFlow,
)
from dataqueue.backends._records import type_stats_from_rows
from dataqueue.backends.memory import exchange
from dataqueue.backends.memory.admin import AdminOperations
from dataqueue.backends.memory.codec import (
    claimed_record,
    copy_entity,
    cron_record,
    encode_json,
    event_record,
    flow_record,
    flow_step,
    job_record,
    matches,
    new_cron_row,
    optional_json,
    token_record,
)
from dataqueue.backends.memory.tables import Tables, named_tables
from dataqueue.backends.protocol import Backend, Wakeup
from dataqueue.cron import CronJob, CronStatus
from dataqueue.errors import BackendError
from dataqueue.limits import Gate, Limits
from dataqueue.models import (
    FlowRecord,
    FlowStatus,
    JobEvent,
    JobRecord,
    JobStatus,
    JobTypeStats,
    Token,
)
from dataqueue.types import JSONValue


class MemoryBackend(AdminOperations, Backend):
    """Jobs in this process's memory.

    Args:
        name: ``None`` for a store of this backend's own; a name to share
            the process's store of that name with every backend naming it.
    """

    name = "memory"

    def __init__(self, name: str | None = None) -> None:
        self._tables = Tables() if name is None else named_tables(name)

    # -- lifecycle -------------------------------------------------------

    async def open(self) -> None:
        """Nothing to connect to."""

    async def close(self) -> None:
        """Nothing to release: a named store stays for the next queue."""

    async def migrate(self) -> list[str]:
        """No schema: the tables are Python dicts."""
        return []

    # -- adding and reading --------------------------------------------------

    async def add_jobs(
        self, jobs: Sequence[NewJob], *, now: datetime, db: Any = None
    ) -> list[int]:
        if db is not None:
            raise BackendError(
                "transactional enqueue (db=) needs PostgreSQL or SQLite; "
                "the memory store has no transaction to join"
            )
        ids = self._atomically(lambda tables: exchange.add_jobs(tables, jobs, now))
        self._tables.added.notify()
        return ids

    async def get_job(self, job_id: int) -> JobRecord | None:
        def read(tables: Tables) -> JobRecord | None:
            row = tables.jobs.get(job_id)
            return None if row is None else job_record(row)

        return self._atomically(read)

    async def get_jobs(
        self, where: JobFilter, limit: int, offset: int
    ) -> list[JobRecord]:
        def read(tables: Tables) -> list[JobRecord]:
            ids = self._matching(tables, where)
            return [job_record(tables.jobs[i]) for i in ids[offset : offset + limit]]

        return self._atomically(read)

    @staticmethod
    def _matching(
        tables: Tables, where: JobFilter, statuses: frozenset[JobStatus] | None = None
    ) -> list[int]:
        """The one filter of ``get_jobs``, ``count_jobs``, ``edit_jobs`` and
        ``cancel_jobs``: ids newest first (jobs are kept in id order)."""
        return [
            job_id
            for job_id in reversed(tables.jobs)
            if matches(tables.jobs[job_id], where)
            and (statuses is None or tables.jobs[job_id]["status"] in statuses)
        ]

    async def get_job_events(self, job_id: int) -> list[JobEvent]:
        return self._atomically(
            lambda tables: [event_record(e) for e in tables.events.get(job_id, [])]
        )

    async def count_jobs(self, where: JobFilter) -> dict[JobStatus, int]:
        anything = JobFilter(
            job_type=where.job_type,
            priority=where.priority,
            run_at=where.run_at,
            tags=where.tags,
        )

        types = None if where.job_type is None else [where.job_type]

        def count(tables: Tables) -> dict[JobStatus, int]:
            counts = dict.fromkeys(JobStatus, 0)
            for status in JobStatus:
                rows = tables.rows(status, types)
                counts[status] = sum(matches(row, anything) for row in rows)
            return counts

        return self._atomically(count)

    async def job_type_stats(
        self, *, now: datetime, since: datetime
    ) -> list[JobTypeStats]:
        def read(tables: Tables) -> list[JobTypeStats]:
            groups: dict[tuple[str, str], dict[str, Any]] = {}
            for row in tables.jobs.values():
                status = row["status"]
                group = groups.setdefault(
                    (row["job_type"], status),
                    {
                        "job_type": row["job_type"],
                        "status": status,
                        "jobs": 0,
                        "oldest_pending_at": None,
                        "completed": 0,
                        "failed": 0,
                    },
                )
                group["jobs"] += 1
                if status == JobStatus.PENDING and row["run_at"] <= now:
                    oldest = group["oldest_pending_at"]
                    if oldest is None or row["run_at"] < oldest:
                        group["oldest_pending_at"] = row["run_at"]
                completed_at, failed_at = row["completed_at"], row["last_failed_at"]
                if status == JobStatus.COMPLETED and completed_at >= since:
                    group["completed"] += 1
                if failed_at is not None and failed_at >= since:
                    group["failed"] += 1
            return type_stats_from_rows(groups.values())

        return self._atomically(read)

    # -- changing ------------------------------------------------------------

    async def retry_job(self, job_id: int, *, now: datetime) -> bool:
        def retry(tables: Tables) -> bool:
            row = tables.jobs.get(job_id)
            if row is None or row["status"] not in t.RETRYABLE:
                return False
            exchange.apply(
                tables,
                row,
                t.MANUAL_RETRY,
                now,
                t.retried_metadata(),
                run_at=min(row["run_at"], now),
                next_attempt_at=None,
                last_retried_at=now,
            )
            return True

        retried = self._atomically(retry)
        if retried:
            self._tables.added.notify()
        return retried

    async def cancel_job(self, job_id: int, *, now: datetime) -> bool:
        cancelled = self._atomically(
            lambda tables: exchange.cancel_ids(tables, [job_id], now)
        )
        if cancelled:
            self._tables.finished.notify()
        return bool(cancelled)

    async def cancel_jobs(self, where: JobFilter, *, now: datetime) -> list[int]:
        def cancel(tables: Tables) -> list[int]:
            ids = self._matching(tables, where, t.CANCELLABLE)
            return exchange.cancel_ids(tables, ids, now)

        cancelled = self._atomically(cancel)
        if cancelled:
            self._tables.finished.notify()
        return cancelled

    async def edit_jobs(
        self, target: int | JobFilter, changes: JobChanges, *, now: datetime
    ) -> int:
        values = dict(changes.values)
        if "payload" in values:
            values["payload"] = encode_json(values["payload"])
        if "run_at" in values and values["run_at"] is None:
            values["run_at"] = now
        if "tags" in values:
            values["tags"] = list(values["tags"] or [])

        def edit(tables: Tables) -> int:
            if isinstance(target, JobFilter):
                ids = sorted(self._matching(tables, target))
            else:
                ids = [target]
            edited = 0
            for job_id in ids:
                row = tables.jobs.get(job_id)
                if row is None or row["status"] not in t.EDIT.from_statuses:
                    continue
                exchange.apply(tables, row, t.EDIT, now, changes.metadata, **values)
                edited += 1
            return edited

        return self._atomically(edit)

    # -- maintenance -------------------------------------------------------

    async def reclaim_stuck_jobs(
        self, max_processing_seconds: float, message: str, *, now: datetime
    ) -> list[int]:
        reclaimed, failed = self._atomically(
            lambda tables: exchange.reclaim(
                tables, max_processing_seconds, message, now
            )
        )
        if reclaimed:
            self._tables.added.notify()
        if failed:
            self._tables.finished.notify()
        return reclaimed

    async def cleanup_old_jobs(self, before: datetime, batch_size: int) -> int:
        def delete(tables: Tables) -> int:
            old = [
                job_id
                for job_id, row in tables.jobs.items()
                if row["updated_at"] < before
                and t.is_final(JobStatus(row["status"]), row["next_attempt_at"])
            ]
            tables.delete_jobs(old)
            return len(old)

        return self._atomically(delete)

    async def cleanup_old_job_events(self, before: datetime, batch_size: int) -> int:
        def delete(tables: Tables) -> int:
            deleted = 0
            for job_id, events in tables.events.items():
                kept = [e for e in events if not e["created_at"] < before]
                deleted += len(events) - len(kept)
                tables.events[job_id] = kept
            return deleted

        return self._atomically(delete)

    async def cleanup_old_flows(self, before: datetime, batch_size: int) -> int:
        def delete(tables: Tables) -> int:
            old = [
                flow_id
                for flow_id, flow in tables.flows.items()
                if flow["status"] == FlowStatus.JOINED and flow["updated_at"] < before
            ]
            for flow_id in old:
                del tables.flows[flow_id]
            return len(old)

        return self._atomically(delete)

    # -- processing ----------------------------------------------------------

    async def settle_and_claim(
        self,
        outcomes: Sequence[Outcome],
        claim: ClaimRequest | None,
        *,
        now: datetime,
    ) -> Exchange:
        def run(
            tables: Tables,
        ) -> tuple[exchange.Settlement, list[Claimed], Gate | None]:
            settlement = exchange.settle(tables, outcomes, now)
            claimed: list[Claimed] = []
            gate = None
            if claim is not None:
                exchange.resume_due_waits(tables, now)
                rows, gate = exchange.claim(tables, claim, now)
                claimed = [claimed_record(row) for row in rows]
            return settlement, claimed, gate

        settlement, claimed, gate = self._atomically(run)
        if settlement.finished:
            self._tables.finished.notify()
        if settlement.added:
            self._tables.added.notify()
        return Exchange(
            settled=settlement.settled,
            claimed=claimed,
            ready_flows=settlement.ready_flows,
            wake_at=None if gate is None else gate.wake_at,
            waits_for_slot=gate is not None and gate.waits_for_slot,
        )

    async def heartbeat(self, leases: Sequence[Lease], *, now: datetime) -> list[int]:
        def refresh(tables: Tables) -> list[int]:
            refreshed = set()
            for lease in leases:
                row = exchange.held(tables, lease)
                if row is not None:
                    row["locked_at"] = now
                    refreshed.add(lease.job_id)
            return sorted(refreshed)

        return self._atomically(refresh)

    async def release_jobs(self, leases: Sequence[Lease], *, now: datetime) -> int:
        released = self._atomically(
            lambda tables: exchange.release(tables, leases, now)
        )
        if released:
            self._tables.added.notify()
        return released

    async def prolong_job(self, lease: Lease, timeout: float, *, now: datetime) -> bool:
        def prolong(tables: Tables) -> bool:
            row = exchange.held(tables, lease)
            if row is None:
                return False
            exchange.apply(
                tables,
                row,
                t.PROLONG,
                now,
                t.prolonged_metadata(timeout),
                locked_at=now,
            )
            return True

        return self._atomically(prolong)

    async def set_output(
        self, lease: Lease, output: JSONValue, *, now: datetime
    ) -> bool:
        text = optional_json(output)
        return self._atomically(
            lambda tables: self._write_held(tables, lease, now, output=text)
        )

    async def set_progress(self, lease: Lease, progress: int, *, now: datetime) -> bool:
        return self._atomically(
            lambda tables: self._write_held(tables, lease, now, progress=progress)
        )

    @staticmethod
    def _write_held(tables: Tables, lease: Lease, now: datetime, **values: Any) -> bool:
        """Set ``values`` on the lease's job while the lease holds."""
        row = exchange.held(tables, lease)
        if row is None:
            return False
        row.update(values, updated_at=now)
        return True

    # -- wake-ups ----------------------------------------------------------

    async def subscribe(self) -> Wakeup:
        return await self._tables.added.subscribe()

    async def subscribe_finished(self) -> Wakeup:
        return await self._tables.finished.subscribe()

    # -- durable steps and tokens ------------------------------------------

    async def save_step(
        self, lease: Lease, step_data: dict[str, JSONValue], *, now: datetime
    ) -> bool:
        text = encode_json(step_data)
        return self._atomically(
            lambda tables: self._write_held(tables, lease, now, step_data=text)
        )

    async def create_token(
        self,
        lease: Lease,
        token: NewToken,
        step_data: dict[str, JSONValue],
        *,
        now: datetime,
    ) -> bool:
        text = encode_json(step_data)

        def create(tables: Tables) -> bool:
            if token.id in tables.tokens:
                raise BackendError(f"memory create_token: token {token.id!r} exists")
            if not self._write_held(tables, lease, now, step_data=text):
                return False
            tables.tokens[token.id] = {
                "id": token.id,
                "job_id": lease.job_id,
                "status": "waiting",
                "output": None,
                "timeout_at": token.timeout_at,
                "created_at": now,
                "completed_at": None,
                "tags": list(token.tags),
            }
            return True

        return self._atomically(create)

    async def get_token(self, token_id: str) -> Token | None:
        def read(tables: Tables) -> Token | None:
            row = tables.tokens.get(token_id)
            return None if row is None else token_record(row)

        return self._atomically(read)

    async def complete_token(
        self, token_id: str, output: JSONValue, *, now: datetime
    ) -> str | None:
        text = optional_json(output)

        def complete(tables: Tables) -> tuple[str | None, int]:
            token = tables.tokens.get(token_id)
            if token is None:
                return "unknown", 0
            if token["status"] != "waiting":
                return str(token["status"]), 0
            token.update(status="completed", output=text, completed_at=now)
            return None, exchange.resume_token_waits(tables, [token_id], now, False)

        refused, resumed = self._atomically(complete)
        if resumed:
            self._tables.added.notify()
        return refused

    async def expire_timed_out_tokens(self, *, now: datetime) -> int:
        def expire(tables: Tables) -> tuple[int, int]:
            expired = [
                token
                for token in tables.tokens.values()
                if token["status"] == "waiting"
                and token["timeout_at"] is not None
                and token["timeout_at"] <= now
            ]
            for token in expired:
                token.update(status="timed_out", completed_at=now)
            ids = [token["id"] for token in expired]
            return len(ids), exchange.resume_token_waits(tables, ids, now, True)

        expired, resumed = self._atomically(expire)
        if resumed:
            self._tables.added.notify()
        return expired

    # -- cron ----------------------------------------------------------------

    async def add_cron_job(self, schedule: NewCronJob, *, now: datetime) -> int | None:
        def add(tables: Tables) -> int | None:
            if any(
                row["schedule_name"] == schedule.schedule_name
                for row in tables.crons.values()
            ):
                return None
            tables.last_cron_id += 1
            cron_id = tables.last_cron_id
            tables.crons[cron_id] = new_cron_row(cron_id, schedule, now)
            return cron_id

        return self._atomically(add)

    async def get_cron_job(self, cron_job_id: int) -> CronJob | None:
        return self._first_cron(lambda row: row["id"] == cron_job_id)

    async def get_cron_job_by_name(self, schedule_name: str) -> CronJob | None:
        return self._first_cron(lambda row: row["schedule_name"] == schedule_name)

    def _first_cron(self, chosen: Callable[[dict[str, Any]], bool]) -> CronJob | None:
        def read(tables: Tables) -> CronJob | None:
            for row in tables.crons.values():
                if chosen(row):
                    return cron_record(row)
            return None

        return self._atomically(read)

    async def list_cron_jobs(self, status: CronStatus | None) -> list[CronJob]:
        return self._atomically(
            lambda tables: [
                cron_record(row)
                for row in tables.crons.values()
                if status is None or row["status"] == status
            ]
        )

    async def edit_cron_job(
        self, cron_job_id: int, changes: CronChanges, *, now: datetime
    ) -> bool:
        values = dict(changes.values)
        if "payload" in values:
            values["payload"] = encode_json(values["payload"])
        if "tags" in values:
            values["tags"] = list(values["tags"])
        if changes.next_run_at is not None:
            values["next_run_at"] = changes.next_run_at

        def edit(tables: Tables) -> bool:
            row = tables.crons.get(cron_job_id)
            if row is None:
                return False
            expected = changes.expected
            if expected is not None and expected != (
                row["cron_expression"],
                row["timezone"],
            ):
                return False
            row.update(values, updated_at=now)
            return True

        return self._atomically(edit)

    async def pause_cron_job(self, cron_job_id: int, *, now: datetime) -> bool:
        def pause(tables: Tables) -> bool:
            row = tables.crons.get(cron_job_id)
            if row is None or row["status"] != CronStatus.ACTIVE:
                return False
            row.update(status=CronStatus.PAUSED.value, updated_at=now)
            return True

        return self._atomically(pause)

    async def resume_cron_job(
        self,
        cron_job_id: int,
        next_run_at: datetime,
        expected: tuple[str, str],
        *,
        now: datetime,
    ) -> bool:
        def resume(tables: Tables) -> bool:
            row = tables.crons.get(cron_job_id)
            if (
                row is None
                or row["status"] != CronStatus.PAUSED
                or (row["cron_expression"], row["timezone"]) != expected
            ):
                return False
            row.update(
                status=CronStatus.ACTIVE.value, next_run_at=next_run_at, updated_at=now
            )
            return True

        return self._atomically(resume)

    async def remove_cron_job(self, cron_job_id: int) -> bool:
        return self._atomically(
            lambda tables: tables.crons.pop(cron_job_id, None) is not None
        )

    async def get_due_cron_jobs(self, *, now: datetime) -> list[CronJob]:
        def read(tables: Tables) -> list[CronJob]:
            due = [
                row
                for row in tables.crons.values()
                if row["status"] == CronStatus.ACTIVE and row["next_run_at"] <= now
            ]
            due.sort(key=lambda row: (row["next_run_at"], row["id"]))
            return [cron_record(row) for row in due]

        return self._atomically(read)

    async def enqueue_cron_jobs(
        self, ticks: Sequence[CronTick], *, now: datetime
    ) -> list[int]:
        def enqueue(tables: Tables) -> list[int]:
            ids = [exchange.enqueue_tick(tables, tick, now) for tick in ticks]
            return [job_id for job_id in ids if job_id is not None]

        ids = self._atomically(enqueue)
        if ids:
            self._tables.added.notify()
        return ids

    # -- flows ---------------------------------------------------------------

    async def start_flow(self, flow: NewFlow, *, now: datetime) -> list[int]:
        def start(tables: Tables) -> list[int]:
            if flow.id in tables.flows:
                raise BackendError(f"memory start_flow: flow {flow.id!r} exists")
            ids = tables.insert_jobs(flow.steps, now)
            tables.flows[flow.id] = {
                "id": flow.id,
                "status": FlowStatus.RUNNING.value,
                "failure_policy": flow.failure_policy,
                "total_steps": len(flow.steps),
                "remaining_steps": len(flow.steps),
                "aborted": False,
                "timed_out": False,
                "timeout_at": flow.timeout_at,
                "join_job_type": flow.join_job_type,
                "join_spec": flow.join_spec,
                "join_job_id": None,
                "entity": copy_entity(flow.entity),
                "created_at": now,
                "updated_at": now,
                "steps": {
                    step.flow_step_index: {"job_id": job_id, "outcome": None}
                    for step, job_id in zip(flow.steps, ids, strict=True)
                },
            }
            return ids

        ids = self._atomically(start)
        self._tables.added.notify()
        return ids

    async def get_flow(self, flow_id: str) -> StoredFlow | None:
        def read(tables: Tables) -> StoredFlow | None:
            flow = tables.flows.get(flow_id)
            if flow is None:
                return None
            steps = [
                flow_step(index, step["outcome"], tables.jobs[step["job_id"]])
                for index, step in sorted(flow["steps"].items())
                # A step whose job cleanup_old_jobs deleted is left out.
                if step["job_id"] in tables.jobs
            ]
            return StoredFlow(flow_record(flow, steps), flow["join_spec"])

        return self._atomically(read)

    async def list_flows(
        self, status: FlowStatus | None, limit: int, offset: int
    ) -> list[FlowRecord]:
        def read(tables: Tables) -> list[FlowRecord]:
            newest_first = [
                flow
                for flow in reversed(tables.flows.values())
                if status is None or flow["status"] == status
            ]
            return [
                flow_record(flow, []) for flow in newest_first[offset : offset + limit]
            ]

        return self._atomically(read)

    async def enqueue_flow_join(
        self, flow_id: str, join: NewJob, *, now: datetime
    ) -> int | None:
        def enqueue(tables: Tables) -> int | None:
            flow = tables.flows.get(flow_id)
            if flow is None or flow["status"] != FlowStatus.READY:
                return None
            (job_id,) = tables.insert_jobs([join], now)
            flow.update(
                status=FlowStatus.JOINED.value, join_job_id=job_id, updated_at=now
            )
            return job_id

        job_id = self._atomically(enqueue)
        if job_id is not None:
            self._tables.added.notify()
        return job_id

    async def time_out_flows(self, *, now: datetime) -> list[str]:
        def time_out(tables: Tables) -> list[str]:
            timed_out = [
                flow
                for flow in tables.flows.values()
                if flow["status"] == FlowStatus.RUNNING
                and flow["timeout_at"] is not None
                and flow["timeout_at"] <= now
            ]
            for flow in timed_out:
                flow.update(
                    status=FlowStatus.READY.value, timed_out=True, updated_at=now
                )
            return [flow["id"] for flow in timed_out]

        return self._atomically(time_out)

    async def get_ready_flows(self, limit: int) -> list[str]:
        return self._atomically(
            lambda tables: [
                flow_id
                for flow_id, flow in tables.flows.items()
                if flow["status"] == FlowStatus.READY
            ][:limit]
        )

    async def get_limits(self) -> list[Limits]:
        return self._atomically(
            lambda tables: sorted(
                tables.limits.values(), key=lambda limit: limit.job_type
            )
        )

    async def change_limits(self, changes: LimitChanges, *, now: datetime) -> None:
        self._atomically(partial(exchange.change_limits, changes=changes))
        self._tables.added.notify()
