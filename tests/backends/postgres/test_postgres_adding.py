"""add_jobs: idempotency under concurrency, one statement per batch."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from pg_helpers import NOW, MakeBackend, job, scalar
from tests.conftest import PG_URL, eventually

from dataqueue.backends.postgres import PostgresBackend


async def blocks_someone(holder: psycopg.AsyncConnection[Any]) -> bool:
    """Some session waits for a lock that ``holder``'s transaction holds."""
    pid = holder.info.backend_pid
    waiting = await scalar(
        "SELECT count(*) FROM pg_stat_activity "
        f"WHERE {pid} = ANY (pg_blocking_pids(pid))"
    )
    return bool(waiting)


async def test_concurrent_adds_with_one_key_make_one_job(
    make_backend: MakeBackend, schema: str
) -> None:
    backends = [await make_backend() for _ in range(2)]
    ids = await asyncio.gather(
        *(
            backends[i % 2].add_jobs([job(idempotency_key="once")], now=NOW)
            for i in range(50)
        )
    )
    assert len({tuple(i) for i in ids}) == 1
    assert await scalar(f'SELECT count(*) FROM "{schema}".job_queue') == 1
    assert await scalar(f'SELECT count(*) FROM "{schema}".job_events') == 1


async def test_a_batch_shares_one_id_per_key_and_keeps_spec_order(
    backend: PostgresBackend,
) -> None:
    (taken,) = await backend.add_jobs([job(idempotency_key="b")], now=NOW)
    ids = await backend.add_jobs(
        [
            job("first", idempotency_key="a"),
            job("plain"),
            job("again", idempotency_key="a"),
            job("old", idempotency_key="b"),
            job("plain"),
        ],
        now=NOW,
    )
    assert ids[0] == ids[2]
    assert ids[3] == taken
    assert ids[0] < ids[1] < ids[4]
    first = await backend.get_job(ids[0])
    assert first is not None and first.job_type == "first"
    old = await backend.get_job(taken)
    assert old is not None and old.job_type == "email"
    events = [await backend.get_job_events(i) for i in ids]
    assert [len(e) for e in events] == [1, 1, 1, 1, 1]


async def test_a_key_held_by_an_open_transaction_waits_for_its_commit(
    backend: PostgresBackend,
) -> None:
    async with await psycopg.AsyncConnection.connect(PG_URL) as conn:
        (held,) = await backend.add_jobs([job(idempotency_key="k")], now=NOW, db=conn)
        waiting = asyncio.create_task(
            backend.add_jobs([job(idempotency_key="k")], now=NOW)
        )
        await eventually(lambda: blocks_someone(conn))
        assert not waiting.done()
        await conn.commit()
        assert await waiting == [held]


async def test_a_key_freed_by_a_rollback_is_inserted_by_the_waiter(
    backend: PostgresBackend,
) -> None:
    async with await psycopg.AsyncConnection.connect(PG_URL) as conn:
        (rolled_back,) = await backend.add_jobs(
            [job(idempotency_key="k")], now=NOW, db=conn
        )
        waiting = asyncio.create_task(
            backend.add_jobs([job(idempotency_key="k")], now=NOW)
        )
        await eventually(lambda: blocks_someone(conn))
        await conn.rollback()
        (inserted,) = await waiting
    assert inserted != rolled_back
    assert await backend.get_job(inserted) is not None
    assert await backend.get_job(rolled_back) is None


async def test_batches_taking_the_same_keys_in_opposite_orders_do_not_deadlock(
    make_backend: MakeBackend, schema: str
) -> None:
    backends = [await make_backend() for _ in range(2)]
    keys = [f"k{i}" for i in range(20)]

    async def add(i: int) -> list[int]:
        order = keys if i % 2 else keys[::-1]
        specs = [job(idempotency_key=k) for k in order]
        return await backends[i % 2].add_jobs(specs, now=NOW)

    results = await asyncio.gather(*(add(i) for i in range(10)))
    by_key = [
        dict(zip(keys if i % 2 else keys[::-1], ids, strict=True))
        for i, ids in enumerate(results)
    ]
    assert all(mapping == by_key[0] for mapping in by_key)
    assert await scalar(f'SELECT count(*) FROM "{schema}".job_queue') == len(keys)
