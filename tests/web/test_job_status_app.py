"""job_status_app over HTTP on every store: jobs named by signed handles, the
JSON's allow-list, the 404s, auth, and the stream following a real
processor to the end."""

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
from dataqueue.web import job_handle, job_status_app
from tests.web.conftest import SECRET, handle_of, received, served

FIELDS = {
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
    async with served(job_status_app(queue, secret=SECRET)) as client:
        response = await client.get(f"/jobs/{handle_of(queue, job_id)}")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == FIELDS  # no payload: users see status, not inputs
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
    async with served(job_status_app(queue, secret=SECRET)) as client:
        body = (await client.get(f"/jobs/{handle_of(queue, job_id)}")).json()
    assert body["status"] == "completed"
    assert body["output"] == {"rows": 3}
    assert body["progress"] == 100
    assert body["completed_at"] == clock.now().isoformat()
    assert body["attempts"] == 1


async def test_a_failed_job_shows_its_reason_and_whether_it_runs_again(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    job_id = await queue.add_job("charge", None, max_attempts=2, retry_delay=60)
    handle = handle_of(queue, job_id, expires_in=7200)
    processor = queue.create_processor({"charge": declined})
    async with served(job_status_app(queue, secret=SECRET)) as client:
        await processor.start()
        retrying = (await client.get(f"/jobs/{handle}")).json()
        clock.advance(3600)
        await processor.start()
        final = (await client.get(f"/jobs/{handle}")).json()
    assert retrying["status"] == "failed"
    # Exception text can hold anything; users get the reason only.
    assert retrying["error"] is None
    assert retrying["failure_reason"] == "handler_error"
    assert retrying["next_attempt_at"] is not None
    assert final["status"] == "failed"
    assert final["next_attempt_at"] is None
    assert final["attempts"] == 2


async def test_show_errors_adds_the_last_error_text(queue: dq.JobQueue) -> None:
    job_id = await queue.add_job("charge", None, max_attempts=1)
    await queue.create_processor({"charge": declined}).start()
    app = job_status_app(queue, secret=SECRET, show_errors=True)
    async with served(app) as client:
        body = (await client.get(f"/jobs/{handle_of(queue, job_id)}")).json()
    assert body["error"] == "ValueError: card declined"


def forged(job_id: int) -> str:
    """A well-formed handle for ``job_id`` signed with another secret."""
    return job_handle(job_id, secret="another-secret-of-16+bytes", expires_in=60)


async def test_raw_ids_and_forged_handles_are_404(queue: dq.JobQueue) -> None:
    job_id = await queue.add_job("report", {"card": "4242"})
    handle = handle_of(queue, job_id)
    body, mac = handle.split(".")
    not_handles = [
        str(job_id),  # the raw id, as the app answered before handles
        "1",
        "abc",
        forged(job_id),
        f"{body}.{mac[:-1]}A" if mac[-1] != "A" else f"{body}.{mac[:-1]}B",
        f"{body}x.{mac}",
        f"{body}",
        "." * 60,
        "A" * 5000,
        "%EF%BC%91",
    ]
    async with served(job_status_app(queue, secret=SECRET)) as client:
        for text in not_handles:
            for route in (f"/jobs/{text}", f"/jobs/{text}/stream"):
                response = await client.get(route)
                assert response.status_code == 404, route
                assert response.json() == {"error": "job not found"}, route
        # A genuine handle of a job that does not exist is a 404 as well.
        unknown = await client.get(f"/jobs/{handle_of(queue, 424242)}")
    assert unknown.status_code == 404


async def test_an_expired_handle_is_410(queue: dq.JobQueue, clock: FakeClock) -> None:
    job_id = await queue.add_job("report", None)
    handle = handle_of(queue, job_id, expires_in=60)
    async with served(job_status_app(queue, secret=SECRET)) as client:
        clock.advance(59)
        fresh = await client.get(f"/jobs/{handle}")
        clock.advance(1)
        expired = await client.get(f"/jobs/{handle}")
        expired_stream = await client.get(f"/jobs/{handle}/stream")
    assert fresh.status_code == 200
    assert expired.status_code == 410
    assert expired.json() == {"error": "this job handle has expired"}
    assert expired_stream.status_code == 410


async def test_rotated_secrets_accept_old_handles_and_sign_with_the_first(
    queue: dq.JobQueue,
) -> None:
    job_id = await queue.add_job("report", None)
    old = job_handle(
        job_id,
        secret="the-old-secret-16bytes",
        expires_in=60,
        now=queue.clock.now(),
    )
    app = job_status_app(queue, secret=[SECRET, "the-old-secret-16bytes"])
    async with served(app) as client:
        assert (await client.get(f"/jobs/{old}")).status_code == 200
        assert (
            await client.get(f"/jobs/{handle_of(queue, job_id)}")
        ).status_code == 200


async def test_every_answer_carries_nosniff_and_no_store(queue: dq.JobQueue) -> None:
    job_id = await queue.add_job("report", None)
    async with served(job_status_app(queue, secret=SECRET)) as client:
        answers = [
            await client.get(f"/jobs/{handle_of(queue, job_id)}"),
            await client.get("/jobs/1"),
            await client.get("/elsewhere"),
        ]
    for response in answers:
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_other_paths_and_methods_answer_json_errors(
    queue: dq.JobQueue,
) -> None:
    job_id = await queue.add_job("report", None)
    handle = handle_of(queue, job_id)
    async with served(job_status_app(queue, secret=SECRET)) as client:
        missing = await client.get("/somewhere")
        posted = await client.post(f"/jobs/{handle}")
    assert missing.status_code == 404
    assert missing.json() == {"error": "Not Found"}
    assert posted.status_code == 405
    assert posted.json() == {"error": "Method Not Allowed"}


async def test_auth_refusing_a_request_answers_403_on_both_routes(
    queue: dq.JobQueue,
) -> None:
    job_id = await queue.add_job("report", None)
    handle = handle_of(queue, job_id)
    unknown = handle_of(queue, 424242)
    asked: list[int] = []

    def only_alice(request: Request) -> bool:
        asked.append(request.state.job_id)
        return request.headers.get("x-user") == "alice"

    async with served(job_status_app(queue, secret=SECRET, auth=only_alice)) as client:
        refused = await client.get(f"/jobs/{handle}")
        refused_stream = await client.get(f"/jobs/{handle}/stream")
        refused_unknown = await client.get(f"/jobs/{unknown}")
        not_a_handle = await client.get(f"/jobs/{job_id}")
        allowed = await client.get(f"/jobs/{handle}", headers={"x-user": "alice"})
        allowed_unknown = await client.get(
            f"/jobs/{unknown}", headers={"x-user": "alice"}
        )
    assert refused.status_code == 403
    assert refused.json() == {"error": "forbidden"}
    assert refused_stream.status_code == 403
    # Refused before the lookup: no probing which jobs exist.
    assert refused_unknown.status_code == 403
    assert allowed.status_code == 200
    assert allowed.json()["status"] == "pending"
    assert allowed_unknown.status_code == 404
    # auth only ever sees valid handles.
    assert not_a_handle.status_code == 404
    assert asked == [job_id, job_id, 424242, job_id, 424242]


@pytest.mark.parametrize("verdict", ["denied", 1, [True], "True", None])
async def test_auth_lets_in_only_exactly_true(queue: dq.JobQueue, verdict: Any) -> None:
    job_id = await queue.add_job("report", None)

    async def truthy_but_not_true(request: Request) -> Any:
        return verdict

    app = job_status_app(queue, secret=SECRET, auth=truthy_but_not_true)
    async with served(app) as client:
        response = await client.get(f"/jobs/{handle_of(queue, job_id)}")
    assert response.status_code == 403


async def test_auth_may_be_async(queue: dq.JobQueue) -> None:
    job_id = await queue.add_job("report", None)
    handle = handle_of(queue, job_id)

    async def owner_only(request: Request) -> bool:
        job = await queue.get_job(request.state.job_id)
        return job is not None and job.job_type == request.headers.get("x-owns")

    async with served(job_status_app(queue, secret=SECRET, auth=owner_only)) as client:
        refused = await client.get(f"/jobs/{handle}", headers={"x-owns": "other"})
        allowed = await client.get(f"/jobs/{handle}", headers={"x-owns": "report"})
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
    handle = handle_of(queue, job_id)
    processor = queue.create_processor({"import": import_rows}, poll_interval=0.05)
    states = []
    async with (
        served(job_status_app(queue, secret=SECRET, poll_interval=0.02)) as client,
        client.stream("GET", f"/jobs/{handle}/stream") as response,
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
    handle = handle_of(queue, job_id)
    processor = queue.create_processor({"charge": declined})
    await processor.start()
    async with (
        served(job_status_app(queue, secret=SECRET, poll_interval=0.02)) as client,
        client.stream("GET", f"/jobs/{handle}/stream") as response,
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
    handle = handle_of(queue, job_id)
    await queue.cancel_job(job_id)
    async with served(job_status_app(queue, secret=SECRET)) as client:
        async with client.stream("GET", f"/jobs/{handle}/stream") as response:
            blocks = [block async for block in received(response)]
        assert len(blocks) == 1
        assert json.loads(blocks[0].data or "")["status"] == "cancelled"
        again = await client.get(
            f"/jobs/{handle}/stream", headers={"Last-Event-ID": blocks[0].id or ""}
        )
        stale = await client.get(
            f"/jobs/{handle}/stream", headers={"Last-Event-ID": "0123456789abcdef"}
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
        job_status_app(sync_queue, secret=SECRET)  # type: ignore[arg-type]
    queue = dq.connect(url)
    with pytest.raises(ValueError, match="poll_interval must be above 0"):
        job_status_app(queue, secret=SECRET, poll_interval=0)
    with pytest.raises(ValueError, match="at least 16 bytes"):
        job_status_app(queue, secret="short")
    with pytest.raises(TypeError, match="secret must be a str or bytes"):
        job_status_app(queue, secret=1234)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at most 366 days"):
        job_handle(1, secret=SECRET, expires_in=400 * 86400)
    with pytest.raises(ValueError, match="job_id must be"):
        job_handle(0, secret=SECRET, expires_in=60)


async def test_streams_over_the_per_client_limit_are_429(queue: dq.JobQueue) -> None:
    job_id = await queue.add_job("report", None)
    handle = handle_of(queue, job_id)
    app = job_status_app(queue, secret=SECRET, max_streams_per_client=1)
    async with served(app) as client:
        request = client.build_request("GET", f"/jobs/{handle}/stream")
        first = await client.send(request, stream=True)
        second = await client.get(f"/jobs/{handle}/stream")
        await first.aclose()
    assert first.status_code == 200
    assert second.status_code == 429
    assert second.json() == {"error": "too many open job streams; try again later"}
