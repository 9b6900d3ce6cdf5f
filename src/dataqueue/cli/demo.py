"""``dataqueue demo``: a short tour on the embedded SQLite store, no server needed."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from typing import Any

import click

from dataqueue import JobContext
from dataqueue.cli._options import resolve_url, url_option
from dataqueue.connect import connect
from dataqueue.errors import DataQueueError
from dataqueue.models import JobRecord, JobSpec, JobStatus
from dataqueue.queue import JobQueue
from dataqueue.types import Handler

JOB_TYPES = ("send_email", "resize_image", "build_report", "charge_card")


async def send_email(payload: dict[str, Any]) -> dict[str, Any]:
    await asyncio.sleep(random.uniform(0.001, 0.01))
    return {"delivered_to": payload["to"]}


async def resize_image(payload: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    for step in range(1, 5):
        await asyncio.sleep(0.005)
        await ctx.set_progress(step * 25)
    return {"width": payload["width"] // 2}


def build_report(payload: dict[str, Any]) -> dict[str, Any]:
    time.sleep(0.005)  # sync handlers run in a thread
    return {"rows": payload["rows"]}


async def charge_card(payload: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    # Every third card is declined on its first attempt, then succeeds on retry;
    # cards marked "stolen" fail on every attempt.
    if payload["stolen"] or (payload["n"] % 3 == 0 and ctx.job.attempts == 1):
        raise RuntimeError(f"card {payload['n']} declined")
    return {"charged": payload["amount"]}


HANDLERS: dict[str, Handler] = {
    "send_email": send_email,
    "resize_image": resize_image,
    "build_report": build_report,
    "charge_card": charge_card,
}


def demo_jobs(count: int) -> list[JobSpec]:
    specs = []
    for n in range(count):
        job_type = JOB_TYPES[n % len(JOB_TYPES)]
        payloads: dict[str, dict[str, Any]] = {
            "send_email": {"to": f"user{n}@example.com"},
            "resize_image": {"width": 1024 + n},
            "build_report": {"rows": n * 10},
            "charge_card": {"n": n, "amount": n % 50 + 1, "stolen": n % 40 == 3},
        }
        specs.append(
            JobSpec(
                job_type,
                payloads[job_type],
                priority=10 if job_type == "charge_card" else n % 3,
                tags=["demo", job_type.split("_")[0]],
                max_attempts=2,
                retry_delay=0.3,
                retry_backoff=False,
            )
        )
    return specs


@click.command()
@url_option
@click.option("--schema", help="PostgreSQL schema (default: public).")
@click.option("--key-prefix", help='Redis key prefix (default: "dq:").')
@click.option("--jobs", "count", default=300, show_default=True, type=click.IntRange(1))
def demo(
    url: str | None, schema: str | None, key_prefix: str | None, count: int
) -> None:
    """Enqueue a few hundred jobs, run them, and show what happened."""
    try:
        from rich.console import Console
    except ImportError as error:
        raise click.ClickException(
            "the demo needs its extra: pip install 'dataqueue[demo]'"
        ) from error
    console = Console()
    # Declined cards are part of the show: the summary reports them, so the
    # handler tracebacks the worker would log are left out here.
    logging.getLogger("dataqueue").setLevel(logging.CRITICAL)
    resolved = resolve_url(url, required=False)
    try:
        queue = connect(resolved, schema=schema, key_prefix=key_prefix)
    except (ValueError, TypeError, ImportError) as error:
        raise click.ClickException(str(error)) from None
    try:
        asyncio.run(run_demo(queue, count, console))
    except DataQueueError as error:
        raise click.ClickException(str(error)) from None


async def run_demo(queue: JobQueue, count: int, console: Any) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from rich.table import Table

    async with queue:
        await queue.migrate()
        started = time.perf_counter()
        ids = await queue.add_jobs(demo_jobs(count))
        console.print(
            f"[bold]dataqueue demo[/] on {queue.backend.name}: "
            f"added {len(ids)} jobs in one call "
            f"({(time.perf_counter() - started) * 1000:.0f} ms)"
        )
        processor = queue.create_processor(
            HANDLERS, batch_size=20, concurrency=8, poll_interval=0.1
        )
        processor.start_in_background()
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
        )
        with Progress(*columns, console=console) as progress:
            bar = progress.add_task("running", total=len(ids), detail="")
            while True:
                jobs = await demo_records(queue, ids)
                statuses = Counter(job.status for job in jobs)
                finished = sum(1 for job in jobs if job.is_final)
                progress.update(
                    bar,
                    completed=finished,
                    detail=", ".join(f"{s.value} {n}" for s, n in statuses.items()),
                )
                if finished == len(ids):
                    break
                await asyncio.sleep(0.1)
        await processor.stop_and_drain(10)
        elapsed = time.perf_counter() - started
        console.print(summary_table(await demo_records(queue, ids), Table))
        console.print(
            f"{len(ids)} jobs in {elapsed:.1f}s ({len(ids) / elapsed:.0f} jobs/s), "
            "failures retried after 0.3 s, stolen cards failed for good."
        )
        console.print(
            "Look around: [cyan]queue.get_jobs_by_tags(['demo'])[/], "
            "[cyan]queue.get_job_events(id)[/], or browse them in the web "
            "dashboard: [cyan]dataqueue dashboard dataqueue.cli.demo:HANDLERS[/] "
            "(with the same --url)."
        )


async def demo_records(queue: JobQueue, ids: list[int]) -> list[JobRecord]:
    wanted = set(ids)
    records: list[JobRecord] = []
    offset = 0
    while len(records) < len(ids):
        page = await queue.get_jobs({"tags": {"values": ["demo"]}}, 1000, offset)
        if not page:
            break
        records.extend(job for job in page if job.id in wanted)
        offset += len(page)
    return records


def summary_table(jobs: list[JobRecord], table_type: Any) -> Any:
    table = table_type(title="Summary by job type")
    for column in ("job type", "completed", "failed", "retried", "avg run (ms)"):
        table.add_column(column, justify="right" if column != "job type" else "left")
    for job_type in JOB_TYPES:
        of_type = [job for job in jobs if job.job_type == job_type]
        done = [j for j in of_type if j.status is JobStatus.COMPLETED]
        durations = [
            (j.completed_at - j.started_at).total_seconds() * 1000
            for j in done
            if j.completed_at and j.started_at
        ]
        average = sum(durations) / len(durations) if durations else 0.0
        table.add_row(
            job_type,
            str(len(done)),
            str(sum(1 for j in of_type if j.status is JobStatus.FAILED)),
            str(sum(1 for j in of_type if j.attempts > 1)),
            f"{average:.1f}",
        )
    return table
