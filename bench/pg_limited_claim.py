"""What a non-binding concurrency limit costs one PostgreSQL claim.

Two schemas, filled alike with ``--jobs`` jobs of one type: one with no
limits, one with a stored ``concurrency`` (``--concurrency``, 1000: room
for many claims; 15 leaves less than two batches of room, so that each
claim walks, ``Gate.fence``). One connection each; every
call completes the previous batch and claims the next 10 (a processor's
turn, typed as a processor's claim is), in blocks of ``BLOCK`` calls
alternating between the schemas. Per call: the median and mean time, the
server's CPU (the connection's backend, from /proc: the server must run on
this machine) and this process's CPU.

    .venv/bin/python bench/pg_limited_claim.py [--jobs 8000] [--rounds 8]
        [--concurrency 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from cpu import own_cpu, process_cpu  # beside this file

import dataqueue as dq
from dataqueue._commands import ClaimRequest, Completion, Lease

PG_URL = os.environ.get(
    "DATAQUEUE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BLOCK = 50


@dataclass
class Side:
    queue: dq.JobQueue
    pid: int
    leases: list[Lease] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    server: float = 0.0
    client: float = 0.0


async def open_side(schema: str, jobs: int, concurrency: int | None) -> Side:
    queue = dq.connect(url=PG_URL, schema=schema, max_connections=1)
    await queue.migrate()
    if concurrency is not None:
        await queue.set_limits("noop", concurrency=concurrency)
    for _ in range(0, jobs, 1000):
        await queue.add_jobs([dq.JobSpec("noop", {"n": n}) for n in range(1000)])
    async with queue.backend.get_pool().connection() as conn:
        return Side(queue, conn.info.backend_pid)


async def block(side: Side, record: bool) -> None:
    server, client = process_cpu(side.pid), own_cpu()
    for _ in range(BLOCK):
        claim = ClaimRequest("w", secrets.token_hex(16), 10, ("noop",))
        outcomes = [Completion(lease, None, {}) for lease in side.leases]
        started = time.perf_counter()
        exchange = await side.queue.backend.settle_and_claim(
            outcomes, claim, now=datetime.now(UTC)
        )
        if record:
            side.times.append(time.perf_counter() - started)
        side.leases = [Lease(job.id, claim.token) for job in exchange.claimed]
    if record:
        side.server += process_cpu(side.pid) - server
        side.client += own_cpu() - client


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=8000)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=1000)
    args = parser.parse_args()
    tag = uuid.uuid4().hex[:8]
    limited = f"concurrency={args.concurrency}"
    schemas = {"no limit": f"bench_open_{tag}", limited: f"bench_lim_{tag}"}
    sides: dict[str, Side] = {}
    try:
        for name, schema in schemas.items():
            cap = args.concurrency if name == limited else None
            sides[name] = await open_side(schema, args.jobs, cap)
        for side in sides.values():
            await block(side, record=False)
        for _ in range(args.rounds):
            for side in sides.values():
                await block(side, record=True)
        print("| claim of 10 | median µs | mean µs | server CPU µs | client CPU µs |")
        print("|---|---|---|---|---|")
        for name, side in sides.items():
            n = len(side.times)
            print(
                f"| {name} | {statistics.median(side.times) * 1e6:,.0f} "
                f"| {statistics.mean(side.times) * 1e6:,.0f} "
                f"| {side.server / n * 1e6:,.0f} | {side.client / n * 1e6:,.0f} |"
            )
    finally:
        for side in sides.values():
            await side.queue.close()
        async with await psycopg.AsyncConnection.connect(PG_URL, autocommit=True) as c:
            for schema in schemas.values():
                await c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    asyncio.run(main())
