"""Options at the edge: processors, supervisors and connections."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dataqueue._validate.basics import (
    BAD_NAME_CHAR,
    BRACES,
    GLOB_CHARS,
    INT32_MAX,
    MAX_BATCH_SIZE,
    MAX_CONCURRENCY,
    MAX_JOB_DURATION_SECONDS,
    MAX_KEY_PREFIX_CHARS,
    MIN_POLL_INTERVAL,
    SCHEMA_NAME,
    check_bool,
    check_int,
    check_name,
    kind,
    show,
    to_seconds,
)
from dataqueue._validate.jobs import (
    days_to_keep,
)
from dataqueue.types import Handler

ALL_JOB_TYPES = "*"
"""``create_processor(job_type="*")``: claim every job type, handled or not."""


@dataclass(frozen=True, slots=True)
class ProcessorOptions:
    """The checked arguments of ``create_processor``."""

    handlers: dict[str, Handler]
    worker_id: str | None
    batch_size: int
    concurrency: int
    poll_interval: float
    on_error: Callable[[BaseException], Any] | None
    verbose: bool
    job_types: tuple[str, ...] | None
    heartbeat_interval: float
    group_concurrency: int | None = None


def processor_options(
    handlers: Any,
    *,
    worker_id: Any = None,
    batch_size: Any = 10,
    concurrency: Any = 3,
    poll_interval: Any = 5,
    on_error: Any = None,
    verbose: Any = False,
    job_type: Any = None,
    heartbeat_interval: Any = 10,
    group_concurrency: Any = None,
    where: str = "create_processor",
) -> ProcessorOptions:
    """Check every argument of ``create_processor`` at the call."""
    if not isinstance(handlers, Mapping):
        raise TypeError(
            f"{where}: handlers must be a dict of job type to function, got "
            f"{kind(handlers)}"
        )
    checked: dict[str, Handler] = {}
    for name, handler in handlers.items():
        check_name(name, where, "handlers key")
        if not callable(handler):
            raise TypeError(
                f"{where}: handler for {show(name)} is not callable: {kind(handler)}"
            )
        checked[name] = handler
    if on_error is not None and not callable(on_error):
        raise TypeError(f"{where}: on_error must be callable, got {kind(on_error)}")
    # By default a processor claims only what it can run, so that workers
    # of different services (or versions) can share one store.
    job_types: tuple[str, ...] | None = tuple(checked)
    if job_type == ALL_JOB_TYPES or job_type in ([ALL_JOB_TYPES], (ALL_JOB_TYPES,)):
        job_types = None
    elif job_type is not None:
        many = [job_type] if isinstance(job_type, str) else job_type
        if not isinstance(many, list | tuple):
            raise TypeError(
                f"{where}: job_type must be a str or a list of str, got "
                f"{kind(job_type)}"
            )
        if not many:
            raise ValueError(f"{where}: job_type must not be an empty list")
        if ALL_JOB_TYPES in many:
            raise ValueError(
                f"{where}: job_type {ALL_JOB_TYPES!r} means every type; give it "
                "alone, not in a list of types"
            )
        job_types = tuple(
            dict.fromkeys(
                check_name(t, where, f"job_type[{i}]") for i, t in enumerate(many)
            )
        )
    return ProcessorOptions(
        handlers=checked,
        worker_id=None
        if worker_id is None
        else check_name(worker_id, where, "worker_id"),
        batch_size=check_int(
            batch_size, where, "batch_size", minimum=1, maximum=MAX_BATCH_SIZE
        ),
        concurrency=check_int(
            concurrency, where, "concurrency", minimum=1, maximum=MAX_CONCURRENCY
        ),
        poll_interval=to_seconds(
            poll_interval,
            where,
            "poll_interval",
            minimum=MIN_POLL_INTERVAL,
            maximum=MAX_JOB_DURATION_SECONDS,
        ),
        on_error=on_error,
        verbose=check_bool(verbose, where, "verbose"),
        job_types=job_types,
        heartbeat_interval=to_seconds(
            heartbeat_interval,
            where,
            "heartbeat_interval",
            minimum=MIN_POLL_INTERVAL,
            maximum=MAX_JOB_DURATION_SECONDS,
        ),
        group_concurrency=None
        if group_concurrency is None
        else check_int(
            group_concurrency, where, "group_concurrency", minimum=1, maximum=INT32_MAX
        ),
    )


@dataclass(frozen=True, slots=True)
class SupervisorOptions:
    """The checked arguments of ``create_supervisor``, in seconds; ``None``:
    that cleanup is off."""

    interval: float
    stuck_seconds: float
    keep_jobs_seconds: float | None
    keep_events_seconds: float | None


def supervisor_options(
    *,
    interval: Any = 60,
    stuck_jobs_timeout_minutes: Any = 1,
    cleanup_jobs_days_to_keep: Any = 30,
    cleanup_events_days_to_keep: Any = 30,
    where: str = "create_supervisor",
) -> SupervisorOptions:
    """Check every argument of ``create_supervisor`` at the call."""
    stuck = to_seconds(
        stuck_jobs_timeout_minutes,
        where,
        "stuck_jobs_timeout_minutes",
        allow_zero=False,
        unit="minutes",
        maximum=MAX_JOB_DURATION_SECONDS,
    )

    def keep(value: Any, name: str) -> float | None:
        return None if value is None else days_to_keep(value, where, name)

    return SupervisorOptions(
        interval=to_seconds(
            interval,
            where,
            "interval",
            minimum=MIN_POLL_INTERVAL,
            maximum=MAX_JOB_DURATION_SECONDS,
        ),
        stuck_seconds=stuck,
        keep_jobs_seconds=keep(cleanup_jobs_days_to_keep, "cleanup_jobs_days_to_keep"),
        keep_events_seconds=keep(
            cleanup_events_days_to_keep, "cleanup_events_days_to_keep"
        ),
    )


def check_url(value: Any, where: str = "connect") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{where}: url must be a str, got {kind(value)}")
    bad = BAD_NAME_CHAR.search(value)
    if bad is not None:
        raise ValueError(
            f"{where}: url must not contain control characters, found {bad.group()!r}"
        )
    return value


def check_schema(value: Any, where: str = "connect") -> str | None:
    """A PostgreSQL schema: a plain identifier, not reserved (``pg_…``)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{where}: schema must be a str, got {kind(value)}")
    if not SCHEMA_NAME.fullmatch(value) or value.lower().startswith("pg_"):
        raise ValueError(
            f"{where}: schema must be a plain identifier (a letter or _, then "
            "letters, digits or _; at most 63 characters; not starting with "
            f"pg_), got {show(value)}"
        )
    return value


