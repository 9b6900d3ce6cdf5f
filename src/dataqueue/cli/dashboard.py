"""``dataqueue dashboard``: serve the web dashboard with uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click

import dataqueue as dq
from dataqueue.cli._metrics import metrics_options, serve_metrics
from dataqueue.cli._options import (
    app_dir_option,
    env_file_option,
    import_handlers,
    load_env_file,
    resolve_url,
    url_option,
)

AUTH_ENV_VAR = "DATAQUEUE_DASHBOARD_AUTH"


@click.command()
@click.argument("handlers", metavar="MODULE:HANDLERS")
@app_dir_option
@url_option
@click.option("--schema", help="PostgreSQL schema (default: public).")
@click.option("--key-prefix", help='Redis key prefix (default: "dq:").')
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--base-path",
    default="/",
    show_default=True,
    help="URL path to serve the dashboard under.",
)
@click.option(
    "--auth",
    envvar=AUTH_ENV_VAR,
    metavar="USER:PASSWORD",
    help="Ask for these HTTP Basic credentials (needed off loopback). "
    "Prefer $DATAQUEUE_DASHBOARD_AUTH: a command line is visible to other users.",
)
@click.option(
    "--read-only",
    is_flag=True,
    help="Show everything, change nothing: no action is offered or accepted.",
)
@metrics_options
@env_file_option
def dashboard(
    handlers: str,
    app_dir: Path | None,
    url: str | None,
    schema: str | None,
    key_prefix: str | None,
    host: str,
    port: int,
    base_path: str,
    auth: str | None,
    read_only: bool,
    metrics_port: int | None,
    metrics_host: str,
    env_file: Path | None,
) -> None:
    """Serve the dashboard; "Process jobs" runs the handlers at MODULE:HANDLERS.

    Without --auth it serves loopback only, to a browser that opens the URL
    it prints (carrying a random access token made at each start), and
    refuses a --host that may bind anything but loopback.
    """
    load_env_file(env_file)
    auth = auth or os.environ.get(AUTH_ENV_VAR)
    try:
        import uvicorn

        from dataqueue.dashboard import create_app, require_auth_off_loopback
    except ImportError as error:
        raise click.ClickException(
            f"the dashboard needs its extra: pip install 'dataqueue[dashboard]' "
            f"({error})"
        ) from error
    credentials = _credentials(auth)
    try:
        require_auth_off_loopback(host, credentials)
    except ValueError as error:
        raise click.UsageError(f"{error}; here: --auth USER:PASSWORD") from None
    handler_map = import_handlers(handlers, app_dir)
    try:
        queue = dq.connect(
            resolve_url(url, required=False), schema=schema, key_prefix=key_prefix
        )
        token = None if credentials is not None else secrets.token_urlsafe(32)
        app = create_app(
            queue,
            handler_map,
            base_path=base_path,
            auth=credentials,
            access_token=token,
            read_only=read_only,
        )
    except (ValueError, TypeError, ImportError) as error:
        raise click.ClickException(str(error)) from None
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{port}{base_path.rstrip('/')}/"
    if token is None:
        click.echo(
            f"dataqueue dashboard on {url} (HTTP Basic authentication)", err=True
        )
    else:
        # As Jupyter does: whoever can read this terminal may open it.
        click.echo(
            f"dataqueue dashboard on {url} (no --auth: loopback only, with the "
            f"access token of this start)\n    open {url}?token={quote(token)}",
            err=True,
        )
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, lifespan="off"))
    # uvicorn shuts down gracefully, then raises the signal it caught again:
    # both signals then end the command with status 0.
    signal.signal(signal.SIGTERM, _exit_quietly)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            _serve(
                server,
                queue,
                None if metrics_port is None else (metrics_host, metrics_port),
            )
        )


def _exit_quietly(signum: int, frame: object) -> None:
    raise SystemExit(0)


async def _serve(
    server: Any, queue: dq.JobQueue, metrics_address: tuple[str, int] | None
) -> None:
    stop_metrics = (
        None if metrics_address is None else serve_metrics(*metrics_address, queue)
    )
    try:
        await server.serve()
    finally:
        if stop_metrics is not None:
            stop_metrics()
        await queue.close()


def _credentials(auth: str | None) -> tuple[str, str] | None:
    if auth is None:
        return None
    user, colon, password = auth.partition(":")
    if not (user and colon and password):
        raise click.BadParameter(
            "expected USER:PASSWORD with both parts non-empty", param_hint="--auth"
        )
    return user, password
