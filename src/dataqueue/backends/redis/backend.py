"""The Redis store: every change that touches several keys is one Lua script.

Resets. Redis without persistence loses its whole dataset on a restart, and
a queue that went on counting from 1 would hand out ids that its users still
hold for jobs added before. Two things guard against that:

* Every id counter (``{p}id``, ``{p}event_id``) that is missing starts at the
  server's clock in milliseconds x 1000 instead of at 0 (``reserve_ids`` in
  ``lua/_lib.lua``). Ids handed out before a reset came from an earlier
  start of the counter and were issued at fewer than 1000 per millisecond on
  average, so the new ids are all larger, whichever process adds first and
  whenever it started. The cost: ids are large from the start (about 1.8e15,
  still below 2**53, so exact in JSON and JavaScript), and the guarantee
  assumes the server's clock does not move back across the reset.
* ``{p}instance`` holds a marker written when the dataset is first used. The
  scripts that add and claim return it, creating it when missing; a backend
  that sees it change logs one ERROR per reset (the jobs it knew are gone)
  and carries on with the new dataset.

Store faults are raised as ``StoreUnavailableError`` or ``StoreRefusedError``
(``faults.py``). Pooled connections idle for ``HEALTH_CHECK_SECONDS`` are
checked with a PING before use, and a command whose connection turns out to
be dead is sent once more on a new one, so a restarted server costs no failed
call when it is back. The wake-up listener reconnects on its own with
backoff.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

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
from dataqueue._redact import redact
from dataqueue._transitions import (
    RECLAIM_AS_WORKER_LOST,
    prolonged_metadata,
    resumed_on_token_metadata,
    settled_by,
)
from dataqueue._validate import to_json_text
from dataqueue.backends import _records
from dataqueue.backends._wakeup import WakeupHub
from dataqueue.backends.protocol import Backend, Wakeup
from dataqueue.backends.redis import keys
from dataqueue.backends.redis.admin import AdminScripts
from dataqueue.backends.redis.codec import (
    MINUTE_US,
    as_text,
    changes_json,
    cron_edit_json,
    decode_claimed,
    decode_cron,
    decode_crons,
    decode_flow,
    decode_job,
    decode_step,
    decode_token,
    filter_json,
    lease_args,
    limit_changes_json,
    limits_from,
    micros_text,
    new_cron_args,
    new_flow_json,
    new_job_json,
    tick_json,
    time_from,
)
from dataqueue.backends.redis.connection import (
    cluster_client,
    is_cluster_url,
    pooled_client,
    tls_options,
)
from dataqueue.backends.redis.exchange import (
    HELD_JOB_EVENTS,
    RECLAIM_PASSES,
    RECLAIMED_TEMPLATE,
    RELEASED_TEMPLATE,
    TIMED_OUT_TEMPLATE,
    cancel_arg,
    claim_events_arg,
    dependency_refusal,
    failure_args,
    lost_worker_letters,
    outcome_args,
    retry_arg,
)
from dataqueue.backends.redis.faults import store_faults
from dataqueue.backends.redis.listener import listen
from dataqueue.backends.redis.scripts import Scripts
from dataqueue.backends.redis.upgrade import old_instance, rename_old_keys
from dataqueue.cron import CronJob, CronStatus
from dataqueue.errors import BackendError, NotMigratedError
from dataqueue.limits import Limits
from dataqueue.models import (
    FailureReason,
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

SCHEMA_VERSION = 3
# Candidate jobs one script call looks at when a filter walks an index (see
# walk_matches in lua/_lib.lua): a filtered read or bulk change of many jobs
# is several short calls, so other clients are served in between.
WALK_BUDGET = 500


class RedisBackend(AdminScripts, Backend):
    """Jobs in Redis hashes, indexed by sorted sets, changed by Lua scripts.

    Args:
        url: ``redis://``, ``rediss://`` or ``redis+cluster://host:port,...``
            URL (ignored when ``client`` is given).
        client: An existing ``redis.asyncio.Redis`` or ``RedisCluster``; used
            as is and never closed.
        key_prefix: Every key and the wake-up channel start with it, so queues
            with different prefixes share one Redis without seeing each other.
        tls: ``ca``, ``cert``, ``key`` (PEM text, or ``file://path``) and
            ``reject_unauthorized`` (default True).
        max_connections: Size of the connection pool created from ``url``.
        verbose: Log every script call at DEBUG.
    """

    name = "redis"

    def __init__(
        self,
        url: str | None,
        *,
        client: Any = None,
        key_prefix: str = "dq:",
        tls: Mapping[str, Any] | None = None,
        max_connections: int = 10,
        verbose: bool = False,
    ) -> None:
        self._where = f"Redis at {redact(url) if url else 'the given client'}"
        self._temp_files: list[str] = []
        self._owns_client = client is None
        if client is None:
            if url is None:
                raise ValueError("RedisBackend needs a url or a client")
            options: dict[str, Any] = {}
            if tls is not None:
                options, self._temp_files = tls_options(tls)
            client = (
                cluster_client(url, max_connections=max_connections, options=options)
                if is_cluster_url(url)
                else pooled_client(url, max_connections, options)
            )
        self._client = client
        self._prefix = key_prefix
        self._scripts = Scripts(client, key_prefix, self._where, verbose=verbose)
        self._hub = WakeupHub(
            functools.partial(
                listen, client, self._where, keys.wakeup(key_prefix), "job wake-up"
            )
        )
        self._finished_hub = WakeupHub(
            functools.partial(
                listen,
                client,
                self._where,
                keys.job_finished(key_prefix),
                "job-finished signal",
            )
        )
        self._instance: str | None = None

    def get_redis_client(self) -> Any:
        return self._client

    async def open(self) -> None:
        with store_faults(self._where):
            await self._client.ping()
            marker = await self._client.get(keys.instance(self._prefix))
            old_layout = await self._client.exists(old_instance(self._prefix))
        if old_layout:
            raise NotMigratedError(
                f"{self._where} holds the queue of prefix {self._prefix!r} in "
                "the key layout without a hash tag: run `dataqueue migrate` "
                "(or `await queue.migrate()`) once, with every worker stopped, "
                "to rename its keys (see docs/scaling.md)"
            )
        self._instance = None if marker is None else as_text(marker)

    async def close(self) -> None:
        await self._hub.close()
        await self._finished_hub.close()
        if self._owns_client:
            await self._client.aclose()
        for path in self._temp_files:
            os.unlink(path)
        self._temp_files = []

    async def migrate(self) -> list[str]:
        """Fill the indexes a dataset of an older schema version lacks.

        Redis needs no schema; a dataset that predates a version (or has
        none: jobs written before versions were kept) gets that version's
        new indexes built from its jobs, a budget of jobs per call.
        """
        version_key = keys.schema_version(self._prefix)
        with store_faults(self._where):
            await self._rename_old_keys()
            stored = await self._client.get(version_key)
        if stored is not None and int(stored) >= SCHEMA_VERSION:
            return []
        cursor = ""
        while cursor is not None:
            cursor = await self._scripts.run("migrate", cursor, WALK_BUDGET)
        with store_faults(self._where):
            await self._client.set(version_key, SCHEMA_VERSION)
        return [f"schema version {SCHEMA_VERSION}"]

    async def _rename_old_keys(self) -> None:
        """Bring a queue of the layout without hash tags to today's names."""
        renamed, clashes = await rename_old_keys(self._client, self._prefix)
        if clashes:
            raise BackendError(
                f"{self._where}: {len(clashes)} key(s) of prefix "
                f"{self._prefix!r} exist in both key layouts (e.g. "
                f"{clashes[0]!r}); a worker of an earlier version is still "
                "writing the old one: stop it and migrate again"
            )
        if renamed:
            logger.info(
                "%s: renamed %d key(s) of prefix %r to the hash-tagged layout",
                self._where,
                renamed,
                self._prefix,
            )

    def _saw_instance(self, marker: str | bytes) -> None:
        """Note the dataset's instance marker; a changed one means a reset."""
        marker = as_text(marker)
        if self._instance is not None and marker != self._instance:
            logger.error(
                "%s (prefix %r) was reset: its data is gone, jobs added before "
                "are lost; new job ids continue above the old ones",
                self._where,
                self._prefix,
            )
        self._instance = marker

    # -- JobStore ------------------------------------------------------------

    async def add_jobs(
        self, jobs: Sequence[NewJob], *, now: datetime, db: Any = None
    ) -> list[int]:
        if db is not None:
            raise BackendError(
                "transactional enqueue (db=) needs PostgreSQL or SQLite; "
                "Redis has no transaction to join"
            )
        if not jobs:
            return []
        specs = [new_job_json(job, now) for job in jobs]
        try:
            marker, ids = await self._scripts.run("add_jobs", micros_text(now), *specs)
        except BackendError as error:
            raise dependency_refusal(error) from None
        self._saw_instance(marker)
        self._hub.notify()
        return [int(job_id) for job_id in ids]

    async def get_job(self, job_id: int) -> JobRecord | None:
        with store_faults(self._where):
            fields = await self._client.hgetall(keys.job(self._prefix, job_id))
        if not fields:
            return None
        return decode_job(
            {as_text(name): as_text(value) for name, value in fields.items()}
        )

    async def get_jobs(
        self, where: JobFilter, limit: int, offset: int
    ) -> list[JobRecord]:
        spec, cursor = filter_json(where), ""
        rows: list[dict[str, str]] = []
        while True:
            found, skipped, cursor = await self._scripts.run(
                "get_jobs", spec, limit - len(rows), offset, cursor, WALK_BUDGET
            )
            rows += json.loads(found)
            offset -= int(skipped)
            if cursor is None or len(rows) >= limit:
                return [decode_job(row) for row in rows]

    async def get_job_events(self, job_id: int) -> list[JobEvent]:
        with store_faults(self._where):
            entries = await self._client.lrange(
                keys.events(self._prefix, job_id), 0, -1
            )
        events = []
        for entry in entries:
            event_id, event_type, created_at, metadata = as_text(entry).split("\t", 3)
            events.append(
                _records.event_from_row(
                    {
                        "id": int(event_id),
                        "job_id": job_id,
                        "event_type": event_type,
                        "created_at": time_from(created_at),
                        "metadata": json.loads(metadata),
                    }
                )
            )
        return events

    async def retry_job(self, job_id: int, *, now: datetime) -> bool:
        return bool(
            await self._scripts.run("retry_job", job_id, micros_text(now), retry_arg())
        )

    async def cancel_job(self, job_id: int, *, now: datetime) -> bool:
        cancelled = bool(
            await self._scripts.run(
                "cancel_job", job_id, micros_text(now), cancel_arg(), HELD_JOB_EVENTS
            )
        )
        if cancelled:
            self._finished_hub.notify()
        return cancelled

    async def edit_jobs(
        self, target: int | JobFilter, changes: JobChanges, *, now: datetime
    ) -> int:
        if isinstance(target, JobFilter):
            job_id, where = "", filter_json(target)
        else:
            job_id, where = str(target), "{}"
        edits, metadata = changes_json(changes, now), to_json_text(changes.metadata)
        total, cursor = 0, ""
        while cursor is not None:
            edited, cursor = await self._scripts.run(
                "edit_jobs",
                micros_text(now),
                job_id,
                where,
                edits,
                metadata,
                cursor,
                WALK_BUDGET,
            )
            total += int(edited)
        return total

    async def cancel_jobs(self, where: JobFilter, *, now: datetime) -> list[int]:
        spec, cancelled, cursor = filter_json(where), [], ""
        cancel = cancel_arg()
        while cursor is not None:
            ids, cursor = await self._scripts.run(
                "cancel_jobs",
                *(micros_text(now), spec, cursor, WALK_BUDGET, cancel),
                HELD_JOB_EVENTS,
            )
            cancelled += [int(job_id) for job_id in ids]
        if cancelled:
            self._finished_hub.notify()
        return cancelled

    async def count_jobs(self, where: JobFilter) -> dict[JobStatus, int]:
        statuses = list(JobStatus)
        names: list[JSONValue] = [status.value for status in statuses]
        spec, wanted = (
            filter_json(dataclasses.replace(where, status=None)),
            to_json_text(names),
        )
        totals, cursor = dict.fromkeys(statuses, 0), ""
        while cursor is not None:
            counts, cursor = await self._scripts.run(
                "count_jobs", spec, wanted, cursor, WALK_BUDGET
            )
            for status, count in zip(statuses, counts, strict=True):
                totals[status] += int(count)
        return totals

    async def job_type_stats(
        self, *, now: datetime, since: datetime
    ) -> list[JobTypeStats]:
        reply = await self._scripts.run(
            "job_type_stats",
            micros_text(now),
            int(micros_text(since)) // MINUTE_US,
            int(micros_text(now)) // MINUTE_US,
        )
        return [
            JobTypeStats(
                job_type=job_type,
                counts={status: int(counts[status.value]) for status in JobStatus},
                oldest_pending_at=None if oldest is False else time_from(oldest),
                completed=int(completed),
                failed=int(failed),
            )
            for job_type, counts, oldest, completed, failed in sorted(
                json.loads(as_text(reply))
            )
        ]

    async def reclaim_stuck_jobs(
        self, max_processing_seconds: float, message: str, *, now: datetime
    ) -> list[int]:
        threshold = round(max_processing_seconds * 1_000_000)
        cutoff = int(micros_text(now)) - threshold
        reclaimed: set[int] = set()
        letters = "{}"
        for _ in range(RECLAIM_PASSES):
            ids, wanting = await self._scripts.run(
                "reclaim_stuck_jobs",
                micros_text(now),
                threshold,
                cutoff,
                *failure_args(message, FailureReason.WORKER_LOST, None, now),
                FailureReason.WORKER_LOST.value,
                RECLAIM_AS_WORKER_LOST.step_outcome,
                HELD_JOB_EVENTS,
                letters,
                RECLAIMED_TEMPLATE,
            )
            reclaimed.update(int(job_id) for job_id in ids)
            letters = lost_worker_letters(as_text(wanting), message, now)
            if letters == "{}":
                break
        if reclaimed:
            self._finished_hub.notify()  # some may have failed for good
        return sorted(reclaimed)

    async def cleanup_old_jobs(self, before: datetime, batch_size: int) -> int:
        return await self._in_batches("cleanup_old_jobs", before, batch_size)

    async def cleanup_old_job_events(self, before: datetime, batch_size: int) -> int:
        return await self._in_batches("cleanup_old_job_events", before, batch_size)

    async def cleanup_old_flows(self, before: datetime, batch_size: int) -> int:
        # Joined flows are indexed by creation, not by age: walk them all.
        total, after = 0, "-inf"
        while True:
            deleted, last = await self._scripts.run(
                "cleanup_old_flows", micros_text(before), batch_size, after
            )
            total += int(deleted)
            if last is None:
                return total
            after = as_text(last)

    async def _in_batches(
        self,
        name: Literal["cleanup_old_jobs", "cleanup_old_job_events"],
        before: datetime,
        batch_size: int,
    ) -> int:
        total = 0
        while True:
            deleted = int(
                await self._scripts.run(name, micros_text(before), batch_size)
            )
            total += deleted
            if deleted < batch_size:
                return total

    async def expire_timed_out_tokens(self, *, now: datetime) -> int:
        at = micros_text(now)
        return int(
            await self._scripts.run("expire_timed_out_tokens", at, TIMED_OUT_TEMPLATE)
        )

    # -- WaitStore -----------------------------------------------------------

    async def save_step(
        self, lease: Lease, step_data: dict[str, JSONValue], *, now: datetime
    ) -> bool:
        done = await self._scripts.run(
            "save_step",
            lease.job_id,
            lease.token,
            to_json_text(step_data),
            micros_text(now),
        )
        return bool(done)

    async def create_token(
        self,
        lease: Lease,
        token: NewToken,
        step_data: dict[str, JSONValue],
        *,
        now: datetime,
    ) -> bool:
        timeout_at = token.timeout_at
        tags: list[JSONValue] = list(token.tags)
        done = await self._scripts.run(
            "create_token",
            lease.job_id,
            lease.token,
            to_json_text(step_data),
            token.id,
            "" if timeout_at is None else micros_text(timeout_at),
            to_json_text(tags),
            micros_text(now),
        )
        return bool(done)

    async def get_token(self, token_id: str) -> Token | None:
        with store_faults(self._where):
            fields = await self._client.hgetall(keys.token(self._prefix, token_id))
        if not fields:
            return None
        return decode_token(
            {as_text(name): as_text(value) for name, value in fields.items()}
        )

    async def complete_token(
        self, token_id: str, output: JSONValue, *, now: datetime
    ) -> str | None:
        refused = await self._scripts.run(
            "complete_token",
            token_id,
            to_json_text(output),
            micros_text(now),
            to_json_text(resumed_on_token_metadata(token_id, timed_out=False)),
        )
        return as_text(refused) or None

    # -- WorkStore -----------------------------------------------------------

    async def settle_and_claim(
        self,
        outcomes: Sequence[Outcome],
        claim: ClaimRequest | None,
        *,
        now: datetime,
    ) -> Exchange:
        entries: list[JSONValue] = [outcome_args(outcome, now) for outcome in outcomes]
        written = to_json_text(entries)
        args: list[str | int] = [micros_text(now), written]
        if claim is None:
            args += [0, "", "", "", "", "", HELD_JOB_EVENTS]
        else:
            types = (
                "" if claim.job_types is None else to_json_text(list(claim.job_types))
            )
            events = claim_events_arg(claim.worker_id)
            cap = claim.group_concurrency
            args += [claim.limit, claim.worker_id, claim.token, types, events]
            args.append("" if cap is None else cap)
            args.append(HELD_JOB_EVENTS)
        marker, settled, rows, ready_flows, wake, slot = await self._scripts.run(
            "settle_and_claim", *args
        )
        self._saw_instance(marker)
        was_settled = [flag == 1 for flag in settled]
        if any(
            done and settled_by(outcome).final
            for done, outcome in zip(was_settled, outcomes, strict=True)
        ):
            self._finished_hub.notify()
        return Exchange(
            settled=was_settled,
            claimed=[decode_claimed(row) for row in json.loads(rows)],
            ready_flows=[as_text(flow_id) for flow_id in ready_flows],
            wake_at=now + timedelta(seconds=float(wake)) if as_text(wake) else None,
            waits_for_slot=slot == 1,
        )

    async def get_limits(self) -> list[Limits]:
        flat = await self._scripts.run("get_limits")
        rows = zip(flat[::2], flat[1::2], strict=True)
        found = [limits_from(as_text(name), as_text(text)) for name, text in rows]
        return sorted(found, key=lambda limits: limits.job_type)

    async def change_limits(self, changes: LimitChanges, *, now: datetime) -> None:
        await self._scripts.run(
            "change_limits", changes.job_type or "", limit_changes_json(changes.values)
        )

    async def heartbeat(self, leases: Sequence[Lease], *, now: datetime) -> list[int]:
        if not leases:
            return []
        held = await self._scripts.run(
            "heartbeat", micros_text(now), *lease_args(leases)
        )
        return [int(job_id) for job_id in held]

    async def release_jobs(self, leases: Sequence[Lease], *, now: datetime) -> int:
        if not leases:
            return 0
        return int(
            await self._scripts.run(
                "release_jobs", micros_text(now), RELEASED_TEMPLATE, *lease_args(leases)
            )
        )

    async def prolong_job(self, lease: Lease, timeout: float, *, now: datetime) -> bool:
        done = await self._scripts.run(
            "prolong_job",
            lease.job_id,
            lease.token,
            micros_text(now),
            to_json_text(prolonged_metadata(timeout)),
        )
        return bool(done)

    async def set_output(
        self, lease: Lease, output: JSONValue, *, now: datetime
    ) -> bool:
        done = await self._scripts.run(
            "set_output",
            lease.job_id,
            lease.token,
            to_json_text(output),
            micros_text(now),
        )
        return bool(done)

    async def set_progress(self, lease: Lease, progress: int, *, now: datetime) -> bool:
        done = await self._scripts.run(
            "set_progress", lease.job_id, lease.token, progress, micros_text(now)
        )
        return bool(done)

    async def subscribe(self) -> Wakeup:
        return await self._hub.subscribe()

    async def subscribe_finished(self) -> Wakeup:
        return await self._finished_hub.subscribe()

    # -- CronStore -------------------------------------------------------------

    async def add_cron_job(self, schedule: NewCronJob, *, now: datetime) -> int | None:
        cron_job_id = await self._scripts.run(
            "add_cron_job",
            schedule.schedule_name,
            micros_text(schedule.next_run_at),
            *new_cron_args(schedule, now),
        )
        return None if cron_job_id is None else int(cron_job_id)

    async def get_cron_job(self, cron_job_id: int) -> CronJob | None:
        with store_faults(self._where):
            fields = await self._client.hgetall(keys.cron(self._prefix, cron_job_id))
        return decode_cron(fields) if fields else None

    async def get_cron_job_by_name(self, schedule_name: str) -> CronJob | None:
        flat = await self._scripts.run("get_cron_job_by_name", schedule_name)
        return decode_crons([flat])[0] if flat else None

    async def list_cron_jobs(self, status: CronStatus | None) -> list[CronJob]:
        wanted = "" if status is None else status.value
        return decode_crons(await self._scripts.run("list_cron_jobs", wanted))

    async def edit_cron_job(
        self, cron_job_id: int, changes: CronChanges, *, now: datetime
    ) -> bool:
        edited = await self._scripts.run(
            "edit_cron_job", cron_job_id, micros_text(now), cron_edit_json(changes)
        )
        return bool(edited)

    async def pause_cron_job(self, cron_job_id: int, *, now: datetime) -> bool:
        return bool(
            await self._scripts.run("pause_cron_job", cron_job_id, micros_text(now))
        )

    async def resume_cron_job(
        self,
        cron_job_id: int,
        next_run_at: datetime,
        expected: tuple[str, str],
        *,
        now: datetime,
    ) -> bool:
        resumed = await self._scripts.run(
            "resume_cron_job",
            cron_job_id,
            micros_text(next_run_at),
            expected[0],
            expected[1],
            micros_text(now),
        )
        return bool(resumed)

    async def remove_cron_job(self, cron_job_id: int) -> bool:
        return bool(await self._scripts.run("remove_cron_job", cron_job_id))

    async def get_due_cron_jobs(self, *, now: datetime) -> list[CronJob]:
        return decode_crons(
            await self._scripts.run("get_due_cron_jobs", micros_text(now))
        )

    async def enqueue_cron_jobs(
        self, ticks: Sequence[CronTick], *, now: datetime
    ) -> list[int]:
        if not ticks:
            return []
        marker, ids = await self._scripts.run(
            "enqueue_cron_jobs",
            micros_text(now),
            *(tick_json(tick, now) for tick in ticks),
        )
        self._saw_instance(marker)
        if ids:
            self._hub.notify()
        return [int(job_id) for job_id in ids]

    # -- FlowStore -------------------------------------------------------------

    async def start_flow(self, flow: NewFlow, *, now: datetime) -> list[int]:
        marker, ids = await self._scripts.run(
            "start_flow",
            micros_text(now),
            new_flow_json(flow, now),
            *(new_job_json(step, now) for step in flow.steps),
        )
        self._saw_instance(marker)
        self._hub.notify()
        return [int(job_id) for job_id in ids]

    async def get_flow(self, flow_id: str) -> StoredFlow | None:
        text = await self._scripts.run("get_flow", flow_id)
        if text is None:
            return None
        found = json.loads(text)
        row: dict[str, str] = found["flow"]
        # cjson writes an empty list as {}; Lua's false stands for nil.
        steps = [
            decode_step([None if value is False else value for value in step])
            for step in found["steps"] or []
        ]
        return StoredFlow(record=decode_flow(row, steps), join_spec=row["join_spec"])

    async def list_flows(
        self, status: FlowStatus | None, limit: int, offset: int
    ) -> list[FlowRecord]:
        wanted = "" if status is None else status.value
        rows = await self._scripts.run("list_flows", wanted, limit, offset)
        return [decode_flow(row, []) for row in json.loads(rows)]

    async def enqueue_flow_join(
        self, flow_id: str, join: NewJob, *, now: datetime
    ) -> int | None:
        marker, job_id = await self._scripts.run(
            "enqueue_flow_join", micros_text(now), flow_id, new_job_json(join, now)
        )
        self._saw_instance(marker)
        if job_id is None:
            return None
        self._hub.notify()
        return int(job_id)

    async def time_out_flows(self, *, now: datetime) -> list[str]:
        flow_ids = await self._scripts.run("time_out_flows", micros_text(now))
        return [as_text(flow_id) for flow_id in flow_ids]

    async def get_ready_flows(self, limit: int) -> list[str]:
        if limit <= 0:
            return []  # ZRANGE 0 -1 would be every one
        with store_faults(self._where):
            flow_ids = await self._client.zrange(
                keys.flow_status(self._prefix, FlowStatus.READY.value), 0, limit - 1
            )
        return [as_text(flow_id) for flow_id in flow_ids]
