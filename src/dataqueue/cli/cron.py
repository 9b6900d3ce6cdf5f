"""``dataqueue cron``: list, pause, resume and remove schedules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import click

import dataqueue as dq
from dataqueue.cli._store import store_options, with_queue

LIST_COLUMNS = (
    "id",
    "name",
    "expression",
    "timezone",
    "job type",
    "next run",
    "last job",
)


def _find(queue: dq.SyncJobQueue, schedule: str) -> dq.CronJob:
    """A schedule by id (all digits) or by name."""
    found = queue.get_cron_job(int(schedule)) if schedule.isdigit() else None
    found = found or queue.get_cron_job_by_name(schedule)
    if found is None:
        raise click.ClickException(f"no cron schedule {schedule!r}")
    return found


def _when(value: datetime | None, zone: str) -> tuple[str, str]:
    if value is None:
        return "-", "-"
    local = value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")
    return local, value.strftime("%Y-%m-%d %H:%M UTC")


@click.group()
def cron() -> None:
    """Recurring schedules: list, pause, resume, remove."""


@cron.command("list")
@store_options
@click.option("--status", type=click.Choice(["active", "paused"]), help="Only these.")
def list_schedules(status: str | None, **store: Any) -> None:
    """Every schedule, with its next run in its own zone and in UTC."""
    schedules = with_queue(store, lambda q: q.list_cron_jobs(status))
    if not schedules:
        click.echo("no cron schedules")
        return
    click.echo("\t".join(LIST_COLUMNS))
    for s in schedules:
        local, utc = _when(s.next_run_at, s.timezone)
        if s.status is dq.CronStatus.PAUSED:
            local, utc = "paused", "paused"
        click.echo(
            f"{s.id}\t{s.schedule_name}\t{s.cron_expression}\t{s.timezone}\t"
            f"{s.job_type}\t{local} ({utc})\t{s.last_job_id or '-'}"
        )


def _change(
    name: str, done: str, call: Callable[[dq.SyncJobQueue, int], None]
) -> click.Command:
    @click.command(name, help=f"{name.capitalize()} a schedule, given its id or name.")
    @click.argument("schedule")
    @store_options
    def command(schedule: str, **store: Any) -> None:
        def run(queue: dq.SyncJobQueue) -> str:
            found = _find(queue, schedule)
            call(queue, found.id)
            return found.schedule_name

        click.echo(f"{done} cron schedule {with_queue(store, run)!r}")

    return command


cron.add_command(_change("pause", "paused", lambda q, i: q.pause_cron_job(i)))
cron.add_command(_change("resume", "resumed", lambda q, i: q.resume_cron_job(i)))
cron.add_command(_change("remove", "removed", lambda q, i: q.remove_cron_job(i)))
