"""The routes for people on call: overview series, queues, search, bulk
actions, cron run-now and edit, quieting a worker; read-only mode and the
audit record of every action."""

from __future__ import annotations

import base64
import logging
from typing import Any

import pytest

import dataqueue as dq
from dataqueue._commands import ClaimRequest
from dataqueue.dashboard import create_app
from dataqueue.testing import FakeClock
from tests.dashboard.conftest import (
    DashboardClient,
    MakeDashboard,
    dashboard_client,
)
from tests.dashboard.jobs import HANDLERS


async def seed(queue: dq.JobQueue, clock: FakeClock) -> dict[str, Any]:
    """Two completed echo jobs (due 3 s before they started), one failed
    boom job, one pending echo job."""
    done = [await queue.add_job("echo", {"to": f"u{n}@example.com"}) for n in range(2)]
    failed = await queue.add_job("boom", {"to": "bounce@example.com"}, max_attempts=1)
    clock.advance(3)
    assert await queue.create_processor(HANDLERS, batch_size=10).start() == 3
    pending = await queue.add_job("echo", {"to": "later@example.com"}, tags=["x"])
    return {"done": done, "failed": failed, "pending": pending}


async def test_the_overview_is_every_minute_of_the_window_summed_over_types(
    queue: dq.JobQueue, clock: FakeClock, dash: DashboardClient
) -> None:
    await seed(queue, clock)

    hour = (await dash.get("/api/overview")).json()
    day = (await dash.get("/api/overview?window=day")).json()
    echo = (await dash.get("/api/overview?job_type=echo")).json()

    assert (len(hour["minutes"]), len(day["minutes"])) == (60, 1440)
    last = hour["minutes"][-1]
    assert last["minute"].startswith(clock.now().strftime("%Y-%m-%dT%H:%M:00"))
    assert (last["started"], last["completed"], last["failed"]) == (3, 2, 1)
    assert (last["first_starts"], last["mean_start_delay_seconds"]) == (3, 3.0)
    assert hour["minutes"][0]["mean_start_delay_seconds"] is None
    assert day["minutes"][-1] == last
    assert echo["minutes"][-1]["failed"] == 0
    assert (await dash.get("/api/overview?window=week")).status_code == 400


async def test_the_queues_are_one_row_per_job_type(
    queue: dq.JobQueue, clock: FakeClock, dash: DashboardClient
) -> None:
    await seed(queue, clock)
    clock.advance(30)

    rows = {
        row["job_type"]: row for row in (await dash.get("/api/queues")).json()["queues"]
    }

    assert set(rows) == {"boom", "echo"}
    echo, boom = rows["echo"], rows["boom"]
    assert (echo["counts"]["completed"], echo["counts"]["pending"]) == (2, 1)
    assert echo["oldest_pending_seconds"] == 30.0
    assert (echo["completed_last_hour"], echo["failure_rate"]) == (2, 0.0)
    assert echo["throughput_per_minute"] == round(2 / 60, 3)
    assert (boom["failed_last_hour"], boom["failure_rate"]) == (1, 1.0)
    assert boom["oldest_pending_seconds"] is None


async def test_the_queues_count_held_jobs_per_type_and_reason(
    queue: dq.JobQueue, dash: DashboardClient
) -> None:
    await queue.set_limits("echo", concurrency=1)
    for n in range(3):
        await queue.add_job("echo", {"n": n})
    gate = await queue.add_job("boom", {})
    for _ in range(2):
        await queue.add_job("approval", {}, depends_on={"job_ids": [gate]})
    # One claim of two: echo's first job runs, its second is passed over.
    claimed = await queue.backend.settle_and_claim(
        [], ClaimRequest("w", "lease", 2, ("echo",), None), now=queue.clock.now()
    )
    assert len(claimed.claimed) == 1

    body = (await dash.get("/api/queues")).json()
    held = {row["job_type"]: row["held"] for row in body["queues"]}

    assert held == {
        "approval": {"dependency": 2},
        "boom": {},
        "echo": {"concurrency_limit": 1},
    }
    assert body["held_complete"] is True


