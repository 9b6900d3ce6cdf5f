"""Entity projections: statuses, one provider call per flush, flows keyed on
their id, and providers that raise or hang disturbing nothing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import dataqueue as dq
from dataqueue._commands import ClaimRequest
from tests.conftest import (
    PG_URL,
    FakeClock,
    drop_namespace,
    eventually,
    namespace,
    store_options,
)

ITEM: dq.Entity = {"id": "item-1", "type": "item"}


class Recorder:
    """A provider that keeps every call's entries; it can fail or hang on
    its first call."""

    def __init__(self, *, first: str | None = None) -> None:
        self.calls: list[list[dq.EntityProjection]] = []
        self.first = first
        self.hanging = asyncio.Event()

    async def upsert_projections(self, entries: list[dq.EntityProjection]) -> None:
        first, self.first = self.first, None
        if first == "raise":
            raise ConnectionError("projection store down")
        if first == "hang":
            self.hanging.set()
            await asyncio.Event().wait()
        self.calls.append(list(entries))

    def statuses(self) -> list[list[tuple[str, str]]]:
        return [[(e.task_id, e.status) for e in call] for call in self.calls]

    async def until(self, calls: int) -> None:
        async def enough() -> bool:
            return len(self.calls) >= calls

        await eventually(enough)


class Opener:
    """Opens queues with a projection provider, on one namespace."""

    def __init__(self, store: str, tmp_path: Path, clock: FakeClock) -> None:
        self.options = store_options(store, tmp_path, namespace())
        self.clock = clock
        self.opened: list[dq.JobQueue] = []

    async def __call__(self, provider: Any, **options: Any) -> dq.JobQueue:
        queue = dq.connect(
            **self.options, clock=self.clock, projection=provider, **options
        )
        await queue.migrate()
        self.opened.append(queue)
        return queue


@pytest.fixture
async def open_queue(
    store: str, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[Opener]:
    opener = Opener(store, tmp_path, clock)
    try:
        yield opener
    finally:
        for queue in opener.opened:
            await queue.close()
        ns = opener.options.get("schema") or opener.options.get("key_prefix", "")
        await drop_namespace(store, ns.rstrip(":"))


async def test_a_job_is_scheduled_then_processing_then_executed(
    open_queue: Opener, clock: FakeClock
) -> None:
    provider = Recorder()
    queue = await open_queue(provider)
    added_at = clock.now()
    job_id = await queue.add_job("resize", {"w": 100}, entity=ITEM)
    await queue.add_job("plain", {})  # no entity: never projected
    await provider.until(1)
    clock.advance(5)
    handlers = {"resize": lambda p: {"url": "x.png"}, "plain": lambda p: None}
    assert await queue.create_processor(handlers).start() == 2
    await provider.until(3)
    task = str(job_id)
    assert provider.statuses() == [
        [(task, "scheduled")],
        [(task, "processing")],
        [(task, "executed")],
    ]
    executed = provider.calls[2][0]
    assert (executed.entity_id, executed.entity_type) == ("item-1", "item")
    assert executed.task_type == "resize"
    assert executed.result == {"url": "x.png"}
    assert executed.payload is None and executed.error is None
    assert (executed.created_at, executed.updated_at) == (added_at, clock.now())
    # The schema or key prefix the queue lives in; None on SQLite.
    queue_id = open_queue.options.get("schema", open_queue.options.get("key_prefix"))
    assert {e.queue_id for call in provider.calls for e in call} == {queue_id}


async def test_one_provider_call_per_flush(open_queue: Opener) -> None:
    provider = Recorder()
    queue = await open_queue(provider)
    ids = await queue.add_jobs(
        [dq.JobSpec("resize", {"n": n}, entity=ITEM) for n in range(6)]
    )
    processor = queue.create_processor(
        {"resize": lambda p: p["n"]}, batch_size=6, concurrency=6
    )
    assert await processor.start() == 6
    await provider.until(3)
    assert [len(call) for call in provider.calls] == [6, 6, 6]
    assert [{e.status for e in call} for call in provider.calls] == [
        {"scheduled"},
        {"processing"},
        {"executed"},
    ]
    assert {e.task_id for e in provider.calls[2]} == {str(i) for i in ids}


async def test_processing_on_the_first_attempt_failed_only_when_final(
    open_queue: Opener, clock: FakeClock
) -> None:
    provider = Recorder()
    queue = await open_queue(provider)

    def flaky(payload: Any) -> None:
        raise RuntimeError("no space left")

    job_id = await queue.add_job(
        "resize", {}, entity=ITEM, max_attempts=2, retry_delay=10
    )
    processor = queue.create_processor({"resize": flaky})
    await processor.start()
    clock.advance(60)
    await processor.start()
    await provider.until(3)
    await queue.close()  # waits for the provider
    task = str(job_id)
    assert provider.statuses() == [
        [(task, "scheduled")],
        [(task, "processing")],
        [(task, "failed")],
    ]
    assert provider.calls[2][0].error == "RuntimeError: no space left"


async def test_a_job_resumed_after_a_wait_is_not_processing_again(
    open_queue: Opener, clock: FakeClock
) -> None:
    provider = Recorder()
    queue = await open_queue(provider)

    async def remind(payload: Any, ctx: dq.JobContext) -> str:
        await ctx.wait_for(minutes=10)
        return "reminded"

    job_id = await queue.add_job("remind", {}, entity=ITEM)
    processor = queue.create_processor({"remind": remind})
    await processor.start()
    clock.advance(timedelta(minutes=11))
    await processor.start()
    await queue.close()
    task = str(job_id)
    assert [s for call in provider.statuses() for s in call] == [
        (task, "scheduled"),
        (task, "processing"),
        (task, "executed"),
    ]


async def test_a_cancelled_job_is_failed_and_payloads_only_when_asked(
    open_queue: Opener,
) -> None:
    provider = Recorder()
    queue = await open_queue(provider, projection_include_payload=True)
    job_id = await queue.add_job("resize", {"w": 1}, entity=ITEM)
    await queue.cancel_job(job_id)
    await provider.until(2)
    scheduled, failed = (call[0] for call in provider.calls)
    assert (scheduled.status, scheduled.payload) == ("scheduled", {"w": 1})
    assert (failed.status, failed.error, failed.payload) == (
        "failed",
        "cancelled",
        {"w": 1},
    )


async def test_bulk_cancels_and_lost_workers_are_projected_failed(
    open_queue: Opener, clock: FakeClock
) -> None:
    provider = Recorder()
    queue = await open_queue(provider)
    lost = await queue.add_job("resize", {"n": 0}, entity=ITEM, max_attempts=1)
    claimed = await queue.backend.settle_and_claim(
        [], ClaimRequest("gone", "lease", 1), now=clock.now()
    )
    assert [job.id for job in claimed.claimed] == [lost]
    cancelled = await queue.add_job("resize", {"n": 1}, entity=ITEM, tags=["bulk"])
    assert await queue.cancel_all_upcoming_jobs(tags={"values": ["bulk"]}) == 1
    clock.advance(600)
    assert await queue.reclaim_stuck_jobs(1) == 1
    await provider.until(4)
    finals = [(e.task_id, e.status) for call in provider.calls for e in call]
    assert (str(cancelled), "failed") in finals
    assert (str(lost), "failed") in finals
    (worker_lost,) = [
        e
        for call in provider.calls
        for e in call
        if e.task_id == str(lost) and e.status == "failed"
    ]
    assert worker_lost.error is not None and "worker lost" in worker_lost.error


async def test_a_provider_that_raises_disturbs_no_job(
    open_queue: Opener, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="dataqueue")
    provider = Recorder(first="raise")
    queue = await open_queue(provider)
    job_id = await queue.add_job("resize", {}, entity=ITEM)
    assert await queue.create_processor({"resize": lambda p: "ok"}).start() == 1
    job = await queue.get_job(job_id)
    assert job is not None and job.status is dq.JobStatus.COMPLETED
    await provider.until(2)
    assert provider.statuses() == [
        [(str(job_id), "processing")],
        [(str(job_id), "executed")],
    ]
    assert "upsert_projections raised; 1 entry not stored" in caplog.text


async def test_a_provider_that_hangs_delays_no_job(
    open_queue: Opener, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="dataqueue")
    provider = Recorder(first="hang")
    queue = await open_queue(provider, projection_timeout=1)
    total = 20
    await queue.add_jobs(
        [dq.JobSpec("resize", {"n": n}, entity=ITEM) for n in range(total)]
    )
    processor = queue.create_processor(
        {"resize": lambda p: p["n"]}, concurrency=5, poll_interval=0.05
    )
    processor.start_in_background()
    try:

        async def all_completed() -> bool:
            counts = await queue.count_jobs(job_type="resize")
            return counts[dq.JobStatus.COMPLETED] == total

        await eventually(all_completed)
        # Every job finished while the provider's first call still hung.
        assert provider.hanging.is_set() and provider.calls == []
    finally:
        await processor.stop_and_drain(5)

    async def all_executed() -> bool:
        executed = [e for call in provider.calls for e in call]
        return sum(e.status == "executed" for e in executed) == total

    await eventually(all_executed)
    assert "took over 1s; 20 entries abandoned" in caplog.text


async def test_closing_the_queue_waits_for_the_provider(open_queue: Opener) -> None:
    class Slow(Recorder):
        async def upsert_projections(self, entries: list[dq.EntityProjection]) -> None:
            await asyncio.sleep(0.05)
            await super().upsert_projections(entries)

    provider = Slow()
    queue = await open_queue(provider)
    for n in range(5):
        await queue.add_job("resize", {"n": n}, entity=ITEM)
    await queue.close()
    assert len(provider.calls) == 5


async def test_a_flow_is_projected_once_keyed_on_its_id(open_queue: Opener) -> None:
    provider = Recorder()
    queue = await open_queue(provider)
    flow_id = await queue.start_flow(
        steps=[dq.JobSpec("resize", {"n": 0}), dq.JobSpec("resize", {"n": 1})],
        join=dq.JobSpec("publish", {}),
        entity=ITEM,
    )
    processor = queue.create_processor(
        {"resize": lambda p: p["n"], "publish": lambda p: "published"},
        batch_size=10,
    )
    while await processor.start():
        pass
    await provider.until(2)
    await queue.close()
    entries = [e for call in provider.calls for e in call]
    assert [(e.task_id, e.status) for e in entries] == [
        (flow_id, "processing"),
        (flow_id, "executed"),
    ]
    assert entries[1].result == "published" and entries[1].task_type == "publish"


async def test_a_flow_started_by_a_handler_is_projected(open_queue: Opener) -> None:
    provider = Recorder()
    queue = await open_queue(provider)

    async def starter(payload: dict[str, int], ctx: dq.JobContext) -> str:
        return await ctx.start_flow(
            [dq.JobSpec("resize", {"n": 0})], dq.JobSpec("publish", {}), entity=ITEM
        )

    starter_id = await queue.add_job("starter")
    processor = queue.create_processor(
        {"starter": starter, "resize": lambda p: p["n"], "publish": lambda p: "done"}
    )
    while await processor.start():
        pass
    await provider.until(2)
    await queue.close()
    started = [e for call in provider.calls for e in call]
    flow_id = next(e.task_id for e in started if e.task_id != str(starter_id))
    assert [(e.task_id, e.status) for e in started] == [
        (flow_id, "processing"),
        (flow_id, "executed"),
    ]


async def test_an_aborted_flow_is_failed_at_dispatch_and_its_join_adds_nothing(
    open_queue: Opener,
) -> None:
    provider = Recorder()
    queue = await open_queue(provider)

    def broken(payload: Any) -> None:
        raise RuntimeError("corrupt file")

    flow_id = await queue.start_flow(
        steps=[dq.JobSpec("resize", {}, max_attempts=1)],
        join=dq.JobSpec("publish", {}),
        failure_policy="abort",
        entity=ITEM,
    )
    processor = queue.create_processor(
        {"resize": broken, "publish": lambda p: "published anyway"}
    )
    while await processor.start():
        pass
    await queue.close()
    entries = [e for call in provider.calls for e in call]
    assert [(e.task_id, e.status, e.error) for e in entries] == [
        (flow_id, "processing", None),
        (flow_id, "failed", "flow aborted: a step failed for good"),
    ]


async def test_a_timed_out_flow_is_failed(open_queue: Opener, clock: FakeClock) -> None:
    provider = Recorder()
    queue = await open_queue(provider)
    flow_id = await queue.start_flow(
        steps=[dq.JobSpec("resize", {})],
        join=dq.JobSpec("publish", {}),
        timeout=60,
        entity=ITEM,
    )
    clock.advance(timedelta(seconds=61))
    result = await queue.create_supervisor().start()
    assert result.enqueued_flow_joins == 1
    await provider.until(2)
    assert provider.statuses()[1] == [(flow_id, "failed")]
    assert provider.calls[1][0].error == "flow timed out"


# -- the PostgreSQL provider ---------------------------------------------------


@pytest.fixture
async def pg_schema() -> AsyncIterator[str]:
    ns = namespace()
    import psycopg

    async with await psycopg.AsyncConnection.connect(PG_URL, autocommit=True) as c:
        await c.execute(f'CREATE SCHEMA "{ns}"')
    try:
        yield ns
    finally:
        await drop_namespace("postgres", ns)


def entry(task_id: str, status: str, at: int, **fields: Any) -> dq.EntityProjection:
    clock = FakeClock()
    created = clock.now()
    return dq.EntityProjection(
        task_id=task_id,
        entity_id=fields.pop("entity_id", "u-1"),
        entity_type="user",
        task_type="report",
        queue_id="app",
        status=status,  # type: ignore[arg-type]
        created_at=created,
        updated_at=created + timedelta(seconds=at),
        **fields,
    )


async def read_rows(schema: str) -> dict[str, dict[str, Any]]:
    import psycopg
    from psycopg.rows import dict_row

    async with await psycopg.AsyncConnection.connect(PG_URL) as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(f'SELECT * FROM "{schema}".entity_task_projections')
        return {row["task_id"]: row for row in await cur.fetchall()}


@pytest.mark.postgres
async def test_the_postgres_provider_upserts_and_never_moves_a_task_back(
    pg_schema: str,
) -> None:
    from dataqueue.projections import PostgresProjectionProvider

    table = f"{pg_schema}.entity_task_projections"
    async with PostgresProjectionProvider(PG_URL, table=table) as provider:
        await provider.migrate()
        await provider.migrate()  # twice is harmless
        await provider.upsert_projections(
            [
                entry("1", "scheduled", 0, payload={"month": 5}),
                entry("2", "scheduled", 0),
                entry("2", "processing", 1),  # the last entry of a task wins
            ]
        )
        await provider.upsert_projections(
            [
                entry("1", "executed", 3, result={"pages": 4}),
                entry("2", "scheduled", 5),  # late: behind processing
                entry("3", "failed", 2, error="boom", entity_id="u-2"),
            ]
        )
        rows = await read_rows(pg_schema)
    assert {task: row["status"] for task, row in rows.items()} == {
        "1": "executed",
        "2": "processing",
        "3": "failed",
    }
    assert rows["1"]["payload"] == {"month": 5}  # kept when not re-sent
    assert rows["1"]["result"] == {"pages": 4}
    assert (rows["3"]["error"], rows["3"]["entity_id"]) == ("boom", "u-2")
    assert rows["2"]["updated_at"] - rows["2"]["created_at"] == timedelta(seconds=1)


@pytest.mark.postgres
async def test_the_postgres_provider_behind_a_queue_on_one_pool(
    pg_schema: str, clock: FakeClock
) -> None:
    from psycopg_pool import AsyncConnectionPool

    from dataqueue.projections import PostgresProjectionProvider

    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(PG_URL, open=False)
    await pool.open()
    try:
        provider = PostgresProjectionProvider(
            pool, table=f"{pg_schema}.entity_task_projections"
        )
        await provider.migrate()
        queue = dq.connect(
            pool=pool, schema=pg_schema, clock=clock, projection=provider
        )
        await queue.migrate()
        job_id = await queue.add_job("report", {"m": 5}, entity=ITEM)
        await queue.create_processor({"report": lambda p: {"pages": 2}}).start()
        await queue.close()  # sends what is left; the pool stays open
        row = (await read_rows(pg_schema))[str(job_id)]
    finally:
        await pool.close()
    assert (row["status"], row["result"], row["queue_id"]) == (
        "executed",
        {"pages": 2},
        pg_schema,
    )
    assert (row["entity_id"], row["entity_type"], row["task_type"]) == (
        "item-1",
        "item",
        "report",
    )
