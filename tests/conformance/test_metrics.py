"""processor.metrics() under load, and its Prometheus exposition."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

import dataqueue as dq
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