async def test_search_finds_an_id_and_payload_text_within_the_filters(
    queue: dq.JobQueue, clock: FakeClock, dash: DashboardClient
) -> None:
    jobs = await seed(queue, clock)

    async def found(query: str) -> list[int]:
        answer = await dash.get(f"/api/search?{query}")
        assert answer.status_code == 200, answer.text
        return [job["id"] for job in answer.json()["jobs"]]

    assert await found("q=BOUNCE") == [jobs["failed"]]
    assert await found(f"q=%23{jobs['pending']}") == [jobs["pending"]]
    # The id first, then payloads that hold the text ("u1@example.com").
    assert (await found(f"q={jobs['done'][0]}"))[0] == jobs["done"][0]
    assert await found("q=example.com&status=completed") == jobs["done"][::-1]
    assert await found("q=example.com&job_type=echo&tags=x") == [jobs["pending"]]
    assert await found("q=nowhere") == []
    body = (await dash.get("/api/search?q=example")).json()
    assert (body["indexed"], body["scanned"], body["exhausted"]) == (False, 4, True)
    assert (await dash.get("/api/search")).status_code == 400


async def test_bulk_actions_change_what_the_status_allows_and_say_so(
    queue: dq.JobQueue, clock: FakeClock, dash: DashboardClient
) -> None:
    jobs = await seed(queue, clock)
    everything = [*jobs["done"], jobs["failed"], jobs["pending"]]

    retried = (
        await dash.post("/api/jobs/bulk", {"action": "retry", "ids": everything})
    ).json()
    assert (retried["changed"], retried["unchanged"]) == ([jobs["failed"]], 3)
    cancelled = await dash.post(
        "/api/jobs/bulk", {"action": "cancel", "filter": {"status": "pending"}}
    )
    assert sorted(cancelled.json()["changed"]) == sorted(
        [jobs["failed"], jobs["pending"]]
    )
    assert cancelled.json()["done"] is True

    deleted = await dash.post(
        "/api/jobs/bulk", {"action": "delete", "filter": {"job_type": "echo"}}
    )
    assert sorted(deleted.json()["changed"]) == sorted([*jobs["done"], jobs["pending"]])
    assert [job.id for job in await queue.get_jobs()] == [jobs["failed"]]

    for bad in (
        {"action": "explode", "ids": [1]},
        {"action": "retry"},
        {"action": "retry", "ids": [1], "filter": {}},
        {"action": "retry", "ids": list(range(1, 102))},
        {"action": "retry", "ids": ["1"]},
        {"action": "retry", "filter": {"status": "lost"}},
        {"action": "retry", "filter": {}, "offset": -1},
    ):
        assert (await dash.post("/api/jobs/bulk", bad)).status_code == 400, bad


async def test_a_filter_is_worked_through_in_batches_from_an_offset(
    queue: dq.JobQueue, dash: DashboardClient
) -> None:
    ids = await queue.add_jobs([dq.JobSpec("echo", {}) for _ in range(130)])
    changed: list[int] = []
    offset, done, batches = 0, False, 0
    while not done:
        answer = (
            await dash.post(
                "/api/jobs/bulk",
                {"action": "cancel", "filter": {"job_type": "echo"}, "offset": offset},
            )
        ).json()
        changed += answer["changed"]
        offset, done, batches = answer["next_offset"], answer["done"], batches + 1
    # Cancelled jobs stay in a filter on every status: the offset moves on.
    assert (sorted(changed), batches) == (sorted(ids), 2)


