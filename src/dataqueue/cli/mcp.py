"""``dataqueue mcp``: serve the docs (and, with --url, a live queue) over MCP stdio."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import click

import dataqueue as dq
from dataqueue.cli._options import env_file_option, load_env_file


@click.command("mcp")
@click.option(
    "--url",
    help="Also offer read tools over the queue at this store URL "
    "(list-jobs, get-job, get-job-events, queue-stats).",
)
@click.option("--schema", help="PostgreSQL schema (default: public).")
@click.option("--key-prefix", help='Redis key prefix (default: "dq:").')
@click.option(
    "--allow-writes",
    is_flag=True,
    help="With --url, also offer retry-job and cancel-job.",
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
    if allow_writes and not url:
        raise click.UsageError("--allow-writes needs --url")
    load_env_file(env_file)
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
