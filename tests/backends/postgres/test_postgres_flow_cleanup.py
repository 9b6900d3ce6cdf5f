"""cleanup_old_flows in PostgreSQL: joined flows joined before the cutoff go,
with their step rows, batch after batch; running, ready and recently joined
flows and every job stay."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
from pg_helpers import NOW, claim, flow, job, scalar
from tests.conftest import PG_URL

from dataqueue._commands import Completion, NewFlow
from dataqueue.backends.postgres import PostgresBackend
from dataqueue.models import FlowStatus

CUTOFF = NOW + timedelta(hours=2)
BEFORE_CUTOFF = NOW + timedelta(hours=1)
AFTER_CUTOFF = NOW + timedelta(hours=3)


async def ready_flow(backend: PostgresBackend, job_type: str) -> NewFlow:
    """A flow of one step of ``job_type``, its step completed at NOW."""
    new = flow(1, job_type=job_type)
    await backend.start_flow(new, now=NOW)
    (lease,) = await claim(backend, job_types=(job_type,))
    exchange = await backend.settle_and_claim(
        [Completion(lease, None, {})], None, now=NOW
    )
    assert exchange.ready_flows == [new.id]
    return new


async def joined_flow(
    backend: PostgresBackend, job_type: str, *, joined_at: datetime
) -> NewFlow:
    new = await ready_flow(backend, job_type)
    assert await backend.enqueue_flow_join(new.id, job("join"), now=joined_at)
    return new


async def status_of(backend: PostgresBackend, new: NewFlow) -> FlowStatus | None:
    stored = await backend.get_flow(new.id)
    return None if stored is None else stored.record.status


async def test_only_flows_joined_before_the_cutoff_go_with_their_steps(
    backend: PostgresBackend, schema: str
) -> None:
    old = await joined_flow(backend, "old", joined_at=BEFORE_CUTOFF)
    recent = await joined_flow(backend, "recent", joined_at=AFTER_CUTOFF)
    ready = await ready_flow(backend, "ready")
    running = flow(2, job_type="running")
    await backend.start_flow(running, now=NOW)
    jobs = f'SELECT count(*) FROM "{schema}".job_queue'
    jobs_before = await scalar(jobs)

    assert await backend.cleanup_old_flows(CUTOFF, 100) == 1

    assert await status_of(backend, old) is None
    assert await status_of(backend, recent) is FlowStatus.JOINED
    assert await status_of(backend, ready) is FlowStatus.READY
    assert await status_of(backend, running) is FlowStatus.RUNNING
    steps_of_old = (
        f"SELECT count(*) FROM \"{schema}\".flow_steps WHERE flow_id = '{old.id}'"
    )
    assert await scalar(steps_of_old) == 0
    all_steps = f'SELECT count(*) FROM "{schema}".flow_steps'
    assert await scalar(all_steps) == 1 + 1 + 2
    assert await scalar(jobs) == jobs_before
    assert await backend.cleanup_old_flows(CUTOFF, 100) == 0


async def test_every_batch_is_deleted_until_one_comes_back_short(
    backend: PostgresBackend,
) -> None:
    old = [
        await joined_flow(backend, f"old{n}", joined_at=BEFORE_CUTOFF) for n in range(5)
    ]
    assert await backend.cleanup_old_flows(CUTOFF, 2) == 5
    assert [await status_of(backend, new) for new in old] == [None] * 5


async def test_a_flow_locked_by_another_transaction_is_skipped(
    backend: PostgresBackend, schema: str
) -> None:
    locked = await joined_flow(backend, "locked", joined_at=BEFORE_CUTOFF)
    free = await joined_flow(backend, "free", joined_at=BEFORE_CUTOFF)
    async with await psycopg.AsyncConnection.connect(PG_URL) as conn:
        await conn.execute(
            f'SELECT 1 FROM "{schema}".flows WHERE id = %s FOR UPDATE', [locked.id]
        )
        assert await backend.cleanup_old_flows(CUTOFF, 100) == 1
        await conn.rollback()
    assert await status_of(backend, free) is None
    assert await status_of(backend, locked) is FlowStatus.JOINED
    assert await backend.cleanup_old_flows(CUTOFF, 100) == 1
