"""The memory store as the executable specification: random sequences of
calls (add, claim, complete, fail, wait on a time or a token, complete and
expire tokens, cancel, retry, edit, release, reclaim, flows and their
joins, clock moves) run in lockstep on ``memory://`` and on a real store,
and after every step both must give the same answers and hold the same
jobs, events, tokens and flows.

Ids of jobs are compared as they are (SQLite numbers from 1 as the memory
store does); flow ids (random) by the order the flows started; event ids
are left out (their order within a job is kept). Every time comes from one
``FakeClock``, so timestamps are compared exactly.

It runs against SQLite. PostgreSQL and Redis need more first: Redis numbers
a flow's step jobs apart from other jobs (ids must then be mapped, not
compared), and reading every job's events after every step takes minutes
over the network.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import dataqueue as dq
from dataqueue._commands import (
    ClaimRequest,
    Completion,
    Failure,
    JobChanges,
    JobFilter,
    Lease,
    NewToken,
    Outcome,
    Suspension,
)
from dataqueue.backends.protocol import Backend
from dataqueue.flows import join_job
from dataqueue.models import FailureReason
from tests.conftest import (
    FakeClock,
    drop_namespace,
    namespace,
    open_store,
)

T = TypeVar("T")

TYPES = ("a", "b")
TAGS = ("x", "y")
WORKERS = ("w1", "w2")

small = st.integers(min_value=0, max_value=1_000)
"""An index into one of the machine's lists (taken modulo its length)."""


