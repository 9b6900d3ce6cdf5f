"""The audit trail: actions operators took that changed no job's own log
(``queue.record_action``), read back newest first and kept bounded."""

from __future__ import annotations

from datetime import timedelta

import pytest

import dataqueue as dq
from tests.conftest import FakeClock


async def test_recorded_actions_read_back_newest_first_with_their_details(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    first = clock.now()
    await queue.record_action("alice", "pause", {"job_type": "email"})
    clock.advance(2)
    await queue.record_action(
        "bob", "edit_cron", {"cron_id": 3, "changes": {"timezone": "Europe/Paris"}}
    )
    await queue.record_action("bob", "quiet_worker")  # the same instant
    actions = await queue.get_actions()
    assert [(a.who, a.action) for a in actions] == [
        ("bob", "quiet_worker"),
        ("bob", "edit_cron"),
        ("alice", "pause"),
    ]
    assert actions[1].details == {"cron_id": 3, "changes": {"timezone": "Europe/Paris"}}
    assert actions[2] == dq.RecordedAction(
        first, "alice", "pause", {"job_type": "email"}
    )
    assert actions[0].at == actions[1].at == first + timedelta(seconds=2)
    assert actions[0].details == {}
    assert [a.action for a in await queue.get_actions(1)] == ["quiet_worker"]


async def test_a_store_keeps_only_the_newest_actions(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    store = queue.backend
    for n in range(5):
        await store.record_action("ops", f"a{n}", {"n": n}, now=clock.now(), keep=3)
    assert [a.action for a in await store.get_actions(10)] == ["a4", "a3", "a2"]
    await store.record_action("ops", "a5", {}, now=clock.now(), keep=1)
    assert [a.details for a in await store.get_actions(10)] == [{}]


async def test_record_action_refuses_what_it_cannot_store(queue: dq.JobQueue) -> None:
    with pytest.raises(ValueError, match="who"):
        await queue.record_action("", "pause")
    with pytest.raises(TypeError, match="details"):
        await queue.record_action("alice", "pause", ["email"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="limit"):
        await queue.get_actions(1001)
    assert await queue.get_actions() == []
