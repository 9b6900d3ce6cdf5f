"""The cron, flows and workers pages, routing, the phone layout, and the
core actions on PostgreSQL and Redis."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

import dataqueue as dq
from dataqueue.testing import FakeClock
from tests.dashboard.browser.conftest import (
    ACCESS_TOKEN,
    Dashboard,
    signed_in,
    wait_for,
)
from tests.dashboard.browser.handlers import HANDLERS, ProgressGate

Snap = Callable[[Page, str], Path]
PHONE = {"width": 390, "height": 844}


def test_the_cron_page_lists_schedules_with_next_runs_and_pauses_and_resumes(
    dashboard: Dashboard, page: Page, snap: Snap
) -> None:
    queue = dashboard.queue
    nightly = queue.add_cron_job(
        "nightly-report", "0 3 * * *", "send_email", {"to": "ops@example.com"},
        timezone="Europe/Berlin", tags=["reports"],
    )  # fmt: skip
    queue.add_cron_job("hourly-sync", "@hourly", "send_email", None)
    page.goto(dashboard.at("/cron"))

    row = page.locator(f'tr[data-cron-id="{nightly}"]')
    expect(row.locator("strong")).to_have_text("nightly-report")
    expect(row.locator(".cron-expression")).to_have_text("0 3 * * *")
    expect(row).to_contain_text("Europe/Berlin")
    expect(row.locator(".next-runs li")).to_have_count(5)
    expect(page.locator(".cron-table tbody tr")).to_have_count(2)
    snap(page, "cron")

    row.locator('[data-action="pause"]').click()
    expect(page.locator(".toast-success", has_text="paused")).to_be_visible()
    expect(row.locator(".badge")).to_have_text("paused")
    expect(row.locator(".next-runs")).to_have_count(0)
    schedule = queue.get_cron_job(nightly)
    assert schedule is not None and schedule.status == dq.CronStatus.PAUSED

    row.locator('[data-action="resume"]').click()
    expect(row.locator(".badge")).to_have_text("active")
    expect(row.locator(".next-runs li")).to_have_count(5)
    schedule = queue.get_cron_job(nightly)
    assert schedule is not None and schedule.status == dq.CronStatus.ACTIVE


def test_a_job_enqueued_by_a_schedule_names_it(
    dashboard: Dashboard, page: Page
) -> None:
    # A queue on the same store whose clock the test moves to the due time.
    clock = FakeClock()
    queue = dq.connect_sync(**dashboard.options, clock=clock)
    try:
        queue.add_cron_job("every-minute", "* * * * *", "send_email", {"to": "a@b.c"})
        clock.advance(61)
        assert queue.enqueue_due_cron_jobs() == 1
        [job] = queue.get_jobs({"job_type": "send_email"}, 10, 0)
    finally:
        queue.close()
    page.goto(dashboard.at(f"/jobs/{job.id}"))
    origin = page.locator('#job-origin [data-field="cron_job_id"] dd')
    expect(origin).to_contain_text("every-minute")
    expect(origin.locator("code")).to_have_text("* * * * *")
    expect(
        page.locator('#job-timestamps [data-field="cron_due_at"] time').first
    ).to_have_attribute("datetime", re.compile(r"^\d{4}-"))


def test_the_flows_pages_show_the_barrier_move_and_the_join_appear(
    dashboard: Dashboard, page: Page, snap: Snap
) -> None:
    queue = dashboard.queue
    flow_id = queue.start_flow(
        [dq.JobSpec("send_email", {"to": f"s{n}@example.com"}) for n in range(2)],
        dq.JobSpec("send_email", {"to": "summary@example.com"}),
    )
    page.goto(dashboard.at("/flows"))
    row = page.locator(f'tr[data-flow-id="{flow_id}"]')
    expect(row.locator(".badge")).to_have_text("running")
    expect(row.locator(".barrier-text")).to_have_text("0 / 2 steps")
    snap(page, "flows")
    page.locator('.tab[data-status="joined"]').click()
    expect(page.locator(".empty-title")).to_have_text("No flows")
    page.locator('.tab[data-status="running"]').click()
    expect(row.locator(".badge")).to_have_text("running")

    row.locator("a").click()
    expect(page).to_have_url(dashboard.at(f"/flows/{flow_id}"))
    expect(page.locator("#flow-steps tbody tr")).to_have_count(2)
    expect(page.locator("#flow-barrier .barrier-text")).to_have_text(
        "0 of 2 steps finished, 2 to go"
    )
    expect(page.locator("#flow-join")).to_contain_text("not yet enqueued")

    # One batch runs both steps; the page follows over the stream.
    page.locator("#process-jobs").click()
    expect(page.locator("#flow-barrier .barrier-text")).to_have_text(
        "All 2 steps finished"
    )
    expect(page.locator("#flow-steps .badge.outcome-success")).to_have_count(2)
    flow = queue.get_flow(flow_id)
    assert flow is not None and flow.join_job_id is not None
    join_link = page.locator(f'#flow-join a[href$="/jobs/{flow.join_job_id}"]')
    expect(join_link).to_be_visible()
    snap(page, "flow-detail")

    join_link.click()
    origin = page.locator('#job-origin [data-field="flow_id"]')
    expect(origin.locator("a")).to_have_attribute(
        "href", re.compile(f"/flows/{flow_id}$")
    )
    expect(origin).to_contain_text("(join)")


def test_the_workers_page_shows_a_live_worker_and_its_running_job(
    dashboard: Dashboard, page: Page, snap: Snap
) -> None:
    gate = ProgressGate([50])
    processor = dashboard.queue.create_processor(
        {"report": gate.handler}, concurrency=2, poll_interval=0.2
    )
    job_id = dashboard.queue.add_job("report", {})
    processor.start_in_background()
    try:
        wait_for(lambda: len(dashboard.queue.list_workers()) == 1)
        page.goto(dashboard.at("/workers"))
        worker = page.locator(".worker")
        expect(worker).to_have_count(1)
        expect(worker.locator(".worker-host")).to_contain_text("pid")
        expect(worker.locator(f'a[href$="/jobs/{job_id}"]')).to_be_visible()
        expect(worker).to_contain_text("1 of 2 slots")
        snap(page, "workers")
        gate.release()
        gate.release()
        expect(worker.locator(".muted", has_text="idle")).to_be_visible()
    finally:
        processor.stop_and_drain(10)
    # A worker leaving changes no job, so nothing is pushed: reload.
    page.reload()
    expect(page.locator(".empty-title")).to_have_text("No workers running")


def test_routes_are_client_side_and_deep_links_load(
    dashboard: Dashboard, page: Page
) -> None:
    job_id = dashboard.queue.add_job("send_email", {"to": "a@example.com"})
    page.goto(dashboard.at("/workers"))
    expect(page.locator("h1")).to_have_text("Workers")
    page.evaluate("window.sameDocument = true")

    for name, heading in [("Cron", "Cron schedules"), ("Flows", "Flows")]:
        page.locator(".nav a", has_text=name).click()
        expect(page.locator("h1")).to_have_text(heading)
        expect(page.locator(".nav a", has_text=name)).to_have_attribute(
            "aria-current", "page"
        )
    page.locator(".nav a", has_text="Jobs").click()
    page.locator(f'tr[data-job-id="{job_id}"] a.job-link').click()
    expect(page.locator("h1")).to_contain_text(f"Job #{job_id}")
    page.go_back()
    expect(page.locator("h1")).to_have_text("Jobs")
    page.go_back()
    expect(page.locator("h1")).to_have_text("Flows")
    assert page.evaluate("window.sameDocument") is True


def test_on_a_phone_the_pages_fit_the_screen(
    dashboard: Dashboard, browser: Browser, snap: Snap
) -> None:
    queue = dashboard.queue
    for n in range(6):
        queue.add_job("send_email", {"to": f"u{n}@example.com"}, tags=["welcome"])
    job_id = queue.add_job("always_fails", {"a": "b" * 200}, max_attempts=1)
    queue.create_processor(HANDLERS).start()
    context = signed_in(browser, viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        phone = context.new_page()
        pages = [
            ("/jobs", "jobs-list-phone", ".jobs-table tbody tr", 7),
            (f"/jobs/{job_id}", "job-phone", "#job-events .timeline-item", 3),
        ]
        for path, name, items, count in pages:
            phone.goto(dashboard.at(path))
            expect(phone.locator(items)).to_have_count(count)
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{path} is {width}px wide"
            snap(phone, name)
        phone.goto(dashboard.at("/jobs"))
        # The table header is hidden; each job is a card of its own.
        expect(phone.locator(".jobs-table thead")).to_be_hidden()
        expect(phone.locator(".jobs-table tbody tr")).to_have_count(7)
    finally:
        context.close()


def test_the_core_actions_on_postgres_and_redis(
    server_store_dashboard: Dashboard, page: Page, snap: Snap
) -> None:
    dashboard = server_store_dashboard
    queue = dashboard.queue
    pending = queue.add_job("send_email", {"to": "a@example.com"}, tags=["welcome"])
    failed = queue.add_job("always_fails", {}, max_attempts=1)
    queue.create_processor(HANDLERS).start()
    ready = [queue.add_job("send_email", {"to": f"{n}@x.org"}) for n in range(2)]
    page.goto(dashboard.at("/jobs"))

    expect(page.locator('.tab[data-status="all"] .count')).to_have_text("4")
    expect(page.locator('.tab[data-status="completed"] .count')).to_have_text("1")
    page.locator("#filter-tags").fill("welcome")
    page.locator("#filter-tags").press("Enter")
    expect(page.locator(".jobs-table tbody tr")).to_have_count(1)
    page.locator("#filter-clear").click()
    expect(page.locator(".jobs-table tbody tr")).to_have_count(4)
    snap(page, f"jobs-list-{dashboard.store}")

    page.locator(f'tr[data-job-id="{ready[0]}"] [data-action="cancel"]').click()
    expect(page.locator(f'tr[data-job-id="{ready[0]}"] .badge')).to_have_text(
        "cancelled"
    )
    page.locator(f'tr[data-job-id="{failed}"] [data-action="retry"]').click()
    expect(page.locator(f'tr[data-job-id="{failed}"] .badge')).to_have_text("pending")

    page.locator("#process-jobs").click()
    # The retried job fails again; the one pending send_email completes.
    expect(page.locator(".toast-success", has_text="Processed 2 jobs")).to_be_visible()
    expect(page.locator(f'tr[data-job-id="{ready[1]}"] .badge')).to_have_text(
        "completed"
    )
    statuses = {job_id: queue.get_job(job_id) for job_id in (pending, failed, *ready)}
    assert {k: v.status for k, v in statuses.items() if v} == {
        pending: dq.JobStatus.COMPLETED,
        failed: dq.JobStatus.FAILED,
        ready[0]: dq.JobStatus.CANCELLED,
        ready[1]: dq.JobStatus.COMPLETED,
    }

    page.locator(f'tr[data-job-id="{pending}"] a.job-link').click()
    expect(page.locator("#job-output pre")).to_contain_text(
        '"sent_to": "a@example.com"'
    )


def test_the_printed_url_signs_the_browser_in_and_leaves_no_token_behind(
    dashboard: Dashboard, browser: Browser
) -> None:
    job_id = dashboard.queue.add_job("send_email", {"to": "a@example.com"})
    context = browser.new_context()
    try:
        tab = context.new_page()
        refused = tab.goto(dashboard.at("/"))
        assert refused is not None and refused.status == 403
        tab.goto(dashboard.at(f"/jobs/{job_id}?token={ACCESS_TOKEN}"))
        expect(tab.locator("#job-events .timeline-item")).not_to_have_count(0)
        assert tab.url == dashboard.at(f"/jobs/{job_id}")
        # The cookie now opens every page of this dashboard.
        tab.goto(dashboard.at("/cron"))
        expect(tab.locator("h1")).to_have_text("Cron schedules")
    finally:
        context.close()
