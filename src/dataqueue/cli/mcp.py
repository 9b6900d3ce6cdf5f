"""``dataqueue mcp``: serve the docs (and, given a store URL, a live queue) over
MCP stdio. The URL comes from ``$DATAQUEUE_URL`` (or an ``--env-file``), so
neither the command line (``ps``) nor the client's config holds it."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import click

import dataqueue as dq
from dataqueue.cli._options import env_file_option, load_env_file, resolve_url


@click.command("mcp")
@click.option(
    "--url",
    help="Store URL for the read tools (list-jobs, get-job, get-job-events, "
    "queue-stats). Default: $DATAQUEUE_URL, then $PG_DATAQUEUE_DATABASE; prefer "
    "them (or --env-file): a command line is visible to other users.",
)
@click.option("--schema", help="PostgreSQL schema (default: public).")
@click.option("--key-prefix", help='Redis key prefix (default: "dq:").')
@click.option(
    "--allow-writes",
    is_flag=True,
    help="With a store URL, also offer retry-job and cancel-job.",
)
@env_file_option
def mcp(
    url: str | None,
    schema: str | None,
    key_prefix: str | None,
    allow_writes: bool,
    env_file: Path | None,
) -> None:
    """Run the dataqueue MCP server on stdin/stdout for an AI assistant."""
    try:
        from dataqueue.mcp import create_server
    except ImportError as error:
        raise click.ClickException(
            f"the MCP server needs its extra: pip install 'dataqueue[mcp]' ({error})"
        ) from error
    load_env_file(env_file)
    url = resolve_url(url, required=False)
    if allow_writes and not url:
        raise click.UsageError(
            "--allow-writes needs a store URL: set $DATAQUEUE_URL (or --env-file)"
        )
    # stdout carries the protocol: logs go to stderr, warnings and worse only.
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        queue = dq.connect(url, schema=schema, key_prefix=key_prefix) if url else None
    except (ValueError, ImportError) as error:
        raise click.BadParameter(str(error), param_hint="--url") from error
    server = create_server(queue, allow_writes=allow_writes)
    asyncio.run(server.run_stdio_async())
