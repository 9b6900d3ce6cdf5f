"""The pages people on call open first, in Chromium: the overview's charts,
the queues, search and bulk actions, cron run-now and edit, quieting a
worker, the phone's status tabs, and a read-only dashboard; at laptop and
phone sizes, in the light and the dark theme."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

import dataqueue as dq
from tests.dashboard.browser.conftest import (
    LAPTOP,
    Dashboard,
    PageProblems,
    signed_in,
    wait_for,
)
from tests.dashboard.browser.handlers import HANDLERS

Snap = Callable[[Page, str], Path]
PHONE = {"width": 390, "height": 844}
SIZES = {
    "laptop": {"viewport": LAPTOP},
    "phone": {"viewport": PHONE, "is_mobile": True, "has_touch": True},
}


def seed(queue: dq.SyncJobQueue, failing: int = 2) -> dict[str, Any]:
    """Three sent emails, ``failing`` failed jobs, two pending emails."""
    sent = [
        queue.add_job("send_email", {"to": f"user{n}@example.com"}) for n in range(3)
    ]
    failed = [
        queue.add_job("always_fails", {"to": f"bounce{n}@example.com"}, max_attempts=1)
        for n in range(failing)
    ]
    processor = queue.create_processor(HANDLERS, batch_size=200, concurrency=20)
    assert processor.start() == 3 + failing
    pending = [
        queue.add_job("send_email", {"to": f"later{n}@example.com"}) for n in range(2)
    ]
    return {"sent": sent, "failed": failed, "pending": pending}


@pytest.fixture(
    params=[(size, theme) for size in SIZES for theme in ("light", "dark")],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
def styled_page(
    request: pytest.FixtureRequest, browser: Browser, problems: PageProblems
) -> Iterator[tuple[Page, str]]:
    size, theme = request.param
    context = signed_in(browser, color_scheme=theme, **SIZES[size])
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and problems.messages.append(m.text))
    page.on("pageerror", lambda error: problems.messages.append(str(error)))
    page.set_default_timeout(10_000)
    try:
        yield page, f"{size}-{theme}"
    finally:
        context.close()
    assert problems.unexpected() == []


def fits(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.viewport_size
    assert viewport is not None and width <= viewport["width"], f"{width}px wide"


def test_the_overview_charts_throughput_latency_and_failures(
    dashboard: Dashboard, styled_page: tuple[Page, str], snap: Snap
) -> None:
    page, style = styled_page
    seed(dashboard.queue)
    page.goto(dashboard.at("/"))

    expect(page.locator("h1")).to_have_text("Overview")
    expect(page.locator(".nav a", has_text="Overview")).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.locator("#tile-completed .tile-value")).to_have_text("3")
    expect(page.locator("#tile-failed .tile-value")).to_have_text("2")
    expect(page.locator("#tile-pending .tile-value")).to_have_text("2")
    for chart in ("throughput", "latency", "failures"):
        expect(page.locator(f"#chart-{chart} canvas")).to_have_count(1)
    expect(page.locator('[data-total="throughput"]')).to_have_text("3 in the last hour")
    expect(page.locator('[data-total="failures"]')).to_have_text("2 in the last hour")
    # The charts take the theme's colours: the legend's text is the page's.
    legend = page.locator("#chart-throughput .u-legend").evaluate(
        "e => getComputedStyle(e).color"
    )
    body = page.evaluate("getComputedStyle(document.body).color")
    assert legend == body
    fits(page)
    snap(page, f"overview-{style}")

    page.locator('.segment[data-window="day"]').click()
    expect(page.locator('.segment[data-window="day"]')).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(page.locator('[data-total="throughput"]')).to_have_text("3 in the last day")
    assert page.url.endswith("?window=day")


def test_the_theme_toggle_redraws_the_charts(dashboard: Dashboard, page: Page) -> None:
    seed(dashboard.queue)
    page.goto(dashboard.at("/"))
    canvas = page.locator("#chart-throughput canvas")
    expect(canvas).to_have_count(1)
    light = canvas.evaluate("c => c.toDataURL()")
    page.locator("#theme-toggle").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    # Axes and grid are drawn again in the dark palette.
    wait_for(lambda: canvas.evaluate("c => c.toDataURL()") != light)


def test_the_overview_narrows_to_one_job_type(dashboard: Dashboard, page: Page) -> None:
    seed(dashboard.queue)
    page.goto(dashboard.at("/"))
    expect(page.locator('[data-total="failures"]')).to_have_text("2 in the last hour")
    page.locator("#overview-type").select_option("send_email")
    expect(page.locator('[data-total="failures"]')).to_have_text("0 in the last hour")
    expect(page.locator("#tile-pending .tile-value")).to_have_text("2")
    expect(page.locator("#tile-failed .tile-value")).to_have_text("0")
    assert "job_type=send_email" in page.url
    page.reload()
    expect(page.locator("#overview-type")).to_have_value("send_email")
    expect(page.locator('[data-total="throughput"]')).to_have_text("3 in the last hour")


def test_the_queues_page_has_a_row_per_job_type(
    dashboard: Dashboard, styled_page: tuple[Page, str], snap: Snap
) -> None:
    page, style = styled_page
    seed(dashboard.queue)
    page.goto(dashboard.at("/queues"))

    emails = page.locator('tr[data-job-type="send_email"]')
    fails = page.locator('tr[data-job-type="always_fails"]')
    expect(emails.locator('[data-depth="pending"]')).to_have_text("2")
    expect(emails.locator('[data-depth="completed"]')).to_have_text("3")
    expect(emails.locator('[data-field="failure-rate"]')).to_have_text("0%")
    expect(fails.locator('[data-field="failure-rate"]')).to_have_text("100%")
    expect(emails.locator('[data-field="throughput"]')).to_have_text("0.05 / min")
    expect(emails.locator('[data-field="oldest"]')).not_to_have_text("—")
    fits(page)
    snap(page, f"queues-{style}")

    fails.locator('[data-depth="failed"]').click()
    expect(page.locator("h1")).to_have_text("Jobs")
    expect(page.locator(".jobs-table tbody tr")).to_have_count(2)
    expect(page.locator('.tab[data-status="failed"]')).to_have_attribute(
        "aria-selected", "true"
    )


def test_search_finds_a_job_by_id_and_by_payload_text(
    dashboard: Dashboard, page: Page
) -> None:
    jobs = seed(dashboard.queue)
    page.goto(dashboard.at("/jobs"))

    page.locator("#filter-search").fill("BOUNCE1")
    page.locator("#filter-search").press("Enter")
    expect(page.locator(".jobs-table tbody tr")).to_have_count(1)
    row = page.locator(f'tr[data-job-id="{jobs["failed"][1]}"]')
    expect(row.locator(".row-error")).to_contain_text("the mail server said no")
    expect(page.locator("#search-note")).to_contain_text("every job searched")
    assert "q=BOUNCE1" in page.url
    # Search results are rows to pick, never "everything matching".
    page.locator("#select-page").check()
    expect(page.locator("#bulk-count")).to_have_text("1 job selected")
    expect(page.locator("#bulk-select-all")).to_be_hidden()

    page.locator("#filter-search").fill(f"#{jobs['sent'][0]}")
    page.locator("#filter-search").press("Enter")
    expect(page.locator(".jobs-table tbody tr").first).to_have_attribute(
        "data-job-id", str(jobs["sent"][0])
    )
    page.locator("#filter-search").fill("nobody-has-this")
    page.locator("#filter-search").press("Enter")
    expect(page.locator(".empty-title")).to_have_text("No jobs match these filters")


def test_bulk_retry_of_a_selection_and_delete_of_a_whole_filter(
    dashboard: Dashboard, page: Page, snap: Snap
) -> None:
    queue = dashboard.queue
    jobs = seed(queue, failing=130)
    page.goto(dashboard.at("/jobs?status=failed"))
    expect(page.locator('.tab[data-status="failed"] .count')).to_have_text("130")

    first, second = jobs["failed"][-1], jobs["failed"][-2]
    page.locator(f'tr[data-job-id="{first}"] .row-select').check()
    page.locator(f'tr[data-job-id="{second}"] .row-select').check()
    expect(page.locator("#bulk-count")).to_have_text("2 jobs selected")
    page.locator('[data-bulk="retry"]').click()
    expect(page.locator("#bulk-title")).to_have_text("Retry 2 jobs?")
    page.locator("#bulk-confirm").click()
    expect(page.locator(".toast-success", has_text="Retried 2 jobs")).to_be_visible()
    for job_id in (first, second):
        job = queue.get_job(job_id)
        assert job is not None and job.status is dq.JobStatus.PENDING
        (retried,) = [
            e for e in queue.get_job_events(job_id) if e.event_type == "retried"
        ]
        assert retried.metadata == {"by": "access-token"}
    expect(page.locator('.tab[data-status="failed"] .count')).to_have_text("128")

    page.locator("#select-page").check()
    expect(page.locator("#bulk-count")).to_have_text("20 jobs selected")
    page.locator("#bulk-select-all").click()
    expect(page.locator("#bulk-count")).to_have_text(
        "All 128 jobs matching this filter"
    )
    snap(page, "jobs-bulk")
    page.locator('[data-bulk="delete"]').click()
    expect(page.locator("#bulk-title")).to_have_text("Delete 128 jobs?")
    page.locator("#bulk-confirm").click()
    expect(page.locator(".toast-success", has_text="Deleted 128 jobs")).to_be_visible()
    expect(page.locator('.tab[data-status="failed"] .count')).to_have_text("0")
    assert queue.count_jobs({"job_type": "always_fails"})[dq.JobStatus.FAILED] == 0
    assert queue.count_jobs({"job_type": "always_fails"})[dq.JobStatus.PENDING] == 2


def test_on_a_phone_the_status_tabs_say_more_lie_beyond_and_reach_failed(
    dashboard: Dashboard, browser: Browser, snap: Snap
) -> None:
    jobs = seed(dashboard.queue)
    context = signed_in(browser, **SIZES["phone"])
    try:
        phone = context.new_page()
        phone.goto(dashboard.at("/jobs"))
        wrap = phone.locator(".tabs-wrap")
        expect(wrap).to_have_attribute("data-more-right", "true")
        expect(phone.locator(".tabs-more-right")).to_be_visible()
        failed_tab = phone.locator('.tab[data-status="failed"]')
        expect(failed_tab).not_to_be_in_viewport(ratio=0.9)
        snap(phone, "jobs-tabs-phone")
        phone.locator(".tabs-more-right").click()
        expect(failed_tab).to_be_in_viewport(ratio=0.9)
        expect(wrap).to_have_attribute("data-more-left", "true")
        failed_tab.click()
        expect(phone.locator(".jobs-table tbody tr")).to_have_count(2)
        expect(
            phone.locator(f'tr[data-job-id="{jobs["failed"][0]}"] .row-error')
        ).to_be_visible()
        fits(phone)
        # The six sections fit the top bar without scrolling.
        nav = phone.locator(".nav").evaluate("n => n.scrollWidth - n.clientWidth")
        assert nav <= 0
        # A link straight to the failed jobs shows their tab on screen.
        phone.goto(dashboard.at("/jobs?status=failed"))
        expect(failed_tab).to_be_in_viewport(ratio=0.9)
    finally:
        context.close()


def test_a_schedule_runs_now_and_is_edited(
    dashboard: Dashboard, page: Page, problems: PageProblems
) -> None:
    queue = dashboard.queue
    cron_id = queue.add_cron_job(
        "nightly-report", "0 3 * * *", "send_email", {"to": "ops@example.com"}
    )
    page.goto(dashboard.at("/cron"))
    row = page.locator(f'tr[data-cron-id="{cron_id}"]')

    row.locator('[data-action="run"]').click()
    expect(page.locator(".toast-success", has_text="enqueued")).to_be_visible()
    [job] = queue.get_jobs({"job_type": "send_email"}, 10, 0)
    assert job.payload == {"to": "ops@example.com"}
    added = queue.get_job_events(job.id)[0]
    assert added.metadata == {"job_type": "send_email", "by": "access-token"}

    row.locator('[data-action="edit"]').click()
    dialog = page.locator("#cron-dialog")
    problems.allow("400")  # the refused first save's response
    dialog.locator('[name="cron_expression"]').fill("not a schedule")
    dialog.locator('button[type="submit"]').click()
    expect(page.locator(".toast-error")).to_contain_text("cron")
    dialog.locator('[name="cron_expression"]').fill("*/5 * * * *")
    dialog.locator('[name="payload"]').fill('{"to": "night@example.com"}')
    dialog.locator('button[type="submit"]').click()
    expect(row.locator(".cron-expression")).to_have_text("*/5 * * * *")
    schedule = queue.get_cron_job(cron_id)
    assert schedule is not None and schedule.payload == {"to": "night@example.com"}


def test_a_worker_shows_its_counts_and_stops_taking_jobs(
    dashboard: Dashboard, page: Page, snap: Snap
) -> None:
    queue = dashboard.queue
    queue.add_job("send_email", {"to": "a@example.com"})
    queue.add_job("send_email", {"to": "b@example.com"})
    queue.add_job("always_fails", {}, max_attempts=1)
    processor = queue.create_processor(
        HANDLERS, heartbeat_interval=0.1, poll_interval=0.1
    )
    processor.start_in_background()
    try:
        wait_for(
            lambda: [(w.processed, w.failed) for w in queue.list_workers()] == [(2, 1)]
        )
        page.goto(dashboard.at("/workers"))
        worker = page.locator(".worker")
        expect(worker.locator('[data-count="processed"]')).to_have_text("2 processed")
        expect(worker.locator('[data-count="failed"]')).to_have_text("1 failed")
        page.once("dialog", lambda dialog: dialog.accept())
        worker.locator('[data-action="quiet"]').click()
        expect(worker.locator(".status-quiet")).to_have_text("quiet")
        expect(worker.locator('[data-action="quiet"]')).to_have_count(0)
        snap(page, "workers")
        assert [w.quiet for w in queue.list_workers()] == [True]
    finally:
        processor.stop_and_drain(10)


def test_a_read_only_dashboard_offers_no_action(
    read_only_dashboard: Dashboard, page: Page
) -> None:
    queue = read_only_dashboard.queue
    seed(queue)
    queue.add_cron_job("nightly", "0 3 * * *", "send_email", {})
    page.goto(read_only_dashboard.at("/jobs"))

    expect(page.locator(".jobs-table tbody tr")).to_have_count(7)
    expect(page.locator("#process-jobs")).to_have_count(0)
    expect(page.locator(".row-select, #select-page, [data-action]")).to_have_count(0)
    page.goto(read_only_dashboard.at("/cron"))
    expect(page.locator(".cron-table tbody tr")).to_have_count(1)
    expect(page.locator("[data-action]")).to_have_count(0)


def record_an_hour(options: dict[str, Any]) -> int:
    """Store an hour of per-minute stats as busy workers would report them
    (a morning ramp, a burst of failures); returns the completions."""

    async def record() -> int:
        async with dq.connect(**options) as queue:
            now = queue.clock.now().replace(second=0, microsecond=0)
            stats = []
            for ago in range(59, 0, -1):
                minute = now - timedelta(minutes=ago)
                done = 40 + (60 - ago) * 3 + (17 * ago) % 23
                failed = 9 + ago % 4 if 18 <= ago <= 24 else ago % 3
                stats.append(
                    dq.MinuteStats(
                        minute,
                        "send_email",
                        done + failed,
                        done,
                        failed,
                        done + failed,
                        (done + failed)
                        * (0.4 + (ago % 7) / 10 + (2.5 if 18 <= ago <= 24 else 0)),
                    )
                )
            await queue.backend.record_minute_stats(stats, now=now)
            return sum(entry.completed for entry in stats)

    result: list[int] = []
    # Playwright's loop runs in this thread: the store is written from another.
    writer = threading.Thread(target=lambda: result.append(asyncio.run(record())))
    writer.start()
    writer.join()
    return result[0]


def test_the_readme_screenshots_show_an_hour_of_work(
    dashboard: Dashboard, browser: Browser, artifacts: Path
) -> None:
    seed(dashboard.queue)
    dashboard.queue.set_limits("send_email", concurrency=5, rate=dq.Rate(100, per=60))
    dashboard.queue.pause("always_fails")
    for n in range(4):
        dashboard.queue.add_job("always_fails", {"to": f"retry{n}@example.com"})
    # A claim marks the paused type's jobs held; the queues page counts them.
    only_failing = {"always_fails": HANDLERS["always_fails"]}
    assert dashboard.queue.create_processor(only_failing).start() == 0
    completed = record_an_hour(dashboard.options)
    shots = [
        ("light", "/", "readme-overview", 760),
        ("dark", "/queues", "readme-queues-dark", 345),
    ]
    for theme, path, name, height in shots:
        viewport = {"width": 1280, "height": height}
        context = signed_in(browser, viewport=viewport, color_scheme=theme)
        try:
            page = context.new_page()
            page.goto(dashboard.at(path))
            if path == "/":
                total = f"{completed + 3:,} in the last hour"
                expect(page.locator('[data-total="throughput"]')).to_have_text(total)
            else:
                expect(page.locator(".queues-table .status-paused")).to_have_count(1)
                expect(page.locator(".queues-table .held-note")).to_have_text(
                    "held: 4 paused"
                )
                expect(page.locator('[data-field="limits"]').last).to_have_text(
                    "5 at once · 100/min"
                )
            page.screenshot(path=str(artifacts / f"{name}.png"))
        finally:
            context.close()


def test_flows_are_listed_by_name(dashboard: Dashboard, page: Page) -> None:
    flow_id = dashboard.queue.start_flow(
        [dq.JobSpec("send_email", {"to": "a@example.com"})],
        dq.JobSpec("send_email", {"to": "summary@example.com"}),
        entity={"id": "order-7", "type": "order"},
    )
    page.goto(dashboard.at("/flows"))
    row = page.locator(f'tr[data-flow-id="{flow_id}"]')
    expect(row.locator(".flow-name")).to_have_text("order order-7 · send_email")
    row.locator(".flow-name").click()
    expect(page.locator("h1")).to_contain_text("order order-7 · send_email")


def test_a_jobs_page_shows_its_dedupe_key_and_dead_letter(
    dashboard: Dashboard, page: Page
) -> None:
    queue = dashboard.queue
    job_id = queue.add_job(
        "always_fails",
        {"to": "x@example.com"},
        max_attempts=1,
        dedupe=dq.Dedupe("user:42"),
        dead_letter_job_type="send_email",
    )
    assert queue.create_processor(HANDLERS).start() == 1
    job = queue.get_job(job_id)
    assert job is not None and job.dead_letter_job_id is not None
    page.goto(dashboard.at(f"/jobs/{job_id}"))

    control = page.locator("#job-control")
    expect(control.locator('[data-field="dedupe_key"] dd')).to_have_text("user:42")
    expect(control.locator('[data-field="dead_letter_job_type"] dd')).to_have_text(
        "send_email"
    )
    letter = control.locator(
        f'[data-field="dead_letter_job_id"] a[href$="/jobs/{job.dead_letter_job_id}"]'
    )
    expect(letter).to_be_visible()
    expect(
        page.locator('#job-timestamps [data-field="dead_lettered_at"] time').first
    ).to_be_visible()
    letter.click()
    expect(page.locator("h1")).to_contain_text(f"Job #{job.dead_letter_job_id}")
    expect(page.locator("#job-control")).to_be_hidden()


def test_the_queues_page_shows_limits_and_pauses_a_type(
    dashboard: Dashboard, page: Page, snap: Snap
) -> None:
    queue = dashboard.queue
    seed(queue)
    queue.set_limits("send_email", concurrency=5, rate=dq.Rate(100, per=60))
    page.goto(dashboard.at("/queues"))
    emails = page.locator('tr[data-job-type="send_email"]')
    expect(emails.locator('[data-field="limits"]')).to_have_text("5 at once · 100/min")

    emails.locator('[data-action="pause"]').click()
    expect(emails.locator(".status-paused")).to_have_text("paused")
    # A claim marks the paused type's jobs it meets held; the page counts them.
    queue.create_processor(HANDLERS).start()
    page.reload()
    held = queue.get_held_counts().counts["send_email"]["paused"]
    assert held >= 1
    expect(emails.locator('[data-held-reason="paused"]')).to_have_text(f"{held} paused")
    expect(emails.locator(".held-note")).to_have_text(f"held: {held} paused")
    assert [(lim.job_type, lim.paused) for lim in queue.get_limits()] == [
        ("send_email", True)
    ]
    snap(page, "queues-paused")
    emails.locator('[data-action="resume"]').click()
    expect(emails.locator(".status-paused")).to_have_count(0)

    page.locator("#pause-every").click()
    expect(page.locator("#pause-every")).to_have_text("Resume every type")
    expect(
        page.locator('tr[data-job-type="always_fails"] .status-paused')
    ).to_be_visible()
    page.locator("#pause-every").click()
    expect(page.locator("#pause-every")).to_have_text("Pause every type")
    assert all(not lim.paused for lim in queue.get_limits())


def test_a_held_jobs_page_says_why_and_names_its_group(
    dashboard: Dashboard, page: Page
) -> None:
    queue = dashboard.queue
    queue.pause("send_email")
    job_id = queue.add_job("send_email", {"to": "a@example.com"}, group="tenant-7")
    assert queue.create_processor(HANDLERS).start() == 0
    job = queue.get_job(job_id)
    assert job is not None and job.pending_reason == "paused"
    page.goto(dashboard.at(f"/jobs/{job_id}"))

    expect(page.locator('#job-control [data-field="group_id"] dd')).to_have_text(
        "tenant-7"
    )
    expect(
        page.locator('#job-properties [data-field="pending_reason"] dd')
    ).to_have_text("paused")


def test_a_jobs_page_links_the_jobs_it_depends_on(
    dashboard: Dashboard, page: Page
) -> None:
    queue = dashboard.queue
    first = queue.add_job("send_email", {"to": "a@example.com"}, tags=["wave:1"])
    after = queue.add_job(
        "send_email",
        {"to": "b@example.com"},
        depends_on={"job_ids": [first], "tags": ["wave:1"]},
    )
    page.goto(dashboard.at(f"/jobs/{after}"))

    control = page.locator("#job-control")
    expect(control.locator('[data-field="depends_on_tags"] .chip')).to_have_text(
        "wave:1"
    )
    link = control.locator(
        f'[data-field="depends_on_job_ids"] a[href$="/jobs/{first}"]'
    )
    expect(link).to_have_text(f"#{first}")
    link.click()
    expect(page.locator("h1")).to_contain_text(f"Job #{first}")


def test_the_overview_lists_each_action_and_who_took_it(
    dashboard: Dashboard, styled_page: tuple[Page, str]
) -> None:
    page, _ = styled_page
    seed(dashboard.queue)
    page.goto(dashboard.at("/"))
    expect(page.locator("#overview-activity .empty-title")).to_have_text(
        "No actions yet"
    )
    page.goto(dashboard.at("/queues"))
    emails = page.locator('tr[data-job-type="send_email"]')
    emails.locator('[data-action="pause"]').click()
    expect(emails.locator(".status-paused")).to_have_text("paused")

    page.goto(dashboard.at("/"))
    rows = page.locator("#overview-activity tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.locator('[data-label="Who"]')).to_have_text("access-token")
    expect(rows.locator('[data-label="Action"]')).to_have_text("pause")
    expect(rows.locator('[data-label="Details"]')).to_have_text("job_type: send_email")
    fits(page)
