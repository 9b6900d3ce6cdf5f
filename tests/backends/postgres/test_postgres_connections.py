"""Wake-ups across processes (LISTEN/NOTIFY) and pools passed in by the caller."""

from __future__ import annotations

import time
import uuid
from datetime import UTC

import psycopg
from pg_helpers import NOW, MakeBackend, drop_schema, job, scalar
from psycopg_pool import AsyncConnectionPool
from tests.conftest import PG_URL

from dataqueue._commands import ClaimRequest
from dataqueue.backends.postgres import PostgresBackend


async def test_an_add_on_another_pool_wakes_a_subscriber(
    make_backend: MakeBackend,
) -> None:
    listener, adder = await make_backend(), await make_backend()
    wakeup = await listener.subscribe()
    try:
        # The listener signals once LISTEN is in place; from then on no add
        # can be missed.
        assert await wakeup.wait(5)
        started = time.monotonic()
        await adder.add_jobs([job()], now=NOW)
        assert await wakeup.wait(5)
        assert time.monotonic() - started < 1
    finally:
        await wakeup.close()


async def test_an_add_in_a_transaction_wakes_subscribers_at_commit(
    make_backend: MakeBackend,
) -> None:
    listener, adder = await make_backend(), await make_backend()
    wakeup = await listener.subscribe()
    try:
        assert await wakeup.wait(5)
        async with await psycopg.AsyncConnection.connect(PG_URL) as conn:
            await adder.add_jobs([job()], now=NOW, db=conn)
            assert not await wakeup.wait(0.3)
            await conn.commit()
            assert await wakeup.wait(5)
    finally:
        await wakeup.close()


async def test_a_pool_passed_in_is_used_and_never_closed(schema: str) -> None:
    # No autocommit and no row factory: the backend must not rely on either.
    async with AsyncConnectionPool(PG_URL, min_size=1, max_size=2) as pool:
        backend = PostgresBackend(None, pool=pool, schema=schema)
        try:
            assert backend.get_pool() is pool
            await backend.migrate()
            await backend.open()
            (job_id,) = await backend.add_jobs([job()], now=NOW)
            wakeup = await backend.subscribe()
            assert await wakeup.wait(5)
            await wakeup.close()
        finally:
            await backend.close()
            assert not pool.closed
        try:
            assert await scalar(f'SELECT count(*) FROM "{schema}".job_queue') == 1
            async with pool.connection() as conn:
                cur = await conn.execute(
                    f'SELECT id FROM "{schema}".job_queue'  # type: ignore[arg-type]
                )
                assert await cur.fetchall() == [(job_id,)]
        finally:
            await drop_schema(schema)


async def test_a_closed_backend_opens_again(make_backend: MakeBackend) -> None:
    backend = await make_backend()
    (job_id,) = await backend.add_jobs([job()], now=NOW)
    await backend.close()
    await backend.open()
    assert await backend.get_job(job_id) is not None


async def test_times_come_back_in_utc_whatever_the_session_zone(
    schema: str,
) -> None:
    kwargs = {"options": "-c timezone=Asia/Tokyo"}
    async with AsyncConnectionPool(
        PG_URL, kwargs=kwargs, min_size=1, max_size=2
    ) as pool:
        backend = PostgresBackend(None, pool=pool, schema=schema)
        try:
            await backend.migrate()
            (job_id,) = await backend.add_jobs([job()], now=NOW)
            stored = await backend.get_job(job_id)
        finally:
            await backend.close()
            await drop_schema(schema)
    assert stored is not None
    assert stored.created_at == NOW
    assert stored.created_at.tzinfo is UTC


async def test_a_mixed_case_schema_works_end_to_end() -> None:
    schema = f"Dq_{uuid.uuid4().hex[:6]}"
    backend = PostgresBackend(PG_URL, schema=schema)
    try:
        await backend.migrate()
        await backend.open()
        wakeup = await backend.subscribe()
        assert await wakeup.wait(5)
        (job_id,) = await backend.add_jobs([job(idempotency_key="x")], now=NOW)
        assert await wakeup.wait(5)
        await wakeup.close()
        claim = ClaimRequest("w", "token", 5, ("email",))
        exchange = await backend.settle_and_claim([], claim, now=NOW)
        assert [j.id for j in exchange.claimed] == [job_id]
    finally:
        await backend.close()
        await drop_schema(schema)


async def test_an_add_in_a_transaction_wakes_its_own_backend_only_at_commit(
    backend: PostgresBackend,
) -> None:
    wakeup = await backend.subscribe()
    try:
        assert await wakeup.wait(5)
        async with await psycopg.AsyncConnection.connect(PG_URL) as conn:
            await backend.add_jobs([job()], now=NOW, db=conn)
            assert not await wakeup.wait(0.3)
            await conn.commit()
            assert await wakeup.wait(5)
    finally:
        await wakeup.close()
