"""The event streams deliver what a processor changes, on every store."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

import dataqueue as dq
from dataqueue.dashboard import create_app, streams
from tests.conftest import eventually
from tests.dashboard.conftest import BASE, bearing
from tests.dashboard.jobs import HANDLERS
from tests.web.conftest import Received, cuttable_queues, received, served


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streams, "LIST_POLL_SECONDS", 0.02)
    monkeypatch.setattr(streams, "JOB_POLL_SECONDS", 0.02)


class Events:
    """The events of a streamed response, read in the background so that
    waiting for one can time out without ending the stream."""

    def __init__(self, response: httpx.Response) -> None:
        self._queue: asyncio.Queue[Received | None] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read(response))

    async def _read(self, response: httpx.Response) -> None:
        try:
            async for block in received(response):
                if block.event is not None:  # not a heartbeat comment
                    await self._queue.put(block)
        finally:
            await self._queue.put(None)

    async def next(self, timeout: float = 10) -> Received:
        block = await asyncio.wait_for(self._queue.get(), timeout)
        assert block is not None, "the stream ended"
        return block

    async def rest(self) -> list[Received]:
        """Every event until the stream ends."""
        blocks = []
        while (block := await asyncio.wait_for(self._queue.get(), 10)) is not None:
            blocks.append(block)
        return blocks

    def close(self) -> None:
        self._reader.cancel()


@asynccontextmanager
async def events_of(response: httpx.Response) -> AsyncIterator[Events]:
    events = Events(response)
    try:
        yield events
    finally:
        events.close()


async def test_the_list_stream_pushes_counts_when_a_processor_changes_them(
    queue: dq.JobQueue,
) -> None:
    job_id = await queue.add_job("echo", {})
    async with (
        served(*bearing(create_app(queue, HANDLERS))) as client,
        client.stream("GET", f"{BASE}/api/stream") as response,
        events_of(response) as events,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        first = await events.next()
        await queue.create_processor(HANDLERS).start()
        later = [await events.next()]
        # A poll may also catch the job while it runs.
        while json.loads(later[-1].data or "")["counts"]["completed"] != 1:
            later.append(await events.next())

    assert {block.event for block in (first, *later)} == {"changed"}
    assert json.loads(first.data or "")["counts"]["pending"] == 1
    assert json.loads(later[-1].data or "")["counts"]["pending"] == 0
    job = await queue.get_job(job_id)
    assert job is not None and job.status is dq.JobStatus.COMPLETED


async def test_the_list_stream_is_quiet_until_a_job_starts(
    queue: dq.JobQueue, gate: asyncio.Event
) -> None:
    await queue.add_job("stepping", {})
    processor = queue.create_processor(HANDLERS)
    async with (
        served(*bearing(create_app(queue, HANDLERS))) as client,
        client.stream("GET", f"{BASE}/api/stream?status=processing") as response,
        events_of(response) as events,
    ):
        await events.next()
        # Fifteen polls or so with nothing new: no event.
        with pytest.raises(TimeoutError):
            await events.next(timeout=0.3)
        batch = asyncio.create_task(processor.start())
        moved = await events.next()
        while json.loads(moved.data or "")["counts"]["processing"] != 1:
            moved = await events.next()
        gate.set()
        await batch


async def test_the_list_stream_pushes_workers_coming_and_going(
    queue: dq.JobQueue,
) -> None:
    processor = queue.create_processor(HANDLERS, poll_interval=0.05)
    async with (
        served(*bearing(create_app(queue, HANDLERS))) as client,
        client.stream("GET", f"{BASE}/api/stream") as response,
        events_of(response) as events,
    ):
        await events.next()
        with pytest.raises(TimeoutError):
            await events.next(timeout=0.2)
        processor.start_in_background()
        assert (await events.next()).event == "changed"
        assert [w.id for w in await queue.list_workers()] == [processor.worker_id]
        await processor.stop_and_drain(5)
        assert (await events.next()).event == "changed"
        assert await queue.list_workers() == []


async def test_the_job_stream_follows_a_running_job_to_its_end(
    queue: dq.JobQueue, gate: asyncio.Event
) -> None:
    job_id = await queue.add_job("stepping", {})
    processor = queue.create_processor(HANDLERS)
    seen: list[dict[str, object]] = []
    async with (
        served(*bearing(create_app(queue, HANDLERS))) as client,
        client.stream("GET", f"{BASE}/api/jobs/{job_id}/stream") as response,
        events_of(response) as events,
    ):
        seen.append(json.loads((await events.next()).data or "")["job"])
        batch = asyncio.create_task(processor.start())
        while seen[-1]["progress"] != 50:
            seen.append(json.loads((await events.next()).data or "")["job"])
        gate.set()
        rest = await events.rest()
        await batch

    assert (seen[0]["status"], seen[0]["progress"]) == ("pending", None)
    assert (seen[-1]["status"], seen[-1]["progress"]) == ("processing", 50)
    last_job = json.loads(rest[-2].data or "")["job"]
    assert (last_job["status"], last_job["progress"]) == ("completed", 100)
    assert last_job["output"] == "done"
    assert (rest[-1].event, json.loads(rest[-1].data or "")) == (
        "end",
        {"reason": "final"},
    )
    assert all(block.event == "job" and block.id for block in rest[:-1])


@pytest.mark.redis
async def test_the_job_stream_waits_out_a_store_outage(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with cuttable_queues(tmp_path) as (direct, flaky, proxy):
        job_id = await direct.add_job("echo", {})
        async with (
            served(*bearing(create_app(flaky, HANDLERS))) as client,
            client.stream("GET", f"{BASE}/api/jobs/{job_id}/stream") as response,
            events_of(response) as events,
        ):
            first = json.loads((await events.next()).data or "")["job"]
            with caplog.at_level(logging.WARNING, logger="dataqueue.web"):
                proxy.cut()

                async def paused() -> bool:
                    return "updates paused" in caplog.text

                await eventually(paused, timeout=30)
                proxy.restore()
            await direct.cancel_job(job_id)
            rest = await events.rest()

    assert first["status"] == "pending"
    assert [block.event for block in rest] == ["job", "end"]
    last_job = json.loads(rest[0].data or "")["job"]
    assert (last_job["id"], last_job["status"]) == (job_id, "cancelled")
    assert json.loads(rest[1].data or "") == {"reason": "final"}
    assert caplog.text.count("updates paused") == 1


async def test_a_client_that_saw_the_final_state_is_told_to_stop(
    queue: dq.JobQueue,
) -> None:
    job_id = await queue.add_job("echo", {})
    await queue.create_processor(HANDLERS).start()
    async with served(*bearing(create_app(queue, HANDLERS))) as client:
        async with client.stream("GET", f"{BASE}/api/jobs/{job_id}/stream") as r:
            blocks = [block async for block in received(r) if block.event]
        again = await client.get(
            f"{BASE}/api/jobs/{job_id}/stream",
            headers={"Last-Event-ID": blocks[0].id or ""},
        )
        stale = await client.get(
            f"{BASE}/api/jobs/{job_id}/stream",
            headers={"Last-Event-ID": "an-older-version"},
        )

    assert [block.event for block in blocks] == ["job", "end"]
    assert again.status_code == 204
    assert stale.status_code == 200
    assert stale.text.startswith("event: job")


async def test_streaming_an_unknown_job_is_a_404(queue: dq.JobQueue) -> None:
    async with served(*bearing(create_app(queue, HANDLERS))) as client:
        answer = await client.get(f"{BASE}/api/jobs/987654/stream")

    assert answer.status_code == 404
    assert isinstance(answer, httpx.Response) and answer.json()["error"]
