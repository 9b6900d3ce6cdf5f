"""A store that goes away and comes back: results are written once it is
back, no job runs twice, the worker logs the outage once and is at full
speed again at once, whatever its poll interval.

Only the stores reached over a network can go away: PostgreSQL and Redis.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

import dataqueue as dq
from tests.conftest import (
    PG_URL,
    REDIS_URL,
    drop_namespace,
    eventually,
    namespace,
    open_store,
    store_options,
)
from tests.faults import StoreProxy

NETWORK_STORES = [
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("redis", marks=pytest.mark.redis),
]


def through(proxy: StoreProxy, url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{proxy.port}"
    netloc[-1] = host
    return urlunsplit(parts._replace(netloc="@".join(netloc)))


@pytest.fixture(params=NETWORK_STORES)
async def flaky_queue(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[dq.JobQueue, StoreProxy]]:
    store = str(request.param)
    ns = namespace()
    direct = await open_store(store, tmp_path, None, ns)
    await direct.close()
    target = urlsplit(PG_URL if store == "postgres" else REDIS_URL)
    assert target.hostname is not None and target.port is not None
    async with StoreProxy(target.hostname, target.port) as proxy:
        options = store_options(store, tmp_path, ns)
        options["url"] = through(proxy, options["url"])
        queue = dq.connect(**options)
        try:
            yield queue, proxy
        finally:
            proxy.restore()
            await queue.close()
            await drop_namespace(store, ns)


async def test_results_written_during_an_outage_land_once_it_ends(
    flaky_queue: tuple[dq.JobQueue, StoreProxy], caplog: pytest.LogCaptureFixture
) -> None:
    queue, proxy = flaky_queue
    caplog.set_level(logging.INFO, logger="dataqueue")
    runs: Counter[int] = Counter()
    go = asyncio.Event()

    async def work(payload: dict[str, int]) -> int:
        runs[payload["n"]] += 1
        await go.wait()
        return payload["n"]

    ids = await queue.add_jobs([dq.JobSpec("work", {"n": n}) for n in range(5)])
    processor = queue.create_processor(
        {"work": work}, concurrency=5, poll_interval=30, heartbeat_interval=0.2
    )
    processor.start_in_background()
    try:

        async def all_started() -> bool:
            return len(runs) == 5

        await eventually(all_started)
        proxy.cut()
        go.set()

        async def outage_noticed() -> bool:
            # By the wake-up listener or the processor, whichever sees it first.
            return any(r.levelno == logging.ERROR for r in caplog.records)

        await eventually(outage_noticed)
        proxy.restore()

        async def all_completed() -> bool:
            jobs = [await queue.get_job(i) for i in ids]
            return all(
                j is not None and j.status is dq.JobStatus.COMPLETED for j in jobs
            )

        await eventually(all_completed, timeout=10)
        assert runs == Counter(range(5))

        late = await queue.add_job("work", {"n": 99})

        async def late_completed() -> bool:
            job = await queue.get_job(late)
            return job is not None and job.status is dq.JobStatus.COMPLETED

        # Far sooner than the 30 s poll interval: the wake-ups are back too.
        await eventually(late_completed, timeout=10)
    finally:
        await processor.stop_and_drain(5)
    # One line per component that saw the outage (listener, processor,
    # heartbeat), never a traceback.
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert all(r.exc_info is None for r in errors), [r.getMessage() for r in errors]
    assert len(errors) <= 3, [r.getMessage() for r in errors]


async def test_a_worker_waits_for_a_store_that_is_not_up_yet(
    flaky_queue: tuple[dq.JobQueue, StoreProxy],
) -> None:
    queue, proxy = flaky_queue
    proxy.cut()
    done = asyncio.Event()

    async def work(payload: Any) -> None:
        done.set()

    processor = queue.create_processor({"work": work}, poll_interval=30)
    processor.start_in_background()
    try:
        with pytest.raises(dq.StoreUnavailableError):
            await queue.add_job("work", {})
        proxy.restore()
        await queue.add_job("work", {})
        await asyncio.wait_for(done.wait(), 10)
    finally:
        await processor.stop_and_drain(5)
