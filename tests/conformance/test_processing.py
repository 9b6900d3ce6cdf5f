"""The processor: handlers, outputs, failures, retries, timeouts, progress, wake-ups."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

import dataqueue as dq
from dataqueue._commands import ClaimRequest
from tests.conftest import FakeClock, eventually


async def get(queue: dq.JobQueue, job_id: int) -> dq.JobRecord:
    job = await queue.get_job(job_id)
    assert job is not None
    return job


async def test_async_and_sync_handlers_store_their_output(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    async def double(payload: dict[str, int], ctx: dq.JobContext) -> dict[str, int]:
        assert ctx.job_id == ctx.job.id
        return {"n": payload["n"] * 2}

    def shout(payload: str) -> str:
        return payload.upper()

    a = await queue.add_job("double", {"n": 21})
    b = await queue.add_job("shout", "hi")
    processor = queue.create_processor({"double": double, "shout": shout})
    assert await processor.start() == 2
    job_a, job_b = await get(queue, a), await get(queue, b)
    assert (job_a.status, job_a.output) == (dq.JobStatus.COMPLETED, {"n": 42})
    assert (job_b.status, job_b.output) == (dq.JobStatus.COMPLETED, "HI")
    assert job_a.completed_at == clock.now() and job_a.started_at == clock.now()
    assert job_a.attempts == 1 and job_a.locked_by is None
    events = [e.event_type.value for e in await queue.get_job_events(a)]
    assert events == ["added", "processing", "completed"]


async def test_output_over_the_cap_is_dropped_and_said(queue: dq.JobQueue) -> None:
    job_id = await queue.add_job("big", {})
    await queue.create_processor({"big": lambda p: "x" * (300 * 1024)}).start()
    job = await get(queue, job_id)
    assert (job.status, job.output) == (dq.JobStatus.COMPLETED, None)
    completed = (await queue.get_job_events(job_id))[-1]
    assert completed.metadata is not None
    assert "limit" in completed.metadata["output_dropped"]


async def test_a_processor_claims_only_the_types_it_has_handlers_for(
    queue: dq.JobQueue,
) -> None:
    mine = await queue.add_job("approve_order", {})
    theirs = await queue.add_job("confirm_order", {})
    processor = queue.create_processor({"approve_order": lambda p: "ok"})
    assert await processor.start() == 1
    assert await processor.start() == 0
    assert (await get(queue, mine)).status is dq.JobStatus.COMPLETED
    other = await get(queue, theirs)
    assert (other.status, other.attempts) == (dq.JobStatus.PENDING, 0)
    assert [e.event_type.value for e in await queue.get_job_events(theirs)] == ["added"]


async def test_a_processor_without_handlers_claims_nothing(
    queue: dq.JobQueue,
) -> None:
    job_id = await queue.add_job("a", {})
    assert await queue.create_processor({}).start() == 0
    job = await get(queue, job_id)
    assert (job.status, job.attempts) == (dq.JobStatus.PENDING, 0)


async def test_job_without_handler_fails_with_no_handler(queue: dq.JobQueue) -> None:
    job_id = await queue.add_job("nobody", {}, max_attempts=1)
    assert await queue.create_processor({}, job_type="*").start() == 1
    job = await get(queue, job_id)
    assert job.status is dq.JobStatus.FAILED
    assert job.failure_reason is dq.FailureReason.NO_HANDLER


async def test_handler_error_is_recorded_and_retried_with_legacy_backoff(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    calls = 0

    def flaky(payload: object) -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ValueError(f"bad {calls}")
        return "ok"

    errors: list[BaseException] = []
    job_id = await queue.add_job("flaky", {})
    processor = queue.create_processor({"flaky": flaky}, on_error=errors.append)
    assert await processor.start() == 1
    job = await get(queue, job_id)
    assert job.status is dq.JobStatus.FAILED
    assert job.failure_reason is dq.FailureReason.HANDLER_ERROR
    assert job.next_attempt_at == clock.now() + timedelta(seconds=120)
    assert job.error_history[0]["message"] == "ValueError: bad 1"
    assert job.last_failed_at == clock.now()
    assert [str(e) for e in errors] == ["bad 1"]

    clock.advance(119)
    assert await processor.start() == 0
    clock.advance(1)
    assert await processor.start() == 1
    job = await get(queue, job_id)
    assert job.next_attempt_at == clock.now() + timedelta(seconds=240)
    clock.advance(240)
    assert await processor.start() == 1
    job = await get(queue, job_id)
    assert (job.status, job.attempts, job.output) == (dq.JobStatus.COMPLETED, 3, "ok")
    assert len(job.error_history) == 2


async def test_fixed_retry_delay_and_final_failure(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    def boom(payload: object) -> None:
        raise RuntimeError("nope")

    job_id = await queue.add_job(
        "boom", {}, max_attempts=2, retry_delay=10, retry_backoff=False
    )
    processor = queue.create_processor({"boom": boom})
    await processor.start()
    assert (await get(queue, job_id)).next_attempt_at == clock.now() + timedelta(
        seconds=10
    )
    clock.advance(10)
    await processor.start()
    job = await get(queue, job_id)
    assert (job.attempts, job.status, job.next_attempt_at) == (
        2,
        dq.JobStatus.FAILED,
        None,
    )
    events = await queue.get_job_events(job_id)
    assert [e.metadata for e in events if e.event_type is dq.EventType.PROCESSING] == [
        {"worker_id": processor.worker_id, "attempt": 1},
        {"worker_id": processor.worker_id, "attempt": 2},
    ]
    clock.advance(3600)
    assert await processor.start() == 0


async def test_exponential_retry_with_jitter_and_cap(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    def boom(payload: object) -> None:
        raise RuntimeError("nope")

    job_id = await queue.add_job(
        "boom", {}, max_attempts=5, retry_delay=10, retry_delay_max=25
    )
    processor = queue.create_processor({"boom": boom})
    delays = []
    for _ in range(3):
        await processor.start()
        job = await get(queue, job_id)
        assert job.next_attempt_at is not None
        delays.append((job.next_attempt_at - clock.now()).total_seconds())
        clock.advance(delays[-1])
    assert 10 <= delays[0] <= 20  # 10 * 2**1, jittered into [0.5, 1)
    assert 20 <= delays[1] <= 25  # 10 * 2**2 = 40 jittered, capped at 25
    assert delays[2] == 25


async def test_claims_by_priority_then_run_at_then_id(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    early = clock.now() - timedelta(minutes=5)
    order: list[str] = []
    await queue.add_job("t", "low", priority=1)
    await queue.add_job("t", "high-late", priority=5)
    await queue.add_job("t", "high-early", priority=5, run_at=early)
    await queue.add_job("t", "high-late-2", priority=5)
    await queue.add_job("t", "future", priority=9, run_at=clock.now() + timedelta(1))
    processor = queue.create_processor({"t": order.append}, batch_size=1)
    while await processor.start():
        pass
    assert order == ["high-early", "high-late", "high-late-2", "low"]


@pytest.mark.parametrize("job_type", [None, "*"])
async def test_claim_order_holds_across_job_types(
    queue: dq.JobQueue, clock: FakeClock, job_type: str | None
) -> None:
    """Jobs of several types come in one order: priority, run_at, id."""
    early = clock.now() - timedelta(minutes=5)
    order: list[str] = []
    await queue.add_job("a", "a-low", priority=1)
    await queue.add_job("b", "b-high-late", priority=5)
    await queue.add_job("c", "c-high-early", priority=5, run_at=early)
    await queue.add_job("a", "a-high-late", priority=5)
    await queue.add_job("b", "b-low-early", priority=1, run_at=early)
    await queue.add_job("c", "c-top", priority=9)

    async def run(payload: str) -> None:
        order.append(payload)  # attempts start in claim order

    handlers = {name: run for name in ("a", "b", "c")}
    processor = queue.create_processor(handlers, batch_size=2, job_type=job_type)
    while await processor.start():
        pass
    assert order == [
        "c-top",
        "c-high-early",
        "b-high-late",
        "a-high-late",
        "b-low-early",
        "a-low",
    ]


async def test_job_type_filter_claims_only_those_types(queue: dq.JobQueue) -> None:
    a = await queue.add_job("a", {})
    b = await queue.add_job("b", {})
    c = await queue.add_job("c", {})
    processor = queue.create_processor(
        {"a": lambda p: 1, "b": lambda p: 2, "c": lambda p: 3}, job_type=["a", "c"]
    )
    assert await processor.start() == 2
    statuses = {j: (await get(queue, j)).status.value for j in (a, b, c)}
    assert statuses == {a: "completed", b: "pending", c: "completed"}


async def test_concurrency_bounds_jobs_running_at_once(queue: dq.JobQueue) -> None:
    running = peak = 0

    async def work(payload: object) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1

    await queue.add_jobs([dq.JobSpec("w", {}) for _ in range(8)])
    processor = queue.create_processor({"w": work}, batch_size=8, concurrency=3)
    assert await processor.start() == 8
    assert peak == 3


async def test_timeout_aborts_and_fails_the_job(queue: dq.JobQueue) -> None:
    seen: list[bool] = []

    async def slow(payload: object, ctx: dq.JobContext) -> None:
        try:
            await asyncio.sleep(30)
        finally:
            seen.append(ctx.signal.aborted)

    job_id = await queue.add_job("slow", {}, timeout=0.1, max_attempts=1)
    await queue.create_processor({"slow": slow}).start()
    job = await get(queue, job_id)
    assert (job.status, job.failure_reason) == (
        dq.JobStatus.FAILED,
        dq.FailureReason.TIMEOUT,
    )
    assert seen == [True]


async def test_timed_out_job_with_attempts_left_is_retried(
    queue: dq.JobQueue,
) -> None:
    async def slow(payload: object) -> None:
        await asyncio.sleep(30)

    job_id = await queue.add_job("slow", {}, timeout=0.05, max_attempts=2)
    await queue.create_processor({"slow": slow}).start()
    job = await get(queue, job_id)
    assert job.failure_reason is dq.FailureReason.TIMEOUT
    assert job.next_attempt_at is not None


async def test_prolong_extends_the_deadline_and_is_recorded(
    queue: dq.JobQueue,
) -> None:
    # Three steps of 0.5 s outlast the 1 s timeout unless each prolongs the
    # deadline (to 3 s from then): margins that hold on a busy machine.
    async def steady(payload: object, ctx: dq.JobContext) -> str:
        for _ in range(3):
            await asyncio.sleep(0.5)
            await ctx.prolong(3)
        return "done"

    job_id = await queue.add_job("steady", {}, timeout=1)
    await queue.create_processor({"steady": steady}).start()
    job = await get(queue, job_id)
    assert (job.status, job.output) == (dq.JobStatus.COMPLETED, "done")
    prolonged = [
        e for e in await queue.get_job_events(job_id) if e.event_type == "prolonged"
    ]
    assert len(prolonged) == 3
    assert prolonged[0].metadata == {"timeout": 3}


async def test_prolong_without_timeout_does_nothing(queue: dq.JobQueue) -> None:
    async def handler(payload: object, ctx: dq.JobContext) -> None:
        await ctx.prolong(5)

    job_id = await queue.add_job("h", {})
    await queue.create_processor({"h": handler}).start()
    types = [e.event_type.value for e in await queue.get_job_events(job_id)]
    assert types == ["added", "processing", "completed"]


async def test_on_timeout_can_extend_once_then_let_it_fire(
    queue: dq.JobQueue,
) -> None:
    asked = 0

    async def slow(payload: object, ctx: dq.JobContext) -> None:
        def more() -> float | None:
            nonlocal asked
            asked += 1
            return 0.1 if asked == 1 else None

        ctx.on_timeout(more)
        await asyncio.sleep(30)

    job_id = await queue.add_job("slow", {}, timeout=0.1, max_attempts=1)
    await queue.create_processor({"slow": slow}).start()
    job = await get(queue, job_id)
    assert job.failure_reason is dq.FailureReason.TIMEOUT
    assert asked == 2
    types = [e.event_type.value for e in await queue.get_job_events(job_id)]
    assert types.count("prolonged") == 1


async def test_on_timeout_extension_lets_the_job_finish(queue: dq.JobQueue) -> None:
    async def nearly(payload: object, ctx: dq.JobContext) -> str:
        ctx.on_timeout(lambda: 1.0)
        await asyncio.sleep(0.2)
        return "made it"

    job_id = await queue.add_job("nearly", {}, timeout=0.1)
    await queue.create_processor({"nearly": nearly}).start()
    assert (await get(queue, job_id)).output == "made it"


async def test_progress_is_persisted_and_validated(queue: dq.JobQueue) -> None:
    problems: list[str] = []

    async def report(payload: object, ctx: dq.JobContext) -> None:
        await ctx.set_progress(33.4)
        for bad in (-1, 101):
            try:
                await ctx.set_progress(bad)
            except ValueError as error:
                problems.append(str(error))

    job_id = await queue.add_job("report", {})
    await queue.create_processor({"report": report}).start()
    job = await get(queue, job_id)
    assert (job.status, job.progress) == (dq.JobStatus.COMPLETED, 33)
    assert len(problems) == 2 and "0-100" in problems[0]


async def test_force_kill_on_timeout_kills_the_handler_process(
    queue: dq.JobQueue,
) -> None:
    from tests import handlers

    job_id = await queue.add_job(
        "hang", {}, timeout=0.5, force_kill_on_timeout=True, max_attempts=1
    )
    await queue.create_processor({"hang": handlers.hang_forever}).start()
    job = await get(queue, job_id)
    assert (job.status, job.failure_reason) == (
        dq.JobStatus.FAILED,
        dq.FailureReason.TIMEOUT,
    )
    assert "killed" in job.error_history[0]["message"]


async def test_force_kill_handler_result_and_progress(queue: dq.JobQueue) -> None:
    from tests import handlers

    job_id = await queue.add_job(
        "square", {"n": 7}, timeout=20, force_kill_on_timeout=True
    )
    await queue.create_processor({"square": handlers.square_with_progress}).start()
    job = await get(queue, job_id)
    assert (job.status, job.output, job.progress) == (
        dq.JobStatus.COMPLETED,
        49,
        50,
    )


async def test_force_kill_needs_an_importable_handler(queue: dq.JobQueue) -> None:
    job_id = await queue.add_job(
        "local", {}, timeout=5, force_kill_on_timeout=True, max_attempts=1
    )
    await queue.create_processor({"local": lambda p: None}).start()
    job = await get(queue, job_id)
    assert job.status is dq.JobStatus.FAILED
    assert "importable by module path" in job.error_history[0]["message"]


async def test_processor_wakes_on_new_job_before_poll_interval(
    queue: dq.JobQueue,
) -> None:
    done: list[object] = []
    processor = queue.create_processor({"w": done.append}, poll_interval=60)
    processor.start_in_background()
    try:
        await eventually(lambda: _idle(processor))
        await queue.add_job("w", "wake")
        await eventually(lambda: _true(done == ["wake"]), timeout=5)
    finally:
        await processor.stop_and_drain(5)
    assert not processor.is_running()


async def _idle(processor: dq.Processor) -> bool:
    await asyncio.sleep(0.05)
    return processor.is_running()


async def _true(value: bool) -> bool:
    return value


async def test_stop_and_drain_lets_running_jobs_finish(queue: dq.JobQueue) -> None:
    started = asyncio.Event()

    async def slowish(payload: object) -> str:
        started.set()
        await asyncio.sleep(0.2)
        return "finished"

    job_id = await queue.add_job("s", {})
    processor = queue.create_processor({"s": slowish})
    processor.start_in_background()
    await asyncio.wait_for(started.wait(), 5)
    await processor.stop_and_drain(5)
    job = await get(queue, job_id)
    assert (job.status, job.output) == (dq.JobStatus.COMPLETED, "finished")


def test_bad_processor_options_are_rejected(queue: dq.JobQueue) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        queue.create_processor({}, concurrency=0)
    with pytest.raises(TypeError, match="not callable"):
        queue.create_processor({"a": "nope"})  # type: ignore[dict-item]


async def test_two_processors_never_run_a_job_twice(
    make_queue: Any,
) -> None:
    queue_a = await make_queue()
    queue_b = await make_queue()
    runs: list[int] = []

    async def record(payload: int) -> None:
        runs.append(payload)
        await asyncio.sleep(0)

    await queue_a.add_jobs([dq.JobSpec("r", i) for i in range(200)])
    pa = queue_a.create_processor({"r": record}, batch_size=7, concurrency=4)
    pb = queue_b.create_processor({"r": record}, batch_size=5, concurrency=4)

    async def drain(p: dq.Processor) -> None:
        while await p.start():
            pass

    await asyncio.gather(drain(pa), drain(pb), drain(pa), drain(pb))
    assert sorted(runs) == list(range(200))


def _check_card(payload: dict[str, str]) -> None:
    raise ValueError(f"card {payload['card']} declined")


async def test_handler_exception_keeps_its_traceback(queue: dq.JobQueue) -> None:
    async def charge(payload: dict[str, str]) -> None:
        _check_card(payload)

    job_id = await queue.add_job("charge", {"card": "4242"}, max_attempts=1)
    await queue.create_processor({"charge": charge}).start()
    (entry,) = (await get(queue, job_id)).error_history
    assert entry["message"] == "ValueError: card 4242 declined"
    trace = entry["traceback"]
    assert trace.startswith("Traceback (most recent call last):")
    assert "in charge" in trace and "in _check_card" in trace
    assert trace.rstrip().endswith("ValueError: card 4242 declined")


async def test_stored_traceback_keeps_its_last_8_kib(queue: dq.JobQueue) -> None:
    def chained(payload: object) -> None:
        cause: Exception | None = None
        for link in range(200):
            try:
                raise ValueError(f"link {link}") from cause
            except ValueError as error:
                cause = error
        raise RuntimeError("bottom") from cause

    job_id = await queue.add_job("chained", {}, max_attempts=1)
    await queue.create_processor({"chained": chained}).start()
    (entry,) = (await get(queue, job_id)).error_history
    trace = entry["traceback"]
    assert 8000 < len(trace.encode()) <= 8192
    assert "ValueError: link 199" in trace and "ValueError: link 0" not in trace
    assert trace.rstrip().endswith("RuntimeError: bottom")


async def test_failures_without_an_exception_store_no_traceback(
    queue: dq.JobQueue,
) -> None:
    job_id = await queue.add_job("slow", {}, timeout=0.05, max_attempts=1)

    async def slow(payload: object) -> None:
        await asyncio.sleep(5)

    await queue.create_processor({"slow": slow}).start()
    (entry,) = (await get(queue, job_id)).error_history
    assert entry["message"] == "job timed out after 0.05s"
    assert "traceback" not in entry


async def test_force_kill_child_traceback_is_stored(queue: dq.JobQueue) -> None:
    from tests import handlers

    job_id = await queue.add_job(
        "explode", {}, timeout=20, force_kill_on_timeout=True, max_attempts=1
    )
    await queue.create_processor({"explode": handlers.explode}).start()
    (entry,) = (await get(queue, job_id)).error_history
    assert "in explode" in entry["traceback"]
    assert entry["traceback"].rstrip().endswith("RuntimeError: exploded in child")


async def test_an_automatic_retry_sets_last_retried_at(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    calls = 0

    def flaky(payload: object) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ValueError("first try fails")

    job_id = await queue.add_job("flaky", {}, retry_delay=10, retry_backoff=False)
    processor = queue.create_processor({"flaky": flaky})
    await processor.start()
    assert (await get(queue, job_id)).last_retried_at is None
    clock.advance(10)
    await processor.start()
    job = await get(queue, job_id)
    assert (job.status, job.attempts) == (dq.JobStatus.COMPLETED, 2)
    assert job.last_retried_at == clock.now()


async def test_a_first_attempt_leaves_last_retried_at_unset(
    queue: dq.JobQueue,
) -> None:
    job_id = await queue.add_job("a", {})
    await queue.create_processor({"a": lambda p: None}).start()
    assert (await get(queue, job_id)).last_retried_at is None


async def test_a_coroutine_returned_unawaited_fails_with_a_hint(
    queue: dq.JobQueue,
) -> None:
    sent: list[object] = []

    async def send(payload: object) -> None:
        sent.append(payload)

    job_id = await queue.add_job("send", {"to": "a@x.com"}, max_attempts=1)
    await queue.create_processor({"send": lambda p: send(p)}).start()
    job = await get(queue, job_id)
    assert (job.status, job.failure_reason) == (
        dq.JobStatus.FAILED,
        dq.FailureReason.HANDLER_ERROR,
    )
    message = job.error_history[0]["message"]
    assert "send()" in message and "await" in message
    assert sent == []


async def test_stop_during_a_batch_gives_unstarted_jobs_back_at_once(
    queue: dq.JobQueue,
) -> None:
    ids = [await queue.add_job("slow", {"n": n}) for n in range(5)]
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow(payload: dict[str, int]) -> None:
        started.set()
        await release.wait()

    processor = queue.create_processor({"slow": slow}, batch_size=5, concurrency=1)
    batch = asyncio.create_task(processor.start())
    await started.wait()
    processor.stop()

    async def given_back() -> bool:
        jobs = [await get(queue, job_id) for job_id in ids]
        return [job.status for job in jobs].count(dq.JobStatus.PENDING) == 4

    await eventually(given_back)
    assert not batch.done()
    release.set()
    assert await batch == 1
    statuses = [(await get(queue, job_id)).status for job_id in ids]
    assert statuses.count(dq.JobStatus.COMPLETED) == 1
    assert statuses.count(dq.JobStatus.PENDING) == 4


@pytest.mark.parametrize("how", ["run", "start"])
async def test_a_stop_before_claimed_jobs_first_ran_gives_them_back(
    queue: dq.JobQueue, how: str
) -> None:
    """A stop that comes after a claim and before its attempts took a first
    step (here a listener of the claim's events; in a worker, SIGTERM at
    that moment) gives the claimed jobs back untouched."""
    ids = [await queue.add_job("t", {}) for _ in range(3)]
    ran: list[object] = []
    processor = queue.create_processor({"t": ran.append}, batch_size=3)

    async def stop(event: dq.QueueEvent) -> None:
        processor.stop()

    queue.on("job:processing", stop)
    if how == "run":
        await asyncio.wait_for(processor.run(), 30)
    else:
        assert await asyncio.wait_for(processor.start(), 30) == 0
    assert ran == []
    for job_id in ids:
        job = await get(queue, job_id)
        assert (job.status, job.attempts) == (dq.JobStatus.PENDING, 0)


def test_job_type_star_stands_alone(queue: dq.JobQueue) -> None:
    assert queue.create_processor({}, job_type=["*"]).job_types is None
    with pytest.raises(ValueError, match="'\\*' means every type; give it alone"):
        queue.create_processor({}, job_type=["a", "*"])


@pytest.mark.parametrize("how", ["run", "start"])
async def test_a_job_whose_worker_was_lost_runs_alone(
    queue: dq.JobQueue, clock: FakeClock, how: str
) -> None:
    """A job reclaimed from a dead worker may be what killed it: its next
    attempt waits until no other attempt of the processor runs and has none
    beside it, while the jobs claimed with it run side by side."""
    lost = await queue.add_job("work", {"n": 0}, priority=10)
    doomed = await queue.backend.settle_and_claim(
        [], ClaimRequest("doomed", "token", 1), now=clock.now()
    )
    assert [job.id for job in doomed.claimed] == [lost]
    clock.advance(120)
    assert await queue.reclaim_stuck_jobs(1) == 1
    others = await queue.add_jobs([dq.JobSpec("work", {"n": n}) for n in (1, 2)])
    running: set[int] = set()
    beside: dict[int, set[int]] = {}
    both = asyncio.Event()

    async def work(payload: dict[str, int]) -> None:
        n = payload["n"]
        beside[n] = set(running)
        running.add(n)
        if n == 0:
            # One step for every task that is ready: a neighbour launched
            # with it would start now and be seen.
            await asyncio.sleep(0)
            beside[0] |= running - {0}
        else:
            both.set() if {1, 2} <= running else await both.wait()
        running.discard(n)

    processor = queue.create_processor({"work": work}, batch_size=3, concurrency=3)
    if how == "run":
        processor.start_in_background()

        async def all_done() -> bool:
            return (await queue.count_jobs())[dq.JobStatus.COMPLETED] == 3

        await eventually(all_done)
        await processor.stop_and_drain(30)
    else:
        assert await asyncio.wait_for(processor.start(), 30) == 3
    assert beside == {1: set(), 2: {1}, 0: set()}
    assert (await get(queue, lost)).attempts == 2
    assert {(await get(queue, i)).attempts for i in others} == {1}
