"""A flow run by real `dataqueue worker` processes, one of them killed
mid-step: the join runs exactly once, with every step's result."""

from __future__ import annotations

import signal
from collections import Counter

import pytest

import dataqueue as dq
from tests.cli.conftest import Cluster
from tests.conftest import eventually

pytestmark = pytest.mark.slow

STEPS = 1000


async def test_a_thousand_step_flow_on_three_workers_joins_once(
    cluster: Cluster,
) -> None:
    flow_id = await cluster.queue.start_flow(
        [dq.JobSpec("hold", {"n": n, "seconds": 0.02}) for n in range(STEPS)],
        dq.JobSpec("flow_join"),
    )
    options = ("--concurrency", "8", "--batch-size", "20", "--stuck-minutes", "0.02")
    options += ("--heartbeat-interval", "0.2")
    with (
        cluster.worker(*options) as first,
        cluster.worker(*options) as second,
        cluster.worker(*options) as doomed,
    ):

        async def well_under_way() -> bool:
            return len(cluster.runs("start")) >= STEPS // 4

        await eventually(well_under_way, timeout=120)
        # Killed with steps in flight: they are reclaimed and run again.
        doomed.kill()
        doomed.wait(10)

        async def joined() -> bool:
            return bool(cluster.runs("join"))

        await eventually(joined, timeout=240)
        for worker in (first, second):
            worker.send_signal(signal.SIGTERM)
        for worker in (first, second):
            assert worker.wait(30) == 0, cluster.logs()

    assert cluster.runs("join") == Counter({STEPS: 1}), cluster.logs()
    assert sorted(cluster.runs()) == list(range(STEPS))
    flow = await cluster.queue.get_flow(flow_id)
    assert flow is not None
    assert flow.status is dq.FlowStatus.JOINED and flow.remaining_steps == 0
    assert [step.outcome for step in flow.steps] == ["success"] * STEPS
    assert flow.join_job_id is not None
    join = await cluster.queue.get_job(flow.join_job_id)
    assert join is not None and join.output == STEPS
