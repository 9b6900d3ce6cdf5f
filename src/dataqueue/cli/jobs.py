"""For people on call: ``dataqueue jobs list|show|retry|cancel|purge``,
``dataqueue stats`` and ``dataqueue healthcheck``."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

import click

import dataqueue as dq
from dataqueue.cli._store import store_options, store_url, with_queue

F = TypeVar("F", bound=Callable[..., Any])

PAGE = 500
STATUSES = [status.value for status in dq.JobStatus]

# healthcheck exit codes, for container probes
HEALTHY, STORE_DOWN, NO_LIVE_WORKER = 0, 1, 3


def _filter_options(func: F) -> F:
    """get_jobs's filters."""
    func = click.option("--job-type", help="Only jobs of this type.")(func)
    func = click.option("--priority", type=int, help="Only jobs of this priority.")(
        func
    )
    func = click.option("--tag", "tags", multiple=True, help="Tag (repeatable).")(func)
    return click.option(
        "--tag-mode",
        type=click.Choice(["all", "any", "none", "exact"]),
        default="all",
        show_default=True,
        help="How --tag values match a job's tags.",
    )(func)


def _filters(
    job_type: str | None, priority: int | None, tags: Sequence[str], tag_mode: str
) -> dict[str, Any]:
    filters: dict[str, Any] = {}
    if job_type is not None:
        filters["job_type"] = job_type
    if priority is not None:
        filters["priority"] = priority
    if tags:
        filters["tags"] = {"values": list(tags), "mode": tag_mode}
    return filters


