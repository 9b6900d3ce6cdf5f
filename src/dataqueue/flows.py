"""Flows: steps that run in parallel as ordinary jobs, and a join that runs
once after them.

The barrier lives in the store (see ``backends/protocol.py``): the atomic
step that makes a step final records its outcome and counts it down, so a
flow becomes ``ready`` exactly once. Turning a ready flow into its join job
is decided here: the join's payload is built from the recorded outcomes in
one place, and the store inserts it only while the flow is still ``ready``,
so however many processors and supervisors try, the join is enqueued once.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from dataqueue import _trace
from dataqueue import _validate as v
from dataqueue._commands import NewFlow, NewJob, StoredFlow
from dataqueue.models import (
    FAILURE_POLICIES,
    FlowRecord,
    FlowStatus,
    JobSpec,
)
from dataqueue.types import Duration, JSONValue

if TYPE_CHECKING:
    from dataqueue.backends.protocol import FlowStore

MAX_FLOW_STEPS = 10_000
"""Steps in one flow: they are inserted in one atomic step."""

FLOW_RESULTS_KEY = "flow_results"

# The join's options, kept by the store as JSON text until the join is due.
_JOIN_OPTIONS = (
    "job_type",
    "payload",
    "priority",
    "max_attempts",
    "timeout",
    "force_kill_on_timeout",
    "tags",
    "retry_delay",
    "retry_backoff",
    "retry_delay_max",
    "trace_context",
    "dead_letter_job_type",
)


def new_flow(
    steps: Any,
    join: Any,
    failure_policy: Any,
    timeout: Duration | None,
    entity: Any,
    *,
    now: datetime,
    where: str = "start_flow",
    flow_id: str | None = None,
) -> NewFlow:
    """Validate a flow; every step and the join are checked as ``add_job``
    checks a job, before anything is written. ``flow_id`` is drawn unless
    given (a durable handler's flow keeps its id across re-runs)."""
    if not isinstance(steps, list | tuple):
        raise TypeError(
            f"{where}: steps must be a list of dataqueue.JobSpec, got "
            f"{type(steps).__name__}"
        )
    if not steps:
        raise ValueError(f"{where}: a flow needs at least one step, got none")
    if len(steps) > MAX_FLOW_STEPS:
        raise ValueError(
            f"{where}: a flow has at most {MAX_FLOW_STEPS} steps, got {len(steps)}"
        )
    if failure_policy not in FAILURE_POLICIES:
        raise ValueError(
            f"{where}: failure_policy must be 'continue' or 'abort', got "
            f"{v.show(failure_policy)}"
        )
    flow_id = flow_id or str(uuid.uuid4())
    new_steps = [
        _step(spec, index, flow_id, where, now) for index, spec in enumerate(steps)
    ]
    join_job = _join(join, where, now)
    seconds = v.job_duration(timeout, where, "timeout", allow_zero=False)
    return NewFlow(
        id=flow_id,
        steps=new_steps,
        join_job_type=join_job.job_type,
        join_spec=_encode_join(join_job),
        failure_policy=failure_policy,
        timeout_at=None if seconds is None else now + timedelta(seconds=seconds),
        entity=None if entity is None else v.check_entity(entity, where),
    )


def _step(spec: Any, index: int, flow_id: str, where: str, now: datetime) -> NewJob:
    if not isinstance(spec, JobSpec):
        raise TypeError(
            f"{where}: steps[{index}] must be a dataqueue.JobSpec, got "
            f"{type(spec).__name__}"
        )
    label = f"{where}: steps[{index}] ({v.show(spec.job_type, 60)})"
    _no_key_or_entity(spec, label)
    return v.new_job(spec, flow_id, now=now, where=label, flow_step_index=index)


def _join(spec: Any, where: str, now: datetime) -> NewJob:
    if not isinstance(spec, JobSpec):
        raise TypeError(
            f"{where}: join must be a dataqueue.JobSpec, got {type(spec).__name__}"
        )
    label = f"{where}: join ({v.show(spec.job_type, 60)})"
    _no_key_or_entity(spec, label)
    if spec.payload is not None and not isinstance(spec.payload, dict):
        raise TypeError(
            f"{label}: the join's payload must be a dict (it receives "
            f"'{FLOW_RESULTS_KEY}'), got {type(spec.payload).__name__}"
        )
    if isinstance(spec.payload, dict) and FLOW_RESULTS_KEY in spec.payload:
        raise ValueError(
            f"{label}: the join's payload must not have a '{FLOW_RESULTS_KEY}' "
            "key; the flow fills it in"
        )
    if spec.run_at is not None or spec.delay is not None:
        raise ValueError(
            f"{label}: a join runs when its flow is done; drop run_at and delay"
        )
    return v.new_job(spec, now=now, where=label)


def _no_key_or_entity(spec: JobSpec, label: str) -> None:
    # A taken idempotency key would hand back another job that knows nothing
    # of the flow; an entity belongs to the flow as a whole.
    if spec.idempotency_key is not None:
        raise ValueError(f"{label}: flow jobs take no idempotency_key")
    if spec.entity is not None:
        raise ValueError(
            f"{label}: flow jobs take no entity; pass entity= to start_flow"
        )
    # The flow orders its jobs itself (the join after the steps); a dedupe
    # key could hand back a job outside the flow.
    if spec.dedupe is not None or spec.depends_on is not None:
        raise ValueError(f"{label}: flow jobs take no dedupe or depends_on")


def _encode_join(job: NewJob) -> str:
    return json.dumps({name: getattr(job, name) for name in _JOIN_OPTIONS})


async def store_flow(
    store: FlowStore, flow: NewFlow, now: datetime
) -> tuple[NewFlow, list[int]]:
    """Insert the flow (under a producer span when traced, whose context its
    steps and join keep); the flow as stored and its steps' ids."""
    with _trace.producing("start_flow", [s.job_type for s in flow.steps]) as producer:
        if producer is not None:
            join = json.loads(flow.join_spec)
            join["trace_context"] = producer.carrier
            flow = dataclasses.replace(
                flow,
                steps=[
                    dataclasses.replace(s, trace_context=producer.carrier)
                    for s in flow.steps
                ],
                join_spec=json.dumps(join),
            )
        step_ids = await store.start_flow(flow, now=now)
        if producer is not None:
            producer.added(step_ids)
    return flow, step_ids


def join_job(flow: StoredFlow) -> NewJob:
    """The join of a ``ready`` flow, its payload holding ``flow_results``."""
    options = json.loads(flow.join_spec)
    payload = dict(options.pop("payload") or {})
    payload[FLOW_RESULTS_KEY] = flow_results(flow.record)
    return NewJob(
        **options,
        payload=payload,
        run_at=None,
        idempotency_key=None,
        flow_id=flow.record.id,
        entity=flow.record.entity,
    )


def flow_results(flow: FlowRecord) -> dict[str, JSONValue]:
    """``{"steps": [...], "aborted", "timed_out"}``: one entry per step that
    finished for good, in step order."""
    steps: list[JSONValue] = []
    for step in flow.steps:
        if step.outcome is None:
            continue
        entry: dict[str, JSONValue] = {
            "step_index": step.step_index,
            "job_id": step.job_id,
            "status": step.outcome,
        }
        if step.outcome == "success":
            entry["result"] = step.result
        else:
            entry["error"] = step.error
        steps.append(entry)
    return {"steps": steps, "aborted": flow.aborted, "timed_out": flow.timed_out}


def check_flow_id(value: Any, where: str) -> str:
    """A flow id as ``start_flow`` returns it (a UUID string)."""
    if not isinstance(value, str):
        raise TypeError(f"{where}: flow_id must be a str, got {type(value).__name__}")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError(
            f"{where}: flow_id must be a flow id as start_flow returns it, got "
            f"{v.show(value)}"
        ) from None


def flow_status(value: Any, where: str) -> FlowStatus | None:
    if value is None:
        return None
    try:
        return FlowStatus(value)
    except ValueError:
        raise ValueError(
            f"{where}: status must be one of "
            f"{', '.join(s.value for s in FlowStatus)}, got {v.show(value)}"
        ) from None
