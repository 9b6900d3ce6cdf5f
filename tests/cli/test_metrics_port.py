"""`dataqueue worker --metrics-port`: a real worker process serves its
processor's Prometheus metrics over HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import signal
import urllib.error
import urllib.request

import pytest

import dataqueue as dq
from tests.cli.conftest import Cluster
from tests.conftest import eventually

pytestmark = pytest.mark.slow


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


@pytest.mark.parametrize("store", ["sqlite"])
async def test_a_worker_serves_its_metrics(
    cluster: Cluster, free_tcp_port: int
) -> None:
    total = 20
    await cluster.queue.add_jobs([dq.JobSpec("count", {"n": n}) for n in range(total)])
    await cluster.queue.add_job("nobody", {}, max_attempts=1)
    url = f"http://127.0.0.1:{free_tcp_port}/metrics"
    options = ("--metrics-port", str(free_tcp_port), "--worker-id", "metered")
    options += ("--job-type", "*")  # "nobody" too: it has no handler
    with cluster.worker(*options) as worker:
        text = ""

        async def all_counted() -> bool:
            nonlocal text
            try:
                text = await asyncio.to_thread(scrape, url)
            except OSError:
                return False  # not listening yet
            # the queue's lines are read from the store at most every 5 s
            return (
                'dataqueue_processor_jobs_completed_total{worker_id="metered"} 20.0'
                in text
                and 'dataqueue_queue_jobs{job_type="count",status="completed"} 20.0'
                in text
            )

        await eventually(all_counted, timeout=60)
        assert (
            'dataqueue_processor_jobs_rejected_total{worker_id="metered"} 1.0' in text
        )
        assert 'dataqueue_processor_concurrency{worker_id="metered"} 3.0' in text
        # the whole queue, read from the store
        assert 'dataqueue_queue_jobs{job_type="nobody",status="failed"} 1.0' in text
        assert 'job_type="count",le="+Inf",worker_id="metered"} 20.0' in text
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0, cluster.logs()
    with pytest.raises(urllib.error.URLError, match="refused"):
        scrape(url)  # stopped with the worker


@pytest.mark.parametrize("store", ["sqlite"])
async def test_no_queue_metrics_leaves_the_store_alone(
    cluster: Cluster, free_tcp_port: int
) -> None:
    await cluster.queue.add_job("count", {"n": 1})
    url = f"http://127.0.0.1:{free_tcp_port}/metrics"
    options = ("--metrics-port", str(free_tcp_port), "--no-queue-metrics")
    with cluster.worker(*options, "--worker-id", "quiet") as worker:
        text = ""

        async def counted() -> bool:
            nonlocal text
            try:
                text = await asyncio.to_thread(scrape, url)
            except OSError:
                return False
            return 'jobs_completed_total{worker_id="quiet"} 1.0' in text

        await eventually(counted, timeout=60)
        assert "dataqueue_queue_" not in text
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0, cluster.logs()
