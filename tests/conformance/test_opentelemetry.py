"""OpenTelemetry: the producer's context is stored with the job, so each
attempt's spans continue the trace of the request that added it; the queue's
and processors' numbers as observable instruments."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode

import dataqueue as dq
import dataqueue.otel
from dataqueue.testing import FakeClock


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    dataqueue.otel.instrument(provider)
    try:
        yield exporter
    finally:
        dataqueue.otel.uninstrument()


def named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == name]


def request_span() -> Any:
    provider = TracerProvider()
    return provider.get_tracer("app").start_as_current_span("POST /signup")


def boom(payload: Any) -> None:
    raise ValueError("smtp down")


async def test_a_handler_span_continues_the_request_that_added_the_job(
    queue: dq.JobQueue, spans: InMemorySpanExporter
) -> None:
    from opentelemetry import trace

    seen: list[str] = []

    def send(payload: Any) -> None:
        context = trace.get_current_span().get_span_context()
        seen.append(trace.format_trace_id(context.trace_id))

    with request_span() as request:
        job_id = await queue.add_job("email", {"to": "a@x"})
    await queue.create_processor({"email": send}, worker_id="w-1").start()

    [producer] = named(spans, "send email")
    [receive] = named(spans, "receive email")
    [process] = named(spans, "process email")
    trace_id = request.get_span_context().trace_id
    assert producer.context.trace_id == trace_id
    assert producer.kind is SpanKind.PRODUCER
    assert producer.attributes["messaging.message.id"] == str(job_id)
    assert producer.attributes["messaging.system"] == "dataqueue"
    assert producer.attributes["messaging.operation.type"] == "send"
    for consumer, operation in ((receive, "receive"), (process, "process")):
        assert consumer.kind is SpanKind.CONSUMER
        assert consumer.context.trace_id == trace_id
        assert consumer.parent is not None
        assert consumer.parent.span_id == producer.context.span_id
        assert [link.context.span_id for link in consumer.links] == [
            producer.context.span_id
        ]
        assert consumer.attributes["messaging.operation.type"] == operation
        assert consumer.attributes["messaging.destination.name"] == "email"
        assert consumer.attributes["messaging.message.id"] == str(job_id)
        assert consumer.attributes["messaging.client.id"] == "w-1"
    assert seen == [trace.format_trace_id(trace_id)]


async def test_every_attempt_of_a_retried_job_is_in_its_trace(
    queue: dq.JobQueue, spans: InMemorySpanExporter, clock: FakeClock
) -> None:
    with request_span() as request:
        await queue.add_job("email", {}, max_attempts=2, retry_delay=10)
    processor = queue.create_processor({"email": boom})
    await processor.start()
    clock.advance(60)
    await processor.start()

    attempts = named(spans, "process email")
    assert [s.attributes["dataqueue.job.attempt"] for s in attempts] == [1, 2]
    trace_id = request.get_span_context().trace_id
    assert {s.context.trace_id for s in attempts} == {trace_id}
    assert all(s.status.status_code is StatusCode.ERROR for s in attempts)
    assert attempts[0].events[0].name == "exception"


async def test_a_flow_join_and_a_resumed_wait_stay_in_the_trace(
    queue: dq.JobQueue, spans: InMemorySpanExporter, clock: FakeClock
) -> None:
    async def nap(payload: Any, ctx: dq.JobContext) -> None:
        await ctx.wait_for(seconds=30)

    with request_span() as request:
        await queue.start_flow(
            steps=[dq.JobSpec("nap", {}), dq.JobSpec("nap", {})],
            join=dq.JobSpec("done", {}),
        )
    processor = queue.create_processor({"nap": nap, "done": lambda p: None})
    await processor.start()
    clock.advance(31)
    await processor.start()
    await processor.start()

    trace_id = request.get_span_context().trace_id
    [producer] = named(spans, "send nap")
    assert producer.attributes["messaging.batch.message_count"] == 2
    naps = named(spans, "process nap")
    assert len(naps) == 4  # two steps, each before and after its wait
    [join] = named(spans, "process done")
    for span in [*naps, join]:
        assert span.context.trace_id == trace_id
        assert span.parent is not None
        assert span.parent.span_id == producer.context.span_id


async def test_without_instrument_no_span_and_no_trace_context(
    queue: dq.JobQueue,
) -> None:
    job_id = await queue.add_job("email", {})
    [added] = await queue.get_job_events(job_id)
    assert added.metadata == {"job_type": "email"}


def test_dataqueue_never_imports_opentelemetry_unless_asked() -> None:
    script = (
        "import asyncio, sys, dataqueue as dq\n"
        "async def main():\n"
        "    async with dq.connect('sqlite:///:memory:') as q:\n"
        "        await q.add_job('a', {})\n"
        "        assert await q.create_processor({'a': lambda p: None}).start() == 1\n"
        "asyncio.run(main())\n"
        "assert not [m for m in sys.modules if m.startswith('opentelemetry')]\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def points(reader: InMemoryMetricReader) -> dict[str, dict[tuple[Any, ...], float]]:
    """metric name -> sorted attribute items -> value, of one collection."""
    data = reader.get_metrics_data()
    assert data is not None
    found: dict[str, dict[tuple[Any, ...], float]] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    key = tuple(sorted((point.attributes or {}).items()))
                    found.setdefault(metric.name, {})[key] = point.value  # type: ignore[union-attr]
    return found


async def test_opentelemetry_metrics_of_the_queue_and_its_processors(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    await queue.add_jobs([dq.JobSpec("email", {}) for _ in range(2)])
    await queue.add_job("report", {}, max_attempts=1)
    clock.advance(30)
    processor = queue.create_processor(
        {"report": boom}, worker_id="w", job_type="report"
    )
    await processor.start()
    dataqueue.otel.observe_queue(queue, meter_provider=provider, max_age=0)
    dataqueue.otel.observe_processor(processor, meter_provider=provider)

    # the reader calls back from its own thread, as a periodic reader does
    found = await asyncio.to_thread(points, reader)

    jobs = found["dataqueue.queue.jobs"]
    assert jobs[(("job_type", "email"), ("status", "pending"))] == 2
    assert jobs[(("job_type", "report"), ("status", "failed"))] == 1
    oldest = found["dataqueue.queue.oldest_pending_age"]
    assert oldest[(("job_type", "email"),)] == 30
    outcomes = found["dataqueue.processor.jobs"]
    assert outcomes[(("outcome", "failed"), ("worker_id", "w"))] == 1
    failures = found["dataqueue.job.failures"]
    key = (("job_type", "report"), ("reason", "handler_error"), ("worker_id", "w"))
    assert failures[key] == 1
    assert found["dataqueue.processor.active_jobs"][(("worker_id", "w"),)] == 0


def test_a_blocking_queue_adds_under_the_callers_span(
    spans: InMemorySpanExporter, tmp_path: Path
) -> None:
    with dq.connect_sync(f"sqlite:///{tmp_path / 'jobs.db'}") as queue:
        with request_span() as request:  # a sync web app's request
            queue.add_job("email", {})
        queue.create_processor({"email": lambda p: None}).start()
    [producer] = named(spans, "send email")
    [process] = named(spans, "process email")
    assert producer.parent is not None
    assert producer.parent.span_id == request.get_span_context().span_id
    assert process.context.trace_id == request.get_span_context().trace_id
