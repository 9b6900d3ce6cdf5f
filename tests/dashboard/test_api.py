"""Every JSON route of the dashboard, on SQLite, PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import dataqueue as dq
from dataqueue.dashboard.api import PREVIEW_CHARS
from dataqueue.testing import FakeClock
from tests.conftest import eventually
from tests.dashboard.conftest import DashboardClient, MakeDashboard
from tests.dashboard.jobs import HANDLERS


async def test_jobs_are_listed_newest_first_with_every_field(
    queue: dq.JobQueue, dash: DashboardClient
) -> None:
    first = await queue.add_job("echo", {"n": 1}, tags=["a"])
    second = await queue.add_job("boom", {"n": 2}, priority=5)

    answer = await dash.get("/api/jobs")

    assert answer.status_code == 200
    body = answer.json()
    assert [job["id"] for job in body["jobs"]] == [second, first]
    assert (body["has_more"], body["limit"], body["offset"]) == (False, 50, 0)
    job = body["jobs"][1]
    assert job["payload_preview"] == '{"n":1}'
    assert job["output_preview"] is None
    assert job["tags"] == ["a"]
    assert job["status"] == "pending"
    assert datetime.fromisoformat(job["created_at"]).utcoffset() == timedelta(0)
    assert set(job) >= {"last_error", "wait_token_id", "flow_id", "locked_by"}
    # The heavy fields are on the job's own route only.
    assert not set(job) & {"payload", "output", "error_history", "step_data"}


async def test_a_list_of_big_jobs_carries_previews_and_stays_small(
    queue: dq.JobQueue, dash: DashboardClient
) -> None:
    big = {"blob": "x" * 1_000_000}
    ids = [await queue.add_job("echo", big) for _ in range(5)]

    listed = await dash.get("/api/jobs?limit=60")
    one = await dash.get(f"/api/jobs/{ids[0]}")

    assert len(listed.content) < 20_000
    previews = [job["payload_preview"] for job in listed.json()["jobs"]]
    assert all(p.startswith('{"blob":"xxx') and p.endswith("…") for p in previews)
    assert all(len(p) == PREVIEW_CHARS for p in previews)
    assert one.json()["job"]["payload"] == big


async def test_the_list_filters_by_status_type_and_tags(
    queue: dq.JobQueue, dash: DashboardClient
) -> None:
    red = await queue.add_job("echo", {}, tags=["red"])
    blue = await queue.add_job("echo", {}, tags=["blue", "big"])
    other = await queue.add_job("boom", {}, tags=["red"])
    await queue.cancel_job(other)

    async def ids(query: str) -> list[int]:
        answer = await dash.get("/api/jobs?" + query)
        assert answer.status_code == 200, answer.text
        return [job["id"] for job in answer.json()["jobs"]]

    assert await ids("status=cancelled") == [other]
    assert await ids("job_type=echo") == [blue, red]
    assert await ids("tags=red") == [other, red]
    assert await ids("tags=red&tags=blue&tag_mode=any") == [other, blue, red]
    assert await ids("tags=red&tag_mode=none") == [blue]
    assert await ids("job_type=echo&tags=red") == [red]
    assert await ids("status=pending&job_type=boom") == []


async def test_pages_say_whether_more_follow(
    queue: dq.JobQueue, dash: DashboardClient
) -> None:
    ids = [await queue.add_job("echo", {"i": i}) for i in range(5)]

    first = (await dash.get("/api/jobs?limit=2")).json()
    last = (await dash.get("/api/jobs?limit=2&offset=4")).json()

    assert [job["id"] for job in first["jobs"]] == ids[::-1][:2]
    assert first["has_more"] is True
    assert [job["id"] for job in last["jobs"]] == [ids[0]]
    assert last["has_more"] is False
    beyond = await dash.get(f"/api/jobs?limit=500&offset={2**63 - 1}")
    assert beyond.json()["jobs"] == []


async def test_bad_list_parameters_are_400s(dash: DashboardClient) -> None:
    for query in (
        "status=sleeping",
        "limit=0",
        "limit=501",
        "limit=ten",
        "offset=-1",
        "tag_mode=some",
        "limit=1&limit=2",
        "job_type=",
        "job_type=a%00b",
    ):
        answer = await dash.get("/api/jobs?" + query)
        assert answer.status_code == 400, query
        assert answer.json()["error"]


async def test_counts_cover_every_status_and_follow_the_filters(
    queue: dq.JobQueue, dash: DashboardClient
) -> None:
    await queue.add_job("echo", {}, tags=["x"])
    await queue.add_job("echo", {})
    cancelled = await queue.add_job("boom", {}, tags=["x"])
    await queue.cancel_job(cancelled)

    everything = (await dash.get("/api/counts")).json()
    tagged = (await dash.get("/api/counts?tags=x&job_type=echo")).json()

    assert everything["counts"] == {
        "pending": 2,
        "processing": 0,
        "completed": 0,
        "failed": 0,
        "cancelled": 1,
        "waiting": 0,
    }
    assert everything["total"] == 3
    assert tagged["counts"]["pending"] == 1
    assert tagged["total"] == 1


async def test_job_types_are_the_handlers_and_the_schedules_types(
    queue: dq.JobQueue, dash: DashboardClient
) -> None:
    await queue.add_cron_job("nightly", "@daily", "report", {})

    answer = await dash.get("/api/job-types")

    assert answer.json() == {
        "job_types": ["approval", "boom", "echo", "report", "stepping"]
    }


async def test_one_job_and_its_events(
    queue: dq.JobQueue, dash: DashboardClient
) -> None:
    job_id = await queue.add_job("echo", {"a": 1})
    await queue.create_processor({"echo": lambda payload: "ok"}).start()

    job = (await dash.get(f"/api/jobs/{job_id}")).json()["job"]
    events = (await dash.get(f"/api/jobs/{job_id}/events")).json()["events"]

    assert (job["id"], job["status"], job["output"]) == (job_id, "completed", "ok")
    assert [event["event_type"] for event in events] == [
        "added",
        "processing",
        "completed",
    ]
    assert all(event["job_id"] == job_id for event in events)


async def test_an_unknown_job_is_a_404_on_every_job_route(
    dash: DashboardClient,
) -> None:
    for path in ("", "/events", "/tokens"):
        answer = await dash.get(f"/api/jobs/424242{path}")
        assert answer.status_code == 404, path
        assert "424242" in answer.json()["error"]
    for action in ("cancel", "retry"):
        assert (await dash.post(f"/api/jobs/424242/{action}")).status_code == 404


async def status_of(queue: dq.JobQueue, job_id: int) -> dq.JobStatus:
    job = await queue.get_job(job_id)
    assert job is not None
    return job.status


async def test_cancel_takes_pending_jobs_and_refuses_finished_ones(
    queue: dq.JobQueue, dash: DashboardClient
) -> None:
    finished = await queue.add_job("echo", {})
    await queue.create_processor({"echo": lambda payload: None}).start()
    pending = await queue.add_job("echo", {})

    cancelled = await dash.post(f"/api/jobs/{pending}/cancel")
    refused = await dash.post(f"/api/jobs/{finished}/cancel")

    assert cancelled.status_code == 200
    assert cancelled.json()["job"]["status"] == "cancelled"
    assert refused.status_code == 409
    assert "completed" in refused.json()["error"]
    assert await status_of(queue, finished) is dq.JobStatus.COMPLETED


async def test_retry_takes_failed_and_cancelled_jobs_only(
    queue: dq.JobQueue, dash: DashboardClient
) -> None:
    failed = await queue.add_job("boom", {}, max_attempts=1)
    await queue.create_processor({"boom": lambda payload: 1 / 0}).start()
    cancelled = await queue.add_job("echo", {})
    await queue.cancel_job(cancelled)
    pending = await queue.add_job("echo", {})

    for job_id in (failed, cancelled):
        answer = await dash.post(f"/api/jobs/{job_id}/retry")
        assert answer.status_code == 200, answer.text
        assert answer.json()["job"]["status"] == "pending"
    refused = await dash.post(f"/api/jobs/{pending}/retry")

    assert refused.status_code == 409
    assert "pending" in refused.json()["error"]


async def test_process_runs_one_batch_with_the_handlers_and_options(
    queue: dq.JobQueue, make_dashboard: MakeDashboard
) -> None:
    dash = await make_dashboard(processor_options={"batch_size": 2})
    ids = [await queue.add_job("echo", {"i": i}) for i in range(3)]
    broken = await queue.add_job("boom", {}, max_attempts=1)

    first = await dash.post("/api/process")
    second = await dash.post("/api/process")

    assert (first.json(), second.json()) == ({"processed": 2}, {"processed": 2})
    for job_id in ids:
        job = await queue.get_job(job_id)
        assert job is not None
        assert job.status is dq.JobStatus.COMPLETED
        assert job.output == {"echo": {"i": ids.index(job_id)}}
    failed = await queue.get_job(broken)
    assert failed is not None
    assert failed.error_history[-1]["message"].endswith("boom <b>bold</b>")
    assert (await dash.post("/api/process")).json() == {"processed": 0}


async def test_process_keeps_to_the_job_types_of_the_options(
    queue: dq.JobQueue, make_dashboard: MakeDashboard
) -> None:
    dash = await make_dashboard(processor_options={"job_type": "echo"})
    echo = await queue.add_job("echo", {})
    other = await queue.add_job("boom", {})

    assert (await dash.post("/api/process")).json() == {"processed": 1}
    assert await status_of(queue, echo) is dq.JobStatus.COMPLETED
    assert await status_of(queue, other) is dq.JobStatus.PENDING


async def test_without_handlers_process_is_refused_and_fails_no_job(
    queue: dq.JobQueue, make_dashboard: MakeDashboard
) -> None:
    dash = await make_dashboard(handlers={})
    job_id = await queue.add_job("echo", {})

    answer = await dash.post("/api/process")
    page = await dash.get("/")

    assert answer.status_code == 409
    assert "no handlers" in answer.json()["error"]
    assert await status_of(queue, job_id) is dq.JobStatus.PENDING
    assert 'id="process-jobs"' not in page.text
    assert 'id="process-jobs"' in (await (await make_dashboard()).get("/")).text


async def test_a_waiting_jobs_token_is_listed_and_completed_from_the_dashboard(
    queue: dq.JobQueue, dash: DashboardClient
) -> None:
    job_id = await queue.add_job("approval", {})
    await dash.post("/api/process")

    tokens = (await dash.get(f"/api/jobs/{job_id}/tokens")).json()["tokens"]
    assert [(t["job_id"], t["status"]) for t in tokens] == [(job_id, "waiting")]
    token_id = tokens[0]["id"]

    done = await dash.post(f"/api/tokens/{token_id}/complete", {"output": {"ok": 1}})
    again = await dash.post(f"/api/tokens/{token_id}/complete", {"output": 2})
    await dash.post("/api/process")

    assert done.status_code == 200
    assert (done.json()["token"]["status"], done.json()["token"]["output"]) == (
        "completed",
        {"ok": 1},
    )
    assert again.status_code == 409
    assert "already completed" in again.json()["error"]
    job = await queue.get_job(job_id)
    assert job is not None
    assert (job.status, job.output) == (
        dq.JobStatus.COMPLETED,
        {"approved": {"ok": 1}},
    )


async def test_completing_a_token_checks_the_token_and_the_body(
    queue: dq.JobQueue, dash: DashboardClient
) -> None:
    job_id = await queue.add_job("approval", {})
    await dash.post("/api/process")
    job = await queue.get_job(job_id)
    assert job is not None and job.wait_token_id is not None
    path = f"/api/tokens/{job.wait_token_id}/complete"

    unknown = await dash.post("/api/tokens/tok_nothing/complete", {"output": 1})
    not_an_object = await dash.post(path, [1, 2])
    extra_key = await dash.post(path, {"output": 1, "more": 2})
    not_json = await dash.http.post(
        dash.base + path,
        content=b"{nope",
        headers={"Origin": "http://127.0.0.1", "X-DataQueue-CSRF": dash.token},
    )
    nested = await dash.http.post(
        dash.base + path,
        content=b'{"output":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        headers={"Origin": "http://127.0.0.1", "X-DataQueue-CSRF": dash.token},
    )
    empty = await dash.http.post(
        dash.base + path,
        headers={"Origin": "http://127.0.0.1", "X-DataQueue-CSRF": dash.token},
    )

    assert nested.status_code == 400
    assert nested.json() == {"error": "the body's JSON is nested too deeply"}
    assert unknown.status_code == 404
    assert [a.status_code for a in (not_an_object, extra_key, not_json)] == [400] * 3
    assert empty.status_code == 200
    assert empty.json()["token"]["output"] is None


async def test_cron_schedules_come_with_their_next_runs(
    queue: dq.JobQueue, dash: DashboardClient, clock: FakeClock
) -> None:
    clock.set(datetime(2030, 1, 1, 10, 30, tzinfo=UTC))
    cron_id = await queue.add_cron_job("hourly", "0 * * * *", "echo", {"x": 1})

    listed = (await dash.get("/api/cron")).json()["schedules"]
    one = (await dash.get(f"/api/cron/{cron_id}")).json()["schedule"]

    assert [s["id"] for s in listed] == [cron_id]
    assert one == listed[0]
    assert one["schedule_name"] == "hourly"
    assert one["next_runs"] == [
        f"2030-01-01T{hour}:00:00+00:00" for hour in (11, 12, 13, 14, 15)
    ]


async def test_cron_pause_and_resume(queue: dq.JobQueue, dash: DashboardClient) -> None:
    cron_id = await queue.add_cron_job("daily", "@daily", "echo", {})

    paused = await dash.post(f"/api/cron/{cron_id}/pause")
    assert paused.status_code == 200
    assert paused.json()["schedule"]["status"] == "paused"
    assert paused.json()["schedule"]["next_runs"] == []

    resumed = await dash.post(f"/api/cron/{cron_id}/resume")
    assert resumed.json()["schedule"]["status"] == "active"
    assert len(resumed.json()["schedule"]["next_runs"]) == 5
    schedule = await queue.get_cron_job(cron_id)
    assert schedule is not None and schedule.status is dq.CronStatus.ACTIVE


async def test_an_unknown_schedule_is_a_404(dash: DashboardClient) -> None:
    assert (await dash.get("/api/cron/999")).status_code == 404
    assert (await dash.post("/api/cron/999/pause")).status_code == 404
    assert (await dash.post("/api/cron/999/resume")).status_code == 404


async def test_flows_are_listed_and_shown_with_their_steps(
    queue: dq.JobQueue, dash: DashboardClient
) -> None:
    flow_id = await queue.start_flow(
        steps=[dq.JobSpec("echo", {"i": 1}), dq.JobSpec("echo", {"i": 2})],
        join=dq.JobSpec("echo", {"join": True}),
    )

    listed = (await dash.get("/api/flows")).json()
    shown = (await dash.get(f"/api/flows/{flow_id}")).json()["flow"]
    running = (await dash.get("/api/flows?status=running")).json()["flows"]
    joined = (await dash.get("/api/flows?status=joined")).json()["flows"]

    assert [flow["id"] for flow in listed["flows"]] == [flow_id]
    assert listed["has_more"] is False
    assert (shown["status"], shown["total_steps"], shown["remaining_steps"]) == (
        "running",
        2,
        2,
    )
    assert [step["step_index"] for step in shown["steps"]] == [0, 1]
    assert [flow["id"] for flow in running] == [flow_id]
    assert joined == []


async def test_an_unknown_flow_is_a_404(dash: DashboardClient) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    assert (await dash.get(f"/api/flows/{missing}")).status_code == 404
    assert (await dash.get("/api/flows/not-a-uuid")).status_code == 404


async def test_live_workers_are_listed_with_their_running_jobs(
    queue: dq.JobQueue, dash: DashboardClient, gate: asyncio.Event
) -> None:
    job_id = await queue.add_job("stepping", {})
    processor = queue.create_processor(
        HANDLERS,
        worker_id="worker-a",
        concurrency=2,
        poll_interval=0.05,
        heartbeat_interval=0.05,
    )
    processor.start_in_background()
    try:

        async def running() -> bool:
            workers = (await dash.get("/api/workers")).json()["workers"]
            return bool(workers) and workers[0]["running_job_ids"] == [job_id]

        await eventually(running)
        worker = (await dash.get("/api/workers")).json()["workers"][0]
    finally:
        gate.set()
        await processor.stop_and_drain(5)

    assert (worker["id"], worker["concurrency"], worker["job_types"]) == (
        "worker-a",
        2,
        list(HANDLERS),  # the types it has handlers for: all it claims
    )
    assert datetime.fromisoformat(worker["last_heartbeat"]).utcoffset() == timedelta(0)
    assert (await dash.get("/api/workers")).json() == {"workers": []}
