"""``dataqueue limits show|set|clear`` and ``dataqueue pause|resume``: the
stored limits and pauses that every worker obeys (docs/flow-control.md)."""

from __future__ import annotations

import json
from typing import Any

import click

import dataqueue as dq
from dataqueue.cli._store import store_options, with_queue

UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
SHOW_COLUMNS = ("job type", "concurrency", "rate", "group concurrency", "group rate")


def _rate_text(rate: dq.Rate | None) -> str:
    return "-" if rate is None else f"{rate.count}/{rate.per:g}s"


def _cap(value: str | None, name: str) -> Any:
    """A --concurrency value: a count, or "none" to remove the limit."""
    if value is None:
        return ...
    if value.lower() == "none":
        return None
    if not value.isdigit():
        raise click.BadParameter(f"{value!r}: give a count or 'none'", param_hint=name)
    return int(value)


def _rate(value: str | None, name: str) -> Any:
    """A --rate value: COUNT/SECONDS, COUNT/s|m|h|d, or "none"."""
    if value is None:
        return ...
    if value.lower() == "none":
        return None
    count, _, per = value.partition("/")
    try:
        seconds = UNITS[per] if per in UNITS else float(per or "1")
        return dq.Rate(int(count), per=seconds)
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: give COUNT/SECONDS (100/60), COUNT/UNIT (100/m) or 'none'",
            param_hint=name,
        ) from None


@click.group()
def limits() -> None:
    """Limits per job type, kept in the store: show, set, clear."""


@limits.command("show")
@store_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def show(as_json: bool, **store: Any) -> None:
    """Every job type with a limit or a pause ("*": every type is paused)."""
    found = with_queue(store, lambda q: q.get_limits())
    if as_json:
        for row in found:
            click.echo(
                json.dumps(
                    {
                        "job_type": row.job_type,
                        "concurrency": row.concurrency,
                        "rate": None
                        if row.rate is None
                        else [row.rate.count, row.rate.per],
                        "group_concurrency": row.group_concurrency,
                        "group_rate": None
                        if row.group_rate is None
                        else [row.group_rate.count, row.group_rate.per],
                        "paused": row.paused,
                    }
                )
            )
        return
    if not found:
        click.echo("no limits and no pauses")
        return
    click.echo("\t".join((*SHOW_COLUMNS, "paused")))
    for row in found:
        click.echo(
            f"{row.job_type}\t{row.concurrency or '-'}\t{_rate_text(row.rate)}\t"
            f"{row.group_concurrency or '-'}\t{_rate_text(row.group_rate)}\t"
            f"{'paused' if row.paused else '-'}"
        )


@limits.command("set")
@click.argument("job_type")
@click.option(
    "--concurrency", help="At most this many running at once ('none': no limit)."
)
@click.option(
    "--rate", help="Starts per period: 100/60, 100/m, 5/s ('none': no limit)."
)
@click.option("--group-concurrency", help="Per group key: at most this many at once.")
@click.option("--group-rate", help="Per group key: starts per period.")
@store_options
def set_limits(
    job_type: str,
    concurrency: str | None,
    rate: str | None,
    group_concurrency: str | None,
    group_rate: str | None,
    **store: Any,
) -> None:
    """Change a job type's limits; the ones not given stay as they are."""
    given = {
        "concurrency": _cap(concurrency, "--concurrency"),
        "rate": _rate(rate, "--rate"),
        "group_concurrency": _cap(group_concurrency, "--group-concurrency"),
        "group_rate": _rate(group_rate, "--group-rate"),
    }
    changes = {name: value for name, value in given.items() if value is not ...}
    if not changes:
        raise click.UsageError("give at least one limit to set")

    def change(queue: dq.SyncJobQueue) -> dq.Limits:
        try:
            return queue.set_limits(job_type, **changes)
        except (TypeError, ValueError) as error:
            raise click.ClickException(str(error)) from error

    row = with_queue(store, change)
    click.echo(
        f"{job_type}: concurrency {row.concurrency or '-'}, "
        f"rate {_rate_text(row.rate)}, "
        f"group concurrency {row.group_concurrency or '-'}, "
        f"group rate {_rate_text(row.group_rate)}"
    )


@limits.command("clear")
@click.argument("job_type")
@store_options
def clear(job_type: str, **store: Any) -> None:
    """Remove every limit of a job type (a pause stays: see resume)."""
    with_queue(store, lambda q: q.clear_limits(job_type))
    click.echo(f"{job_type}: no limits")


@click.command()
@click.argument("job_type", required=False)
@store_options
def pause(job_type: str | None, **store: Any) -> None:
    """Stop claiming JOB_TYPE (no argument: every type); running jobs finish."""
    with_queue(store, lambda q: q.pause(job_type))
    click.echo(f"paused {job_type or 'every job type'}")


@click.command()
@click.argument("job_type", required=False)
@store_options
def resume(job_type: str | None, **store: Any) -> None:
    """Claim JOB_TYPE again (no argument: end every pause)."""
    with_queue(store, lambda q: q.resume(job_type))
    click.echo(f"resumed {job_type or 'every job type'}")
