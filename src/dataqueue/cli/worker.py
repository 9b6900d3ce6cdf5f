"""``dataqueue worker``: run a processor and a supervisor until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from dataqueue import redact
from dataqueue.cli._metrics import metrics_options, serve_metrics
from dataqueue.cli._options import (
    app_dir_option,
    env_file_option,
    import_handlers,
    load_env_file,
    resolve_url,
    url_option,
)
from dataqueue.connect import DEFAULT_URL, connect
from dataqueue.errors import DataQueueError, StoreUnavailableError
from dataqueue.joblog import JsonFormatter
from dataqueue.queue import JobQueue

logger = logging.getLogger("dataqueue")


@click.command()
@click.argument("handlers", metavar="MODULE:HANDLERS")
@app_dir_option
@url_option
@click.option("--schema", help="PostgreSQL schema (default: public).")
@click.option("--key-prefix", help='Redis key prefix (default: "dq:").')
@click.option("--concurrency", default=3, show_default=True, type=click.IntRange(1))
@click.option(
    "--group-concurrency",
    type=click.IntRange(1),
    help="At most this many jobs of one group key at once, across every worker.",
)
@click.option("--batch-size", default=10, show_default=True, type=click.IntRange(1))
@click.option(
    "--poll-interval", default=5.0, show_default=True, type=click.FloatRange(0)
)
@click.option(
    "--job-type",
    multiple=True,
    help="Only run these job types (default: those with a handler; '*': all).",
)
@click.option("--worker-id", help="Name of this worker (default: host-pid-random).")
@click.option("--no-supervisor", is_flag=True, help="Do not run maintenance here.")
@click.option(
    "--stuck-minutes",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Reclaim jobs whose worker sent no heartbeat for this long.",
)
@click.option(
    "--heartbeat-interval",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Seconds between lease refreshes of running jobs.",
)
@click.option(
    "--drain-timeout",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds to let running jobs finish after SIGTERM.",
)
@metrics_options
@click.option(
    "--queue-metrics/--no-queue-metrics",
    default=True,
    show_default=True,
    help="Serve the whole queue's gauges (read from the store) on --metrics-port; "
    "on a large queue, keep them on one process only.",
)
@click.option(
    "--log-format",
    default="text",
    show_default=True,
    type=click.Choice(["text", "json"]),
    help="json: one object per line with job_id, job_type, attempt, trace_id.",
)
@click.option(
    "--otel",
    is_flag=True,
    help="Trace jobs with OpenTelemetry (needs dataqueue[otel] and a tracer "
    "provider, e.g. from opentelemetry-instrument).",
)
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
)
@env_file_option
def worker(
    handlers: str,
    app_dir: Path | None,
    url: str | None,
    schema: str | None,
    key_prefix: str | None,
    concurrency: int,
    group_concurrency: int | None,
    batch_size: int,
    poll_interval: float,
    job_type: tuple[str, ...],
    worker_id: str | None,
    no_supervisor: bool,
    stuck_minutes: float,
    heartbeat_interval: float,
    drain_timeout: float,
    metrics_port: int | None,
    metrics_host: str,
    log_format: str,
    otel: bool,
    queue_metrics: bool,
    log_level: str,
    env_file: Path | None,
) -> None:
    """Run jobs with the handlers dict at MODULE:HANDLERS until stopped.

    SIGTERM or Ctrl-C stops claiming, lets running jobs finish for
    --drain-timeout seconds, gives the rest back and exits 0; a second
    signal exits at once (its jobs are reclaimed once their lease is stale).
    """
    load_env_file(env_file)
    configure_logging(log_level, log_format)
    handler_map = import_handlers(handlers, app_dir)
    if otel:
        try:
            from dataqueue.otel import instrument
        except ImportError as error:
            raise click.ClickException(
                f"--otel needs: pip install 'dataqueue[otel]' ({error})"
            ) from None
        instrument()
    asyncio.run(
        run_worker(
            handler_map,
            url=resolve_url(url, required=False),
            schema=schema,
            key_prefix=key_prefix,
            concurrency=concurrency,
            group_concurrency=group_concurrency,
            batch_size=batch_size,
            poll_interval=poll_interval,
            job_types=list(job_type) or None,
            worker_id=worker_id,
            supervise=not no_supervisor,
            stuck_minutes=stuck_minutes,
            heartbeat_interval=heartbeat_interval,
            drain_timeout=drain_timeout,
            metrics_address=None
            if metrics_port is None
            else (metrics_host, metrics_port),
            queue_metrics=queue_metrics,
        )
    )


STARTUP_BACKOFF_MAX = 5.0
SECOND_SIGNAL_EXIT_CODE = 1


def _on_signal(stop: asyncio.Event) -> None:
    """The first signal drains; a second one exits at once."""
    if not stop.is_set():
        stop.set()
        return
    logger.warning(
        "second signal: exiting now; the jobs still running are reclaimed "
        "once their lease goes stale"
    )
    logging.shutdown()
    os._exit(SECOND_SIGNAL_EXIT_CODE)


def configure_logging(level: str, log_format: str) -> None:
    """Log to stderr as text, or as JSON lines that name each line's job."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter()
        if log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    logging.basicConfig(level=level, handlers=[handler])


