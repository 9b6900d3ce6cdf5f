"""Tokens: a completion that waited for an expiry's row lock says the token
expired (the statement's snapshot predates the expiry)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import psycopg
from pg_helpers import NOW, claim, job
from tests.conftest import PG_URL

from dataqueue._commands import NewToken
from dataqueue.backends.postgres import PostgresBackend


async def test_completion_losing_the_race_to_expiry_says_expired(
    backend: PostgresBackend, schema: str
) -> None:
    await backend.add_jobs([job()], now=NOW)
    (lease,) = await claim(backend, 1)
    token = NewToken("tok_race", NOW + timedelta(seconds=5), [])
    assert await backend.create_token(lease, token, {}, now=NOW)
    async with await psycopg.AsyncConnection.connect(PG_URL) as expiry:
        # The expiry holds the token's row lock while the completion starts.
        await expiry.execute(
            f"UPDATE \"{schema}\".waitpoints SET status = 'timed_out' "
            "WHERE id = 'tok_race'"
        )
        completion = asyncio.create_task(
            backend.complete_token("tok_race", "late", now=NOW)
        )
        async with await psycopg.AsyncConnection.connect(PG_URL) as watcher:
            for _ in range(500):
                cur = await watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND query LIKE '%%waitpoints%%'"
                )
                row = await cur.fetchone()
                if row is not None and row[0] > 0:
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the completion never waited for the lock")
        await expiry.commit()
    assert await completion == "timed_out"
