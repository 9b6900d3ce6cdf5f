"""`dataqueue worker --otel --log-format json`: a real worker process
continues the trace of the request that added each job, and names the job
and the trace on every log line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import format_span_id, format_trace_id

import dataqueue as dq
import dataqueue.otel
from tests.cli.conftest import ROOT, Cluster
from tests.conftest import eventually

pytestmark = pytest.mark.slow


async def test_a_worker_process_continues_the_trace_and_logs_it(
    cluster: Cluster, tmp_path: Path
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    dataqueue.otel.instrument(provider)
    try:
        with provider.get_tracer("app").start_as_current_span("POST /signup") as web:
            sent = await cluster.queue.add_job("send", {"to": "a@x"})
        broken = await cluster.queue.add_job("broken", {}, max_attempts=1)
    finally:
        dataqueue.otel.uninstrument()
    [producer] = [s for s in exporter.get_finished_spans() if s.name == "send send"]
    trace_id = format_trace_id(web.get_span_context().trace_id)

    spans_file = tmp_path / "spans.jsonl"
    log_file = tmp_path / "worker.log"
    env = {**os.environ, "DQ_TEST_SPANS": str(spans_file)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    command = [
        sys.executable, "-m", "dataqueue", "worker", "tests.traced_jobs:handlers",
        *cluster.store_args, "--poll-interval", "0.2", "--otel",
        "--log-format", "json", "--worker-id", "traced",
    ]  # fmt: skip
    with open(log_file, "wb") as log:
        worker = subprocess.Popen(command, cwd=ROOT, env=env, stderr=log)
    try:

        async def both_ended() -> bool:
            done = await cluster.queue.get_job(sent)
            failed = await cluster.queue.get_job(broken)
            return (done is not None and done.status == dq.JobStatus.COMPLETED) and (
                failed is not None and failed.status == dq.JobStatus.FAILED
            )

        await eventually(both_ended, timeout=60)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0, log_file.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(30)

    spans = [json.loads(line) for line in spans_file.read_text().splitlines()]
    [process] = [s for s in spans if s["name"] == "process send"]
    [receive] = [s for s in spans if s["name"] == "receive send"]
    for consumer in (process, receive):
        assert consumer["trace_id"] == trace_id
        assert consumer["parent_id"] == format_span_id(producer.context.span_id)
    assert process["attributes"]["messaging.client.id"] == "traced"

    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    [handler_line] = [x for x in lines if x["message"] == "sending to a@x"]
    assert handler_line["logger"] == "app"
    assert (handler_line["job_id"], handler_line["job_type"]) == (sent, "send")
    assert (handler_line["attempt"], handler_line["worker_id"]) == (1, "traced")
    assert handler_line["trace_id"] == trace_id
    [failure] = [x for x in lines if x["job_id"] == broken and x["level"] == "ERROR"]
    assert failure["job_type"] == "broken"
    assert "smtp down" in failure["exception"]
    started = [x for x in lines if x["message"].startswith("worker traced started")]
    assert started and started[0]["job_id"] is None