async def wait_for_store(queue: JobQueue, stop: asyncio.Event) -> bool:
    """Open the store, retrying while it is still starting (one line per
    try); a permanent refusal ends the command at once. False if stopped."""
    delay = 0.2
    tries = 0
    while not stop.is_set():
        try:
            await queue.open()
        except StoreUnavailableError as error:
            tries += 1
            logger.warning(
                "store not reachable yet (try %d, next in %.1fs): %s",
                tries,
                delay,
                error,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, STARTUP_BACKOFF_MAX)
            continue
        except DataQueueError as error:
            raise click.ClickException(str(error)) from None
        if tries:
            logger.info(
                "store reachable after %d tr%s", tries, "y" if tries == 1 else "ies"
            )
        return True
    return False


async def run_worker(
    handlers: Mapping[str, Any],
    *,
    url: str | None,
    schema: str | None,
    key_prefix: str | None,
    concurrency: int,
    group_concurrency: int | None = None,
    batch_size: int,
    poll_interval: float,
    job_types: list[str] | None,
    worker_id: str | None,
    supervise: bool,
    stuck_minutes: float,
    heartbeat_interval: float,
    drain_timeout: float,
    metrics_address: tuple[str, int] | None = None,
    queue_metrics: bool = True,
) -> None:
    try:
        queue = connect(url, schema=schema, key_prefix=key_prefix)
        processor = queue.create_processor(
            handlers,
            worker_id=worker_id,
            batch_size=batch_size,
            concurrency=concurrency,
            group_concurrency=group_concurrency,
            poll_interval=poll_interval,
            job_type=job_types,
            heartbeat_interval=heartbeat_interval,
        )
    except (ValueError, TypeError, ImportError) as error:
        raise click.ClickException(str(error)) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _on_signal, stop)
    async with queue:
        if not await wait_for_store(queue, stop):
            return
        supervisor = (
            queue.create_supervisor(
                interval=min(60.0, stuck_minutes * 60 / 2),
                stuck_jobs_timeout_minutes=stuck_minutes,
            )
            if supervise
            else None
        )
        stop_metrics = (
            None
            if metrics_address is None
            else serve_metrics(
                *metrics_address, queue if queue_metrics else None, processor
            )
        )
        processor.start_in_background()
        if supervisor is not None:
            supervisor.start_in_background()
        logger.info(
            "worker %s started on %s (%s), concurrency %d, for %s",
            processor.worker_id,
            redact(url or DEFAULT_URL),
            queue.backend.name,
            concurrency,
            ", ".join(job_types or sorted(handlers)),
        )
        await stop.wait()
        logger.info("worker %s stopping: draining running jobs", processor.worker_id)
        await processor.stop_and_drain(drain_timeout)
        if supervisor is not None:
            await supervisor.stop_and_drain(drain_timeout)
        if stop_metrics is not None:
            stop_metrics()
    logger.info("worker %s stopped", processor.worker_id)
