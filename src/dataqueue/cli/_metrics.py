"""``--metrics-port``: Prometheus metrics of the whole queue (and of a
worker's processor) served from a thread, for ``worker`` and ``dashboard``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import click

from dataqueue import JobQueue, Processor, PrometheusCollector, QueueCollector

logger = logging.getLogger("dataqueue")

F = TypeVar("F", bound=Callable[..., object])


def metrics_options(command: F) -> F:
    command = click.option(
        "--metrics-host",
        default="127.0.0.1",
        show_default=True,
        help="Address the metrics endpoint listens on.",
    )(command)
    return click.option(
        "--metrics-port",
        type=click.IntRange(1, 65535),
        help="Serve Prometheus metrics on this port (needs dataqueue[prometheus]).",
    )(command)


def serve_metrics(
    host: str, port: int, queue: JobQueue | None, processor: Processor | None = None
) -> Callable[[], None]:
    """Serve the whole queue's metrics (read from the store; None: not
    these) and the processor's at ``http://host:port/metrics`` from a
    thread; returns the function that stops serving. Call it on the queue's
    event loop."""
    try:
        from prometheus_client import CollectorRegistry, start_http_server
    except ImportError as error:
        raise click.ClickException(
            f"--metrics-port needs: pip install 'dataqueue[prometheus]' ({error})"
        ) from None
    registry = CollectorRegistry()
    if queue is not None:
        registry.register(QueueCollector(queue))
    if processor is not None:
        registry.register(PrometheusCollector(processor))
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as error:
        raise click.ClickException(
            f"cannot serve metrics on {host}:{port}: {error}"
        ) from None
    logger.info("metrics at http://%s:%d/metrics", host, port)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join()

    return stop