async def test_a_schedule_runs_now_and_is_edited(
    queue: dq.JobQueue, dash: DashboardClient
) -> None:
    cron_id = await queue.add_cron_job(
        "nightly", "0 3 * * *", "echo", {"n": 1}, priority=4, tags=["cron"]
    )

    ran = await dash.post(f"/api/cron/{cron_id}/run")
    job = await queue.get_job(ran.json()["job_id"])
    assert job is not None
    assert (job.job_type, job.payload, job.priority, job.tags) == (
        "echo",
        {"n": 1},
        4,
        ["cron"],
    )

    edited = await dash.post(
        f"/api/cron/{cron_id}/edit",
        {"cron_expression": "*/5 * * * *", "payload": {"n": 2}},
    )
    assert edited.status_code == 200, edited.text
    schedule = edited.json()["schedule"]
    assert (schedule["cron_expression"], schedule["payload"]) == (
        "*/5 * * * *",
        {"n": 2},
    )
    assert len(schedule["next_runs"]) == 5
    bad = await dash.post(f"/api/cron/{cron_id}/edit", {"cron_expression": "nope"})
    assert bad.status_code == 400 and "cron" in bad.json()["error"]
    assert (
        await dash.post(f"/api/cron/{cron_id}/edit", {"name": "x"})
    ).status_code == 400
    assert (await dash.post("/api/cron/999999/run")).status_code == 404


async def test_a_worker_is_quieted_by_id(
    queue: dq.JobQueue, clock: FakeClock, dash: DashboardClient
) -> None:
    worker = dq.WorkerInfo("w-1", "box", 1, clock.now(), clock.now(), None, 1, [])
    await queue.backend.register_worker(worker, now=clock.now())

    answer = await dash.post("/api/workers/w-1/quiet")

    assert answer.json() == {"worker_id": "w-1", "quiet": True}
    assert [w.quiet for w in await queue.list_workers()] == [True]
    assert (await dash.post("/api/workers/nobody/quiet")).status_code == 404


async def test_a_read_only_dashboard_shows_but_refuses_every_action(
    queue: dq.JobQueue, make_dashboard: MakeDashboard
) -> None:
    job_id = await queue.add_job("echo", {})
    dash = await make_dashboard(read_only=True)

    page = (await dash.get("/")).text
    assert '<meta name="dataqueue-read-only" content="1">' in page
    assert 'id="process-jobs"' not in page
    assert (await dash.get(f"/api/jobs/{job_id}")).status_code == 200
    for path in (f"/api/jobs/{job_id}/cancel", "/api/process", "/api/jobs/bulk"):
        refused = await dash.post(path, {"action": "cancel", "ids": [job_id]})
        assert refused.status_code == 403
        assert refused.json() == {"error": "this dashboard is read-only"}
    job = await queue.get_job(job_id)
    assert job is not None and job.status is dq.JobStatus.PENDING
    with pytest.raises(TypeError, match="read_only"):
        create_app(queue, HANDLERS, read_only="yes")  # type: ignore[arg-type]


def audited(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        record.dataqueue_audit  # type: ignore[attr-defined]
        for record in caplog.records
        if record.name == "dataqueue.dashboard.audit"
    ]


async def test_every_action_is_recorded_with_who_did_it(
    queue: dq.JobQueue, dash: DashboardClient, caplog: pytest.LogCaptureFixture
) -> None:
    job_id = await queue.add_job("echo", {})
    caplog.set_level(logging.INFO, logger="dataqueue.dashboard.audit")

    await dash.post(f"/api/jobs/{job_id}/cancel")
    await dash.post(f"/api/jobs/{job_id}/retry")
    await dash.post("/api/jobs/bulk", {"action": "cancel", "ids": [job_id]})
    await dash.post("/api/process")

    assert audited(caplog) == [
        {"who": "access-token", "action": "cancel_job", "job_id": job_id},
        {"who": "access-token", "action": "retry_job", "job_id": job_id},
        {"who": "access-token", "action": "bulk_cancel", "job_ids": [job_id]},
        {"who": "access-token", "action": "process_jobs", "processed": 0},
    ]


def by_of(events: list[dq.JobEvent], event_type: str) -> list[Any]:
    """The ``by`` of each of the job's events of ``event_type``, in order."""
    return [e.metadata.get("by") for e in events if e.event_type == event_type]


