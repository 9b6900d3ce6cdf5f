"""job_status_app over HTTP on every store: the JSON, the 404s, auth, and the
stream following a real processor to the end."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request

import dataqueue as dq
from dataqueue.testing import FakeClock
from dataqueue.web import job_status_app
from tests.web.conftest import received, served

FIELDS = {
    "id",
    "job_type",
    "status",
    "progress",
    "output",
    "error",
    "failure_reason",
    "created_at",
    "updated_at",
    "completed_at",
    "next_attempt_at",
    "attempts",
    "max_attempts",
}


def declined(payload: Any) -> None:
    raise ValueError("card declined")


async def test_a_pending_job_reads_as_its_status_json(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    job_id = await queue.add_job("report", {"secret": "x"}, max_attempts=4)
    async with served(job_status_app(queue)) as client:
        response = await client.get(f"/jobs/{job_id}")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == FIELDS  # no payload: users see status, not inputs
    assert body["id"] == job_id
    assert body["job_type"] == "report"
    assert body["status"] == "pending"
    assert body["progress"] is None
    assert body["error"] is None
    assert body["failure_reason"] is None
    assert body["completed_at"] is None
    assert (body["attempts"], body["max_attempts"]) == (0, 4)
    assert body["created_at"] == clock.now().isoformat()
    assert body["created_at"].endswith("+00:00")


async def test_a_completed_job_shows_its_output_and_progress(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    async def export(payload: Any, ctx: dq.JobContext) -> dict[str, int]:
        await ctx.set_progress(100)
        return {"rows": 3}

    job_id = await queue.add_job("export", None)
    assert await queue.create_processor({"export": export}).start() == 1
    async with served(job_status_app(queue)) as client:
        body = (await client.get(f"/jobs/{job_id}")).json()
    assert body["status"] == "completed"
    assert body["output"] == {"rows": 3}
    assert body["progress"] == 100
    assert body["completed_at"] == clock.now().isoformat()
    assert body["attempts"] == 1


async def test_a_failed_job_shows_its_last_error_and_whether_it_runs_again(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    job_id = await queue.add_job("charge", None, max_attempts=2, retry_delay=60)
    processor = queue.create_processor({"charge": declined})
    async with served(job_status_app(queue)) as client:
        await processor.start()
        retrying = (await client.get(f"/jobs/{job_id}")).json()
        clock.advance(3600)
        await processor.start()
        final = (await client.get(f"/jobs/{job_id}")).json()
    assert retrying["status"] == "failed"
    assert retrying["error"] == "ValueError: card declined"
    assert retrying["failure_reason"] == "handler_error"
    assert retrying["next_attempt_at"] is not None
    assert final["status"] == "failed"
    assert final["next_attempt_at"] is None
    assert final["attempts"] == 2


NOT_JOBS = [
    "/jobs/abc",
    "/jobs/0",
    "/jobs/-1",
    "/jobs/1.5",
    "/jobs/1e3",
    "/jobs/%201",
    "/jobs/%EF%BC%91",
    "/jobs/99999999999999999999",
    "/jobs/9223372036854775808",
    "/jobs/424242",
]


async def test_ids_that_name_no_job_are_404(queue: dq.JobQueue) -> None:
    await queue.add_job("report", None)
    async with served(job_status_app(queue)) as client:
        for path in NOT_JOBS:
            for route in (path, path + "/stream"):
                response = await client.get(route)
                assert response.status_code == 404, route
                assert response.json() == {"error": "job not found"}, route


async def test_other_paths_and_methods_answer_json_errors(
    queue: dq.JobQueue,
) -> None:
    job_id = await queue.add_job("report", None)
    async with served(job_status_app(queue)) as client:
        missing = await client.get("/somewhere")
        posted = await client.post(f"/jobs/{job_id}")
    assert missing.status_code == 404
    assert missing.json() == {"error": "Not Found"}
    assert posted.status_code == 405
    assert posted.json() == {"error": "Method Not Allowed"}


async def test_auth_refusing_a_request_answers_403_on_both_routes(
    queue: dq.JobQueue,
) -> None:
    job_id = await queue.add_job("report", None)
    asked: list[str] = []

    def only_alice(request: Request) -> bool:
        asked.append(request.path_params["job_id"])
        return request.headers.get("x-user") == "alice"

    async with served(job_status_app(queue, auth=only_alice)) as client:
        refused = await client.get(f"/jobs/{job_id}")
        refused_stream = await client.get(f"/jobs/{job_id}/stream")
        refused_unknown = await client.get("/jobs/424242")
        not_an_id = await client.get("/jobs/abc")
        allowed = await client.get(f"/jobs/{job_id}", headers={"x-user": "alice"})
        allowed_unknown = await client.get("/jobs/424242", headers={"x-user": "alice"})
    assert refused.status_code == 403
    assert refused.json() == {"error": "forbidden"}
    assert refused_stream.status_code == 403
    # Refused before the lookup: no probing which jobs exist.
    assert refused_unknown.status_code == 403
    assert allowed.status_code == 200
    assert allowed.json()["id"] == job_id
    assert allowed_unknown.status_code == 404
    # auth only ever sees valid ids.
    assert not_an_id.status_code == 404
    assert asked == [str(job_id), str(job_id), "424242", str(job_id), "424242"]


async def test_auth_may_be_async(queue: dq.JobQueue) -> None:
    job_id = await queue.add_job("report", None)

    async def owner_only(request: Request) -> bool:
        job = await queue.get_job(int(request.path_params["job_id"]))
        return job is not None and job.job_type == request.headers.get("x-owns")

    async with served(job_status_app(queue, auth=owner_only)) as client:
        refused = await client.get(f"/jobs/{job_id}", headers={"x-owns": "other"})
        allowed = await client.get(f"/jobs/{job_id}", headers={"x-owns": "report"})
    assert refused.status_code == 403
    assert allowed.status_code == 200


async def test_the_stream_follows_a_processor_and_ends_at_completion(
    queue: dq.JobQueue,
) -> None:
    # The handler moves on only once the stream has shown each step, so every
    # step is seen whatever the timing.
    shown = {30: asyncio.Event(), 60: asyncio.Event()}

    async def import_rows(payload: Any, ctx: dq.JobContext) -> dict[str, int]:
        for step, seen in shown.items():
            await ctx.set_progress(step)
            await seen.wait()
        return {"rows": 2}

    job_id = await queue.add_job("import", None)
    processor = queue.create_processor({"import": import_rows}, poll_interval=0.05)
    states = []
    async with (
        served(job_status_app(queue, poll_interval=0.02)) as client,
        client.stream("GET", f"/jobs/{job_id}/stream") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        processor.start_in_background()
        try:
            async for block in received(response):
                assert block.event == "job"
                assert block.id
                job = json.loads(block.data or "")
                states.append((job["status"], job["progress"], job["output"]))
                if job["progress"] in shown:
                    shown[job["progress"]].set()
        finally:
            await processor.stop_and_drain(5)
    assert states[0] == ("pending", None, None)
    assert ("processing", 30, None) in states
    assert ("processing", 60, None) in states
    assert states[-1] == ("completed", 60, {"rows": 2})
    # One event per change, never the same state twice in a row.
    assert all(a != b for a, b in itertools.pairwise(states))


async def test_the_stream_stays_open_while_a_failed_job_has_attempts_left(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    job_id = await queue.add_job("charge", None, max_attempts=2, retry_delay=60)
    processor = queue.create_processor({"charge": declined})
    await processor.start()
    async with (
        served(job_status_app(queue, poll_interval=0.02)) as client,
        client.stream("GET", f"/jobs/{job_id}/stream") as response,
    ):
        blocks = received(response)
        first = json.loads((await anext(blocks)).data or "")
        clock.advance(3600)
        await processor.start()
        rest = [json.loads(block.data or "") async for block in blocks]
    assert (first["status"], first["attempts"]) == ("failed", 1)
    assert first["next_attempt_at"] is not None
    assert (rest[-1]["status"], rest[-1]["attempts"]) == ("failed", 2)
    assert rest[-1]["next_attempt_at"] is None


async def test_a_reconnect_after_the_final_event_is_told_to_stop(
    queue: dq.JobQueue,
) -> None:
    job_id = await queue.add_job("report", None)
    await queue.cancel_job(job_id)
    async with served(job_status_app(queue)) as client:
        async with client.stream("GET", f"/jobs/{job_id}/stream") as response:
            blocks = [block async for block in received(response)]
        assert len(blocks) == 1
        assert json.loads(blocks[0].data or "")["status"] == "cancelled"
        again = await client.get(
            f"/jobs/{job_id}/stream", headers={"Last-Event-ID": blocks[0].id or ""}
        )
        stale = await client.get(
            f"/jobs/{job_id}/stream", headers={"Last-Event-ID": "0123456789abcdef"}
        )
    # 204 is the answer that makes EventSource stop reconnecting.
    assert again.status_code == 204
    assert stale.status_code == 200
    assert "cancelled" in stale.text


def test_it_needs_the_async_queue_and_a_positive_poll_interval(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    with (
        dq.connect_sync(url) as sync_queue,
        pytest.raises(TypeError, match=r"async JobQueue of dq\.connect\(\)"),
    ):
        job_status_app(sync_queue)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="poll_interval must be above 0"):
        job_status_app(dq.connect(url), poll_interval=0)