def check_key_prefix(value: Any, where: str = "connect") -> str | None:
    """A Redis key prefix: a name of at most 100 characters without the glob
    characters ``* ? [ ] \\`` (the prefix is matched when keys are scanned)
    nor braces (dataqueue makes the prefix the hash tag ``{prefix}`` itself)."""
    if value is None:
        return None
    prefix = check_name(value, where, "key_prefix", max_chars=MAX_KEY_PREFIX_CHARS)
    glob = sorted(GLOB_CHARS.intersection(prefix))
    if glob:
        raise ValueError(
            f"{where}: key_prefix must not contain the glob characters "
            f"{' '.join(glob)}, got {show(prefix)}"
        )
    braces = sorted(BRACES.intersection(prefix))
    if braces:
        raise ValueError(
            f"{where}: key_prefix must not contain {' '.join(braces)} "
            f"(dataqueue wraps the prefix in one hash tag itself), got {show(prefix)}"
        )
    return prefix


def check_tls(value: Any, where: str, name: str) -> Mapping[str, Any] | None:
    if value is not None and not isinstance(value, Mapping):
        raise TypeError(
            f"{where}: {name} must be a dict (ca, cert, key, reject_unauthorized), "
            f"got {kind(value)}"
        )
    return value


def check_clock(value: Any, where: str = "connect") -> Any:
    if value is not None and not callable(getattr(value, "now", None)):
        raise TypeError(
            f"{where}: clock must have a now() method returning a datetime, got "
            f"{kind(value)}"
        )
    return value
