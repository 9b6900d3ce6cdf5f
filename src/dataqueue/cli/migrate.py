"""``dataqueue migrate``: create or upgrade the schema."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from dataqueue import redact
from dataqueue.cli._options import (
    env_file_option,
    load_env_file,
    resolve_url,
    url_option,
)
from dataqueue.connect import connect


@click.command()
@url_option
@click.option("--schema", help="PostgreSQL schema to create and use (default: public).")
@click.option("--key-prefix", help='Redis key prefix (default: "dq:").')
@click.option(
    "--partitioned",
    is_flag=True,
    help="PostgreSQL: keep events in one partition per day, so that cleanup "
    "drops whole days (docs/scaling.md). Kept from then on.",
)
@env_file_option
def migrate(
    url: str | None,
    schema: str | None,
    key_prefix: str | None,
    partitioned: bool,
    env_file: Path | None,
) -> None:
    """Create or upgrade dataqueue's tables (on Redis: its indexes, and the
    names of keys of an earlier layout). Safe to run again."""
    load_env_file(env_file)
    resolved = resolve_url(url, required=True)
    assert resolved is not None

    async def run() -> list[str]:
        queue = connect(resolved, schema=schema, key_prefix=key_prefix)
        try:
            return await queue.migrate(partitioned=partitioned)
        finally:
            await queue.close()

    try:
        applied = asyncio.run(run())
    except (ValueError, ImportError) as error:
        raise click.ClickException(str(error)) from error
    except Exception as error:
        raise click.ClickException(
            redact(f"could not migrate {resolved}: {error}")
        ) from error
    where = redact(resolved) + (f" (schema {schema})" if schema else "")
    if applied:
        count = f"{len(applied)} migration{'s' if len(applied) > 1 else ''}"
        click.echo(f"applied {count} at {where}: {', '.join(applied)}")
    else:
        click.echo(f"dataqueue schema is up to date at {where}: nothing to apply")