class LockstepMachine(RuleBasedStateMachine):
    """One memory queue and one queue on ``store``, driven alike."""

    store = "sqlite"
    tmp_path = Path(".")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = FakeClock()
        self.ns = namespace()
        self.queues: list[dq.JobQueue] = [
            self.run_on_loop(open_store("memory", self.tmp_path, self.clock, self.ns)),
            self.run_on_loop(
                open_store(self.store, self.tmp_path, self.clock, self.ns)
            ),
        ]
        self.job_ids: list[int] = []
        self.leases: list[Lease] = []
        self.tokens: list[str] = []
        self.flows: list[list[str]] = []
        """Each flow's id on each store, in start order."""
        self.claims = 0

    def run_on_loop(self, awaitable: Awaitable[T]) -> T:
        return self.loop.run_until_complete(awaitable)

    def teardown(self) -> None:
        for queue in self.queues:
            self.run_on_loop(queue.close())
        self.run_on_loop(drop_namespace("memory", self.ns))
        self.run_on_loop(drop_namespace(self.store, self.ns))
        self.loop.close()

    # -- running one call on both stores ------------------------------------

    def both(self, call: Callable[[dq.JobQueue, Backend, int], Awaitable[T]]) -> T:
        """Run ``call(queue, backend, store_index)`` on each store; both
        must answer alike (flow ids normalised). Returns the memory answer."""
        answers = [
            self.run_on_loop(call(queue, queue.backend, index))
            for index, queue in enumerate(self.queues)
        ]
        memory, real = (self.normalised(answer, i) for i, answer in enumerate(answers))
        assert memory == real, f"memory answered {memory!r}, {self.store} {real!r}"
        return answers[0]

    def normalised(self, value: Any, store_index: int) -> Any:
        """``value`` as plain data, each flow id replaced by its start order."""
        names = {flow[store_index]: f"flow-{n}" for n, flow in enumerate(self.flows)}

        def plain(value: Any) -> Any:
            if dataclasses.is_dataclass(value) and not isinstance(value, type):
                value = {
                    f.name: getattr(value, f.name) for f in dataclasses.fields(value)
                }
            if isinstance(value, dict):
                return {plain(k): plain(item) for k, item in value.items()}
            if isinstance(value, list | tuple):
                return [plain(item) for item in value]
            if isinstance(value, str):
                return names.get(value, value)
            return value

        return plain(value)

    def settle(self, outcomes: list[Outcome]) -> None:
        exchange = self.both(
            lambda q, b, i: b.settle_and_claim(outcomes, None, now=self.clock.now())
        )
        self.join(exchange.ready_flows)

    def join(self, ready_on_memory: list[str]) -> None:
        """Enqueue the joins of flows made ready, as the runtime does."""
        for flow_id in ready_on_memory:
            ids = next(flow for flow in self.flows if flow[0] == flow_id)
            joined = self.both(
                lambda q, b, i, ids=ids: self.enqueue_join(b, ids[i])  # type: ignore[misc]
            )
            if joined is not None:
                self.job_ids.append(joined)

    # -- rules --------------------------------------------------------------

    @rule(
        job_type=st.sampled_from(TYPES),
        priority=st.integers(0, 2),
        delay=st.sampled_from([0, 0, 30, 120]),
        max_attempts=st.integers(1, 3),
        tags=st.lists(st.sampled_from(TAGS), unique=True),
        key=st.sampled_from([None, None, "k1", "k2"]),
        count=st.integers(1, 3),
    )
    def add(
        self,
        job_type: str,
        priority: int,
        delay: int,
        max_attempts: int,
        tags: list[str],
        key: str | None,
        count: int,
    ) -> None:
        run_at = self.clock.now() + timedelta(seconds=delay)
        specs = [
            dq.JobSpec(
                job_type,
                {"n": len(self.job_ids) + i},
                priority=priority,
                run_at=run_at,
                max_attempts=max_attempts,
                tags=tags,
                idempotency_key=key if i == 0 else None,
                timeout=60,
            )
            for i in range(count)
        ]
        ids = self.both(lambda q, b, i: q.add_jobs(specs))
        self.job_ids += [job_id for job_id in ids if job_id not in self.job_ids]

    @rule(
        steps=st.lists(st.sampled_from(TYPES), min_size=1, max_size=3),
        policy=st.sampled_from(["continue", "abort"]),
        timeout=st.sampled_from([None, 90]),
    )
    def start_flow(self, steps: list[str], policy: Any, timeout: int | None) -> None:
        specs = [dq.JobSpec(job_type, {"step": i}) for i, job_type in enumerate(steps)]
        join = dq.JobSpec("join", {"joined": True})
        ids = [
            self.run_on_loop(q.start_flow(specs, join, policy, timeout))
            for q in self.queues
        ]
        self.flows.append(ids)
        step_ids = self.both(lambda q, b, i: self.flow_step_ids(b, ids[i]))
        self.job_ids += step_ids

    async def enqueue_join(self, backend: Backend, flow_id: str) -> int | None:
        stored = await backend.get_flow(flow_id)
        assert stored is not None
        return await backend.enqueue_flow_join(
            flow_id, join_job(stored), now=self.clock.now()
        )

    @staticmethod
    async def flow_step_ids(backend: Backend, flow_id: str) -> list[int]:
        stored = await backend.get_flow(flow_id)
        assert stored is not None
        return [step.job_id for step in stored.record.steps]

    @rule(
        worker=st.sampled_from(WORKERS),
        limit=st.integers(1, 3),
        only=st.sampled_from([None, ("a",), ("b", "join")]),
    )
    def claim(self, worker: str, limit: int, only: tuple[str, ...] | None) -> None:
        self.claims += 1
        request = ClaimRequest(worker, f"lease-{self.claims}", limit, only)
        exchange = self.both(
            lambda q, b, i: b.settle_and_claim([], request, now=self.clock.now())
        )
        self.leases += [Lease(job.id, request.token) for job in exchange.claimed]

    @precondition(lambda self: self.leases)
    @rule(pick=small, output=st.sampled_from([None, 1, {"ok": True}]))
    def complete(self, pick: int, output: Any) -> None:
        lease = self.leases[pick % len(self.leases)]
        self.settle([Completion(lease, output, {"took_ms": 5})])

    @precondition(lambda self: self.leases)
    @rule(pick=small, retry_in=st.sampled_from([None, 10, 60]))
    def fail(self, pick: int, retry_in: int | None) -> None:
        lease = self.leases[pick % len(self.leases)]
        retry_at = (
            None if retry_in is None else self.clock.now() + timedelta(seconds=retry_in)
        )
        failure = Failure(lease, "boom", FailureReason.HANDLER_ERROR, retry_at)
        self.settle([failure])

    @precondition(lambda self: self.leases)
    @rule(pick=small, seconds=st.sampled_from([5, 50]))
    def wait_for_time(self, pick: int, seconds: int) -> None:
        lease = self.leases[pick % len(self.leases)]
        until = self.clock.now() + timedelta(seconds=seconds)
        self.settle([Suspension(lease, {"slept": True}, wait_until=until)])

    @precondition(lambda self: self.leases)
    @rule(pick=small, timeout=st.sampled_from([None, 40]))
    def wait_for_token(self, pick: int, timeout: int | None) -> None:
        lease = self.leases[pick % len(self.leases)]
        token_id = f"token-{len(self.tokens)}"
        timeout_at = (
            None if timeout is None else self.clock.now() + timedelta(seconds=timeout)
        )
        token = NewToken(token_id, timeout_at, ["t"])
        created = self.both(
            lambda q, b, i: b.create_token(
                lease, token, {"token": token_id}, now=self.clock.now()
            )
        )
        if created:
            self.tokens.append(token_id)
            suspension = Suspension(lease, {"token": token_id}, wait_token_id=token_id)
            self.settle([suspension])

    @precondition(lambda self: self.tokens)
    @rule(pick=small)
    def complete_token(self, pick: int) -> None:
        token_id = self.tokens[pick % len(self.tokens)]
        self.both(
            lambda q, b, i: b.complete_token(token_id, {"v": 1}, now=self.clock.now())
        )

    @rule()
    def expire_tokens(self) -> None:
        self.both(lambda q, b, i: b.expire_timed_out_tokens(now=self.clock.now()))

    @precondition(lambda self: self.job_ids)
    @rule(pick=small)
    def cancel(self, pick: int) -> None:
        job_id = self.job_ids[pick % len(self.job_ids)]
        self.both(lambda q, b, i: b.cancel_job(job_id, now=self.clock.now()))

    @rule(job_type=st.sampled_from(TYPES))
    def cancel_by_type(self, job_type: str) -> None:
        where = JobFilter(job_type=job_type)
        self.both(lambda q, b, i: b.cancel_jobs(where, now=self.clock.now()))

    @precondition(lambda self: self.job_ids)
    @rule(pick=small)
    def retry(self, pick: int) -> None:
        job_id = self.job_ids[pick % len(self.job_ids)]
        self.both(lambda q, b, i: b.retry_job(job_id, now=self.clock.now()))

    @precondition(lambda self: self.job_ids)
    @rule(pick=small, priority=st.integers(0, 3))
    def edit(self, pick: int, priority: int) -> None:
        job_id = self.job_ids[pick % len(self.job_ids)]
        changes = JobChanges({"priority": priority}, {"priority": priority})
        self.both(lambda q, b, i: b.edit_jobs(job_id, changes, now=self.clock.now()))

    @precondition(lambda self: self.leases)
    @rule(pick=small)
    def release(self, pick: int) -> None:
        lease = self.leases[pick % len(self.leases)]
        self.both(lambda q, b, i: b.release_jobs([lease], now=self.clock.now()))

    @precondition(lambda self: self.leases)
    @rule(pick=small)
    def heartbeat_and_prolong(self, pick: int) -> None:
        lease = self.leases[pick % len(self.leases)]
        self.both(lambda q, b, i: b.heartbeat([lease], now=self.clock.now()))
        self.both(lambda q, b, i: b.prolong_job(lease, 90, now=self.clock.now()))

    @rule(threshold=st.sampled_from([30, 120]))
    def reclaim(self, threshold: int) -> None:
        self.both(
            lambda q, b, i: b.reclaim_stuck_jobs(
                threshold, "worker lost", now=self.clock.now()
            )
        )

    @rule()
    def time_out_flows(self) -> None:
        timed_out = self.both(lambda q, b, i: b.time_out_flows(now=self.clock.now()))
        self.join(timed_out)

    @rule(seconds=st.sampled_from([1, 15, 45, 100]))
    def advance(self, seconds: int) -> None:
        self.clock.advance(seconds)

    # -- what both must show --------------------------------------------------

    @invariant()
    def same_jobs_events_tokens_and_flows(self) -> None:
        async def observe(q: dq.JobQueue, b: Backend, i: int) -> dict[str, Any]:
            jobs = await b.get_jobs(JobFilter(), 10_000, 0)
            events = {
                job.id: [
                    (e.event_type, e.created_at, e.metadata)
                    for e in await b.get_job_events(job.id)
                ]
                for job in jobs
            }
            tokens = [await b.get_token(token_id) for token_id in self.tokens]
            flows = [await b.get_flow(flow[i]) for flow in self.flows]
            counts = await b.count_jobs(JobFilter(tags=dq.TagFilter(["x"], "any")))
            return {
                "jobs": jobs,
                "events": events,
                "tokens": tokens,
                "flows": flows,
                "counts": counts,
            }

        self.both(observe)


def test_memory_and_sqlite_move_in_lockstep(tmp_path: Path) -> None:
    store = "sqlite"
    machine = type(
        f"Lockstep_{store}",
        (LockstepMachine,),
        {"store": store, "tmp_path": tmp_path},
    )
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=15,
            stateful_step_count=30,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
