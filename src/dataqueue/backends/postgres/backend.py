"""The PostgreSQL store: psycopg 3 over an AsyncConnectionPool."""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, nullcontext
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from dataqueue._commands import (
    ClaimRequest,
    CronTick,
    Exchange,
    JobChanges,
    JobFilter,
    Lease,
    LimitChanges,
    NewFlow,
    NewJob,
    NewToken,
    Outcome,
    StoredFlow,
)
from dataqueue._transitions import (
    EDIT,
    MANUAL_RETRY,
    prolonged_metadata,
    resumed_on_token_metadata,
    retried_metadata,
)
from dataqueue.backends._records import (
    event_from_row,
    limits_from_row,
    type_stats_from_rows,
)
from dataqueue.backends._wakeup import WakeupHub
from dataqueue.backends.postgres import adding, limits
from dataqueue.backends.postgres.admin import AdminStatements
from dataqueue.backends.postgres.codec import (
    Row,
    cancel_params,
    claim_params,
    counted_filter,
    edit_params,
    filter_params,
    flow_from_row,
    flow_params,
    in_utc,
    job_row,
    json_text,
    lease_params,
    outcome_params,
    reclaim_params,
    release_params,
    transition_params,
)
from dataqueue.backends.postgres.connection import (
    CONNECT_TIMEOUT,
    POOL_TIMEOUT,
    ClaimStatements,
    apply_migrations,
    conninfo,
    migrations,
    new_pool,
    not_migrated,
    pool_setting,
    statements,
    store_error,
)
from dataqueue.backends.postgres.cron import CronRows
from dataqueue.backends.postgres.exchange import (
    Settlement,
    Then,
    add_dead_letters,
    add_lost_worker_letters,
    finish_jobs,
    has_dead_letters,
    read_claimed,
)
from dataqueue.backends.postgres.faults import (
    connect_error,
    location,
)
from dataqueue.backends.postgres.history import FIRST_PARTITIONS, HistoryLayout
from dataqueue.backends.postgres.listener import (
    channel_for,
    finished_channel_for,
    job_listener,
)
from dataqueue.backends.postgres.transaction import caller_connection, fetch_on
from dataqueue.backends.protocol import Backend, Wakeup
from dataqueue.limits import Limits
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

SCHEMA_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def gate_key(claim: ClaimRequest) -> tuple[tuple[str, ...] | None, int | None]:
    return claim.job_types, claim.group_concurrency