async def test_each_change_to_a_job_is_its_event_naming_who_made_it(
    queue: dq.JobQueue,
) -> None:
    basic = base64.b64encode(b"ann:pw").decode()
    app = create_app(queue, HANDLERS, auth=("ann", "pw"))
    single = await queue.add_job("echo", {})
    bulked = await queue.add_job("echo", {})
    waiting = await queue.add_job("approval", {})
    cron_id = await queue.add_cron_job("nightly", "0 3 * * *", "echo", {"n": 1})
    async with dashboard_client(app) as ann:
        ann.http.headers["Authorization"] = f"Basic {basic}"
        await ann.post(f"/api/jobs/{single}/cancel")
        await ann.post(f"/api/jobs/{single}/retry")
        for action in ("cancel", "retry"):
            await ann.post("/api/jobs/bulk", {"action": action, "ids": [bulked]})
        await ann.post("/api/jobs/bulk", {"action": "cancel", "ids": [bulked]})
        ran = (await ann.post(f"/api/cron/{cron_id}/run")).json()["job_id"]
        approval = {"approval": HANDLERS["approval"]}
        await queue.create_processor(approval).start()
        (token,) = (await ann.get(f"/api/jobs/{waiting}/tokens")).json()["tokens"]
        await ann.post(f"/api/tokens/{token['id']}/complete", {"output": 1})
    # Outside the dashboard, the same changes name no one.
    await queue.retry_job(bulked)

    single_events = await queue.get_job_events(single)
    bulked_events = await queue.get_job_events(bulked)
    assert by_of(single_events, "added") == [None]
    assert by_of(single_events, "cancelled") == ["ann"]
    assert by_of(single_events, "retried") == ["ann"]
    assert by_of(bulked_events, "cancelled") == ["ann", "ann"]
    assert by_of(bulked_events, "retried") == ["ann", None]
    assert by_of(await queue.get_job_events(ran), "added") == ["ann"]
    resumed = [
        e.metadata
        for e in await queue.get_job_events(waiting)
        if e.event_type == "resumed"
    ]
    assert resumed == [{"token_id": token["id"], "timed_out": False, "by": "ann"}]


async def test_the_identity_is_the_basic_user_or_the_one_auth_names(
    queue: dq.JobQueue, caplog: pytest.LogCaptureFixture
) -> None:
    job_id = await queue.add_job("echo", {})
    caplog.set_level(logging.INFO, logger="dataqueue.dashboard.audit")
    basic = base64.b64encode(b"ann:pw").decode()

    def named(request: Any) -> bool:
        request.state.dataqueue_user = "bob@example.com"
        return True

    apps = [
        (
            create_app(queue, HANDLERS, auth=("ann", "pw")),
            {"Authorization": f"Basic {basic}"},
        ),
        (create_app(queue, HANDLERS, auth=named), {}),
    ]
    for app, headers in apps:
        async with dashboard_client(app) as client:
            client.http.headers.update(headers)
            await client.post(f"/api/jobs/{job_id}/cancel")
            await client.post(f"/api/jobs/{job_id}/retry")

    assert [entry["who"] for entry in audited(caplog)] == [
        "ann",
        "ann",
        "bob@example.com",
        "bob@example.com",
    ]


