"""Entity projections: a job's life reported, per domain object, to a provider.

A job added with ``entity={"id", "type"}`` is reported to the provider given
to ``dq.connect(..., projection=provider)`` as ``scheduled`` (added),
``processing`` (claimed for its first attempt), then ``executed`` (with its
output) or ``failed`` (with its error, once no attempt is left, or when it
was cancelled). A flow started with an ``entity`` is reported once, keyed on
the flow's id: ``processing`` when it starts, then ``executed`` or
``failed`` from its join (``failed`` at once when it was aborted or timed
out); its steps are not reported.

Reports are batched: the changes one processor flush confirmed go to the
provider in one ``upsert_projections`` call. Calls are made one at a time, in
order, off the processor's path: a provider that raises or hangs is logged
(and a hanging call abandoned after ``projection_timeout``) and never delays
or fails a job.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from dataqueue._commands import NewFlow, NewJob
from dataqueue.events import QueueEvent
from dataqueue.models import Entity, FlowRecord, JobRecord

logger = logging.getLogger("dataqueue")

ProjectionStatus = Literal["scheduled", "processing", "executed", "failed"]

PROJECTION_TIMEOUT = 10.0
"""Default seconds one ``upsert_projections`` call may take before it is
abandoned (and its entries with it)."""

MAX_PENDING_BATCHES = 1000
"""Batches waiting for the provider; beyond this, new ones are dropped with
an error log (the provider is down or far too slow)."""

CANCELLED_ERROR = "cancelled"
"""The ``error`` of a job projected ``failed`` because it was cancelled."""

FLOW_ABORTED_ERROR = "flow aborted: a step failed for good"
FLOW_TIMED_OUT_ERROR = "flow timed out"


@dataclass(frozen=True, slots=True, kw_only=True)
class EntityProjection:
    """One task's state, as a provider upserts it (keyed on ``task_id``).

    Attributes:
        task_id: The job's id as text, or the flow's id for a flow.
        entity_id / entity_type: The ``entity`` the job or flow was given.
        task_type: The job's type (a flow's: its join's type).
        queue_id: The queue's namespace: the PostgreSQL schema or the Redis
            key prefix; None on SQLite.
        status: ``scheduled``, ``processing``, ``executed`` or ``failed``.
        payload: The job's payload, only with ``projection_include_payload``.
        error: ``failed``: the last error message (``"cancelled"`` for a
            cancelled job).
        result: ``executed``: the job's output.
        created_at: When the job (or flow) was created.
        updated_at: When this status was reached.
    """

    task_id: str
    entity_id: str
    entity_type: str
    task_type: str
    queue_id: str | None
    status: ProjectionStatus
    payload: Any = None
    error: str | None = None
    result: Any = None
    created_at: datetime
    updated_at: datetime


class ProjectionProvider(Protocol):
    """What ``dq.connect(..., projection=...)`` takes."""

    async def upsert_projections(self, entries: list[EntityProjection]) -> None:
        """Store each entry, replacing the stored one with the same
        ``task_id``; entries come in the order their changes happened."""


def check_provider(provider: Any, where: str = "connect") -> ProjectionProvider | None:
    if provider is None:
        return None
    if not callable(getattr(provider, "upsert_projections", None)):
        raise TypeError(
            f"{where}: projection must have an 'async def upsert_projections"
            f"(entries)' method, got {type(provider).__name__}"
        )
    checked: ProjectionProvider = provider
    return checked


def is_flow_join(job: JobRecord) -> bool:
    """A flow's join job: it carries the flow's id but is none of its steps."""
    return job.flow_id is not None and job.flow_step_index is None


def _first_claim(job: JobRecord) -> bool:
    """The claim of a job's first attempt; not a retry, nor the claim that
    resumes a job after a wait (a wait gives its attempt back, but
    ``started_at`` stays the time of the first claim)."""
    return job.attempts == 1 and job.started_at == job.locked_at


def _join_succeeded_normally(job: JobRecord) -> bool:
    """A join projects its flow only when the flow ran to its end: an
    aborted or timed-out flow was already projected ``failed`` at dispatch."""
    results = job.payload.get("flow_results") if isinstance(job.payload, dict) else None
    return (
        isinstance(results, dict)
        and results.get("aborted") is False
        and results.get("timed_out") is False
    )


class ProjectionSink:
    """Builds projection entries and hands them to the provider, one call
    per batch, in order (see the module doc). Disabled without a provider."""

    def __init__(
        self,
        provider: ProjectionProvider | None = None,
        *,
        include_payload: bool = False,
        timeout: float = PROJECTION_TIMEOUT,
        queue_id: str | None = None,
    ) -> None:
        self.provider = provider
        self.include_payload = include_payload
        self.timeout = timeout
        self.queue_id = queue_id
        self._batches: collections.deque[list[EntityProjection]] = collections.deque()
        self._sender: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    # -- building entries -----------------------------------------------------

    def entry(
        self,
        *,
        task_id: str,
        entity: Entity,
        task_type: str,
        status: ProjectionStatus,
        created_at: datetime,
        updated_at: datetime,
        payload: Any = None,
        error: str | None = None,
        result: Any = None,
    ) -> EntityProjection:
        """One entry; ``payload`` is kept only with ``include_payload``."""
        return EntityProjection(
            task_id=task_id,
            entity_id=entity["id"],
            entity_type=entity["type"],
            task_type=task_type,
            queue_id=self.queue_id,
            status=status,
            payload=payload if self.include_payload else None,
            error=error,
            result=result,
            created_at=created_at,
            updated_at=updated_at,
        )

    def scheduled(
        self, jobs: Sequence[NewJob], ids: Sequence[int], now: datetime
    ) -> list[EntityProjection]:
        """``scheduled`` for each added job with an entity (a flow's join is
        projected at flow level instead)."""
        if not self.enabled:
            return []
        return [
            self.entry(
                task_id=str(job_id),
                entity=job.entity,
                task_type=job.job_type,
                status="scheduled",
                created_at=now,
                updated_at=now,
                payload=job.payload,
            )
            for job, job_id in zip(jobs, ids, strict=True)
            if job.entity is not None
            and not (job.flow_id is not None and job.flow_step_index is None)
        ]

    def flow_started(self, flow: NewFlow, now: datetime) -> list[EntityProjection]:
        """``processing`` for a flow started with an entity (keyed on its id)."""
        if not self.enabled or flow.entity is None:
            return []
        return [
            self.entry(
                task_id=flow.id,
                entity=flow.entity,
                task_type=flow.join_job_type,
                status="processing",
                created_at=now,
                updated_at=now,
            )
        ]

    def flow_ended_early(
        self, flow: FlowRecord, now: datetime
    ) -> list[EntityProjection]:
        """``failed`` for a flow with an entity whose join was enqueued
        because it was aborted or timed out."""
        if not self.enabled or flow.entity is None:
            return []
        if not (flow.aborted or flow.timed_out):
            return []
        return [
            self.entry(
                task_id=flow.id,
                entity=flow.entity,
                task_type=flow.join_job_type,
                status="failed",
                created_at=flow.created_at,
                updated_at=now,
                error=FLOW_ABORTED_ERROR if flow.aborted else FLOW_TIMED_OUT_ERROR,
            )
        ]

    def from_events(
        self, events: Iterable[QueueEvent], now: datetime
    ) -> list[EntityProjection]:
        """The entries for confirmed changes of jobs with an entity."""
        if not self.enabled:
            return []
        entries = []
        for event in events:
            job = event.job
            if job is None or job.entity is None:
                continue
            entry = self._entry_for(event, job, event.at or now)
            if entry is not None:
                entries.append(entry)
        return entries

    def _entry_for(
        self, event: QueueEvent, job: JobRecord, at: datetime
    ) -> EntityProjection | None:
        assert job.entity is not None
        status: ProjectionStatus
        error = result = None
        match event.name:
            case "job:processing" if _first_claim(job) and not is_flow_join(job):
                status = "processing"
            case "job:completed":
                status, result = "executed", event.output
            case "job:failed" if event.will_retry is False:
                status, error = "failed", event.error
            case "job:cancelled":
                status, error = "failed", CANCELLED_ERROR
            case _:
                return None
        task_id = str(job.id)
        if is_flow_join(job):
            if not _join_succeeded_normally(job):
                return None
            assert job.flow_id is not None
            task_id = job.flow_id
        return self.entry(
            task_id=task_id,
            entity=job.entity,
            task_type=job.job_type,
            status=status,
            created_at=job.created_at,
            updated_at=at,
            payload=job.payload,
            error=error,
            result=result,
        )

    # -- sending --------------------------------------------------------------

    def report(self, entries: Sequence[EntityProjection]) -> None:
        """Send ``entries`` to the provider in one call, after the batches
        reported before; returns at once. Must be called on the event loop."""
        if self.provider is None or not entries:
            return
        if len(self._batches) >= MAX_PENDING_BATCHES:
            logger.error(
                "projection: %d batches are waiting for the provider; %d "
                "entr%s dropped",
                len(self._batches),
                len(entries),
                "y" if len(entries) == 1 else "ies",
            )
            return
        self._batches.append(list(entries))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        assert self.provider is not None
        while self._batches:
            batch = self._batches.popleft()
            try:
                async with asyncio.timeout(self.timeout):
                    await self.provider.upsert_projections(batch)
            except TimeoutError:
                logger.error(
                    "projection: upsert_projections took over %gs; %d entr%s abandoned",
                    self.timeout,
                    len(batch),
                    "y" if len(batch) == 1 else "ies",
                )
            except Exception:
                logger.exception(
                    "projection: upsert_projections raised; %d entr%s not stored",
                    len(batch),
                    "y" if len(batch) == 1 else "ies",
                )

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the batches reported so far;
        then stop sending (what is left is logged as dropped)."""
        sender = self._sender
        if sender is None or sender.done():
            return
        done, _ = await asyncio.wait({sender}, timeout=timeout)
        if not done:
            left = sum(map(len, self._batches))
            self._batches.clear()
            sender.cancel()
            await asyncio.wait({sender})
            logger.error(
                "projection: the provider did not finish within %gs of closing; "
                "%d waiting entr%s dropped",
                timeout,
                left,
                "y" if left == 1 else "ies",
            )


def __getattr__(name: str) -> Any:
    # The PostgreSQL provider needs psycopg: imported only when asked for.
    if name == "PostgresProjectionProvider":
        try:
            from dataqueue.projections.postgres import PostgresProjectionProvider
        except ImportError as error:
            raise ImportError(
                "PostgresProjectionProvider needs: pip install 'dataqueue[postgres]' "
                f"({error})"
            ) from error
        return PostgresProjectionProvider
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "EntityProjection",
    "PostgresProjectionProvider",
    "ProjectionProvider",
    "ProjectionSink",
    "ProjectionStatus",
]
