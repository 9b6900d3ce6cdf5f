"""The status app while its store is away: a read answers 503, an open
stream waits the outage out and sends the next change once the store is
back. Shown on Redis, which fails a read at once; PostgreSQL raises the same
StoreUnavailableError after its pool's 10 s wait for a connection."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import dataqueue as dq
from dataqueue.web import job_status_app
from tests.conftest import eventually
from tests.faults import StoreProxy
from tests.web.conftest import SECRET, cuttable_queues, handle_of, received, served


@pytest.fixture
async def queues(
    tmp_path: Path,
) -> AsyncIterator[tuple[dq.JobQueue, dq.JobQueue, StoreProxy]]:
    async with cuttable_queues(tmp_path) as opened:
        yield opened


@pytest.mark.redis
async def test_a_stream_waits_out_an_outage_and_a_read_answers_503(
    queues: tuple[dq.JobQueue, dq.JobQueue, StoreProxy],
    caplog: pytest.LogCaptureFixture,
) -> None:
    direct, flaky, proxy = queues
    job_id = await direct.add_job("report", None)
    async with (
        served(job_status_app(flaky, secret=SECRET, poll_interval=0.02)) as client,
        client.stream("GET", f"/jobs/{handle_of(flaky, job_id)}/stream") as response,
    ):
        blocks = received(response)
        first = json.loads((await anext(blocks)).data or "")
        with caplog.at_level(logging.WARNING, logger="dataqueue.web"):
            proxy.cut()

            async def paused() -> bool:
                return "updates paused" in caplog.text

            await eventually(paused, timeout=30)
            read = await client.get(f"/jobs/{handle_of(flaky, job_id)}")
            proxy.restore()
        await direct.cancel_job(job_id)
        rest = [json.loads(block.data or "") async for block in blocks]
    assert first["status"] == "pending"
    assert read.status_code == 503
    assert read.json() == {"error": "the job store is unavailable"}
    assert [job["status"] for job in rest] == ["cancelled"]
    assert caplog.text.count("updates paused") == 1
