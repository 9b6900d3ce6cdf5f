"""Durable execution: steps, time waits, tokens, cancel, on every store.

Time is moved with the fake clock; nothing here sleeps to let a wait pass.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import dataqueue as dq
from dataqueue._commands import ClaimRequest, Lease, NewToken, Suspension
from dataqueue.testing import FakeClock
from tests.conftest import (
    PROCESS_STORES,
    drop_namespace,
    eventually,
    namespace,
    open_store,
    store_options,
)


async def job_of(queue: dq.JobQueue, job_id: int) -> dq.JobRecord:
    job = await queue.get_job(job_id)
    assert job is not None
    return job


async def event_types(queue: dq.JobQueue, job_id: int) -> list[str]:
    return [e.event_type.value for e in await queue.get_job_events(job_id)]


async def run_once(queue: dq.JobQueue, handlers: dict[str, Any]) -> int:
    return await queue.create_processor(handlers, heartbeat_interval=3600).start()


# -- steps and time waits ------------------------------------------------------


async def test_steps_replay_across_a_week_long_wait(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    job_id = await queue.add_job("onboard", {"user": "ann"})
    calls: Counter[str] = Counter()

    async def send(what: str) -> str:
        calls[what] += 1
        return f"sent {what}"

    async def onboard(payload: dict[str, str], ctx: dq.JobContext) -> list[Any]:
        welcome = await ctx.run("welcome", lambda: send("welcome"))
        await ctx.wait_for(days=7)
        count = await ctx.run("count", lambda: calls["welcome"])
        survey = await ctx.run("survey", lambda: send("survey"))
        return [welcome, count, survey]

    assert await run_once(queue, {"onboard": onboard}) == 1
    job = await job_of(queue, job_id)
    assert job.status is dq.JobStatus.WAITING
    assert job.wait_until == clock.now() + timedelta(days=7)
    assert (job.attempts, job.locked_by) == (0, None)
    assert job.step_data is not None and job.step_data["welcome"] == "sent welcome"
    assert await queue.get_jobs(status="waiting") == [job]

    clock.advance(timedelta(days=7) - timedelta(seconds=1))
    assert await run_once(queue, {"onboard": onboard}) == 0
    clock.advance(1)
    assert await run_once(queue, {"onboard": onboard}) == 1

    job = await job_of(queue, job_id)
    assert job.status is dq.JobStatus.COMPLETED
    assert job.output == ["sent welcome", 1, "sent survey"]
    assert calls == {"welcome": 1, "survey": 1}
    assert job.attempts == 1
    assert await event_types(queue, job_id) == [
        "added",
        "processing",
        "waiting",
        "resumed",
        "processing",
        "completed",
    ]
    events = await queue.get_job_events(job_id)
    assert job.wait_until is not None
    assert events[2].metadata == {"wait_until": job.wait_until.isoformat()}
    assert events[3].metadata == {"wait_until": job.wait_until.isoformat()}


async def test_a_wait_until_with_microseconds_resumes_with_it_as_isoformat(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    job_id = await queue.add_job("t", {})
    until = clock.now() + timedelta(seconds=1, microseconds=250)

    async def handler(payload: Any, ctx: dq.JobContext) -> str:
        await ctx.wait_until(until)
        return "woke"

    await run_once(queue, {"t": handler})
    clock.advance(2)
    await run_once(queue, {"t": handler})
    assert (await job_of(queue, job_id)).output == "woke"
    events = await queue.get_job_events(job_id)
    assert [e.event_type.value for e in events][3] == "resumed"
    assert events[3].metadata == {"wait_until": until.isoformat()}


async def test_sync_steps_and_async_steps_in_a_def_handler(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    job_id = await queue.add_job("t", {})
    calls: Counter[str] = Counter()

    async def fetch() -> dict[str, int]:
        calls["fetch"] += 1
        return {"n": 2}

    def handler(payload: Any, ctx: dq.SyncJobContext) -> int:
        data = ctx.run("fetch", fetch)
        ctx.wait_for(hours=1)
        doubled = ctx.run("double", lambda: data["n"] * 2)
        calls["double"] += 1
        return int(doubled)

    await run_once(queue, {"t": handler})
    assert (await job_of(queue, job_id)).status is dq.JobStatus.WAITING
    clock.advance(3600)
    await run_once(queue, {"t": handler})
    job = await job_of(queue, job_id)
    assert (job.status, job.output) == (dq.JobStatus.COMPLETED, 4)
    assert calls == {"fetch": 1, "double": 1}


async def test_a_duplicate_step_name_fails_the_job_naming_the_step(
    queue: dq.JobQueue,
) -> None:
    job_id = await queue.add_job("t", {}, max_attempts=1)

    async def handler(payload: Any, ctx: dq.JobContext) -> None:
        await ctx.run("charge", lambda: 1)
        await ctx.run("charge", lambda: 2)

    await run_once(queue, {"t": handler})
    job = await job_of(queue, job_id)
    assert job.status is dq.JobStatus.FAILED
    assert "'charge'" in job.error_history[-1]["message"]
    assert "unique" in job.error_history[-1]["message"]


async def test_a_non_json_step_result_fails_at_the_step_naming_it_and_the_value(
    queue: dq.JobQueue,
) -> None:
    job_id = await queue.add_job("t", {}, max_attempts=1)
    after: list[str] = []

    async def handler(payload: Any, ctx: dq.JobContext) -> None:
        await ctx.run("when", lambda: {1, 2})
        after.append("went on")

    await run_once(queue, {"t": handler})
    job = await job_of(queue, job_id)
    message = job.error_history[-1]["message"]
    assert "'when'" in message and "{1, 2}" in message
    assert after == [] and job.step_data in (None, {})


async def test_a_stale_attempt_cannot_write_a_step_result(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    job_id = await queue.add_job("t", {})
    started, release = asyncio.Event(), asyncio.Event()
    contexts: list[dq.JobContext] = []

    async def stale(payload: Any, ctx: dq.JobContext) -> None:
        contexts.append(ctx)
        started.set()
        await release.wait()
        await ctx.run("step", lambda: "stale")

    first = queue.create_processor({"t": stale}, heartbeat_interval=3600)
    run = asyncio.create_task(first.start())
    await asyncio.wait_for(started.wait(), 10)
    clock.advance(120)
    assert await queue.reclaim_stuck_jobs(1) == 1
    release.set()
    assert await asyncio.wait_for(run, 10) == 0
    job = await job_of(queue, job_id)
    assert job.status is dq.JobStatus.PENDING
    assert job.step_data in (None, {})
    assert contexts[0].signal.reason == "lease_lost"


async def test_a_waiting_job_frees_its_slot_at_once(queue: dq.JobQueue) -> None:
    waiter = await queue.add_job("wait", {}, priority=10)
    others = await queue.add_jobs([dq.JobSpec("quick", {}) for _ in range(3)])

    async def wait(payload: Any, ctx: dq.JobContext) -> None:
        await ctx.wait_for(hours=1)

    async def quick(payload: Any) -> None:
        return None

    processor = queue.create_processor(
        {"wait": wait, "quick": quick}, concurrency=1, batch_size=1, poll_interval=30
    )
    processor.start_in_background()
    try:

        async def all_quick_done() -> bool:
            jobs = [await job_of(queue, i) for i in others]
            return all(j.status is dq.JobStatus.COMPLETED for j in jobs)

        await eventually(all_quick_done)
    finally:
        await processor.stop_and_drain(5)
    assert (await job_of(queue, waiter)).status is dq.JobStatus.WAITING


async def test_zero_and_past_waits_do_not_suspend_and_naive_dates_are_rejected(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    job_id = await queue.add_job("t", {}, max_attempts=1)
    naive_id = await queue.add_job("naive", {}, max_attempts=1)

    async def handler(payload: Any, ctx: dq.JobContext) -> str:
        await ctx.wait_for(0)
        await ctx.wait_for(seconds=0, days=0)
        await ctx.wait_until(clock.now() - timedelta(days=1))
        await ctx.wait_until(clock.now())
        return "straight through"

    async def naive(payload: Any, ctx: dq.JobContext) -> None:
        await ctx.wait_until(datetime(2031, 1, 1))

    await run_once(queue, {"t": handler, "naive": naive})
    job = await job_of(queue, job_id)
    assert (job.status, job.output) == (dq.JobStatus.COMPLETED, "straight through")
    assert "waiting" not in await event_types(queue, job_id)
    failed = await job_of(queue, naive_id)
    assert failed.status is dq.JobStatus.FAILED
    assert "timezone-aware" in failed.error_history[-1]["message"]


async def test_wait_for_adds_its_parts_months_are_30_days_years_365(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    job_id = await queue.add_job("t", {})

    async def handler(payload: Any, ctx: dq.JobContext) -> None:
        await ctx.wait_for(
            timedelta(seconds=1),
            seconds=1,
            minutes=1,
            hours=1,
            days=1,
            weeks=1,
            months=1,
            years=1,
        )

    await run_once(queue, {"t": handler})
    expected = timedelta(seconds=2, minutes=1, hours=1, days=1 + 7 + 30 + 365)
    assert (await job_of(queue, job_id)).wait_until == clock.now() + expected


async def test_waits_are_passed_by_position_and_each_wait_suspends_once(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    job_id = await queue.add_job("t", {})
    reached: list[int] = []

    async def handler(payload: Any, ctx: dq.JobContext) -> str:
        for n in range(3):
            reached.append(n)
            await ctx.wait_for(minutes=10)
        return "done"

    for _ in range(3):
        await run_once(queue, {"t": handler})
        assert (await job_of(queue, job_id)).status is dq.JobStatus.WAITING
        clock.advance(600)
    await run_once(queue, {"t": handler})
    job = await job_of(queue, job_id)
    assert (job.status, job.output, job.attempts) == (dq.JobStatus.COMPLETED, "done", 1)
    assert reached == [0, 0, 1, 0, 1, 2, 0, 1, 2]
    assert (await event_types(queue, job_id)).count("resumed") == 3


# -- tokens -------------------------------------------------------------------


async def approval(payload: Any, ctx: dq.JobContext) -> dict[str, Any]:
    token = await ctx.create_token(timeout="10m", tags=["approval"])
    await ctx.run("notify", lambda: token.id)
    result = await ctx.wait_for_token(token.id)
    return {"ok": result.ok, "output": result.output, "error": result.error}


async def test_a_completed_token_resumes_its_job_with_the_output(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    job_id = await queue.add_job("approve", {})
    await run_once(queue, {"approve": approval})
    job = await job_of(queue, job_id)
    assert job.status is dq.JobStatus.WAITING
    token_id = job.wait_token_id
    assert token_id is not None and job.step_data is not None
    assert job.step_data["notify"] == token_id

    token = await queue.get_token(token_id)
    assert token is not None
    assert (token.job_id, token.status, token.tags) == (job_id, "waiting", ["approval"])
    assert token.timeout_at == clock.now() + timedelta(minutes=10)
    assert token.created_at == clock.now()

    clock.advance(60)
    await queue.complete_token(token_id, {"approved": True, "by": "ann"})
    token = await queue.get_token(token_id)
    assert token is not None
    assert (token.status, token.output) == (
        "completed",
        {"approved": True, "by": "ann"},
    )
    assert token.completed_at == clock.now()
    assert (await job_of(queue, job_id)).status is dq.JobStatus.PENDING

    await run_once(queue, {"approve": approval})
    job = await job_of(queue, job_id)
    assert job.output == {
        "ok": True,
        "output": {"approved": True, "by": "ann"},
        "error": None,
    }
    assert job.attempts == 1
    events = await queue.get_job_events(job_id)
    assert [e.event_type.value for e in events] == [
        "added",
        "processing",
        "waiting",
        "resumed",
        "processing",
        "completed",
    ]
    assert events[2].metadata == {"token_id": token_id}
    assert events[3].metadata == {"token_id": token_id, "timed_out": False}
    assert await queue.expire_timed_out_tokens() == 0


async def test_an_expired_token_resumes_its_job_with_a_timeout(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    job_id = await queue.add_job("approve", {})
    await run_once(queue, {"approve": approval})
    token_id = (await job_of(queue, job_id)).wait_token_id
    assert token_id is not None
    clock.advance(599)
    assert await queue.expire_timed_out_tokens() == 0
    clock.advance(1)
    assert await queue.expire_timed_out_tokens() == 1
    token = await queue.get_token(token_id)
    assert token is not None and token.status == "timed_out"
    with pytest.raises(dq.TokenError, match="expired"):
        await queue.complete_token(token_id, {"late": True})
    await run_once(queue, {"approve": approval})
    job = await job_of(queue, job_id)
    assert job.output == {"ok": False, "output": None, "error": "timeout"}
    events = await queue.get_job_events(job_id)
    assert events[3].metadata == {"token_id": token_id, "timed_out": True}


async def test_completing_an_unknown_or_completed_token_raises_and_changes_nothing(
    queue: dq.JobQueue,
) -> None:
    with pytest.raises(dq.TokenError, match="no token"):
        await queue.complete_token("tok_missing", 1)
    job_id = await queue.add_job("approve", {})
    await run_once(queue, {"approve": approval})
    token_id = (await job_of(queue, job_id)).wait_token_id
    assert token_id is not None
    await queue.complete_token(token_id, "first")
    with pytest.raises(dq.TokenError, match="already completed"):
        await queue.complete_token(token_id, "second")
    token = await queue.get_token(token_id)
    assert token is not None and token.output == "first"
    with pytest.raises(TypeError, match="output"):
        await queue.complete_token(token_id, object())
    assert await queue.get_token("tok_missing") is None


async def test_create_token_is_durable_and_takes_seconds_timedelta_or_text(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    job_id = await queue.add_job("t", {})
    seen: list[list[str]] = []

    async def handler(payload: Any, ctx: dq.JobContext) -> None:
        tokens = [
            await ctx.create_token(),
            await ctx.create_token(timeout=30),
            await ctx.create_token(timeout=timedelta(hours=2)),
            await ctx.create_token(timeout="7d"),
        ]
        seen.append([t.id for t in tokens])
        await ctx.wait_for(minutes=1)

    await run_once(queue, {"t": handler})
    clock.advance(60)
    await run_once(queue, {"t": handler})
    assert seen[0] == seen[1] and len(set(seen[0])) == 4
    timeouts = []
    for token_id in seen[0]:
        token = await queue.get_token(token_id)
        assert token is not None
        timeouts.append(token.timeout_at)
    start = clock.now() - timedelta(seconds=60)
    assert timeouts == [
        None,
        start + timedelta(seconds=30),
        start + timedelta(hours=2),
        start + timedelta(days=7),
    ]
    assert (await job_of(queue, job_id)).status is dq.JobStatus.COMPLETED


async def test_a_token_resolved_before_the_wait_is_written_does_not_strand_the_job(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    store = queue.backend
    first = await queue.add_job("t", {})
    second = await queue.add_job("t", {})
    exchange = await store.settle_and_claim(
        [], ClaimRequest("w", "lease", 2), now=clock.now()
    )
    assert [j.id for j in exchange.claimed] == [first, second]
    leases = [Lease(first, "lease"), Lease(second, "lease")]
    for lease, token_id in zip(leases, ["tok_a", "tok_b"], strict=True):
        token = NewToken(token_id, clock.now() + timedelta(seconds=5), [])
        assert await store.create_token(lease, token, {}, now=clock.now())
    assert await store.complete_token("tok_a", "yes", now=clock.now()) is None
    clock.advance(10)
    assert await store.expire_timed_out_tokens(now=clock.now()) == 1
    suspensions = [
        Suspension(leases[0], {"__wait_0": {"token": "tok_a"}}, None, "tok_a"),
        Suspension(leases[1], {"__wait_0": {"token": "tok_b"}}, None, "tok_b"),
    ]
    exchange = await store.settle_and_claim(suspensions, None, now=clock.now())
    assert exchange.settled == [True, True]
    for job_id, timed_out in [(first, False), (second, True)]:
        job = await job_of(queue, job_id)
        assert (job.status, job.run_at, job.attempts) == (
            dq.JobStatus.PENDING,
            clock.now(),
            0,
        )
        events = await queue.get_job_events(job_id)
        assert [e.event_type.value for e in events][-2:] == ["waiting", "resumed"]
        assert events[-1].metadata is not None
        assert events[-1].metadata["timed_out"] is timed_out


async def test_token_writes_are_fenced_by_the_lease(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    store = queue.backend
    job_id = await queue.add_job("t", {})
    await store.settle_and_claim([], ClaimRequest("w", "lease", 1), now=clock.now())
    stale = Lease(job_id, "not-the-lease")
    token = NewToken("tok_stale", None, [])
    assert not await store.create_token(
        stale, token, {"__token_0": "x"}, now=clock.now()
    )
    assert not await store.save_step(stale, {"a": 1}, now=clock.now())
    suspension = Suspension(stale, {"a": 1}, clock.now() + timedelta(hours=1))
    exchange = await store.settle_and_claim([suspension], None, now=clock.now())
    assert exchange.settled == [False]
    assert await store.get_token("tok_stale") is None
    job = await job_of(queue, job_id)
    assert (job.status, job.step_data) == (dq.JobStatus.PROCESSING, None)


async def test_complete_token_wakes_an_idle_processor(queue: dq.JobQueue) -> None:
    job_id = await queue.add_job("approve", {})
    await run_once(queue, {"approve": approval})
    token_id = (await job_of(queue, job_id)).wait_token_id
    assert token_id is not None
    processor = queue.create_processor({"approve": approval}, poll_interval=60)
    processor.start_in_background()
    try:
        await asyncio.sleep(0.2)  # the processor has claimed nothing and idles
        await queue.complete_token(token_id, "go")

        async def done() -> bool:
            return (await job_of(queue, job_id)).status is dq.JobStatus.COMPLETED

        await eventually(done, timeout=5)
    finally:
        await processor.stop_and_drain(5)


# -- cancel -------------------------------------------------------------------


async def test_cancelling_a_waiting_job_expires_its_open_tokens(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    job_id = await queue.add_job("approve", {})
    timed = await queue.add_job("t", {})

    async def sleeper(payload: Any, ctx: dq.JobContext) -> None:
        await ctx.wait_for(days=1)

    await run_once(queue, {"approve": approval, "t": sleeper})
    waiting = await queue.get_jobs(status="waiting")
    assert sorted(j.id for j in waiting) == [job_id, timed]
    token_id = (await job_of(queue, job_id)).wait_token_id
    assert token_id is not None

    await queue.cancel_job(job_id)
    assert await queue.cancel_all_upcoming_jobs(job_type="t") == 1
    token = await queue.get_token(token_id)
    assert token is not None and token.status == "timed_out"
    with pytest.raises(dq.TokenError, match="expired"):
        await queue.complete_token(token_id, "too late")
    clock.advance(timedelta(days=2))
    assert await run_once(queue, {"approve": approval, "t": sleeper}) == 0
    for cancelled in (job_id, timed):
        job = await job_of(queue, cancelled)
        assert job.status is dq.JobStatus.CANCELLED
        assert (await event_types(queue, cancelled))[-2:] == ["waiting", "cancelled"]


# -- where a handler runs ----------------------------------------------------


async def test_a_def_handler_waits_for_a_token(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    job_id = await queue.add_job("t", {})

    def handler(payload: Any, ctx: dq.SyncJobContext) -> Any:
        token = ctx.create_token(timeout=60)
        result = ctx.wait_for_token(token.id)
        return result.output

    await run_once(queue, {"t": handler})
    token_id = (await job_of(queue, job_id)).wait_token_id
    assert token_id is not None
    await queue.complete_token(token_id, [1, 2])
    await run_once(queue, {"t": handler})
    assert (await job_of(queue, job_id)).output == [1, 2]


async def test_durable_calls_raise_in_a_force_kill_job(queue: dq.JobQueue) -> None:
    from tests.durable_jobs import force_killed_durable

    job_id = await queue.add_job(
        "fk", {}, force_kill_on_timeout=True, timeout=30, max_attempts=1
    )
    await run_once(queue, {"fk": force_killed_durable})
    job = await job_of(queue, job_id)
    assert job.status is dq.JobStatus.COMPLETED
    assert job.output == [
        "run",
        "wait_for",
        "wait_until",
        "create_token",
        "wait_for_token",
    ]


# -- races ----------------------------------------------------------------------

COMPLETER = """
import sys, dataqueue as dq
queue = dq.connect_sync(**eval(sys.argv[1]))
tokens = sys.argv[2].split(",")
print("ready", flush=True)
sys.stdin.readline()
completed = []
for n, token_id in enumerate(tokens):
    try:
        queue.complete_token(token_id, {"n": n})
        completed.append(token_id)
    except dq.TokenError:
        pass
    if n == len(tokens) // 2:
        print("half", flush=True)
