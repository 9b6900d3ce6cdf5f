"""processor.metrics() under load, and its Prometheus exposition."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

import dataqueue as dq
from dataqueue.testing import FakeClock
from tests.conftest import eventually


async def ok(payload: dict[str, int]) -> int:
    await asyncio.sleep(0)
    return payload["n"]


def boom(payload: Any) -> None:
    raise ValueError("bad input")


async def slow(payload: Any) -> None:
    await asyncio.sleep(30)


async def test_metrics_count_every_kind_of_end_under_load(queue: dq.JobQueue) -> None:
    kinds = {"ok": 160, "boom": 20, "slow": 10, "unknown": 10}
    specs = [
        dq.JobSpec(kind, {"n": n}, max_attempts=1, timeout=0.2)
        for kind, count in kinds.items()
        for n in range(count)
    ]
    await queue.add_jobs(specs)
    processor = queue.create_processor(
        {"ok": ok, "boom": boom, "slow": slow},
        concurrency=10,
        batch_size=20,
        poll_interval=0.05,
        job_type="*",  # "unknown" too: it has no handler
    )
    assert processor.metrics().concurrency == 10
    processor.start_in_background()
    try:

        async def all_counted() -> bool:
            m = processor.metrics()
            return m.completed + m.failed + m.timed_out + m.rejected == len(specs)

        await eventually(all_counted, timeout=60)
    finally:
        await processor.stop_and_drain(5)
    metrics = processor.metrics()
    assert (
        metrics.completed,
        metrics.failed,
        metrics.timed_out,
        metrics.rejected,
    ) == (160, 20, 10, 10)
    assert (metrics.active, metrics.utilization_percent) == (0, 0.0)
    assert metrics.oldest_running_seconds == 0.0
    counts = await queue.count_jobs()
    assert counts[dq.JobStatus.COMPLETED] == 160
    assert counts[dq.JobStatus.FAILED] == 40


async def test_metrics_show_what_runs_now(queue: dq.JobQueue) -> None:
    gate = asyncio.Event()

    async def hold(payload: Any) -> None:
        await gate.wait()

    await queue.add_jobs([dq.JobSpec("hold", {}) for _ in range(10)])
    processor = queue.create_processor(
        {"hold": hold}, worker_id="w-busy", concurrency=4, poll_interval=0.05
    )
    processor.start_in_background()
    try:

        async def full() -> bool:
            return processor.metrics().active == 4

        await eventually(full)
        busy = processor.metrics()
        assert busy.utilization_percent == 100.0
        await asyncio.sleep(0.05)
        assert processor.metrics().oldest_running_seconds >= 0.05
        assert busy.worker_id == "w-busy" and busy.completed == 0
        gate.set()

        async def all_done() -> bool:
            return processor.metrics().completed == 10

        await eventually(all_done)
    finally:
        gate.set()
        await processor.stop_and_drain(5)


async def test_a_running_processor_counts_start_delays_from_due_to_claim(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    await queue.add_jobs([dq.JobSpec("ok", {"n": n}) for n in range(3)])
    clock.advance(2)  # claimed (and started) 2 s after they were due
    processor = queue.create_processor({"ok": ok}, poll_interval=0.05)
    processor.start_in_background()
    try:

        async def all_done() -> bool:
            return processor.metrics().completed == 3

        await eventually(all_done)
    finally:
        await processor.stop_and_drain(5)
    delays = processor.metrics().start_delay_seconds["ok"]
    assert (sum(delays.counts), delays.total) == (3, 6.0)
    [minute] = await queue.get_minute_stats(3600)
    assert (minute.started, minute.first_starts) == (3, 3)
    assert minute.start_delay_seconds == 6.0


async def test_prometheus_collector_exposes_each_processor(
    queue: dq.JobQueue,
) -> None:
    await queue.add_jobs([dq.JobSpec("ok", {"n": n}) for n in range(3)])
    await queue.add_job("boom", {}, max_attempts=1)
    first = queue.create_processor({"ok": ok, "boom": boom}, worker_id="w-1")
    second = queue.create_processor({}, worker_id="w-2", concurrency=2)
    assert await first.start() == 4
    registry = CollectorRegistry()
    registry.register(dq.PrometheusCollector(first, second))
    text = generate_latest(registry).decode()
    samples = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert samples['dataqueue_processor_jobs_completed_total{worker_id="w-1"}'] == 3
    assert samples['dataqueue_processor_jobs_failed_total{worker_id="w-1"}'] == 1
    assert samples['dataqueue_processor_jobs_rejected_total{worker_id="w-2"}'] == 0
    assert samples['dataqueue_processor_concurrency{worker_id="w-2"}'] == 2
    assert samples['dataqueue_processor_active_jobs{worker_id="w-1"}'] == 0


def parse_samples(text: str) -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


async def test_prometheus_collector_has_histograms_and_failures_per_type(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    await queue.add_jobs([dq.JobSpec("ok", {"n": n}) for n in range(3)])
    clock.advance(2)  # the three jobs start 2 s after they were due
    await queue.add_job("boom", {}, max_attempts=1)
    processor = queue.create_processor({"ok": ok, "boom": boom}, worker_id="w")
    assert await processor.start() == 4
    registry = CollectorRegistry()
    registry.register(dq.PrometheusCollector(processor))
    samples = parse_samples(generate_latest(registry).decode())

    ok_labels = 'job_type="ok",worker_id="w"'

    def bucket(name: str, le: str) -> str:
        return f'dataqueue_job_{name}_bucket{{job_type="ok",le="{le}",worker_id="w"}}'

    assert samples[f"dataqueue_job_run_duration_seconds_count{{{ok_labels}}}"] == 3
    assert samples[bucket("run_duration_seconds", "+Inf")] == 3
    assert samples[bucket("start_delay_seconds", "1.0")] == 0
    assert samples[bucket("start_delay_seconds", "2.5")] == 3
    assert samples[f"dataqueue_job_start_delay_seconds_sum{{{ok_labels}}}"] == 6.0
    failed = (
        "dataqueue_job_failures_total"
        '{job_type="boom",reason="handler_error",worker_id="w"}'
    )
    assert samples[failed] == 1
    assert processor.metrics().failures == {("boom", "handler_error"): 1}


async def test_queue_collector_reads_the_whole_queue_from_the_store(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    await queue.add_jobs([dq.JobSpec("email", {}) for _ in range(2)])
    await queue.add_job("report", {}, run_at=clock.now() + timedelta(hours=1))
    clock.advance(90)
    registry = CollectorRegistry()
    registry.register(dq.QueueCollector(queue, max_age=0))
    # Scrapes come from another thread than the queue's loop, as
    # prometheus_client's server makes them.
    samples = parse_samples(
        (await asyncio.to_thread(generate_latest, registry)).decode()
    )

    assert samples["dataqueue_queue_up"] == 1
    assert samples['dataqueue_queue_jobs{job_type="email",status="pending"}'] == 2
    assert samples['dataqueue_queue_jobs{job_type="email",status="failed"}'] == 0
    assert samples['dataqueue_queue_jobs{job_type="report",status="pending"}'] == 1
    age = "dataqueue_queue_oldest_pending_age_seconds"
    assert samples[f'{age}{{job_type="email"}}'] == 90
    assert samples[f'{age}{{job_type="report"}}'] == 0  # not due yet

    await queue.create_processor({"email": lambda p: None}, job_type="email").start()
    samples = parse_samples(
        (await asyncio.to_thread(generate_latest, registry)).decode()
    )
    assert samples['dataqueue_queue_jobs{job_type="email",status="completed"}'] == 2


async def test_queue_collector_reuses_a_fresh_read(queue: dq.JobQueue) -> None:
    await queue.add_job("email", {})
    collector = dq.QueueCollector(queue, max_age=3600)
    registry = CollectorRegistry()
    registry.register(collector)
    await asyncio.to_thread(generate_latest, registry)
    await queue.add_job("email", {})
    samples = parse_samples(
        (await asyncio.to_thread(generate_latest, registry)).decode()
    )
    assert samples['dataqueue_queue_jobs{job_type="email",status="pending"}'] == 1


def test_queue_collector_of_an_async_queue_needs_its_loop() -> None:
    queue = dq.connect("sqlite:///:memory:")
    with pytest.raises(RuntimeError, match="needs loop="):
        dq.QueueCollector(queue)
