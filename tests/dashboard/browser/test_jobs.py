"""The jobs list and a job's page, driven in Chromium against a served
dashboard on SQLite."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

import dataqueue as dq
from tests.dashboard.browser.conftest import Dashboard, PageProblems
from tests.dashboard.browser.handlers import HANDLERS, ProgressGate

Snap = Callable[[Page, str], Path]
DASH = "\N{EN DASH}"  # between the first and last row numbers of a page
ISO_8601 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def seed_every_status(queue: dq.SyncJobQueue) -> dict[str, list[int]]:
    """Jobs in each status: 3 completed, 1 failed, 1 waiting on a token,
    2 pending, 1 cancelled."""
    completed = [
        queue.add_job("send_email", {"to": f"user{n}@example.com"}, tags=["welcome"])
        for n in range(3)
    ]
    failed = queue.add_job("always_fails", {"to": "bounce@example.com"}, max_attempts=1)
    waiting = queue.add_job("needs_approval", {"invoice": 1042}, tags=["billing"])
    assert queue.create_processor(HANDLERS).start() == 5
    pending = [
        queue.add_job("send_email", {"to": "later@example.com"}, tags=["digest"]),
        queue.add_job("resize_image", {"path": "/img/1.png"}, tags=["media"]),
    ]
    cancelled = queue.add_job("resize_image", {"path": "/img/2.png"}, tags=["media"])
    queue.cancel_job(cancelled)
    return {
        "completed": completed,
        "failed": [failed],
        "waiting": [waiting],
        "pending": pending,
        "cancelled": [cancelled],
    }


def tab_count(page: Page, status: str) -> object:
    return expect(page.locator(f'.tab[data-status="{status}"] .count'))


def row_ids(page: Page) -> list[int]:
    return [
        int(value)
        for value in page.locator(".jobs-table tbody tr").evaluate_all(
            "rows => rows.map(row => row.dataset.jobId)"
        )
    ]


def test_the_list_counts_each_status_and_its_tabs_show_only_that_status(
    dashboard: Dashboard, page: Page, snap: Snap
) -> None:
    seeded = seed_every_status(dashboard.queue)
    page.goto(dashboard.at("/jobs"))

    expected = {"all": 8, "pending": 2, "processing": 0, "completed": 3}
    expected |= {"failed": 1, "cancelled": 1, "waiting": 1}
    for status, count in expected.items():
        tab_count(page, status).to_have_text(str(count))
    expect(page.locator(".jobs-table tbody tr")).to_have_count(8)
    snap(page, "jobs-list")

    for status in ("completed", "failed", "waiting", "pending", "cancelled"):
        page.locator(f'.tab[data-status="{status}"]').click()
        expect(page.locator(f'.tab[data-status="{status}"]')).to_have_attribute(
            "aria-selected", "true"
        )
        # Rows of that status only, as many as it has (not the last tab's).
        shown = page.locator(f'.jobs-table tbody tr[data-status="{status}"]')
        expect(shown).to_have_count(len(seeded[status]))
        expect(page.locator(".jobs-table tbody tr")).to_have_count(len(seeded[status]))
        assert sorted(row_ids(page)) == sorted(seeded[status])
        assert f"status={status}" in page.url

    page.locator('.tab[data-status="processing"]').click()
    expect(page.locator(".empty-title")).to_have_text("No processing jobs")


def test_filters_by_job_type_and_by_tag_and_clears(
    dashboard: Dashboard, page: Page
) -> None:
    seeded = seed_every_status(dashboard.queue)
    page.goto(dashboard.at("/jobs"))
    expect(page.locator(".jobs-table tbody tr")).to_have_count(8)

    page.locator("#filter-job-type").fill("resize_image")
    page.locator("#filter-job-type").press("Enter")
    expect(page.locator(".jobs-table tbody tr")).to_have_count(2)
    assert set(row_ids(page)) == {seeded["pending"][1], seeded["cancelled"][0]}
    tab_count(page, "all").to_have_text("2")
    tab_count(page, "cancelled").to_have_text("1")
    assert "job_type=resize_image" in page.url

    page.locator("#filter-clear").click()
    expect(page.locator(".jobs-table tbody tr")).to_have_count(8)

    page.locator("#filter-tags").fill("welcome")
    page.locator("#filter-tags").press("Enter")
    expect(page.locator(".jobs-table tbody tr")).to_have_count(3)
    assert sorted(row_ids(page)) == sorted(seeded["completed"])
    tab_count(page, "completed").to_have_text("3")
    tab_count(page, "pending").to_have_text("0")

    # The filters live in the address: a reload keeps them.
    page.reload()
    expect(page.locator(".jobs-table tbody tr")).to_have_count(3)
    expect(page.locator("#filter-tags")).to_have_value("welcome")


def test_pages_through_the_jobs(dashboard: Dashboard, page: Page) -> None:
    ids = [dashboard.queue.add_job("send_email", {"n": n}) for n in range(45)]
    newest_first = ids[::-1]
    page.goto(dashboard.at("/jobs"))

    expect(page.locator(".pager-info")).to_have_text(f"1{DASH}20 of 45")
    expect(page.locator("#page-number")).to_have_text("Page 1 of 3")
    expect(page.locator("#page-prev")).to_be_disabled()
    assert row_ids(page) == newest_first[:20]

    page.locator("#page-next").click()
    expect(page.locator(".pager-info")).to_have_text(f"21{DASH}40 of 45")
    assert row_ids(page) == newest_first[20:40]

    page.locator("#page-next").click()
    expect(page.locator(".pager-info")).to_have_text(f"41{DASH}45 of 45")
    expect(page.locator("#page-next")).to_be_disabled()
    assert row_ids(page) == newest_first[40:]

    page.locator("#page-prev").click()
    expect(page.locator("#page-number")).to_have_text("Page 2 of 3")
    assert row_ids(page) == newest_first[20:40]


def test_cancels_a_pending_job_and_retries_a_failed_one_inline(
    dashboard: Dashboard, page: Page
) -> None:
    seeded = seed_every_status(dashboard.queue)
    pending, failed = seeded["pending"][0], seeded["failed"][0]
    page.goto(dashboard.at("/jobs"))

    # Only the statuses that allow it offer the action.
    expect(page.locator('tr[data-status="completed"] [data-action]')).to_have_count(0)
    expect(
        page.locator('tr[data-status="waiting"] [data-action="cancel"]')
    ).to_have_count(1)
    expect(
        page.locator('tr[data-status="cancelled"] [data-action="retry"]')
    ).to_have_count(1)

    page.locator(f'tr[data-job-id="{pending}"] [data-action="cancel"]').click()
    expect(
        page.locator(".toast-success", has_text=f"Job #{pending} cancelled")
    ).to_be_visible()
    expect(page.locator(f'tr[data-job-id="{pending}"] .badge')).to_have_text(
        "cancelled"
    )
    job = dashboard.queue.get_job(pending)
    assert job is not None and job.status == dq.JobStatus.CANCELLED
    # The job's own events say who cancelled it (the access token's holder).
    page.goto(dashboard.at(f"/jobs/{pending}"))
    cancelled = page.locator('#job-events .timeline-item[data-event="cancelled"]')
    expect(cancelled.locator("dt")).to_have_text(["by"])
    expect(cancelled.locator("dd")).to_have_text(["access-token"])
    page.goto(dashboard.at("/jobs"))

    page.locator(f'tr[data-job-id="{failed}"] [data-action="retry"]').click()
    expect(
        page.locator(".toast-success", has_text=f"Job #{failed} queued again")
    ).to_be_visible()
    expect(page.locator(f'tr[data-job-id="{failed}"] .badge')).to_have_text("pending")
    job = dashboard.queue.get_job(failed)
    assert job is not None and job.status == dq.JobStatus.PENDING
    tab_count(page, "failed").to_have_text("0")


def test_process_jobs_runs_one_batch_and_says_how_many_ran(
    dashboard: Dashboard, page: Page
) -> None:
    ids = [
        dashboard.queue.add_job("send_email", {"to": f"u{n}@x.org"}) for n in range(3)
    ]
    page.goto(dashboard.at("/jobs"))
    tab_count(page, "pending").to_have_text("3")

    page.locator("#process-jobs").click()
    expect(page.locator(".toast-success .toast-text")).to_have_text("Processed 3 jobs")
    tab_count(page, "completed").to_have_text("3")
    tab_count(page, "pending").to_have_text("0")
    for job_id in ids:
        job = dashboard.queue.get_job(job_id)
        assert job is not None and job.status == dq.JobStatus.COMPLETED


def test_a_job_page_shows_its_fields_payload_errors_and_events(
    dashboard: Dashboard, page: Page, snap: Snap
) -> None:
    failed = dashboard.queue.add_job(
        "always_fails",
        {"to": "bounce@example.com", "attempt": {"n": 1}},
        max_attempts=1,
        tags=["mail", "eu"],
        priority=7,
    )
    dashboard.queue.create_processor(HANDLERS).start()
    page.goto(dashboard.at("/jobs"))
    page.locator(f'tr[data-job-id="{failed}"] a.job-link').click()

    expect(page).to_have_url(dashboard.at(f"/jobs/{failed}"))
    expect(page.locator("h1")).to_contain_text(f"Job #{failed}")
    expect(page.locator("h1 .badge")).to_have_text("failed")
    expect(page.locator(".page-head .chip")).to_have_text(["mail", "eu"])
    props = page.locator("#job-properties")
    expect(props.locator('[data-field="attempts"] dd')).to_have_text("1 of 1")
    expect(props.locator('[data-field="priority"] dd')).to_have_text("7")
    expect(props.locator('[data-field="failure_reason"] dd')).to_have_text(
        "handler_error"
    )
    for field in ("created_at", "started_at", "last_failed_at", "run_at"):
        expect(
            page.locator(f'#job-timestamps [data-field="{field}"] time').first
        ).to_have_attribute("datetime", ISO_8601)
    expect(page.locator("#job-payload pre")).to_contain_text(
        '"to": "bounce@example.com"'
    )
    expect(page.locator("#job-payload pre")).to_contain_text('"n": 1')
    expect(page.locator("#job-errors .error-message")).to_have_text(
        "RuntimeError: the mail server said no"
    )
    traceback = page.locator("#job-errors .error-traceback")
    expect(traceback.locator("pre")).not_to_be_visible()
    traceback.locator("summary").click()
    expect(traceback.locator("pre")).to_contain_text(
        "Traceback (most recent call last)"
    )
    expect(traceback.locator("pre")).to_contain_text(
        "RuntimeError: the mail server said no"
    )
    expect(page.locator("#job-events .timeline-item")).to_have_count(3)
    events = page.locator("#job-events .timeline-item").evaluate_all(
        "items => items.map(item => item.dataset.event)"
    )
    assert events == ["added", "processing", "failed"]
    expect(page.locator('[data-action="retry"]')).to_be_visible()
    snap(page, "job-detail")


def test_a_waiting_job_s_token_is_completed_from_its_page(
    dashboard: Dashboard, page: Page, snap: Snap
) -> None:
    job_id = dashboard.queue.add_job("needs_approval", {"invoice": 7})
    page.goto(dashboard.at("/jobs"))
    page.locator("#process-jobs").click()
    expect(page.locator(".toast-success", has_text="Processed 1 job")).to_be_visible()

    page.goto(dashboard.at(f"/jobs/{job_id}"))
    # The attempt it waits in, as its processing event says.
    expect(page.locator('#job-properties [data-field="attempts"] dd')).to_have_text(
        "1 of 3"
    )
    token = page.locator('#job-tokens .token[data-status="waiting"]')
    expect(token).to_have_count(1)
    expect(token.locator(".chip")).to_have_text("approval")
    snap(page, "job-waiting-token")
    token.locator("textarea").fill('{"by": "ana", "ok": true}')
    token.locator("button", has_text="Complete token").click()

    expect(page.locator(".toast-success", has_text="Token completed")).to_be_visible()
    expect(page.locator('#job-tokens .token[data-status="completed"]')).to_contain_text(
        '"by": "ana"'
    )
    expect(page.locator("h1 .badge")).to_have_text("pending")
    resumed = page.locator('#job-events .timeline-item[data-event="resumed"]')
    expect(resumed.locator('dt:text-is("by") + dd')).to_have_text("access-token")

    # The job runs again with the token's output, and the page follows it.
    page.locator("#process-jobs").click()
    expect(page.locator("h1 .badge")).to_have_text("completed")
    expect(page.locator("#job-output pre")).to_contain_text('"approved"')
    job = dashboard.queue.get_job(job_id)
    assert job is not None and job.output == {"approved": {"by": "ana", "ok": True}}


def test_a_running_job_s_progress_moves_on_the_open_page(
    dashboard: Dashboard, page: Page, snap: Snap
) -> None:
    gate = ProgressGate([30, 70])
    processor = dashboard.queue.create_processor(
        {"report": gate.handler}, poll_interval=0.2
    )
    job_id = dashboard.queue.add_job("report", {"month": "2026-10"})
    page.goto(dashboard.at(f"/jobs/{job_id}"))
    expect(page.locator("h1 .badge")).to_have_text("pending")
    page.evaluate("window.sameDocument = true")
    bar = page.locator("#job-progress .progress-wrap")

    processor.start_in_background()
    try:
        expect(page.locator("h1 .badge")).to_have_text("processing")
        gate.release()
        expect(bar).to_have_attribute("data-value", "30")
        expect(bar.locator(".progress-text")).to_have_text("30%")
        snap(page, "job-progress")
        gate.release()
        expect(bar).to_have_attribute("data-value", "70")
        gate.release()
        expect(page.locator("h1 .badge")).to_have_text("completed")
        expect(page.locator("#job-output pre")).to_contain_text('"rows": 1200')
    finally:
        processor.stop_and_drain(10)
    # All of it arrived over the stream: the page never reloaded.
    assert page.evaluate("window.sameDocument") is True


def test_markup_in_a_payload_and_tags_is_shown_as_text(
    dashboard: Dashboard, page: Page
) -> None:
    markup = (
        '<script>window.pwned = true</script><img src=x onerror="window.pwned = true">'
    )
    job_id = dashboard.queue.add_job(
        "send_email", {"note": markup}, tags=["<b>vip</b>"]
    )
    page.goto(dashboard.at("/jobs"))
    expect(page.locator(".jobs-table .chip")).to_have_text("<b>vip</b>")
    expect(page.locator(".jobs-table .chip b")).to_have_count(0)

    page.goto(dashboard.at(f"/jobs/{job_id}"))
    payload = page.locator("#job-payload pre")
    expect(payload).to_contain_text("<script>window.pwned = true</script>")
    expect(payload.locator("script, img")).to_have_count(0)
    expect(page.locator(".page-head .chip")).to_have_text("<b>vip</b>")
    assert page.evaluate("window.pwned") is None


def test_an_unknown_job_says_so(
    dashboard: Dashboard, page: Page, problems: PageProblems
) -> None:
    problems.allow("404")
    page.goto(dashboard.at("/jobs/999999"))
    expect(page.locator(".empty-title")).to_have_text("Job #999999 does not exist")


def test_dark_mode_follows_the_system_and_the_toggle_is_remembered(
    dashboard: Dashboard, page: Page, snap: Snap
) -> None:
    seed_every_status(dashboard.queue)
    page.emulate_media(color_scheme="dark")
    page.goto(dashboard.at("/jobs"))
    expect(page.locator(".jobs-table tbody tr")).to_have_count(8)
    assert background(page) == "rgb(14, 17, 23)"
    snap(page, "jobs-list-dark")

    page.locator("#theme-toggle").click()
    assert background(page) == "rgb(246, 247, 249)"
    expect(page.locator("#theme-toggle")).to_have_attribute(
        "aria-label", "Switch to dark theme"
    )
    page.reload()
    expect(page.locator(".jobs-table tbody tr")).to_have_count(8)
    assert background(page) == "rgb(246, 247, 249)"

    page.locator("#theme-toggle").click()
    page.goto(dashboard.at(f"/jobs/{dashboard.queue.get_jobs({}, 1, 0)[0].id}"))
    expect(page.locator("h1")).to_contain_text("Job #")
    assert background(page) == "rgb(14, 17, 23)"
    snap(page, "job-detail-dark")


def background(page: Page) -> str:
    return str(page.evaluate("getComputedStyle(document.body).backgroundColor"))


def test_a_running_job_s_progress_moves_in_the_list(
    dashboard: Dashboard, page: Page, snap: Snap
) -> None:
    queue = dashboard.queue
    for n, tags in enumerate([["welcome"], ["welcome", "eu"], ["digest"]] * 2):
        queue.add_job("send_email", {"to": f"user{n}@example.com"}, tags=tags)
    queue.add_job("always_fails", {"to": "bounce@example.com"}, max_attempts=1)
    queue.add_job("needs_approval", {"invoice": 1042}, tags=["billing"])
    assert queue.create_processor(HANDLERS, job_type=list(HANDLERS)).start() == 8
    queue.add_job("resize_image", {"path": "/img/1.png"}, tags=["media"], priority=5)
    queue.add_job("sync_crm", {"account": 31}, tags=["crm"])
    gate = ProgressGate([40, 65])
    report = queue.add_job("generate_report", {"month": "2026-10"}, tags=["reports"])
    processor = queue.create_processor(
        {"generate_report": gate.handler}, job_type="generate_report"
    )
    page.goto(dashboard.at("/jobs"))
    row = page.locator(f'tr[data-job-id="{report}"]')
    expect(row.locator(".badge")).to_have_text("pending")

    processor.start_in_background()
    try:
        expect(row.locator(".badge")).to_have_text("processing")
        gate.release()
        expect(row.locator(".progress-wrap")).to_have_attribute("data-value", "40")
        snap(page, "dashboard")
        gate.release()
        expect(row.locator(".progress-wrap")).to_have_attribute("data-value", "65")
        gate.release()
        expect(row.locator(".badge")).to_have_text("completed")
    finally:
        processor.stop_and_drain(10)


def test_the_list_follows_the_store_live_unless_auto_refresh_is_off(
    dashboard: Dashboard, page: Page
) -> None:
    queue = dashboard.queue
    queue.add_job("send_email", {"to": "a@example.com"})
    page.goto(dashboard.at("/jobs"))
    rows = page.locator(".jobs-table tbody tr")
    expect(rows).to_have_count(1)
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live")

    queue.add_job("send_email", {"to": "b@example.com"})
    expect(rows).to_have_count(2)
    tab_count(page, "pending").to_have_text("2")

    page.locator("label.switch").click()
    expect(page.locator("#auto-refresh")).not_to_be_checked()
    queue.add_job("send_email", {"to": "c@example.com"})
    # The change is announced, not applied.
    expect(page.locator("#stale-notice")).to_be_visible()
    expect(rows).to_have_count(2)
    page.locator("#stale-notice").click()
    expect(rows).to_have_count(3)
    expect(page.locator("#stale-notice")).to_be_hidden()

    page.reload()
    expect(page.locator("#auto-refresh")).not_to_be_checked()
    page.locator("label.switch").click()
    queue.add_job("send_email", {"to": "d@example.com"})
    expect(rows).to_have_count(4)


def test_the_status_tabs_work_from_the_keyboard(
    dashboard: Dashboard, page: Page
) -> None:
    seed_every_status(dashboard.queue)
    page.goto(dashboard.at("/jobs"))
    tab_count(page, "all").to_have_text("8")
    page.locator('.tab[data-status="all"]').focus()
    page.keyboard.press("ArrowRight")
    pending = page.locator('.tab[data-status="pending"]')
    expect(pending).to_have_attribute("aria-selected", "true")
    expect(pending).to_be_focused()
    expect(page.locator('.jobs-table tbody tr[data-status="pending"]')).to_have_count(2)
    page.keyboard.press("End")
    expect(page.locator('.tab[data-status="waiting"]')).to_be_focused()
    expect(page.locator('.jobs-table tbody tr[data-status="waiting"]')).to_have_count(1)


def test_a_job_retried_by_hand_past_its_attempts_says_so(
    dashboard: Dashboard, page: Page
) -> None:
    job_id = dashboard.queue.add_job("always_fails", {}, max_attempts=1)
    dashboard.queue.create_processor(HANDLERS).start()
    assert dashboard.queue.retry_job(job_id)
    dashboard.queue.create_processor(HANDLERS).start()
    page.goto(dashboard.at(f"/jobs/{job_id}"))
    expect(page.locator('#job-properties [data-field="attempts"] dd')).to_have_text(
        "2 (max 1, retried by hand)"
    )
    page.goto(dashboard.at("/jobs"))
    row = page.locator(f'tr[data-job-id="{job_id}"]')
    expect(row).to_contain_text("2 (max 1, retried by hand)")