print(",".join(completed), flush=True)
queue.close()
"""


@pytest.mark.slow
@pytest.mark.parametrize("store", PROCESS_STORES)
async def test_each_token_gets_one_outcome_and_each_job_resumes_once(
    store: str, tmp_path: Path
) -> None:
    count = 1000
    clock = FakeClock()
    ns = namespace()
    queue = await open_store(store, tmp_path, clock, ns)
    supervisors = [await open_store(store, tmp_path, clock, ns) for _ in range(2)]
    try:
        ids = await queue.add_jobs([dq.JobSpec("t", {}) for _ in range(count)])
        resumed: Counter[int] = Counter()

        async def handler(payload: Any, ctx: dq.JobContext) -> Any:
            token = await ctx.create_token(timeout=60)
            result = await ctx.wait_for_token(token.id)
            resumed[ctx.job_id] += 1
            return {"ok": result.ok, "output": result.output}

        processor = queue.create_processor(
            {"t": handler}, batch_size=100, concurrency=100, heartbeat_interval=3600
        )
        while await processor.start():
            pass
        jobs = await queue.get_jobs(status="waiting", limit=count)
        tokens = [job.wait_token_id for job in jobs]
        assert len(jobs) == count and None not in tokens

        completer = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            COMPLETER,
            repr(store_options(store, tmp_path, ns)),
            ",".join(str(t) for t in tokens),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert completer.stdin is not None and completer.stdout is not None
        assert (await completer.stdout.readline()).strip() == b"ready"
        completer.stdin.write(b"go\n")
        await completer.stdin.drain()
        assert (await completer.stdout.readline()).strip() == b"half"
        clock.advance(61)
        expired = await asyncio.gather(
            *(s.expire_timed_out_tokens() for s in supervisors)
        )
        completed = set((await completer.stdout.readline()).decode().strip().split(","))
        completed.discard("")
        assert await completer.wait() == 0

        assert len(completed) + sum(expired) == count
        assert 0 < len(completed) < count
        for token_id in tokens:
            token = await queue.get_token(str(token_id))
            assert token is not None
            assert token.status == (
                "completed" if token_id in completed else "timed_out"
            )
        while await processor.start():
            pass
        for job_id in ids:
            job = await job_of(queue, job_id)
            assert job.status is dq.JobStatus.COMPLETED
            assert job.output["ok"] is (job.wait_token_id in completed)
            assert (await event_types(queue, job_id)).count("resumed") == 1
        assert resumed == Counter({job_id: 1 for job_id in ids})
    finally:
        for q in (queue, *supervisors):
            await q.close()
        await drop_namespace(store, ns)
