"""CPU a second of one processor held by a binding rate, per store.

A processor of type ``capped`` (concurrency 10, batch 10) works through
1,000 no-op jobs under a stored rate of ``CAPPED_RATE`` a second (as in
``limits.py``'s binding part); once the bucket's first burst is spent, the
CPU it costs over ``--seconds``: this process's, and on PostgreSQL the
server's (the backends of the queue's connections, from /proc: the server
must run on this machine). What the capped type takes from the types
beside it.

    .venv/bin/python bench/capped_cpu.py [--seconds 4]
        [--stores memory,sqlite,postgres,redis]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import tempfile
import time

import psycopg
from cpu import own_cpu, process_cpu  # beside this file
from limits import CAPPED_RATE, connect, noop, until_done  # beside this file
from throughput import PG_URL, drop

import dataqueue as dq


def server_pids() -> list[int]:
    """The PostgreSQL backends of this process's connections."""
    sockets = subprocess.run(["ss", "-tnp"], capture_output=True, text=True).stdout
    ports = [
        int(found.group(1))
        for line in sockets.splitlines()
        if f"pid={os.getpid()}," in line
        and (found := re.search(r":(\d+)\s+\S+:5432\b", line))
    ]
    with psycopg.connect(PG_URL) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE client_port = ANY (%s)", (ports,)
        ).fetchall()
    return [row[0] for row in rows]


def server_cpu(pids: list[int]) -> float:
    return sum(process_cpu(pid) for pid in pids)


async def capped_cpu(store: str, folder: str, seconds: float) -> tuple[float, float]:
    """(client, server) CPU milliseconds a second of the capped processor."""
    queue, options = connect(store, folder)
    try:
        await queue.migrate()
        await queue.set_limits("capped", rate=dq.Rate(CAPPED_RATE, per=1))
        for _ in range(2):
            await queue.add_jobs([dq.JobSpec("capped", {"n": n}) for n in range(500)])
        processor = queue.create_processor(
            {"capped": noop}, batch_size=10, concurrency=10, poll_interval=1
        )
        processor.start_in_background()
        await until_done(queue, "capped", CAPPED_RATE + 1)
        pids = server_pids() if store == "postgres" else []
        client, server, started = own_cpu(), server_cpu(pids), time.perf_counter()
        await asyncio.sleep(seconds)
        client, server = own_cpu() - client, server_cpu(pids) - server
        elapsed = time.perf_counter() - started
        await processor.stop_and_drain(10)
        return 1000 * client / elapsed, 1000 * server / elapsed
    finally:
        await queue.close()
        if options:
            await drop(store, options)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--stores", default="memory,sqlite,postgres,redis")
    args = parser.parse_args()
    print(f"| store | client CPU ms/s (rate {CAPPED_RATE}/s) | server CPU ms/s |")
    print("|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for store in args.stores.split(","):
            client, server = await capped_cpu(store, folder, args.seconds)
            shown = f"{server:.0f}" if store == "postgres" else "-"
            print(f"| {store} | {client:.0f} | {shown} |")


if __name__ == "__main__":
    asyncio.run(main())
