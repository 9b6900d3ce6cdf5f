""" "Bare SQL" baseline with asyncpg: the least a claim+complete loop can do.

Not a library: the floor cost of a dataqueue-shaped PostgreSQL table (FOR UPDATE
SKIP LOCKED batch claim, batch complete, LISTEN/NOTIFY wake-up).

Worker variants:
  default : claim 100 with UPDATE .. WHERE id IN (SELECT .. FOR UPDATE SKIP LOCKED
            LIMIT 100) RETURNING; run the handlers (<= concurrency at once); one
            UPDATE .. WHERE id = ANY($1) completes the batch: 2 statements / 100 jobs
  b10     : the same with batch 10 (dataqueue's default batch_size)
  events  : default plus a job_events row per state change, in the same statements
  fused   : the completion of batch k and the claim of batch k+1 in one statement
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import signal
import socket

import asyncpg
import common

NAME = "bare_asyncpg"
VENV = "baseline"
BACKEND = "postgres"
HAS_BULK = True
BULK_BATCH = 1000


def version() -> str:
    return "asyncpg " + importlib.metadata.version("asyncpg")


SCHEMA = """
CREATE TABLE job_queue (
  id              bigserial PRIMARY KEY,
  job_type        text        NOT NULL,
  payload         jsonb       NOT NULL,
  status          text        NOT NULL DEFAULT 'pending',
  priority        int         NOT NULL DEFAULT 0,
  run_at          timestamptz NOT NULL DEFAULT now(),
  attempts        int         NOT NULL DEFAULT 0,
  max_attempts    int         NOT NULL DEFAULT 3,
  timeout_ms      int,
  tags            text[],
  idempotency_key text UNIQUE,
  locked_at       timestamptz,
  locked_by       text,
  started_at      timestamptz,
  completed_at    timestamptz,
  error_history   jsonb       NOT NULL DEFAULT '[]',
  output          jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_queue_claim_idx ON job_queue (priority DESC, run_at, id) WHERE status
= 'pending';
CREATE INDEX job_queue_status_idx ON job_queue (status);
CREATE TABLE job_events (
  id bigserial PRIMARY KEY, job_id bigint NOT NULL, event_type text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(), metadata jsonb
);
CREATE INDEX job_events_job_idx ON job_events (job_id);
CREATE FUNCTION job_queue_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('job_queue_new', ''); RETURN NULL; END $$;
CREATE TRIGGER job_queue_notify AFTER INSERT ON job_queue
  FOR EACH STATEMENT EXECUTE FUNCTION job_queue_notify();
"""

INSERT_ONE = """INSERT INTO job_queue (job_type, payload, priority, tags)
VALUES ($1, $2::jsonb, 0, $3) RETURNING id"""
INSERT_MANY = """INSERT INTO job_queue (job_type, payload, priority, tags)
SELECT $1, p, 0, $3 FROM unnest($2::jsonb[]) AS p RETURNING id"""

CLAIM = """
UPDATE job_queue SET status = 'processing', locked_at = now(), locked_by = $2,
       attempts = attempts + 1, started_at = now(), updated_at = now()
WHERE id IN (SELECT id FROM job_queue
             WHERE status = 'pending' AND run_at <= now()
             ORDER BY priority DESC, run_at, id
             LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING id, job_type, payload
"""
COMPLETE = """UPDATE job_queue
   SET status = 'completed', completed_at = now(), updated_at = now(),
       locked_at = NULL, locked_by = NULL WHERE id = ANY($1::bigint[])"""

CLAIM_EV = """
WITH c AS (
  UPDATE job_queue SET status = 'processing', locked_at = now(), locked_by = $2,
         attempts = attempts + 1, started_at = now(), updated_at = now()
  WHERE id IN (SELECT id FROM job_queue WHERE status = 'pending' AND run_at <= now()
               ORDER BY priority DESC, run_at, id LIMIT $1 FOR UPDATE SKIP LOCKED)
  RETURNING id, job_type, payload
), e AS (INSERT INTO job_events (job_id, event_type) SELECT id, 'processing' FROM c)
SELECT * FROM c
"""
COMPLETE_EV = """
WITH u AS (UPDATE job_queue SET status = 'completed', completed_at = now(), updated_at
= now(),
           locked_at = NULL, locked_by = NULL WHERE id = ANY($1::bigint[]) RETURNING id)
INSERT INTO job_events (job_id, event_type) SELECT id, 'completed' FROM u
"""
FUSED = """
WITH done AS (
  UPDATE job_queue SET status = 'completed', completed_at = now(), updated_at = now(),
         locked_at = NULL, locked_by = NULL WHERE id = ANY($3::bigint[]) RETURNING id
)
UPDATE job_queue SET status = 'processing', locked_at = now(), locked_by = $2,
       attempts = attempts + 1, started_at = now(), updated_at = now()
WHERE id IN (SELECT id FROM job_queue WHERE status = 'pending' AND run_at <= now()
             ORDER BY priority DESC, run_at, id LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING id, job_type, payload, (SELECT count(*) FROM done) AS n_done
"""


async def reset() -> None:
    common.pg_reset_schema()
    common.pg_exec(SCHEMA)


class Client:
    conn: asyncpg.Connection
    counter: asyncpg.Connection


async def open_client():
    c = Client()
    c.conn = await asyncpg.connect(common.PG_DSN)
    c.counter = await asyncpg.connect(common.PG_DSN)
    return c


async def close_client(c) -> None:
    await c.conn.close()
    await c.counter.close()


async def enqueue_one(c, payload: dict) -> None:
    await c.conn.fetchval(INSERT_ONE, "noop", common.dumps(payload), ["bench"])


async def enqueue_bulk(c, payloads: list[dict]) -> None:
    await c.conn.fetch(
        INSERT_MANY, "noop", [common.dumps(p) for p in payloads], ["bench"]
    )


async def remaining(c) -> int:
    return await c.counter.fetchval(
        "SELECT count(*) FROM job_queue WHERE status IN ('pending','processing')"
    )


async def count_done(c) -> int:
    return await c.counter.fetchval(
        "SELECT count(*) FROM job_queue WHERE status = 'completed'"
    )


async def noop(payload: dict) -> None:
    common.job_started(payload)


def run_worker(concurrency: int, variant: str) -> None:
    asyncio.run(_worker(concurrency, variant))


async def _worker(concurrency: int, variant: str) -> None:
    batch = 10 if variant == "b10" else 100
    claim_sql, complete_sql = (
        (CLAIM_EV, COMPLETE_EV) if variant == "events" else (CLAIM, COMPLETE)
    )
    worker_id = f"{socket.gethostname()}-{os.getpid()}"
    conn = await asyncpg.connect(common.PG_DSN)
    listen = await asyncpg.connect(common.PG_DSN)
    wake = asyncio.Event()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await listen.add_listener("job_queue_new", lambda *a: wake.set())
    sem = asyncio.Semaphore(concurrency)

    async def run_one(row):
        async with sem:
            await noop(json.loads(row["payload"]))

    pending_ids: list[int] = []
    while not stop.is_set():
        wake.clear()
        if variant == "fused":
            rows = await conn.fetch(FUSED, batch, worker_id, pending_ids)
            pending_ids = []
        else:
            rows = await conn.fetch(claim_sql, batch, worker_id)
        if rows:
            await asyncio.gather(*(run_one(r) for r in rows))
            ids = [r["id"] for r in rows]
            if variant == "fused":
                pending_ids = ids
            else:
                await conn.execute(complete_sql, ids)
            if len(rows) == batch:
                continue  # full batch: claim again at once
        if pending_ids:
            continue  # fused: flush completions with the next claim immediately
        # idle: wait for NOTIFY or poll interval (5 s)
        waiter = asyncio.ensure_future(wake.wait())
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait(
            {waiter, stopper}, timeout=5.0, return_when=asyncio.FIRST_COMPLETED
        )
        waiter.cancel()
        stopper.cancel()
    await conn.close()
    await listen.close()
