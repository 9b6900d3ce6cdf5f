"""Jobs at the edge: new jobs and their options, edits, filters, and the
maintenance calls' arguments."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from dataqueue import _transitions as t
from dataqueue._commands import (
    EDITABLE_FIELDS,
    DedupeRule,
    Dependencies,
    JobChanges,
    JobFilter,
    NewJob,
)
from dataqueue._validate.basics import (
    FILTER_KEYS,
    MAX_JOB_DURATION_SECONDS,
    aware_utc,
    check_bool,
    check_int,
    check_job_type,
    check_json,
    check_max_attempts,
    check_name,
    check_priority,
    check_run_at,
    check_tags,
    job_duration,
    kind,
    retry_delays_in_order,
    show,
    to_seconds,
)
from dataqueue.errors import DependencyError
from dataqueue.models import (
    DEDUPE_MODES,
    TAG_MODES,
    BatchRef,
    Dedupe,
    DependsOn,
    Entity,
    JobSpec,
    JobStatus,
    TagFilter,
    TimeRange,
)
from dataqueue.types import JSONValue


def check_entity(value: Any, where: str, name: str = "entity") -> Entity:
    """An entity binding: a dict with exactly the names ``id`` and ``type``."""
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{where}: {name} must be a dict with 'id' and 'type', got {kind(value)}"
        )
    if set(value) != {"id", "type"}:
        raise ValueError(
            f"{where}: {name} must have exactly the keys 'id' and 'type', got "
            f"{sorted(map(str, value))}"
        )
    return Entity(
        id=check_name(value["id"], where, f"{name}['id']"),
        type=check_name(value["type"], where, f"{name}['type']"),
    )


def new_job(
    spec: JobSpec,
    flow_id: str | None = None,
    *,
    now: datetime | None = None,
    where: str | None = None,
    flow_step_index: int | None = None,
    batch: tuple[int, int] | None = None,
) -> NewJob:
    """Validate one job spec (``where`` names the call; default ``add_job``);
    ``now`` is when a ``delay`` starts (no delay is taken without it);
    ``batch`` is the spec's (index, count) in ``add_jobs``, where
    ``batch_ref`` may name its other specs."""
    if where is None:
        where = f"add_job({show(spec.job_type, 60)})"
    job_type = check_job_type(spec.job_type, where)
    run_at = None if spec.run_at is None else check_run_at(spec.run_at, where)
    if spec.delay is not None:
        if run_at is not None:
            raise ValueError(f"{where}: give run_at or delay, not both")
        if now is None:
            raise ValueError(f"{where}: delay is not taken here")
        delay = to_seconds(spec.delay, where, "delay", maximum=MAX_JOB_DURATION_SECONDS)
        run_at = check_run_at(now + timedelta(seconds=delay), where)
    key = spec.idempotency_key
    if key is not None:
        key = check_name(key, where, "idempotency_key")
    dedupe = None
    if spec.dedupe is not None:
        if key is not None:
            raise ValueError(f"{where}: give idempotency_key or dedupe, not both")
        if now is None:
            raise ValueError(f"{where}: dedupe is not taken here")
        dedupe, window = check_dedupe(spec.dedupe, where, now)
        if dedupe.mode == "debounce" and run_at is None and window is not None:
            run_at = check_run_at(now + timedelta(seconds=window), where)
    retry_delay = job_duration(spec.retry_delay, where, "retry_delay", allow_zero=True)
    retry_delay_max = job_duration(
        spec.retry_delay_max, where, "retry_delay_max", allow_zero=True
    )
    retry_delays_in_order(retry_delay, retry_delay_max, where)
    return NewJob(
        job_type=job_type,
        payload=check_json(spec.payload, where),
        priority=check_priority(spec.priority, where),
        run_at=run_at,
        max_attempts=check_max_attempts(spec.max_attempts, where),
        timeout=job_duration(spec.timeout, where, "timeout", allow_zero=False),
        force_kill_on_timeout=check_bool(
            spec.force_kill_on_timeout, where, "force_kill_on_timeout"
        ),
        tags=check_tags(spec.tags, where),
        idempotency_key=key,
        retry_delay=retry_delay,
        retry_backoff=None
        if spec.retry_backoff is None
        else check_bool(spec.retry_backoff, where, "retry_backoff"),
        retry_delay_max=retry_delay_max,
        flow_id=flow_id,
        flow_step_index=flow_step_index,
        entity=None if spec.entity is None else check_entity(spec.entity, where),
        dead_letter_job_type=dead_letter_type(spec.dead_letter_job_type, where),
        dedupe=dedupe,
        group_id=None if spec.group is None else check_name(spec.group, where, "group"),
        depends_on=None
        if spec.depends_on is None
        else check_depends_on(spec.depends_on, where, batch),
    )


def check_depends_on(
    value: Any, where: str, batch: tuple[int, int] | None
) -> Dependencies | None:
    """A ``dq.DependsOn`` (or a dict of its fields): ids of jobs (ints
    > 0), ``batch_ref``s inside ``add_jobs`` to other specs of the call,
    tags; duplicates dropped, None when it names nothing."""
    if isinstance(value, Mapping):
        unknown = sorted(set(map(str, value)) - {"job_ids", "tags"})
        if unknown:
            raise ValueError(
                f"{where}: depends_on takes job_ids and tags, not {unknown}"
            )
        value = DependsOn(**value)
    if not isinstance(value, DependsOn):
        raise TypeError(
            f"{where}: depends_on must be a dataqueue.DependsOn or a dict, got "
            f"{kind(value)}"
        )
    raw_ids = value.job_ids or []
    if not isinstance(raw_ids, list | tuple):
        raise TypeError(
            f"{where}: depends_on job_ids must be a list, got {kind(raw_ids)}"
        )
    job_ids: set[int] = set()
    indexes: set[int] = set()
    for raw in raw_ids:
        if isinstance(raw, BatchRef):
            if batch is None:
                raise ValueError(
                    f"{where}: depends_on batch_ref({raw.index}) is only taken "
                    "by add_jobs"
                )
            position, count = batch
            if raw.index == position:
                raise DependencyError(f"{where}: a job cannot depend on itself")
            if raw.index >= count:
                raise DependencyError(
                    f"{where}: depends_on batch_ref({raw.index}) is out of range "
                    f"for {count} job(s)"
                )
            indexes.add(raw.index)
        else:
            job_ids.add(check_int(raw, where, "depends_on job id", minimum=1))
    tags = check_tags(value.tags, where) if value.tags else []
    if not job_ids and not indexes and not tags:
        return None
    return Dependencies(tuple(sorted(job_ids)), tuple(sorted(indexes)), tuple(tags))


def refuse_cycles(jobs: list[NewJob], where: str) -> None:
    """``batch_ref``s of one ``add_jobs`` call must not go round in a
    circle (ids of stored jobs cannot: a new job is nobody's prerequisite
    yet)."""
    edges = {
        i: job.depends_on.batch_indexes
        for i, job in enumerate(jobs)
        if job.depends_on is not None
    }
    done: set[int] = set()

    def visit(node: int, path: list[int]) -> None:
        if node in path:
            loop = " -> ".join(f"specs[{i}]" for i in [*path[path.index(node) :], node])
            raise DependencyError(f"{where}: depends_on makes a cycle: {loop}")
        if node in done:
            return
        for nxt in edges.get(node, ()):
            visit(nxt, [*path, node])
        done.add(node)

    for start in edges:
        visit(start, [])


def check_dedupe(
    value: Any, where: str, now: datetime
) -> tuple[DedupeRule, float | None]:
    """A ``dq.Dedupe`` (or a dict of its fields) as the rule the store
    applies, and its window in seconds: ``throttle`` and ``debounce`` need
    one, ``until_done`` may have one."""
    if isinstance(value, Mapping):
        unknown = sorted(set(map(str, value)) - {"key", "window", "mode"})
        if unknown:
            raise ValueError(
                f"{where}: dedupe takes key, window and mode, not {unknown}"
            )
        if "key" not in value:
            raise ValueError(f"{where}: dedupe needs a key")
        value = Dedupe(**value)
    if not isinstance(value, Dedupe):
        raise TypeError(
            f"{where}: dedupe must be a dataqueue.Dedupe or a dict, got {kind(value)}"
        )
    key = check_name(value.key, where, "dedupe key")
    if value.mode not in DEDUPE_MODES:
        raise ValueError(
            f"{where}: dedupe mode must be one of {', '.join(DEDUPE_MODES)}, "
            f"got {show(value.mode, 40)}"
        )
    if value.window is None:
        if value.mode != "until_done":
            raise ValueError(f"{where}: a {value.mode} dedupe needs a window")
        window = None
    else:
        window = to_seconds(
            value.window, where, "dedupe window", maximum=MAX_JOB_DURATION_SECONDS
        )
        if window <= 0:
            raise ValueError(f"{where}: dedupe window must be positive, got {window}")
    return t.dedupe_rule(key, value.mode, window, now), window


def new_jobs(
    specs: Any, *, now: datetime | None = None, where: str = "add_jobs"
) -> list[NewJob]:
    """Validate the specs of ``add_jobs``: a list or tuple of ``JobSpec``."""
    if not isinstance(specs, list | tuple):
        raise TypeError(
            f"{where}: specs must be a list of dataqueue.JobSpec, got {kind(specs)}"
        )
    jobs = []
    for index, spec in enumerate(specs):
        if not isinstance(spec, JobSpec):
            raise TypeError(
                f"{where}: specs[{index}] must be a dataqueue.JobSpec, got {kind(spec)}"
            )
        label = f"{where}: specs[{index}] ({show(spec.job_type, 60)})"
        jobs.append(new_job(spec, now=now, where=label, batch=(index, len(specs))))
    refuse_cycles(jobs, where)
    return jobs


def reject_unknown_fields(
    updates: Mapping[str, Any], editable: tuple[str, ...], where: str
) -> None:
    unknown = set(updates) - set(editable)
    if unknown:
        raise TypeError(
            f"{where}: field(s) {sorted(map(str, unknown))} cannot be edited; "
            f"editable: {', '.join(editable)}"
        )


def dead_letter_type(raw: Any, where: str) -> str | None:
    """``dead_letter_job_type`` of a job or a schedule: a name, or None."""
    return None if raw is None else check_name(raw, where, "dead_letter_job_type")


def job_option(name: str, raw: Any, where: str) -> Any:
    """One edited job option, as ``add_job`` checks it: the fields that
    ``edit_job`` and ``edit_cron_job`` (whose schedules copy them onto each
    job) share. ``name`` is already known to be editable."""
    if name == "payload":
        return check_json(raw, where)
    if name == "priority":
        return check_priority(raw, where)
    if name == "max_attempts":
        return check_max_attempts(raw, where)
    if name == "timeout":
        return job_duration(raw, where, name, allow_zero=False)
    if name == "tags":
        return check_tags(raw, where)
    if name == "retry_backoff":
        return None if raw is None else check_bool(raw, where, name)
    return job_duration(raw, where, name, allow_zero=True)  # retry_delay(_max)


def job_changes(updates: Mapping[str, Any], where: str) -> JobChanges:
    """Validate the fields of edit_job / edit_all_pending_jobs."""
    reject_unknown_fields(updates, EDITABLE_FIELDS, where)
    values: dict[str, Any] = {}
    metadata: dict[str, JSONValue] = {}
    for name, raw in updates.items():
        value: Any
        if name == "run_at":
            value = None if raw is None else check_run_at(raw, where)
        elif name == "dead_letter_job_type":
            value = dead_letter_type(raw, where)
        else:
            value = job_option(name, raw, where)
        values[name] = value
        metadata[name] = value.isoformat() if isinstance(value, datetime) else value
    retry_delays_in_order(
        values.get("retry_delay"), values.get("retry_delay_max"), where
    )
    return JobChanges(values, t.edited_metadata(metadata))


def tag_filter(value: Any, where: str) -> TagFilter:
    values: Any
    if isinstance(value, TagFilter):
        values, mode = value.values, value.mode
    elif isinstance(value, Mapping):
        unknown = set(value) - {"values", "mode"}
        if unknown:
            raise TypeError(
                f"{where}: unknown key(s) in tags filter: {sorted(map(str, unknown))}"
            )
        if "values" not in value:
            raise ValueError(f"{where}: tags filter needs 'values'")
        values, mode = value["values"], value.get("mode", "all")
    elif isinstance(value, list | tuple):
        values, mode = value, "all"
    else:
        raise TypeError(
            f"{where}: tags must be a TagFilter, a dict or a list, got {kind(value)}"
        )
    if mode not in TAG_MODES:
        raise ValueError(
            f"{where}: tag mode must be one of {', '.join(TAG_MODES)}, got {show(mode)}"
        )
    return TagFilter(check_tags(values, where, "tags.values"), mode)


def time_range(value: Any, where: str) -> TimeRange:
    if isinstance(value, datetime):
        return TimeRange(eq=aware_utc(value, where, "run_at"))
    if isinstance(value, TimeRange):
        bounds = {k: getattr(value, k) for k in ("gt", "gte", "lt", "lte", "eq")}
    elif isinstance(value, Mapping):
        bounds = dict(value)
    else:
        raise TypeError(
            f"{where}: run_at must be a datetime, a TimeRange or a dict, got "
            f"{kind(value)}"
        )
    unknown = set(bounds) - {"gt", "gte", "lt", "lte", "eq"}
    if unknown:
        raise TypeError(
            f"{where}: unknown run_at operator(s) {sorted(map(str, unknown))}; "
            "use gt, gte, lt, lte or eq"
        )
    return TimeRange(
        **{
            k: aware_utc(v, where, f"run_at.{k}")
            for k, v in bounds.items()
            if v is not None
        }
    )


def job_filter(
    filters: Mapping[str, Any] | None,
    where: str,
    status: Any = None,
    more: Mapping[str, Any] | None = None,
) -> JobFilter:
    """Validate the filters of get_jobs and the bulk edit/cancel calls:
    ``filters`` (a dict) and ``more`` (given as keywords) combined."""
    if filters is not None and not isinstance(filters, Mapping):
        raise TypeError(f"{where}: filters must be a dict, got {kind(filters)}")
    filters = {**(filters or {}), **(more or {})}
    unknown = set(filters) - set(FILTER_KEYS)
    if unknown:
        raise TypeError(
            f"{where}: unknown filter(s) {sorted(map(str, unknown))}; "
            f"use {', '.join(FILTER_KEYS)}"
        )
    job_type = filters.get("job_type")
    priority = filters.get("priority")
    run_at = filters.get("run_at")
    tags = filters.get("tags")
    return JobFilter(
        job_type=None if job_type is None else check_job_type(job_type, where),
        priority=None if priority is None else check_priority(priority, where),
        run_at=None if run_at is None else time_range(run_at, where),
        tags=None if tags is None else tag_filter(tags, where),
        status=None if status is None else job_status(status, where),
    )


def job_status(value: Any, where: str) -> JobStatus:
    try:
        return JobStatus(value)
    except ValueError:
        choices = ", ".join(s.value for s in JobStatus)
        raise ValueError(
            f"{where}: status must be one of {choices}, got {show(value)}"
        ) from None


def stuck_threshold(value: Any, where: str, name: str) -> float:
    """The stuck-job threshold in seconds: minutes, or a timedelta."""
    return to_seconds(
        value, where, name, unit="minutes", maximum=MAX_JOB_DURATION_SECONDS
    )


def days_to_keep(value: Any, where: str, name: str = "days_to_keep") -> float:
    """How long finished jobs or events are kept, in seconds: days, or a
    timedelta; at most 100 years."""
    return to_seconds(value, where, name, unit="days")