async def test_queues_carry_limits_and_pause_and_resume_per_type_or_all(
    queue: dq.JobQueue, clock: FakeClock, dash: DashboardClient
) -> None:
    await seed(queue, clock)
    await queue.set_limits("echo", concurrency=2, rate=dq.Rate(100, per=60))
    await queue.set_limits("limited_only", group_concurrency=1)

    async def rows() -> dict[str, Any]:
        body = (await dash.get("/api/queues")).json()
        return {"all": body["all_paused"], **{r["job_type"]: r for r in body["queues"]}}

    listed = await rows()
    assert listed["echo"]["limits"]["concurrency"] == 2
    assert listed["echo"]["limits"]["rate"] == {"count": 100, "per": 60}
    assert listed["limited_only"]["counts"]["pending"] == 0  # limits, no jobs
    assert (listed["echo"]["paused"], listed["echo"]["held"], listed["all"]) == (
        False,
        {},
        False,
    )

    assert (await dash.post("/api/queues/echo/pause")).json() == {
        "job_type": "echo",
        "paused": True,
    }
    # The next claim marks the paused type's pending job held.
    assert await queue.create_processor(HANDLERS).start() == 0
    listed = await rows()
    assert (listed["echo"]["paused"], listed["echo"]["held"]) == (True, {"paused": 1})
    assert listed["boom"]["paused"] is False
    stored = {lim.job_type: lim.paused for lim in await queue.get_limits()}
    assert stored == {"echo": True, "limited_only": False}
    await dash.post("/api/queues/echo/resume")
    await dash.post("/api/queues/pause")
    listed = await rows()
    assert listed["all"] is True and listed["boom"]["paused"] is True
    await dash.post("/api/queues/resume")
    assert (await rows())["all"] is False
    assert (await dash.post("/api/queues/*/pause")).status_code == 404
    assert (await dash.post("/api/queues/%20/pause")).status_code == 400


async def test_an_action_is_stored_with_who_did_it_and_listed_as_activity(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    basic = base64.b64encode(b"ann:pw").decode()
    app = create_app(queue, HANDLERS, auth=("ann", "pw"))
    async with dashboard_client(app) as ann:
        ann.http.headers["Authorization"] = f"Basic {basic}"
        assert (await ann.post("/api/queues/echo/pause")).status_code == 200
        clock.advance(1)
        await ann.post("/api/queues/resume")
        listed = (await ann.get("/api/activity")).json()
        assert (await ann.get("/api/activity?limit=0")).status_code == 400

    stored = await queue.get_actions()
    assert [(a.who, a.action, a.details) for a in stored] == [
        ("ann", "resume", {"job_type": "every type"}),
        ("ann", "pause", {"job_type": "echo"}),
    ]
    assert stored[0].at == clock.now()
    assert listed["kept"] == 10_000
    assert [(a["who"], a["action"], a["details"]) for a in listed["actions"]] == [
        ("ann", "resume", {"job_type": "every type"}),
        ("ann", "pause", {"job_type": "echo"}),
    ]


async def test_an_action_the_store_cannot_record_is_done_and_logged(
    queue: dq.JobQueue, caplog: pytest.LogCaptureFixture
) -> None:
    def named(request: Any) -> bool:
        request.state.dataqueue_user = "bad\x07name"  # no name holds a BEL
        return True

    caplog.set_level(logging.INFO, logger="dataqueue.dashboard.audit")
    async with dashboard_client(create_app(queue, HANDLERS, auth=named)) as client:
        assert (await client.post("/api/queues/echo/pause")).status_code == 200

    assert {lim.job_type: lim.paused for lim in await queue.get_limits()} == {
        "echo": True
    }
    assert await queue.get_actions() == []
    [failure] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "could not be stored in the audit trail" in failure.getMessage()
    assert failure.dataqueue_audit["action"] == "pause"  # type: ignore[attr-defined]


async def test_a_large_detail_is_stored_as_its_size(
    queue: dq.JobQueue, dash: DashboardClient
) -> None:
    cron_id = await queue.add_cron_job("nightly", "0 3 * * *", "echo", {"n": 1})
    payload = {"text": "x" * 5000}
    edited = await dash.post(f"/api/cron/{cron_id}/edit", {"payload": payload})
    assert edited.status_code == 200
    await dash.post(f"/api/cron/{cron_id}/edit", {"priority": 3})

    small, large = await queue.get_actions()
    assert (small.who, small.action) == ("access-token", "edit_cron")
    assert small.details == {"cron_id": cron_id, "changes": {"priority": 3}}
    assert large.details == {
        "cron_id": cron_id,
        "changes": "(5025 characters of JSON, in the log record only)",
    }