class PostgresBackend(AdminStatements, CronRows, Backend):
    """Jobs in PostgreSQL tables, one statement per operation; a few take a
    transaction of several (migrate, completing and expiring tokens,
    enqueueing cron jobs, starting a flow, enqueueing a flow's join)."""

    name = "postgres"

    def __init__(
        self,
        url: str | None,
        *,
        pool: Any = None,
        schema: str = "public",
        ssl: Mapping[str, Any] | None = None,
        max_connections: int = 10,
        verbose: bool = False,
    ) -> None:
        if not isinstance(schema, str) or not SCHEMA_PATTERN.fullmatch(schema):
            raise ValueError(
                "connect: schema must be a plain identifier (a letter or _, then "
                f"letters, digits or _; at most 63 characters), got {schema!r}"
            )
        if url is None and pool is None:
            raise ValueError("connect: PostgreSQL needs a URL or a pool")
        self._url = url
        self._schema = schema
        self._ssl = ssl
        self._max_connections = max_connections
        self._verbose = verbose
        self._history = HistoryLayout(self._fetch)
        self._owns_pool = pool is None
        self._pool: AsyncConnectionPool[Any] | None = pool
        self._ssl_dir: Path | None = None
        self._pool_lock = asyncio.Lock()
        self._where = location(url) if url else "PostgreSQL"
        self._channel = channel_for(schema)
        self._hub = WakeupHub(
            job_listener(self._listen_connection, self._channel, lambda: self._where)
        )
        self._finished_channel = finished_channel_for(schema)
        # How the next claim of each kind goes, from what the last limited
        # one found: not here, the plain statement (which says when limits
        # apply); None, straight to the limited claim (limits.py), saving
        # the plain statement's round trip; caps, the plain statement behind
        # their fence (Gate.fence), which walks only when the fence fails.
        self._gates: dict[
            tuple[tuple[str, ...] | None, int | None], dict[str, int] | None
        ] = {}
        self._finished_hub = WakeupHub(
            job_listener(
                self._listen_connection,
                self._finished_channel,
                lambda: self._where,
                "finished jobs",
            )
        )
        self._queries = statements(schema)
        self._claims = ClaimStatements(self._queries)
        self._migrations = migrations(schema)
        identifier = sql.Identifier(schema)
        self._sequence = f"{identifier.as_string(None)}.job_queue_id_seq"
        if self._owns_pool:
            self._pool = self._new_pool()

    # -- connections --------------------------------------------------------

    def _conninfo(self) -> str:
        info, self._ssl_dir = conninfo(self._url, self._ssl, self._ssl_dir)
        return info

    def _new_pool(self) -> AsyncConnectionPool[Any]:
        return new_pool(self._conninfo(), self._max_connections, self._schema)

    async def _open_pool(self) -> AsyncConnectionPool[Any]:
        async with self._pool_lock:
            if self._pool is None:
                self._pool = self._new_pool()
            if self._owns_pool and self._pool.closed:
                # One direct attempt first: the pool would retry a refusal
                # (an unknown role, say) until its timeout instead of saying so.
                probe = await self._connect()
                await probe.close()
                await self._pool.open(wait=True, timeout=POOL_TIMEOUT)
            return self._pool

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        """A new autocommit connection with the pool's settings."""
        if self._owns_pool:
            conninfo: str = self._conninfo()
            kwargs: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT}
        else:
            assert self._pool is not None
            conninfo = await pool_setting(self._pool.conninfo)
            kwargs = dict(await pool_setting(self._pool.kwargs) or {})
        try:
            return await psycopg.AsyncConnection.connect(
                conninfo, **{**kwargs, "autocommit": True}
            )
        except psycopg.OperationalError as e:
            raise connect_error(e, self._where) from None

    async def _listen_connection(self) -> psycopg.AsyncConnection[Any]:
        await self._open_pool()
        return await self._connect()

    def get_pool(self) -> Any:
        return self._pool

    @asynccontextmanager
    async def _cursor(
        self,
        what: str,
        *,
        transaction: bool = False,
        pipeline: bool = False,
        raw: bool = False,
    ) -> AsyncIterator[psycopg.AsyncCursor[Row]]:
        """A dict-row cursor (raw: for $n placeholders) on a pooled connection,
        in a transaction, in pipeline mode when asked; psycopg and pool errors
        are store errors."""
        cursor = psycopg.AsyncRawCursor if raw else psycopg.AsyncCursor
        try:
            pool = await self._open_pool()
            async with (
                pool.connection() as conn,
                conn.pipeline() if pipeline else nullcontext(),
                conn.transaction() if transaction else nullcontext(),
                cursor(conn, row_factory=dict_row) as cur,
            ):
                yield cur
        except (psycopg.Error, PoolTimeout) as e:
            raise store_error(e, what, self._where, self._schema) from None

    async def _fetch(self, name: str, params: Mapping[str, Any]) -> list[Row]:
        if self._verbose:
            logger.debug("postgres %s %r", name, params)
        async with self._cursor(name) as cur:
            await cur.execute(self._queries[name], params)
            if cur.description is None:
                return []
            return [in_utc(row) for row in await cur.fetchall()]

    async def _count(self, name: str, params: Mapping[str, Any]) -> int:
        rows = await self._fetch(name, params)
        return int(rows[0]["n"])

    # -- lifecycle ----------------------------------------------------------

    async def open(self) -> None:
        rows = await self._fetch("open", {})
        missing = sorted(set(self._migrations) - set(rows[0]["versions"]))
        if missing:
            names = ", ".join(self._migrations[v][0] for v in missing)
            raise not_migrated(self._schema, f"missing {names}")

    async def close(self) -> None:
        await self._hub.close()
        await self._finished_hub.close()
        if self._owns_pool and self._pool is not None:
            await self._pool.close()
            self._pool = None
        if self._ssl_dir is not None:
            shutil.rmtree(self._ssl_dir, ignore_errors=True)
            self._ssl_dir = None

    async def migrate(self) -> list[str]:
        async with self._cursor("migrate", transaction=True) as cur:
            return await apply_migrations(
                cur, self._queries, self._migrations, self._schema
            )

    # -- adding and reading -------------------------------------------------

    async def add_jobs(
        self, jobs: Sequence[NewJob], *, now: datetime, db: Any = None
    ) -> list[int]:
        if not jobs:
            return []
        if db is None:
            async with self._cursor(
                "add_jobs", transaction=adding.needs_transaction(jobs)
            ) as cur:
                ids = await self._insert_jobs(cur, jobs, now)
            self._hub.notify()
            return ids
        conn = await caller_connection(db)
        try:
            return await self._adding(partial(fetch_on, conn), jobs, now)
        except psycopg.errors.UndefinedTable as e:
            raise not_migrated(self._schema, str(e).strip()) from e

    async def _insert_jobs(
        self, cur: psycopg.AsyncCursor[Row], jobs: Sequence[NewJob], now: datetime
    ) -> list[int]:
        """add_jobs on ``cur`` (in a transaction when deduped, or inside
        another operation's) or, like ``db=``, on a caller's connection: no
        wake-up before it commits (the statement's NOTIFY does it)."""
        return await self._adding(adding.on_cursor(cur), jobs, now)

    def _adding(
        self, run: adding.Run, jobs: Sequence[NewJob], now: datetime
    ) -> Awaitable[list[int]]:
        where = (self._sequence, self._channel, self._schema)
        return adding.add_jobs(run, self._queries, jobs, now, *where)

    async def get_job(self, job_id: int) -> JobRecord | None:
        rows = await self._fetch("get_job", {"job_id": job_id})
        return job_row(rows[0]) if rows else None

    async def get_jobs(
        self, where: JobFilter, limit: int, offset: int
    ) -> list[JobRecord]:
        params = {**filter_params(where), "limit": limit, "offset": offset}
        return [job_row(row) for row in await self._fetch("get_jobs", params)]

    async def get_job_events(self, job_id: int) -> list[JobEvent]:
        rows = await self._fetch("get_job_events", {"job_id": job_id})
        return [event_from_row(row) for row in rows]

    async def count_jobs(self, where: JobFilter) -> dict[JobStatus, int]:
        counted = counted_filter(where) and await self._history.counted()
        statement = "count_jobs.counted" if counted else "count_jobs"
        rows = await self._fetch(statement, filter_params(where))
        counts = {JobStatus(row["status"]): int(row["n"]) for row in rows}
        return dict.fromkeys(JobStatus, 0) | counts

    async def job_type_stats(
        self, *, now: datetime, since: datetime
    ) -> list[JobTypeStats]:
        counted = await self._history.counted()
        params = {"now": now, "since": since}
        rows = await self._fetch("job_type_stats" + ".counted" * counted, params)
        rows += await self._fetch("job_type_stats.recent", params)
        return type_stats_from_rows(rows)

    # -- changing -----------------------------------------------------------

    async def retry_job(self, job_id: int, *, now: datetime) -> bool:
        params = {
            "job_id": job_id,
            **transition_params(MANUAL_RETRY, retried_metadata()),
            "now": now,
        }
        return await self._count("retry_job", params) > 0

    async def cancel_job(self, job_id: int, *, now: datetime) -> bool:
        params = {"job_id": job_id, **cancel_params(), "now": now}
        return bool(await self._finishing("cancel_job", params))

    async def edit_jobs(
        self, target: int | JobFilter, changes: JobChanges, *, now: datetime
    ) -> int:
        if isinstance(target, JobFilter):
            job_id, where = None, target
        else:
            job_id, where = target, JobFilter()
        params = {
            **filter_params(where),
            **edit_params(changes),
            "statuses": sorted(EDIT.from_statuses),
            "job_id": job_id,
            "now": now,
        }
        return await self._count("edit_jobs", params)

    async def cancel_jobs(self, where: JobFilter, *, now: datetime) -> list[int]:
        return await self._finishing(
            "cancel_jobs", {**filter_params(where), **cancel_params(), "now": now}
        )

    async def _finishing(
        self, name: str, params: Mapping[str, Any], then: Then | None = None
    ) -> list[int]:
        """Run a statement that may make jobs final (it NOTIFYs the finished
        channel, and wakes this process's waiters at once), then release or
        cancel the jobs held on them, atomically; the ids of the jobs it
        changed."""
        channels = {
            "finished_channel": self._finished_channel,
            "channel": self._channel,
        }
        async with self._cursor(name, transaction=True) as cur:
            row = await finish_jobs(
                cur, self._queries, name, {**params, **channels}, then
            )
        if row["finished"]:
            self._finished_hub.notify()
        return list(row["ids"])

    # -- maintenance ----------------------------------------------------------

    async def reclaim_stuck_jobs(
        self, max_processing_seconds: float, message: str, *, now: datetime
    ) -> list[int]:
        params = reclaim_params(max_processing_seconds, message, now)
        letters = partial(add_lost_worker_letters, self._queries, self._insert_jobs)
        return await self._finishing(
            "reclaim_stuck_jobs", params, partial(letters, message, now)
        )

    async def cleanup_old_jobs(self, before: datetime, batch_size: int) -> int:
        deleted = await self._delete_in_batches("cleanup_old_jobs", before, batch_size)
        await self._history.compact_counts()
        return deleted

    async def cleanup_old_job_events(self, before: datetime, batch_size: int) -> int:
        # On the partitioned layout whole days go with their partition and
        # only the default partition row by row; the day the cutoff falls in
        # waits for its drop.
        dropped = await self._history.drop_event_partitions(before)
        rows = "cleanup_old_job_events" + ("" if dropped is None else ".default")
        deleted = await self._delete_in_batches(rows, before, batch_size)
        return (dropped or 0) + deleted

    async def partition_history(self) -> None:
        async with self._cursor("migrate", transaction=True) as cur:
            await cur.execute(self._queries["migrate_lock"], {"schema": self._schema})
            await cur.execute(self._queries["migrate_partitioned"])
            await cur.execute(
                self._queries["cleanup_old_job_events.partitions"], FIRST_PARTITIONS
            )
        self._history.set_up()

    async def cleanup_old_flows(self, before: datetime, batch_size: int) -> int:
        return await self._delete_in_batches("cleanup_old_flows", before, batch_size)

    async def _delete_in_batches(
        self, name: str, before: datetime, batch_size: int
    ) -> int:
        total = 0
        while True:
            params = {"before": before, "batch_size": batch_size}
            deleted = await self._count(name, params)
            total += deleted
            if deleted < batch_size:
                return total

    async def expire_timed_out_tokens(self, *, now: datetime) -> int:
        async def expire(cur: psycopg.AsyncCursor[Row]) -> int:
            await cur.execute(self._queries["expire_timed_out_tokens"], {"now": now})
            tokens = [row["id"] for row in await cur.fetchall()]
            if tokens:
                await self._resume_token_waits(cur, tokens, True, now)
            return len(tokens)

        return await self._in_transaction("expire_timed_out_tokens", expire)

    # -- durable steps and tokens ---------------------------------------------

    async def save_step(
        self, lease: Lease, step_data: dict[str, JSONValue], *, now: datetime
    ) -> bool:
        params = {
            "job_id": lease.job_id,
            "token": lease.token,
            "step_data": json_text(step_data),
            "now": now,
        }
        return await self._count("save_step", params) > 0

    async def create_token(
        self,
        lease: Lease,
        token: NewToken,
        step_data: dict[str, JSONValue],
        *,
        now: datetime,
    ) -> bool:
        params = {
            "job_id": lease.job_id,
            "token": lease.token,
            "step_data": json_text(step_data),
            "token_id": token.id,
            "timeout_at": token.timeout_at,
            "tags": list(token.tags),
            "now": now,
        }
        return await self._count("create_token", params) > 0

    async def get_token(self, token_id: str) -> Token | None:
        rows = await self._fetch("get_token", {"token_id": token_id})
        if not rows:
            return None
        row = rows[0]
        return Token(
            id=row["id"],
            job_id=row["job_id"],
            status=row["status"],
            output=row["output"],
            timeout_at=row["timeout_at"],
            created_at=row["created_at"],
            completed_at=row["completed_at"],
            tags=list(row["tags"]),
        )

    async def complete_token(
        self, token_id: str, output: JSONValue, *, now: datetime
    ) -> str | None:
        params = {"token_id": token_id, "output": json_text(output), "now": now}

        async def complete(cur: psycopg.AsyncCursor[Row]) -> str | None:
            await cur.execute(self._queries["complete_token"], params)
            if await cur.fetchone() is None:
                await cur.execute(self._queries["get_token"], params)
                token = await cur.fetchone()
                return "unknown" if token is None else str(token["status"])
            await self._resume_token_waits(cur, [token_id], False, now)
            return None

        refused = await self._in_transaction("complete_token", complete)
        if refused is None:
            self._hub.notify()
        return refused

    async def _resume_token_waits(
        self,
        cur: psycopg.AsyncCursor[Row],
        tokens: list[str],
        timed_out: bool,
        now: datetime,
    ) -> None:
        """The jobs waiting on ``tokens`` become due now; a statement of its
        own, so that its snapshot sees suspensions that committed while the
        tokens' row locks were awaited."""
        events = [
            json_text(resumed_on_token_metadata(token, timed_out=timed_out))
            for token in tokens
        ]
        params = {
            "token_ids": tokens,
            "events": events,
            "now": now,
            "channel": self._channel,
        }
        await cur.execute(self._queries["complete_token.resume"], params)

    async def _in_transaction(
        self, what: str, run: Callable[[psycopg.AsyncCursor[Row]], Awaitable[T]]
    ) -> T:
        async with self._cursor(what, transaction=True) as cur:
            return await run(cur)

    # -- work -----------------------------------------------------------------

    async def settle_and_claim(
        self,
        outcomes: Sequence[Outcome],
        claim: ClaimRequest | None,
        *,
        now: datetime,
    ) -> Exchange:
        typed = claim is not None and claim.job_types is not None
        name = "settle_and_claim_typed" if typed else "settle_and_claim"
        caps = {} if claim is None else self._gates.get(gate_key(claim), {})
        params = {
            **outcome_params(outcomes, now),
            **claim_params(claim, caps),
            "now": now,
            "finished_channel": self._finished_channel,
            "channel": self._channel,
        }
        if self._verbose:
            logger.debug("postgres %s %r", name, params)
        settlement = Settlement()
        gate = None
        letters = has_dead_letters(outcomes)
        gated = caps is None and not letters
        if not gated:
            statement = self._claims[name, params["claim_limit"]]
            async with self._cursor(
                "settle_and_claim", transaction=letters, raw=True
            ) as cur:
                await cur.execute(statement.text, statement.bind(params))
                claimed = await read_claimed(cur, settlement)
                await add_dead_letters(
                    cur, self._queries["settle_and_claim.dead_letter"],
                    self._insert_jobs, outcomes, settlement, now,
                )  # fmt: skip
        if claim is not None and (gated or settlement.gated):
            # A gated claim: its outcomes (when the last claim of this kind
            # was gated too, and there are any) and then the limited claim,
            # in one transaction whose reads go in one round trip.
            settles = gated and bool(outcomes)
            async with self._cursor(
                "settle_and_claim", transaction=True, pipeline=True
            ) as cur:
                settled = cur.connection.cursor(row_factory=dict_row)
                if settles:
                    await settled.execute(
                        self._queries[name], {**params, "claim_limit": 0}
                    )
                taken, gate = await limits.claim_limited(
                    cur, self._queries, claim, now, self._schema
                )
            try:
                claimed = await limits.read_taken(taken)
                if settles:
                    await read_claimed(settled, settlement)
            except psycopg.Error as e:
                raise store_error(
                    e, "settle_and_claim", self._where, self._schema
                ) from None
            if gate.is_open:
                self._gates.pop(gate_key(claim), None)
            else:
                self._gates[gate_key(claim)] = gate.fence(claim.limit)
        if settlement.finished:
            self._finished_hub.notify()
        return Exchange(
            settled=[n in settlement.written for n in range(len(outcomes))],
            claimed=claimed,
            ready_flows=settlement.ready_flows,
            wake_at=None if gate is None else gate.wake_at,
            waits_for_slot=gate is not None and gate.waits_for_slot,
        )

    async def get_limits(self) -> list[Limits]:
        return [limits_from_row(row) for row in await self._fetch("get_limits", {})]

    async def change_limits(self, changes: LimitChanges, *, now: datetime) -> None:
        await self._in_transaction(
            "change_limits",
            partial(
                limits.change_limits,
                queries=self._queries,
                changes=changes,
                now=now,
                channel=self._channel,
            ),
        )

    async def heartbeat(self, leases: Sequence[Lease], *, now: datetime) -> list[int]:
        if not leases:
            return []
        rows = await self._fetch("heartbeat", {**lease_params(leases), "now": now})
        return [int(row["id"]) for row in rows]

    async def release_jobs(self, leases: Sequence[Lease], *, now: datetime) -> int:
        if not leases:
            return 0
        return await self._count("release_jobs", release_params(leases, now))

    async def prolong_job(self, lease: Lease, timeout: float, *, now: datetime) -> bool:
        params = {
            "job_id": lease.job_id,
            "token": lease.token,
            "metadata": json_text(prolonged_metadata(timeout)),
            "now": now,
        }
        return await self._count("prolong_job", params) > 0

    async def set_output(
        self, lease: Lease, output: JSONValue, *, now: datetime
    ) -> bool:
        return await self._write_held(
            "set_output", lease, now, output=json_text(output)
        )

    async def set_progress(self, lease: Lease, progress: int, *, now: datetime) -> bool:
        return await self._write_held("set_progress", lease, now, progress=progress)

    async def _write_held(
        self, name: str, lease: Lease, now: datetime, **values: Any
    ) -> bool:
        """A one-job write under ``lease``; False when the lease is lost."""
        params = {"job_id": lease.job_id, "token": lease.token, "now": now, **values}
        return await self._count(name, params) > 0

    async def subscribe(self) -> Wakeup:
        return await self._hub.subscribe()

    async def subscribe_finished(self) -> Wakeup:
        return await self._finished_hub.subscribe()

    # -- cron -----------------------------------------------------------------

    async def enqueue_cron_jobs(
        self, ticks: Sequence[CronTick], *, now: datetime
    ) -> list[int]:
        if not ticks:
            return []
        q = self._queries
        claims = {
            "schedule_ids": [tick.run.cron_job_id for tick in ticks],
            "claimed_run_ats": [tick.claimed_run_at for tick in ticks],
            "next_run_ats": [tick.next_run_at for tick in ticks],
            "skipped": [tick.run.skipped for tick in ticks],
            "now": now,
        }

        async def enqueue(cur: psycopg.AsyncCursor[Row]) -> list[int]:
            await cur.execute(q["enqueue_cron_jobs"], claims)
            rows = await cur.fetchall()
            fired = {row["schedule_id"] for row in rows if row["fire"]}
            fired_ticks = [t for t in ticks if t.run.cron_job_id in fired]
            if not fired_ticks:
                return []
            ids = await self._insert_jobs(cur, [t.job for t in fired_ticks], now)
            record = {
                "schedule_ids": [tick.run.cron_job_id for tick in fired_ticks],
                "job_ids": ids,
            }
            await cur.execute(q["enqueue_cron_jobs.record"], record)
            return ids

        ids = await self._in_transaction("enqueue_cron_jobs", enqueue)
        if not ids:
            return []
        self._hub.notify()
        return ids

    # -- flows ----------------------------------------------------------------

    async def start_flow(self, flow: NewFlow, *, now: datetime) -> list[int]:
        async def start(cur: psycopg.AsyncCursor[Row]) -> list[int]:
            ids = await self._insert_jobs(cur, flow.steps, now)
            params = {**flow_params(flow, ids), "now": now}
            await cur.execute(self._queries["start_flow"], params)
            return ids

        ids = await self._in_transaction("start_flow", start)
        self._hub.notify()
        return ids

    async def get_flow(self, flow_id: str) -> StoredFlow | None:
        rows = await self._fetch("get_flow", {"flow_id": flow_id})
        return flow_from_row(rows[0]) if rows else None

    async def list_flows(
        self, status: FlowStatus | None, limit: int, offset: int
    ) -> list[FlowRecord]:
        params = {
            "status": None if status is None else status.value,
            "limit": limit,
            "offset": offset,
        }
        rows = await self._fetch("list_flows", params)
        return [flow_from_row(row).record for row in rows]

    async def enqueue_flow_join(
        self, flow_id: str, join: NewJob, *, now: datetime
    ) -> int | None:
        q = self._queries

        async def enqueue(cur: psycopg.AsyncCursor[Row]) -> int | None:
            await cur.execute(q["enqueue_flow_join"], {"flow_id": flow_id, "now": now})
            if not await cur.fetchall():
                return None
            [job_id] = await self._insert_jobs(cur, [join], now)
            record = {"flow_id": flow_id, "job_id": job_id}
            await cur.execute(q["enqueue_flow_join.record"], record)
            return job_id

        job_id = await self._in_transaction("enqueue_flow_join", enqueue)
        if job_id is not None:
            self._hub.notify()
        return job_id

    async def time_out_flows(self, *, now: datetime) -> list[str]:
        rows = await self._fetch("time_out_flows", {"now": now})
        return [row["id"] for row in rows]

    async def get_ready_flows(self, limit: int) -> list[str]:
        rows = await self._fetch("get_ready_flows", {"limit": limit})
        return [row["id"] for row in rows]
