"""The memory store as the executable specification: random sequences of
calls (add, claim, complete, fail, wait on a time or a token, complete and
expire tokens, cancel, retry, edit, release, heartbeat and prolong, reclaim
and a worker lost, flows with their joins and timeouts, a processor's turn,
filtered reads, cleanup, clock moves) run in lockstep on ``memory://`` and
on a real store, and after every step both must give the same answers and
hold the same jobs, events, tokens and flows.

Stores number jobs their own way (Redis starts from the time of its first
add), so a job's id on the real store is mapped to its id on the memory
store as the two answer the same call (``add_jobs``, a flow's steps, a
join); flow ids (random) are compared by the order the flows started; event
ids are left out (their order within a job is kept). Every time comes from
one ``FakeClock``, so timestamps are compared exactly.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, Phase, settings
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
from dataqueue.models import TAG_MODES, FailureReason
from tests.conftest import (
    PROCESS_STORES,
    FakeClock,
    drop_namespace,
    namespace,
    open_store,
)

T = TypeVar("T")

TYPES = ("a", "b")
TAGS = ("x", "y")
WORKERS = ("w1", "w2")

JOB_ID_FIELDS = frozenset(
    {
        "id",
        "job_id",
        "join_job_id",
        "dead_letter_job_id",
        "dead_letter_of",
        "prerequisite",
        "depends_on_job_ids",
    }
)
"""Fields that hold a job's id (an ``id`` that is a str is a flow's or a
token's, and stays)."""


def succeed(payload: Any) -> Any:
    return {"ok": payload}


def refuse(payload: Any) -> None:
    raise ValueError("nope")


HANDLERS = {"a": succeed, "b": refuse, "join": succeed}


