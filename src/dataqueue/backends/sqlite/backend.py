"""The SQLite store: one file (or ``:memory:``), no server.

Every operation runs on one connection owned by one background thread, so the
event loop never blocks on the file. Writes run in ``BEGIN IMMEDIATE``
transactions, which take the database's write lock up front: several worker
processes on one machine can claim from the same file and never get the same
job. Times are stored as integer microseconds since the epoch (UTC).

A processor's whole exchange (its finished jobs' outcomes and events, then
its next claim) is one such transaction, handed to the thread in one hop.
Every write of a running attempt matches the job's ``lease_token``. Other
processes hear of new jobs, and of jobs that became final, through doorbells
(``doorbell.py``). A flow step's barrier (``flow_barrier``) runs in the
transaction that makes its job final.
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any, LiteralString, TypeVar

from dataqueue._commands import (
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
from dataqueue._transitions import (
    CANCEL,
    EDIT,
    MANUAL_RETRY,
    PROLONG,
    Transition,
    prolonged_metadata,
    retried_metadata,
)
from dataqueue.backends._records import (
    type_stats_from_rows,
)
from dataqueue.backends._wakeup import WakeupHub
from dataqueue.backends.protocol import Backend, Wakeup
from dataqueue.backends.sqlite import doorbell, limits
from dataqueue.backends.sqlite.admin import AdminStatements
from dataqueue.backends.sqlite.codec import (
    change_params,
    cron_change_params,
    cron_params,
    decode_claimed,
    decode_cron,
    decode_event,
    decode_flow,
    decode_job,
    decode_step,
    decode_token,
    filter_params,
    filtered_statement,
    from_micros,
    held_params,
    json_list,
    leases_json,
    optional_json,
    optional_micros,
    statuses_json,
    step_params,
    to_micros,
)
from dataqueue.backends.sqlite.connection import (
    MEMORY,
    SQL,
    Connection,
    caller_cursor,
    ensure_schema,
    retry_busy,
    same_file,
)
from dataqueue.backends.sqlite.exchange import (
    Settlement,
    cancel_ids,
    claim_jobs,
    enqueue_tick,
    event_params,
    insert_events,
    insert_jobs,
    reclaim_stuck,
    release,
    resume_due_waits,
    resume_token_waits,
    settle,
    start_flow,
)
from dataqueue.backends.sqlite.limits import unheld
from dataqueue.backends.sqlite.listener import (
    listen_added,
    listen_finished,
)
from dataqueue.cron import CronJob, CronStatus
from dataqueue.errors import (
    BackendError,
)
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

logger = logging.getLogger("dataqueue")

T = TypeVar("T")


class SqliteBackend(AdminStatements, Backend):
    """Jobs in a SQLite file (WAL mode), safe across processes on one machine.

    Args:
        path: A filesystem path, or ``":memory:"`` for a private in-memory
            database that lives as long as the backend.
        verbose: Log every store operation at DEBUG.
    """

    name = "sqlite"

    def __init__(self, path: str, *, verbose: bool = False) -> None:
        self._path = path
        self._db = Connection(path, verbose=verbose)
        self._ringer = doorbell.Ringer(path)
        self._finished_ringer = doorbell.Ringer(path, finished=True)
        # A private in-memory database has no other writer to listen for.
        self._hub = WakeupHub(
            None if path == MEMORY else partial(listen_added, path, self._ringer)
        )
        self._finished_hub = WakeupHub(
            None
            if path == MEMORY
            else partial(listen_finished, path, self._finished_ringer)
        )

    # -- lifecycle -------------------------------------------------------

    async def open(self) -> None:
        await self._db.run("open", lambda conn: None)

    async def migrate(self) -> list[str]:
        return await self._db.run("migrate", self._db.migrate_explicitly)

    async def close(self) -> None:
        await self._hub.close()
        await self._finished_hub.close()
        self._ringer.close()
        self._finished_ringer.close()
        await self._db.close()

    # -- adding ----------------------------------------------------------

    async def add_jobs(
        self, jobs: Sequence[NewJob], *, now: datetime, db: Any = None
    ) -> list[int]:
        if db is not None:
            if not self._db.opened:
                await self.open()  # so that add_jobs_sync finds the schema
            return self.add_jobs_sync(jobs, now=now, db=db)
        micros = to_micros(now)
        # One job takes a fraction of a millisecond to add: on the loop, when
        # the write lock is free at once, it costs no hop to the thread (a
        # third of the call's time); a batch goes to the thread.
        ids = await self._db.write_op(
            "add_jobs",
            lambda conn: insert_jobs(conn.cursor(), jobs, micros),
            on_loop=len(jobs) == 1,
        )
        self._ringer.ring(doorbell.ADDED)
        self._hub.notify()
        return ids

    def add_jobs_sync(
        self, jobs: Sequence[NewJob], *, now: datetime, db: Any
    ) -> list[int]:
        """Insert jobs on the caller's ``sqlite3.Connection``, in its transaction.

        Nothing is committed: the jobs and their ``added`` events commit or
        roll back with the caller's transaction. Runs in the calling thread,
        since a connection belongs to the thread that made it.

        Raises:
            BackendError: ``db`` is not a ``sqlite3.Connection`` to this
                backend's database file.
        """
        cursor = caller_cursor(db)
        try:
            if not same_file(cursor, self._path):
                raise BackendError(
                    f"add_jobs(db=...): the connection is not to {self._path!r}"
                )
            ensure_schema(cursor, db, self._path, self._db)
            ids = insert_jobs(cursor, jobs, to_micros(now))
        except sqlite3.Error as error:
            raise BackendError(f"sqlite add_jobs(db=...) failed: {error}") from error
        finally:
            cursor.close()
        # Every listener, this process's too, watches for the caller's commit.
        self._ringer.ring(doorbell.PENDING)
        return ids

    # -- reading ---------------------------------------------------------

    async def get_job(self, job_id: int) -> JobRecord | None:
        rows = await self._db.read("get_job", SQL["get_job"], {"id": job_id})
        return decode_job(rows[0]) if rows else None

    async def get_jobs(
        self, where: JobFilter, limit: int, offset: int
    ) -> list[JobRecord]:
        params = {**filter_params(where), "limit": limit, "offset": offset}
        rows = await self._db.read(
            "get_jobs", filtered_statement("get_jobs", where), params
        )
        return [decode_job(row) for row in rows]

    async def get_job_events(self, job_id: int) -> list[JobEvent]:
        rows = await self._db.read(
            "get_job_events", SQL["get_job_events"], {"job_id": job_id}
        )
        return [decode_event(row) for row in rows]

    # -- changing --------------------------------------------------------

    async def retry_job(self, job_id: int, *, now: datetime) -> bool:
        return await self._change_one(
            "retry_job",
            {"id": job_id, "statuses": statuses_json(MANUAL_RETRY)},
            MANUAL_RETRY,
            retried_metadata(),
            now,
        )

    async def cancel_job(self, job_id: int, *, now: datetime) -> bool:
        micros = to_micros(now)

        def cancel(conn: sqlite3.Connection) -> list[int]:
            return cancel_ids(conn, [job_id], micros)

        cancelled = await self._db.write_op("cancel_job", cancel)
        if cancelled:
            self._finished_now()
        return bool(cancelled)

    async def cancel_jobs(self, where: JobFilter, *, now: datetime) -> list[int]:
        micros = to_micros(now)
        params = {**filter_params(where), "statuses": statuses_json(CANCEL)}
        select = filtered_statement("get_jobs", where, statuses=True)

        def cancel(conn: sqlite3.Connection) -> list[int]:
            ids = [row["id"] for row in conn.execute(select, params)]
            return cancel_ids(conn, ids, micros)

        cancelled = await self._db.write_op("cancel_jobs", cancel)
        if cancelled:
            self._finished_now()
        return cancelled

    async def edit_jobs(
        self, target: int | JobFilter, changes: JobChanges, *, now: datetime
    ) -> int:
        micros = to_micros(now)
        params = change_params(changes, micros)
        if isinstance(target, JobFilter):
            select = {**filter_params(target), "statuses": statuses_json(EDIT)}
            statement = filtered_statement("get_jobs", target, statuses=True)
        else:
            select = None

        def edit(conn: sqlite3.Connection) -> int:
            if select is None:
                ids = [target]
            else:
                ids = [row["id"] for row in conn.execute(statement, select)]
            rows = conn.execute(
                SQL["edit_jobs"], {**params, "ids": json_list(ids)}
            ).fetchall()
            insert_events(
                conn,
                (event_params(r["id"], EDIT, micros, changes.metadata) for r in rows),
            )
            return len(rows)

        return await self._db.write_op("edit_jobs", edit)

    # -- maintenance -----------------------------------------------------

    async def reclaim_stuck_jobs(
        self, max_processing_seconds: float, message: str, *, now: datetime
    ) -> list[int]:
        reclaimed, failed = await self._db.write_op(
            "reclaim_stuck_jobs",
            partial(reclaim_stuck, max_processing_seconds, message, now),
        )
        if failed:
            self._finished_now()
        return reclaimed

    async def cleanup_old_jobs(self, before: datetime, batch_size: int) -> int:
        return await self._delete_in_batches("cleanup_old_jobs", before, batch_size)

    async def cleanup_old_job_events(self, before: datetime, batch_size: int) -> int:
        return await self._delete_in_batches(
            "cleanup_old_job_events", before, batch_size
        )

    async def cleanup_old_flows(self, before: datetime, batch_size: int) -> int:
        params = {"before": to_micros(before), "batch_size": batch_size}

        def delete(conn: sqlite3.Connection) -> int:
            ids = [row["id"] for row in conn.execute(SQL["cleanup_old_flows"], params)]
            conn.execute(SQL["cleanup_old_flows.steps"], {"ids": json_list(ids)})
            return len(ids)

        return await self._in_batches("cleanup_old_flows", batch_size, delete)

    async def _delete_in_batches(
        self, operation: str, before: datetime, batch_size: int
    ) -> int:
        sql = SQL[operation]
        params = {"before": to_micros(before), "batch_size": batch_size}

        def delete(conn: sqlite3.Connection) -> int:
            return conn.execute(sql, params).rowcount

        return await self._in_batches(operation, batch_size, delete)

    async def _in_batches(
        self,
        operation: str,
        batch_size: int,
        delete: Callable[[sqlite3.Connection], int],
    ) -> int:
        """Run ``delete`` (one batch; returns how many it deleted) until a
        batch comes back short; returns the total."""
        total = 0
        # One transaction per batch, so that writers are never held off for
        # the whole cleanup.
        while True:
            deleted = await self._db.write_op(operation, delete)
            total += deleted
            if deleted < batch_size:
                return total

    async def expire_timed_out_tokens(self, *, now: datetime) -> int:
        micros = to_micros(now)

        def expire(conn: sqlite3.Connection) -> tuple[int, int]:
            tokens = [
                row["id"]
                for row in conn.execute(SQL["expire_timed_out_tokens"], {"now": micros})
            ]
            return len(tokens), resume_token_waits(conn, tokens, micros, True)

        expired, resumed = await self._db.write_op("expire_timed_out_tokens", expire)
        if resumed:
            self._woken()
        return expired

    # -- durable steps and tokens ------------------------------------------

    async def save_step(
        self, lease: Lease, step_data: dict[str, JSONValue], *, now: datetime
    ) -> bool:
        params = step_params(lease, step_data, to_micros(now))

        def save(conn: sqlite3.Connection) -> bool:
            return conn.execute(SQL["save_step"], params).fetchone() is not None

        return await self._db.write_op("save_step", save)

    async def create_token(
        self,
        lease: Lease,
        token: NewToken,
        step_data: dict[str, JSONValue],
        *,
        now: datetime,
    ) -> bool:
        micros = to_micros(now)
        params = step_params(lease, step_data, micros)
        new = {
            "id": token.id,
            "job_id": lease.job_id,
            "timeout_at": optional_micros(token.timeout_at),
            "tags": json_list(token.tags),
            "now": micros,
        }

        def create(conn: sqlite3.Connection) -> bool:
            if conn.execute(SQL["save_step"], params).fetchone() is None:
                return False
            conn.execute(SQL["create_token"], new)
            return True

        return await self._db.write_op("create_token", create)

    async def get_token(self, token_id: str) -> Token | None:
        rows = await self._db.read("get_token", SQL["get_token"], {"id": token_id})
        return decode_token(rows[0]) if rows else None

    async def complete_token(
        self, token_id: str, output: JSONValue, *, now: datetime
    ) -> str | None:
        micros = to_micros(now)
        params = {"id": token_id, "output": optional_json(output), "now": micros}

        def complete(conn: sqlite3.Connection) -> tuple[str | None, int]:
            if conn.execute(SQL["complete_token"], params).fetchone() is None:
                row = conn.execute(SQL["get_token"], {"id": token_id}).fetchone()
                return ("unknown" if row is None else row["status"]), 0
            return None, resume_token_waits(conn, [token_id], micros, False)

        refused, resumed = await self._db.write_op("complete_token", complete)
        if resumed:
            self._woken()
        return refused

    def _woken(self) -> None:
        """Jobs became due now: wake idle processors, here and elsewhere."""
        self._ringer.ring(doorbell.ADDED)
        self._hub.notify()

    def _finished_now(self) -> None:
        """Jobs became final: wake those waiting for them, here and elsewhere."""
        self._finished_ringer.ring(doorbell.FINISHED)
        self._finished_hub.notify()

    # -- processing ------------------------------------------------------

    async def settle_and_claim(
        self,
        outcomes: Sequence[Outcome],
        claim: ClaimRequest | None,
        *,
        now: datetime,
    ) -> Exchange:
        if not outcomes and claim is None:
            return Exchange(settled=[], claimed=[])
        micros = to_micros(now)

        def exchange(
            conn: sqlite3.Connection,
        ) -> tuple[Settlement, list[sqlite3.Row], Gate | None]:
            settlement = (
                settle(conn, outcomes, micros, now)
                if outcomes
                else Settlement([], 0, [])
            )
            if claim is None:
                return settlement, [], None
            resume_due_waits(conn, micros)
            claim_gate = limits.gate(conn, claim, now)
            # Caps with room for the whole claim: the walk would take what
            # the plain claim takes (Gate.fence), and the write lock held
            # since BEGIN IMMEDIATE keeps the room until the commit.
            if claim_gate.is_open or claim_gate.fence(claim.limit) is not None:
                return settlement, claim_jobs(conn, claim, micros), claim_gate
            rows = limits.claim_limited(conn, claim, claim_gate, micros)
            return settlement, rows, claim_gate

        settlement, rows, gate = await self._db.write_op(
            "settle_and_claim", exchange, on_loop=True
        )
        if settlement.finished:
            self._finished_now()
        if settlement.added:  # dead letters
            self._ringer.ring(doorbell.ADDED)
            self._hub.notify()
        # Decoded here, on the event loop, to keep the store's thread short.
        return Exchange(
            settled=settlement.settled,
            claimed=[unheld(decode_claimed(row)) for row in rows],
            ready_flows=settlement.ready_flows,
            wake_at=None if gate is None else gate.wake_at,
            waits_for_slot=gate is not None and gate.waits_for_slot,
        )

    async def get_limits(self) -> list[Limits]:
        return await self._db.run("get_limits", limits.get_limits)

    async def change_limits(self, changes: LimitChanges, *, now: datetime) -> None:
        change = partial(limits.change_limits, changes=changes, now=to_micros(now))
        await self._db.write_op("change_limits", change)
        self._woken()

    async def heartbeat(self, leases: Sequence[Lease], *, now: datetime) -> list[int]:
        if not leases:
            return []
        params = {"leases": leases_json(leases), "now": to_micros(now)}

        def refresh(conn: sqlite3.Connection) -> list[int]:
            return [row[0] for row in conn.execute(SQL["heartbeat"], params)]

        return sorted(await self._db.write_op("heartbeat", refresh))

    async def release_jobs(self, leases: Sequence[Lease], *, now: datetime) -> int:
        if not leases:
            return 0
        return await self._db.write_op(
            "release_jobs", partial(release, leases, to_micros(now))
        )

    async def prolong_job(self, lease: Lease, timeout: float, *, now: datetime) -> bool:
        return await self._change_one(
            "prolong_job",
            {"id": lease.job_id, "token": lease.token},
            PROLONG,
            prolonged_metadata(timeout),
            now,
        )

    async def set_output(
        self, lease: Lease, output: JSONValue, *, now: datetime
    ) -> bool:
        params = {"output": optional_json(output), **held_params(lease, now)}
        return await self._write_one("set_output", params)

    async def set_progress(self, lease: Lease, progress: int, *, now: datetime) -> bool:
        params = {"progress": progress, **held_params(lease, now)}
        return await self._write_one("set_progress", params)

    async def _change_one(
        self,
        operation: LiteralString,
        params: Mapping[str, Any],
        transition: Transition,
        metadata: Mapping[str, Any],
        now: datetime,
    ) -> bool:
        """Run a one-job UPDATE ... RETURNING id; append ``transition``'s
        event if it hit."""
        micros = to_micros(now)
        sql = SQL[operation]

        def change(conn: sqlite3.Connection) -> bool:
            row = conn.execute(sql, {**params, "now": micros}).fetchone()
            if row is None:
                return False
            conn.execute(
                SQL["insert_event"],
                event_params(row["id"], transition, micros, metadata),
            )
            return True

        return await self._db.write_op(operation, change)

    # -- wake-ups ----------------------------------------------------------

    async def subscribe(self) -> Wakeup:
        return await self._hub.subscribe()

    async def subscribe_finished(self) -> Wakeup:
        return await self._finished_hub.subscribe()

    # -- cron ----------------------------------------------------------------

    async def add_cron_job(self, schedule: NewCronJob, *, now: datetime) -> int | None:
        params = {**cron_params(schedule), "now": to_micros(now)}

        def add(conn: sqlite3.Connection) -> int | None:
            row = conn.execute(SQL["add_cron_job"], params).fetchone()
            return None if row is None else int(row["id"])

        return await self._db.write_op("add_cron_job", add)

    async def get_cron_job(self, cron_job_id: int) -> CronJob | None:
        rows = await self._db.read(
            "get_cron_job", SQL["get_cron_job"], {"id": cron_job_id}
        )
        return decode_cron(rows[0]) if rows else None

    async def get_cron_job_by_name(self, schedule_name: str) -> CronJob | None:
        rows = await self._db.read(
            "get_cron_job_by_name",
            SQL["get_cron_job_by_name"],
            {"schedule_name": schedule_name},
        )
        return decode_cron(rows[0]) if rows else None

    async def list_cron_jobs(self, status: CronStatus | None) -> list[CronJob]:
        params = {"status": None if status is None else status.value}
        rows = await self._db.read("list_cron_jobs", SQL["list_cron_jobs"], params)
        return [decode_cron(row) for row in rows]

    async def edit_cron_job(
        self, cron_job_id: int, changes: CronChanges, *, now: datetime
    ) -> bool:
        params = {
            **cron_change_params(changes),
            "id": cron_job_id,
            "now": to_micros(now),
        }
        return await self._write_one("edit_cron_job", params)

    async def pause_cron_job(self, cron_job_id: int, *, now: datetime) -> bool:
        params = {"id": cron_job_id, "now": to_micros(now)}
        return await self._write_one("pause_cron_job", params)

    async def resume_cron_job(
        self,
        cron_job_id: int,
        next_run_at: datetime,
        expected: tuple[str, str],
        *,
        now: datetime,
    ) -> bool:
        params = {
            "id": cron_job_id,
            "next_run_at": to_micros(next_run_at),
            "expected_expression": expected[0],
            "expected_timezone": expected[1],
            "now": to_micros(now),
        }
        return await self._write_one("resume_cron_job", params)

    async def remove_cron_job(self, cron_job_id: int) -> bool:
        return await self._write_one("remove_cron_job", {"id": cron_job_id})

    async def get_due_cron_jobs(self, *, now: datetime) -> list[CronJob]:
        rows = await self._db.read(
            "get_due_cron_jobs", SQL["get_due_cron_jobs"], {"now": to_micros(now)}
        )
        return [decode_cron(row) for row in rows]

    async def enqueue_cron_jobs(
        self, ticks: Sequence[CronTick], *, now: datetime
    ) -> list[int]:
        if not ticks:
            return []
        micros = to_micros(now)

        def enqueue(conn: sqlite3.Connection) -> list[int]:
            cursor = conn.cursor()
            ids = [enqueue_tick(cursor, tick, micros) for tick in ticks]
            return [job_id for job_id in ids if job_id is not None]

        ids = await self._db.write_op("enqueue_cron_jobs", enqueue)
        if ids:
            self._woken()
        return ids

    async def _write_one(
        self, operation: LiteralString, params: Mapping[str, Any]
    ) -> bool:
        """Run a one-row write ... RETURNING; True if it hit a row."""
        sql = SQL[operation]

        def write(conn: sqlite3.Connection) -> bool:
            return conn.execute(sql, params).fetchone() is not None

        return await self._db.write_op(operation, write)

    # -- flows ---------------------------------------------------------------

    async def start_flow(self, flow: NewFlow, *, now: datetime) -> list[int]:
        ids = await self._db.write_op(
            "start_flow", partial(start_flow, flow, to_micros(now))
        )
        self._woken()
        return ids

    async def get_flow(self, flow_id: str) -> StoredFlow | None:
        def read(conn: sqlite3.Connection) -> tuple[sqlite3.Row | None, list[Any]]:
            # One transaction, so the steps match the flow row.
            conn.execute("BEGIN")
            try:
                flow = conn.execute(SQL["get_flow"], {"id": flow_id}).fetchone()
                steps = conn.execute(
                    SQL["get_flow.steps"], {"flow_id": flow_id}
                ).fetchall()
            finally:
                conn.execute("COMMIT")
            return flow, steps

        row, steps = await self._db.run(
            "get_flow", lambda conn: retry_busy(lambda: read(conn))
        )
        if row is None:
            return None
        record = decode_flow(row, [decode_step(step) for step in steps])
        return StoredFlow(record=record, join_spec=row["join_spec"])

    async def list_flows(
        self, status: FlowStatus | None, limit: int, offset: int
    ) -> list[FlowRecord]:
        params = {
            "status": None if status is None else status.value,
            "limit": limit,
            "offset": offset,
        }
        rows = await self._db.read("list_flows", SQL["list_flows"], params)
        return [decode_flow(row, []) for row in rows]

    async def enqueue_flow_join(
        self, flow_id: str, join: NewJob, *, now: datetime
    ) -> int | None:
        micros = to_micros(now)

        def enqueue(conn: sqlite3.Connection) -> int | None:
            ready = conn.execute(SQL["enqueue_flow_join.ready"], {"id": flow_id})
            if ready.fetchone() is None:
                return None
            (job_id,) = insert_jobs(conn.cursor(), [join], micros)
            conn.execute(
                SQL["enqueue_flow_join"],
                {"id": flow_id, "join_job_id": job_id, "now": micros},
            )
            return job_id

        job_id = await self._db.write_op("enqueue_flow_join", enqueue)
        if job_id is not None:
            self._woken()
        return job_id

    async def time_out_flows(self, *, now: datetime) -> list[str]:
        params = {"now": to_micros(now)}

        def time_out(conn: sqlite3.Connection) -> list[str]:
            return [row["id"] for row in conn.execute(SQL["time_out_flows"], params)]

        return await self._db.write_op("time_out_flows", time_out)

    async def get_ready_flows(self, limit: int) -> list[str]:
        rows = await self._db.read(
            "get_ready_flows", SQL["get_ready_flows"], {"limit": limit}
        )
        return [row["id"] for row in rows]

    # -- counts --------------------------------------------------------------

    async def count_jobs(self, where: JobFilter) -> dict[JobStatus, int]:
        where = dataclasses.replace(where, status=None)
        rows = await self._db.read(
            "count_jobs", filtered_statement("count_jobs", where), filter_params(where)
        )
        counts = dict.fromkeys(JobStatus, 0)
        for row in rows:
            counts[JobStatus(row["status"])] = row["jobs"]
        return counts

    async def job_type_stats(
        self, *, now: datetime, since: datetime
    ) -> list[JobTypeStats]:
        params = {"now": to_micros(now), "since": to_micros(since)}
        rows = await self._db.read("job_type_stats", SQL["job_type_stats"], params)
        return type_stats_from_rows(
            {**row, "oldest_pending_at": from_micros(row["oldest_pending_at"])}
            for row in map(dict, rows)
        )
