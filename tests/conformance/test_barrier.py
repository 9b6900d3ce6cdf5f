"""Each store's atomic barrier step against the barrier's rule in Python
(``_transitions.flow_barrier``): random flows, steps finished in random
calls (batches of completions and final failures, stale duplicates,
cancels), and the stored flow must be what the rule says."""

from __future__ import annotations

import random
from dataclasses import dataclass

import dataqueue as dq
from dataqueue._commands import ClaimRequest, Completion, Failure, Lease, Outcome
from dataqueue._transitions import BarrierState, flow_barrier
from dataqueue.models import FailurePolicy, FailureReason, FlowStatus, StepOutcome
from dataqueue.testing import FakeClock


@dataclass(frozen=True)
class Scenario:
    """Steps below ``claimed`` are claimed and settled in ``batches`` (a
    step may come back in a later batch: its lease is gone by then); the
    others are cancelled one call each, in ``cancels`` order."""

    policy: FailurePolicy
    steps: int
    claimed: int
    batches: list[list[tuple[int, StepOutcome]]]
    cancels: list[int]


def scenarios(seed: int, count: int) -> list[Scenario]:
    rng = random.Random(seed)
    made = []
    for _ in range(count):
        steps = rng.randint(1, 5)
        claimed = rng.randint(1, steps)
        order = [
            (rng.randrange(claimed), rng.choice(("success", "fail")))
            for _ in range(rng.randint(1, claimed + 2))
        ]
        cut = sorted(rng.sample(range(1, len(order)), min(2, len(order) - 1)))
        batches = [
            order[a:b] for a, b in zip([0, *cut], [*cut, len(order)], strict=True)
        ]
        cancels = list(range(claimed, steps))
        rng.shuffle(cancels)
        made.append(
            Scenario(
                rng.choice(("continue", "abort")),
                steps,
                claimed,
                batches,  # type: ignore[arg-type]
                cancels,
            )
        )
    return made


def outcome(lease: Lease, step_outcome: StepOutcome) -> Outcome:
    if step_outcome == "success":
        return Completion(lease, "done", {})
    return Failure(lease, "broke", FailureReason.HANDLER_ERROR, None)


async def play(queue: dq.JobQueue, clock: FakeClock, scenario: Scenario) -> None:
    flow_id = await queue.start_flow(
        [dq.JobSpec("step", {"n": n}) for n in range(scenario.steps)],
        dq.JobSpec("join"),
        failure_policy=scenario.policy,
    )
    store = queue.backend
    lease = f"lease-{flow_id}"
    taken = await store.settle_and_claim(
        [], ClaimRequest("w", lease, scenario.claimed, ("step",)), now=clock.now()
    )
    # A cancel makes its flow's join due; the claim takes steps only.
    job_ids = {
        job.payload["n"]: job.id
        for job in taken.claimed
        if isinstance(job, dq.JobRecord) and isinstance(job.payload, dict)
    }
    assert sorted(job_ids) == list(range(scenario.claimed))
    expected = BarrierState.started(scenario.steps)
    settled: set[int] = set()
    for batch in scenario.batches:
        outcomes = [outcome(Lease(job_ids[n], lease), o) for n, o in batch]
        await store.settle_and_claim(outcomes, None, now=clock.now())
        fresh = []
        for n, o in batch:
            if n not in settled:
                settled.add(n)
                fresh.append((n, o))
        expected = flow_barrier(expected, scenario.policy, fresh)
    flow = await queue.get_flow(flow_id)
    assert flow is not None
    step_jobs = {step.step_index: step.job_id for step in flow.steps}
    for n in scenario.cancels:
        await queue.cancel_job(step_jobs[n])
        expected = flow_barrier(expected, scenario.policy, [(n, "fail")])
    flow = await queue.get_flow(flow_id)
    assert flow is not None
    # cancel_job enqueues the join of a flow it made ready: joined is ready.
    stored = BarrierState(
        FlowStatus.READY if flow.status is FlowStatus.JOINED else flow.status,
        flow.remaining_steps,
        flow.aborted,
        {s.step_index: s.outcome for s in flow.steps if s.outcome is not None},
    )
    assert stored == expected, scenario


async def test_every_store_keeps_the_barrier_as_the_rule_says(
    queue: dq.JobQueue, clock: FakeClock
) -> None:
    for scenario in scenarios(seed=19, count=12):
        await play(queue, clock, scenario)