def difference(first: Any, second: Any, path: str) -> str:
    """Where two answers first differ (the whole of them is too long to read)."""
    if isinstance(first, dict) and isinstance(second, dict):
        if first.keys() != second.keys():
            return f"{path}: keys differ: {set(first) ^ set(second)!r}"
        for key in first:
            if first[key] != second[key]:
                return difference(first[key], second[key], f"{path}[{key!r}]")
    if isinstance(first, list) and isinstance(second, list):
        if len(first) != len(second):
            return (
                f"{path}: {len(first)} items != {len(second)}: {first!r} != {second!r}"
            )
        for index, (a, b) in enumerate(zip(first, second, strict=True)):
            if a != b:
                return difference(a, b, f"{path}[{index}]")
    return f"{path}: {first!r} != {second!r}"


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
        self.queues: list[dq.JobQueue] = []
        try:
            for store in ("memory", self.store):
                self.queues.append(
                    self.run_on_loop(
                        open_store(store, self.tmp_path, self.clock, self.ns)
                    )
                )
        except BaseException:
            # No teardown follows a failed setup: close what was opened here.
            for queue in self.queues:
                self.run_on_loop(queue.close())
            self.loop.close()
            raise
        self.job_ids: list[int] = []
        self.leases: list[Lease] = []
        self.tokens: list[str] = []
        self.flows: list[list[str]] = []
        """Each flow's id on each store, in start order."""
        self.job_id_maps: list[dict[int, int]] = [{}, {}]
        """Each store's job ids -> the memory store's."""
        self.store_job_ids: list[dict[int, int]] = [{}, {}]
        """The memory store's job ids -> each store's."""
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

    def both(
        self,
        call: Callable[[dq.JobQueue, Backend, int], Awaitable[T]],
        *,
        new_ids: bool = False,
        ids: bool = False,
    ) -> T:
        """Run ``call(queue, backend, store_index)`` on each store; both
        must answer alike (ids normalised). ``new_ids``: the answer is a
        list of job ids, to pair up; ``ids``: a list of job ids, or one.
        Returns the memory store's answer."""
        answers = [
            self.run_on_loop(call(queue, queue.backend, index))
            for index, queue in enumerate(self.queues)
        ]
        if new_ids:
            memory_ids, real_ids = answers
            assert isinstance(memory_ids, list) and isinstance(real_ids, list)
            assert len(memory_ids) == len(real_ids), answers
            for memory_id, real_id in zip(memory_ids, real_ids, strict=True):
                paired = self.job_id_maps[1].setdefault(real_id, memory_id)
                assert paired == memory_id, f"{real_id} is {paired}, not {memory_id}"
                self.job_id_maps[0][memory_id] = memory_id
                self.store_job_ids[0][memory_id] = memory_id
                self.store_job_ids[1][memory_id] = real_id
        memory, real = (
            self.normalised(answer, i, ids=ids or new_ids)
            for i, answer in enumerate(answers)
        )
        assert memory == real, difference(memory, real, f"memory vs {self.store}")
        return answers[0]

    def on(self, store_index: int, job_id: int) -> int:
        """The job's id on one store (the machine keeps the memory ids)."""
        return self.store_job_ids[store_index][job_id]

    def lease_on(self, store_index: int, lease: Lease) -> Lease:
        return Lease(self.on(store_index, lease.job_id), lease.token)

    def normalised(self, value: Any, store_index: int, *, ids: bool) -> Any:
        """``value`` as plain data: flow ids replaced by their start order,
        job ids (an ``id``, ``job_id`` or ``join_job_id`` field, a key, or
        the whole answer when ``ids``) by the memory store's."""
        names = {flow[store_index]: f"flow-{n}" for n, flow in enumerate(self.flows)}
        job_ids = self.job_id_maps[store_index]

        def job_id(value: Any) -> Any:
            if isinstance(value, int):
                return job_ids.get(value, ("unpaired", value))
            if isinstance(value, list):  # depends_on_job_ids
                return sorted(job_id(item) for item in value)
            return plain(value)

        def plain(value: Any) -> Any:
            if dataclasses.is_dataclass(value) and not isinstance(value, type):
                value = {
                    f.name: getattr(value, f.name) for f in dataclasses.fields(value)
                }
            if isinstance(value, dict):
                return {
                    job_id(key): job_id(item) if key in JOB_ID_FIELDS else plain(item)
                    for key, item in value.items()
                }
            if isinstance(value, list | tuple):
                return [plain(item) for item in value]
            if isinstance(value, str):
                return names.get(value, value)
            return value

        if ids:
            return (
                [job_id(i) for i in value] if isinstance(value, list) else job_id(value)
            )
        return plain(value)

    def settle(self, outcome: Outcome) -> None:
        exchange = self.both(
            lambda q, b, i: b.settle_and_claim(
                [dataclasses.replace(outcome, lease=self.lease_on(i, outcome.lease))],
                None,
                now=self.clock.now(),
            )
        )
        self.join(exchange.ready_flows)

    def join(self, ready_on_memory: list[str]) -> None:
        """Enqueue the joins of flows made ready, as the runtime does."""
        for flow_id in ready_on_memory:
            ids = next(flow for flow in self.flows if flow[0] == flow_id)
            joined = self.both(
                lambda q, b, i, ids=ids: self.enqueue_joins(b, ids[i]),
                new_ids=True,
            )
            self.job_ids += joined

    # -- rules --------------------------------------------------------------

    @rule(
        job_type=st.sampled_from(TYPES),
        priority=st.integers(0, 2),
        delay=st.sampled_from([0, 0, 30, 120]),
        max_attempts=st.integers(1, 3),
        tags=st.lists(st.sampled_from(TAGS), unique=True),
        key=st.sampled_from([None, None, "k1", "k2"]),
        count=st.integers(1, 3),
        group=st.sampled_from([None, None, "g1", "g2"]),
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
        group: str | None,
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
                group=group,
            )
            for i in range(count)
        ]
        ids = self.both(lambda q, b, i: q.add_jobs(specs), new_ids=True)
        self.job_ids += [job_id for job_id in ids if job_id not in self.job_ids]

    @precondition(lambda self: self.job_ids)
    @rule(
        pick=small,
        job_type=st.sampled_from(TYPES),
        drain=st.lists(st.sampled_from(TAGS), unique=True, max_size=1),
        tags=st.lists(st.sampled_from(TAGS), unique=True),
    )
    def add_dependents(
        self, pick: int, job_type: str, drain: list[str], tags: list[str]
    ) -> None:
        """A job held on another (and on a drain), and one held on it."""
        prerequisite = self.job_ids[pick % len(self.job_ids)]

        def specs(i: int) -> list[dq.JobSpec]:
            first = {"job_ids": [self.on(i, prerequisite)], "tags": drain}
            return [
                dq.JobSpec(job_type, {"on": prerequisite}, tags=tags, depends_on=first),
                dq.JobSpec(job_type, {}, depends_on={"job_ids": [dq.batch_ref(0)]}),
            ]

        async def add(q: dq.JobQueue, b: Backend, i: int) -> list[int]:
            try:
                return await q.add_jobs(specs(i))
            except dq.DependencyError:  # cleaned up: both stores refuse it
                return []

        self.job_ids += self.both(add, new_ids=True)

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
        step_ids = self.both(
            lambda q, b, i: self.flow_step_ids(b, ids[i]), new_ids=True
        )
        self.job_ids += step_ids

    async def enqueue_joins(self, backend: Backend, flow_id: str) -> list[int]:
        """The join's id in a list (empty when the flow was not ready)."""
        stored = await backend.get_flow(flow_id)
        assert stored is not None
        joined = await backend.enqueue_flow_join(
            flow_id, join_job(stored), now=self.clock.now()
        )
        return [] if joined is None else [joined]

    @staticmethod
    async def flow_step_ids(backend: Backend, flow_id: str) -> list[int]:
        stored = await backend.get_flow(flow_id)
        assert stored is not None
        return [step.job_id for step in stored.record.steps]

    @rule(
        worker=st.sampled_from(WORKERS),
        limit=st.integers(1, 3),
        only=st.sampled_from([None, ("a",), ("b", "join")]),
        group_cap=st.sampled_from([None, None, 1]),
    )
    def claim(
        self,
        worker: str,
        limit: int,
        only: tuple[str, ...] | None,
        group_cap: int | None,
    ) -> None:
        self.claims += 1
        request = ClaimRequest(worker, f"lease-{self.claims}", limit, only, group_cap)
        exchange = self.both(
            lambda q, b, i: b.settle_and_claim([], request, now=self.clock.now())
        )
        self.leases += [Lease(job.id, request.token) for job in exchange.claimed]

    @rule(
        job_type=st.sampled_from(TYPES),
        change=st.sampled_from(
            [
                {"concurrency": 1},
                {"rate": dq.Rate(1, per=20)},
                {"group_concurrency": 1},
                {"group_rate": dq.Rate(1, per=20)},
                {"concurrency": None, "rate": None},
                "pause",
                "resume",
                "pause all",
                "resume all",
            ]
        ),
    )
    def limit(self, job_type: str, change: Any) -> None:
        """Stored limits and pauses: the claims after obey them alike."""
        if change == "pause":
            self.both(lambda q, b, i: q.pause(job_type))
        elif change == "resume":
            self.both(lambda q, b, i: q.resume(job_type))
        elif change == "pause all":
            self.both(lambda q, b, i: q.pause())
        elif change == "resume all":
            self.both(lambda q, b, i: q.resume())
        else:
            self.both(lambda q, b, i: q.set_limits(job_type, **change))
        self.both(lambda q, b, i: q.get_limits())

    @precondition(lambda self: self.leases)
    @rule(pick=small, output=st.sampled_from([None, 1, {"ok": True}]))
    def complete(self, pick: int, output: Any) -> None:
        lease = self.leases[pick % len(self.leases)]
        self.settle(Completion(lease, output, {"took_ms": 5}))

    @precondition(lambda self: self.leases)
    @rule(pick=small, retry_in=st.sampled_from([None, 10, 60]))
    def fail(self, pick: int, retry_in: int | None) -> None:
        lease = self.leases[pick % len(self.leases)]
        retry_at = (
            None if retry_in is None else self.clock.now() + timedelta(seconds=retry_in)
        )
        failure = Failure(lease, "boom", FailureReason.HANDLER_ERROR, retry_at)
        self.settle(failure)

    @precondition(lambda self: self.leases)
    @rule(pick=small, seconds=st.sampled_from([5, 50]))
    def wait_for_time(self, pick: int, seconds: int) -> None:
        lease = self.leases[pick % len(self.leases)]
        until = self.clock.now() + timedelta(seconds=seconds)
        self.settle(Suspension(lease, {"slept": True}, wait_until=until))

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
                self.lease_on(i, lease),
                token,
                {"token": token_id},
                now=self.clock.now(),
            )
        )
        if created:
            self.tokens.append(token_id)
            suspension = Suspension(lease, {"token": token_id}, wait_token_id=token_id)
            self.settle(suspension)

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
        self.both(
            lambda q, b, i: b.cancel_job(self.on(i, job_id), now=self.clock.now())
        )

    @rule(job_type=st.sampled_from(TYPES))
    def cancel_by_type(self, job_type: str) -> None:
        where = JobFilter(job_type=job_type)
        self.both(lambda q, b, i: b.cancel_jobs(where, now=self.clock.now()), ids=True)

    @precondition(lambda self: self.job_ids)
    @rule(pick=small)
    def retry(self, pick: int) -> None:
        job_id = self.job_ids[pick % len(self.job_ids)]
        self.both(lambda q, b, i: b.retry_job(self.on(i, job_id), now=self.clock.now()))

    @precondition(lambda self: self.job_ids)
    @rule(pick=small, priority=st.integers(0, 3))
    def edit(self, pick: int, priority: int) -> None:
        job_id = self.job_ids[pick % len(self.job_ids)]
        changes = JobChanges({"priority": priority}, {"priority": priority})
        self.both(
            lambda q, b, i: b.edit_jobs(
                self.on(i, job_id), changes, now=self.clock.now()
            )
        )

    @precondition(lambda self: self.leases)
    @rule(pick=small)
    def release(self, pick: int) -> None:
        lease = self.leases[pick % len(self.leases)]
        self.both(
            lambda q, b, i: b.release_jobs(
                [self.lease_on(i, lease)], now=self.clock.now()
            )
        )

    @precondition(lambda self: self.leases)
    @rule(pick=small)
    def heartbeat_and_prolong(self, pick: int) -> None:
        lease = self.leases[pick % len(self.leases)]
        self.both(
            lambda q, b, i: b.heartbeat(
                [self.lease_on(i, lease)], now=self.clock.now()
            ),
            ids=True,
        )
        self.both(
            lambda q, b, i: b.prolong_job(
                self.lease_on(i, lease), 90, now=self.clock.now()
            )
        )

    @rule(threshold=st.sampled_from([30, 120]))
    def reclaim(self, threshold: int) -> None:
        self.both(
            lambda q, b, i: b.reclaim_stuck_jobs(
                threshold, "worker lost", now=self.clock.now()
            ),
            ids=True,
        )

    @rule(limit=st.integers(1, 3))
    def worker_lost(self, limit: int) -> None:
        """A worker claims, then dies: past every lease, its jobs are
        reclaimed (retried, or failed for good when out of attempts)."""
        self.claim("lost", limit, None, None)
        self.advance(121)
        self.reclaim(30)

    @rule()
    def time_out_flows(self) -> None:
        timed_out = self.both(lambda q, b, i: b.time_out_flows(now=self.clock.now()))
        self.join(timed_out)

    @rule(limit=st.integers(1, 3))
    def processor_turn(self, limit: int) -> None:
        """One turn of a real processor: claim a batch, run it, settle it
        (and enqueue the joins of flows it made ready)."""

        async def turn(q: dq.JobQueue, b: Backend, i: int) -> int:
            processor = q.create_processor(
                HANDLERS, worker_id="p1", batch_size=limit, concurrency=1
            )
            return await processor.start()

        self.both(turn)
        self.pair_new_jobs()

    @rule(
        job_type=st.sampled_from([None, *TYPES]),
        priority=st.sampled_from([None, 0, 1]),
        tags=st.sampled_from([None, *(dq.TagFilter(["x"], m) for m in TAG_MODES)]),
        status=st.sampled_from([None, dq.JobStatus.PENDING, dq.JobStatus.FAILED]),
        offset=st.integers(0, 2),
    )
    def read(
        self,
        job_type: str | None,
        priority: int | None,
        tags: dq.TagFilter | None,
        status: dq.JobStatus | None,
        offset: int,
    ) -> None:
        where = JobFilter(job_type, priority, None, tags, status)
        self.both(lambda q, b, i: b.get_jobs(where, 3, offset))
        self.both(lambda q, b, i: b.count_jobs(where))

    @rule(age=st.sampled_from([0, 60]), batch=st.integers(1, 3))
    def clean_up(self, age: int, batch: int) -> None:
        before = self.clock.now() - timedelta(seconds=age)
        self.both(lambda q, b, i: b.cleanup_old_jobs(before, batch))
        self.both(lambda q, b, i: b.cleanup_old_job_events(before, batch))
        self.both(lambda q, b, i: b.cleanup_old_flows(before, batch))

    @rule(seconds=st.sampled_from([1, 15, 45, 100]))
    def advance(self, seconds: int) -> None:
        self.clock.advance(seconds)

    # -- what both must show --------------------------------------------------

    def pair_new_jobs(self) -> None:
        """Pair the jobs that calls made on their own (a processor's joins)
        by creation order, which every store's ids follow."""

        async def unpaired(q: dq.JobQueue, b: Backend, i: int) -> list[int]:
            jobs = await b.get_jobs(JobFilter(), 10_000, 0)
            known = self.job_id_maps[i]
            return sorted(job.id for job in jobs if job.id not in known)

        self.job_ids += self.both(unpaired, new_ids=True)

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


EXAMPLES = {"sqlite": 60, "postgres": 12, "redis": 15}
"""Sequences per store, for a run of a few tens of seconds each (a server
store answers each call over the network)."""


@pytest.mark.parametrize("store", PROCESS_STORES)
def test_memory_and_the_store_move_in_lockstep(store: str, tmp_path: Path) -> None:
    machine = type(
        f"Lockstep_{store}",
        (LockstepMachine,),
        {"store": store, "tmp_path": tmp_path},
    )
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=EXAMPLES[store],
            stateful_step_count=40,
            deadline=None,
            derandomize=True,
            # Shrinking a mismatch with the explain phase's tracer on is slow
            # enough on a server store to run into the test's timeout.
            phases=[phase for phase in Phase if phase is not Phase.explain],
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