def _json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(func)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {_jsonable(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _print_json(value: Any) -> None:
    click.echo(json.dumps(_jsonable(value), indent=2, ensure_ascii=False))


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def _table(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """A table with rich when it is installed, plain columns otherwise."""
    rows = list(rows)
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [
            max([len(c), *(len(row[i]) for row in rows)]) for i, c in enumerate(columns)
        ]
        click.echo(title)
        for row in [columns, *rows]:
            click.echo(
                "  ".join(
                    cell.ljust(w) for cell, w in zip(row, widths, strict=True)
                ).rstrip()
            )
        return
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    # Piped output (grep, a log) keeps whole rows rather than 80 columns.
    Console(width=None if sys.stdout.isatty() else 240).print(table)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict | list):
        return json.dumps(_jsonable(value), ensure_ascii=False)
    return str(_jsonable(value))


def _last_error(job: dq.JobRecord) -> str:
    if not job.error_history:
        return ""
    message = str(job.error_history[-1].get("message", ""))
    first_line = message.splitlines()[0] if message else ""
    return first_line[:80]


@click.group()
def jobs() -> None:
    """Look at and change jobs: list, show, retry, cancel, purge."""


@jobs.command("list")
@store_options
@_filter_options
@click.option("--status", type=click.Choice(STATUSES), help="Only jobs in this status.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1))
@click.option("--offset", default=0, show_default=True, type=click.IntRange(0))
@_json_option
def list_jobs(
    job_type: str | None,
    priority: int | None,
    tags: tuple[str, ...],
    tag_mode: str,
    status: str | None,
    limit: int,
    offset: int,
    as_json: bool,
    **store: Any,
) -> None:
    """Jobs matching every filter, newest first."""
    filters = _filters(job_type, priority, tags, tag_mode)
    found = with_queue(
        store, lambda q: q.get_jobs(filters, limit, offset, status=status)
    )
    if as_json:
        _print_json([asdict(job) for job in found])
        return
    if not found:
        click.echo("no jobs match")
        return
    _table(
        f"{len(found)} job(s), newest first",
        [
            "id",
            "type",
            "status",
            "attempts",
            "priority",
            "run_at (UTC)",
            "updated (UTC)",
            "last error",
        ],
        (
            [
                str(job.id),
                job.job_type,
                job.status.value,
                f"{job.attempts}/{job.max_attempts}",
                str(job.priority),
                _when(job.run_at),
                _when(job.updated_at),
                _last_error(job),
            ]
            for job in found
        ),
    )


@jobs.command("show")
@store_options
@click.argument("job_id", type=click.IntRange(1))
@_json_option
def show_job(job_id: int, as_json: bool, **store: Any) -> None:
    """One job with its events and error history (tracebacks included)."""

    def read(queue: dq.SyncJobQueue) -> tuple[dq.JobRecord | None, list[dq.JobEvent]]:
        job = queue.get_job(job_id)
        return job, ([] if job is None else queue.get_job_events(job_id))

    job, events = with_queue(store, read)
    if job is None:
        raise click.ClickException(f"no job {job_id}")
    if as_json:
        _print_json({"job": asdict(job), "events": [asdict(e) for e in events]})
        return
    fields = asdict(job)
    history = fields.pop("error_history")
    _table(
        f"job {job.id}",
        ["field", "value"],
        ([name, _cell(value)] for name, value in fields.items()),
    )
    _table(
        "events",
        ["at (UTC)", "event", "metadata"],
        (
            [
                _when(e.created_at),
                e.event_type.value,
                json.dumps(e.metadata or {}, ensure_ascii=False),
            ]
            for e in events
        ),
    )
    for number, entry in enumerate(history, 1):
        click.echo(
            f"error {number} at {entry.get('timestamp')}: {entry.get('message')}"
        )
        if entry.get("traceback"):
            click.echo(str(entry["traceback"]).rstrip())


def _apply(
    queue: dq.SyncJobQueue,
    ids: Sequence[int],
    change: Callable[[int], bool],
    verb: str,
) -> list[int]:
    """``change`` each job, with a progress bar on a terminal when there are
    many; the ids it changed."""
    changed = []
    show = len(ids) > 20 and sys.stderr.isatty()
    with click.progressbar(
        ids, label=verb, file=sys.stderr if show else None, hidden=not show
    ) as bar:
        for job_id in bar:
            if change(job_id):
                changed.append(job_id)
    return changed


def _matching_ids(
    queue: dq.SyncJobQueue, filters: dict[str, Any], statuses: Sequence[str]
) -> list[int]:
    """Every id matching, read page by page before anything changes (a
    change moves jobs out of the filter and would shift later pages)."""
    ids: list[int] = []
    for status in statuses:
        offset = 0
        while True:
            page = queue.get_jobs(filters, PAGE, offset, status=status)
            ids.extend(job.id for job in page)
            if len(page) < PAGE:
                break
            offset += PAGE
    return sorted(ids)


def _bulk(
    store: dict[str, Any],
    job_ids: Sequence[int],
    filters: dict[str, Any],
    statuses: Sequence[str],
    yes: bool,
    change: Callable[[dq.SyncJobQueue, int], bool],
    verb: tuple[str, str],
    as_json: bool,
) -> None:
    """``change`` the named jobs, or every job matching ``filters`` in one of
    ``statuses``; ``verb`` is the change's name and past participle."""
    name, done = verb
    if not job_ids and not filters and not yes:
        raise click.UsageError(
            f"name job ids, or filters (--job-type, --tag, --priority) with --yes "
            f"to {name} every {'/'.join(statuses)} job that matches"
        )

    def run(queue: dq.SyncJobQueue) -> tuple[list[int], list[int]]:
        if job_ids:  # named one by one: nothing to confirm
            ids = list(job_ids)
        else:
            ids = _matching_ids(queue, filters, statuses)
            if not yes:
                raise click.UsageError(
                    f"{len(ids)} jobs would be {done}: add --yes to go ahead"
                )
        return ids, _apply(queue, ids, lambda job_id: change(queue, job_id), name)

    ids, changed = with_queue(store, run)
    if as_json:
        _print_json({done: changed, "unchanged": sorted(set(ids) - set(changed))})
        return
    click.echo(f"{done} {len(changed)} of {len(ids)} job(s)")
    for job_id in sorted(set(ids) - set(changed)):
        click.echo(f"job {job_id} not {done} (gone, or not in a status that allows it)")


@jobs.command("retry")
@store_options
@click.argument("job_ids", nargs=-1, type=click.IntRange(1))
@_filter_options
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["failed", "cancelled"]),
    help="With filters: retry jobs in this status (default: failed).",
)
@click.option("--yes", is_flag=True, help="Go ahead with every job the filters match.")
@_json_option
def retry_jobs(
    job_ids: tuple[int, ...],
    job_type: str | None,
    priority: int | None,
    tags: tuple[str, ...],
    tag_mode: str,
    statuses: tuple[str, ...],
    yes: bool,
    as_json: bool,
    **store: Any,
) -> None:
    """Run failed (or cancelled) jobs again now: JOB_IDS, or every job
    matching the filters with --yes."""
    _bulk(
        store,
        job_ids,
        _filters(job_type, priority, tags, tag_mode),
        statuses or ["failed"],
        yes,
        lambda queue, job_id: queue.retry_job(job_id),
        ("retry", "retried"),
        as_json,
    )


@jobs.command("cancel")
@store_options
@click.argument("job_ids", nargs=-1, type=click.IntRange(1))
@_filter_options
@click.option("--yes", is_flag=True, help="Go ahead with every job the filters match.")
@_json_option
def cancel_jobs(
    job_ids: tuple[int, ...],
    job_type: str | None,
    priority: int | None,
    tags: tuple[str, ...],
    tag_mode: str,
    yes: bool,
    as_json: bool,
    **store: Any,
) -> None:
    """Cancel pending or waiting jobs: JOB_IDS, or every one matching the
    filters with --yes."""
    _bulk(
        store,
        job_ids,
        _filters(job_type, priority, tags, tag_mode),
        ["pending", "waiting"],
        yes,
        lambda queue, job_id: queue.cancel_job(job_id),
        ("cancel", "cancelled"),
        as_json,
    )


@jobs.command("purge")
@store_options
@click.option(
    "--older-than",
    "days",
    required=True,
    type=click.FloatRange(0),
    help="Delete finished jobs (and events) older than this many days.",
)
@click.option("--yes", is_flag=True, help="Go ahead.")
@_json_option
def purge_jobs(days: float, yes: bool, as_json: bool, **store: Any) -> None:
    """Delete completed, cancelled and for-good failed jobs older than
    --older-than days, with their events, in batches."""
    if not yes:
        raise click.UsageError(
            f"this deletes every finished job older than {days:g} days: add --yes"
        )

    def purge(queue: dq.SyncJobQueue) -> tuple[int, int]:
        return queue.cleanup_old_jobs(days), queue.cleanup_old_job_events(days)

    deleted_jobs, deleted_events = with_queue(store, purge)
    if as_json:
        _print_json({"jobs": deleted_jobs, "events": deleted_events})
    else:
        click.echo(f"deleted {deleted_jobs} job(s) and {deleted_events} event(s)")


@click.command()
@store_options
@click.option(
    "--window",
    default=300,
    show_default=True,
    type=click.IntRange(60, 3600),
    help="Seconds of recent throughput and failures to count.",
)
@_json_option
def stats(window: int, as_json: bool, **store: Any) -> None:
    """Per job type: jobs per status, the oldest due pending job's wait,
    and throughput and failure rate over the last --window seconds."""

    def read(queue: dq.SyncJobQueue) -> tuple[list[dq.JobTypeStats], datetime]:
        return queue.get_queue_stats(window), queue.clock.now()

    found, now = with_queue(store, read)
    minutes = window / 60
    rows: list[dict[str, Any]] = []
    for entry in found:
        waited = (
            None
            if entry.oldest_pending_at is None
            else max(0.0, (now - entry.oldest_pending_at).total_seconds())
        )
        ended = entry.completed + entry.failed
        rows.append(
            {
                "job_type": entry.job_type,
                "counts": {s.value: n for s, n in entry.counts.items()},
                "oldest_pending_seconds": waited,
                "completed_per_minute": entry.completed / minutes,
                "failure_rate": entry.failed / ended if ended else 0.0,
                "completed": entry.completed,
                "failed": entry.failed,
            }
        )
    if as_json:
        _print_json({"window_seconds": window, "job_types": rows})
        return
    if not rows:
        click.echo("no jobs")
        return
    _table(
        f"jobs per type (throughput and failures over the last {window}s)",
        ["type", *STATUSES, "oldest pending", "done/min", "failure rate"],
        (
            [
                row["job_type"],
                *(str(row["counts"][s]) for s in STATUSES),
                _ago(row["oldest_pending_seconds"]),
                f"{row['completed_per_minute']:.1f}",
                f"{100 * row['failure_rate']:.0f}%",
            ]
            for row in rows
        ),
    )


@click.command()
@store_options
@click.option(
    "--worker",
    "need_worker",
    is_flag=True,
    help="Also require a live worker (one that heartbeated within --max-age).",
)
@click.option("--worker-id", help="With --worker: this worker must be the live one.")
@click.option(
    "--max-age",
    default=60.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Seconds since a worker's last heartbeat for it to count as live.",
)
@click.option(
    "--timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Seconds to wait for the store.",
)
def healthcheck(
    need_worker: bool,
    worker_id: str | None,
    max_age: float,
    timeout: float,
    **store: Any,
) -> None:
    """Exit 0 when the store answers (and, with --worker, a worker is live);
    1 when the store does not answer, 3 when no worker is live. For
    container probes."""
    url = store_url(store)
    try:
        queue = dq.connect(url, schema=store["schema"], key_prefix=store["key_prefix"])
    except (ValueError, TypeError, ImportError) as error:
        raise click.ClickException(dq.redact(str(error))) from error
    code, message = asyncio.run(
        _check(queue, need_worker or worker_id is not None, worker_id, max_age, timeout)
    )
    click.echo(dq.redact(message), err=code != HEALTHY)
    sys.exit(code)


async def _check(
    queue: dq.JobQueue,
    need_worker: bool,
    worker_id: str | None,
    max_age: float,
    timeout: float,
) -> tuple[int, str]:
    try:
        async with queue:
            try:
                await asyncio.wait_for(queue.open(), timeout)
                workers = (
                    await asyncio.wait_for(queue.list_workers(), timeout)
                    if need_worker
                    else []
                )
            except TimeoutError:
                return (
                    STORE_DOWN,
                    f"unhealthy: the store did not answer in {timeout:g}s",
                )
            except dq.DataQueueError as error:
                return STORE_DOWN, f"unhealthy: {error}"
            if not need_worker:
                return HEALTHY, "ok: the store answers"
            now = queue.clock.now()
            live = [
                w
                for w in workers
                if (now - w.last_heartbeat).total_seconds() <= max_age
                and (worker_id is None or w.id == worker_id)
            ]
            if not live:
                which = "no worker" if worker_id is None else f"worker {worker_id!r}"
                return (
                    NO_LIVE_WORKER,
                    f"unhealthy: {which} heartbeated in the last {max_age:g}s",
                )
            return HEALTHY, f"ok: the store answers; {len(live)} live worker(s)"
    except dq.DataQueueError as error:  # closing a queue whose store is gone
        return STORE_DOWN, f"unhealthy: {error}"
