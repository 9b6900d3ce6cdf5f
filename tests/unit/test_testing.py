"""dq.testing's helpers beyond the clock."""

from __future__ import annotations

import uuid

import dataqueue as dq
from dataqueue.testing import wait_for_listeners_sync


def test_wait_for_listeners_sync_returns_once_listeners_ran() -> None:
    seen: list[dq.QueueEvent] = []
    with dq.connect_sync(f"memory://{uuid.uuid4().hex}") as queue:
        queue.on("job:added", seen.append)
        job_id = queue.add_job("email", {})
        wait_for_listeners_sync(queue)
        assert [e.job_id for e in seen] == [job_id]
