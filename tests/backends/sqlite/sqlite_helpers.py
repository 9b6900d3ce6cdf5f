"""Shared by the SQLite tests, and importable by the processes they spawn."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from dataqueue._commands import (
    Claimed,
    ClaimRequest,
    Completion,
    Lease,
    NewFlow,
    NewJob,
    Outcome,
)
from dataqueue.backends.sqlite import SqliteBackend
from dataqueue.models import JobRecord

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def new_job(job_type: str = "task", **changes: Any) -> NewJob:
    values: dict[str, Any] = {
        "job_type": job_type,
        "payload": {"n": 1},
        "priority": 0,
        "run_at": None,
        "max_attempts": 3,
        "timeout": None,
        "force_kill_on_timeout": False,
        "tags": [],
        "idempotency_key": None,
        "retry_delay": None,
        "retry_backoff": None,
        "retry_delay_max": None,
    }
    values.update(changes)
    return NewJob(**values)


async def claim(
    backend: SqliteBackend,
    worker_id: str = "w",
    limit: int = 10,
    *,
    now: datetime = NOW,
    outcomes: list[Outcome] | None = None,
) -> tuple[str, list[Claimed]]:
    """Settle ``outcomes`` and claim under a fresh token: (token, claimed)."""
    token = secrets.token_hex(16)
    exchange = await backend.settle_and_claim(
        outcomes or [], ClaimRequest(worker_id, token, limit), now=now
    )
    return token, exchange.claimed


async def claim_one(
    backend: SqliteBackend, worker_id: str = "w", *, now: datetime = NOW
) -> tuple[Lease, JobRecord]:
    token, claimed = await claim(backend, worker_id, 1, now=now)
    (job,) = claimed
    assert isinstance(job, JobRecord)
    return Lease(job.id, token), job


def claim_until_empty(path: str, worker_id: str, start: Any) -> list[int]:
    """Run in a child process: once every process is ready (``start`` is a
    barrier), claim batches until nothing is due."""

    async def run() -> list[int]:
        backend = SqliteBackend(path)
        claimed: list[int] = []
        try:
            await backend.open()
            await asyncio.to_thread(start.wait)
            while True:
                _, batch = await claim(backend, worker_id, 5)
                if not batch:
                    break
                claimed.extend(job.id for job in batch)
                # A worker runs its batch before claiming again; without this
                # pause one process can take every batch while the others
                # sleep in SQLite's busy handler, and nothing interleaves.
                await asyncio.sleep(0.002)
        finally:
            await backend.close()
        return claimed

    return asyncio.run(run())


def open_and_add(path: str, job_type: str) -> int:
    """Run in a child process: open a (maybe brand-new) file and add a job."""

    async def run() -> int:
        backend = SqliteBackend(path)
        try:
            (job_id,) = await backend.add_jobs([new_job(job_type)], now=NOW)
        finally:
            await backend.close()
        return job_id

    return asyncio.run(run())


def add_one_when_told(path: str, go: Any, added: Any) -> None:
    """Run in a child process: open the file, wait for ``go`` (an event), add
    a job and put the time (``time.monotonic``, shared by every process on
    one machine) just before the add on the ``added`` queue."""

    async def run() -> None:
        backend = SqliteBackend(path)
        try:
            await backend.open()
            await asyncio.to_thread(go.wait)
            started = time.monotonic()
            await backend.add_jobs([new_job("remote")], now=NOW)
            added.put(started)
        finally:
            await backend.close()

    asyncio.run(run())


def new_flow(
    count: int, *, step_options: dict[str, Any] | None = None, **options: Any
) -> NewFlow:
    """A flow of ``count`` "step" jobs (with ``step_options``), policy
    ``continue`` unless ``options`` say otherwise."""
    flow_id = options.pop("id", None) or str(uuid.uuid4())
    values: dict[str, Any] = {
        "id": flow_id,
        "steps": [
            new_job(
                "step", flow_id=flow_id, flow_step_index=index, **(step_options or {})
            )
            for index in range(count)
        ],
        "join_job_type": "join",
        "join_spec": '{"job_type": "join"}',
        "failure_policy": "continue",
        "timeout_at": None,
        "entity": None,
    }
    values.update(options)
    return NewFlow(**values)


def complete_until_empty(path: str, worker_id: str, start: Any) -> list[str]:
    """Run in a child process: once every process is ready (``start`` is a
    barrier), claim batches and complete each in the next exchange, as a
    worker does, until nothing is due; returns the ``ready_flows`` reported
    to this process."""

    async def run() -> list[str]:
        backend = SqliteBackend(path)
        ready: list[str] = []
        try:
            await backend.open()
            await asyncio.to_thread(start.wait)
            outcomes: list[Outcome] = []
            while True:
                token = secrets.token_hex(16)
                exchange = await backend.settle_and_claim(
                    outcomes, ClaimRequest(worker_id, token, 3), now=NOW
                )
                ready.extend(exchange.ready_flows)
                if not exchange.claimed:
                    return ready
                outcomes = [
                    Completion(Lease(job.id, token), {"by": worker_id}, {})
                    for job in exchange.claimed
                ]
                await asyncio.sleep(0.002)  # as claim_until_empty: interleave
        finally:
            await backend.close()

    return asyncio.run(run())
