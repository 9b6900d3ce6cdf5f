"""``DataQueueBackend``: Django's task framework on dataqueue.

A task enqueues as one job of type ``django:<queue_name>`` whose payload
names the task function and carries its arguments; ``manage.py
dataqueue_worker`` runs it. The job's record is the task's result: its
status, return value (the job's output), errors and attempts.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import close_old_connections, connections
from django.utils import timezone
from django.utils.module_loading import import_string

import dataqueue as dq
from dataqueue.contrib.django._tasks import (
    BaseTaskBackend,
    Task,
    TaskContext,
    TaskError,
    TaskResult,
    TaskResultDoesNotExist,
    TaskResultStatus,
    normalize_json,
    task_backends,
    task_enqueued,
    task_finished,
    task_started,
)
from dataqueue.contrib.django.conf import QueueSettings, job_type, queue_settings
from dataqueue.contrib.django.queues import shared_queue

# Django 6's Task is generic only in its type stubs.
if TYPE_CHECKING:
    TaskBase = Task[Any, Any]
else:
    TaskBase = Task

STATUSES = {
    dq.JobStatus.PENDING: TaskResultStatus.READY,
    dq.JobStatus.WAITING: TaskResultStatus.READY,
    dq.JobStatus.PROCESSING: TaskResultStatus.RUNNING,
    dq.JobStatus.COMPLETED: TaskResultStatus.SUCCESSFUL,
    dq.JobStatus.CANCELLED: TaskResultStatus.FAILED,
}


class TaskFailed(Exception):
    """A task raised; the message starts with the exception's import path."""

    PATTERN = re.compile(r"^TaskFailed: (?P<path>[\w.]+)(?:: |$)")

    @classmethod
    def of(cls, error: Exception) -> TaskFailed:
        path = module_path(type(error))
        return cls(f"{path}: {error}" if str(error) else path)


class TaskCancelled(Exception):
    """The task's job was cancelled before it finished."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DataQueueTask(TaskBase):
    """A task with dataqueue's own options, given to ``@task(...)`` or
    ``.using(...)``: ``tags``, ``max_attempts`` (default 1: a task runs once,
    as on Django's own backends), ``timeout`` in seconds, ``idempotency_key``."""

    tags: tuple[str, ...] = ()
    max_attempts: int = 1
    timeout: float | None = None
    idempotency_key: str | None = None

    def using(
        self,
        *,
        priority: int | None = None,
        queue_name: str | None = None,
        run_after: datetime | None = None,
        backend: str | None = None,
        tags: list[str] | tuple[str, ...] | None = None,
        max_attempts: int | None = None,
        timeout: float | None = None,
        idempotency_key: str | None = None,
    ) -> DataQueueTask:
        """The task with changed defaults, Django's and dataqueue's."""
        changes: dict[str, Any] = {
            "priority": priority,
            "queue_name": queue_name,
            "run_after": run_after,
            "backend": backend,
            "tags": None if tags is None else tuple(tags),
            "max_attempts": max_attempts,
            "timeout": timeout,
            "idempotency_key": idempotency_key,
        }
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


class DataQueueBackend(BaseTaskBackend):
    """``TASKS = {"default": {"BACKEND": "dataqueue.contrib.django.DataQueueBackend",
    "QUEUES": ["default"], "OPTIONS": {...}}}``; OPTIONS as ``DATAQUEUE``."""

    task_class = DataQueueTask
    supports_defer = True
    supports_async_task = True
    supports_get_result = True
    supports_priority = True

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        self._settings: QueueSettings | None = None

    @property
    def queue_settings(self) -> QueueSettings:
        if self._settings is None:
            self._settings = queue_settings(self.options)
        return self._settings

    @property
    def queue(self) -> dq.SyncJobQueue:
        """The dataqueue queue this backend's tasks go to."""
        return shared_queue(self.queue_settings)

    def enqueue(
        self, task: Task[Any, Any], args: Any, kwargs: Any
    ) -> TaskResult[Any, Any]:
        self.validate_task(task)
        result: TaskResult[Any, Any] = TaskResult(
            task=task,
            id="",
            status=TaskResultStatus.READY,
            enqueued_at=None,
            started_at=None,
            finished_at=None,
            last_attempted_at=None,
            args=list(args),
            kwargs=dict(kwargs),
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )
        payload = {
            "task": task.module_path,
            "takes_context": task.takes_context,
            "backend": self.alias,
            "args": result.args,
            "kwargs": result.kwargs,
        }
        job_id = self.queue.add_job(
            job_type(task.queue_name),
            payload,
            priority=task.priority,
            run_at=aware(task.run_after),
            max_attempts=getattr(task, "max_attempts", 1),
            timeout=getattr(task, "timeout", None),
            tags=list(getattr(task, "tags", ())) or None,
            idempotency_key=getattr(task, "idempotency_key", None),
            db=self._transaction(),
        )
        object.__setattr__(result, "id", str(job_id))
        object.__setattr__(result, "enqueued_at", timezone.now())
        task_enqueued.send(type(self), task_result=result)
        return result

    def _transaction(self) -> Any:
        """The caller's open transaction on the database the jobs live in."""
        alias = self.queue_settings.database
        if alias is None or not connections[alias].in_atomic_block:
            return None
        connection = connections[alias]
        connection.ensure_connection()
        return connection.connection

    def get_result(self, result_id: str) -> TaskResult[Any, Any]:
        try:
            job = self.queue.get_job(int(result_id))
        except ValueError:  # not a job id at all
            job = None
        if job is None or not is_task_job(job):
            raise TaskResultDoesNotExist(result_id)
        events = self.queue.get_job_events(job.id)
        return self.result_of(job, events)

    def result_of(
        self, job: dq.JobRecord, events: list[dq.JobEvent]
    ) -> TaskResult[Any, Any]:
        """The task result a task's job and its events describe."""
        payload = task_payload(job)
        runs = [e for e in events if e.event_type == "processing"]
        result: TaskResult[Any, Any] = TaskResult(
            task=self.task_of(job),
            id=str(job.id),
            status=status_of(job),
            enqueued_at=job.created_at,
            started_at=job.started_at,
            finished_at=finished_at(job),
            last_attempted_at=runs[-1].created_at if runs else None,
            args=payload["args"],
            kwargs=payload["kwargs"],
            backend=self.alias,
            errors=errors_of(job),
            worker_ids=[str((e.metadata or {}).get("worker_id", "")) for e in runs],
        )
        if job.status is dq.JobStatus.COMPLETED:
            object.__setattr__(result, "_return_value", job.output)
        return result

    def task_of(self, job: dq.JobRecord) -> Task[Any, Any]:
        payload = task_payload(job)
        path = payload["task"]
        try:
            found = import_string(path)
        except ImportError as error:
            raise ValueError(
                f"task {path!r} of job {job.id} is gone: {error}"
            ) from None
        return self.task_class(
            func=getattr(found, "func", found),
            priority=job.priority,
            queue_name=job.job_type.removeprefix(job_type("")),
            backend=self.alias,
            run_after=job.run_at,
            takes_context=bool(payload.get("takes_context")),
        )

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        problems = super().check(**kwargs)
        if not self.queues:
            problems.append(
                checks.Error(
                    f"TASKS[{self.alias!r}]: DataQueueBackend needs its queue names "
                    "in QUEUES (the worker runs the jobs of these queues)",
                    id="dataqueue.E001",
                )
            )
        try:
            self.queue_settings  # noqa: B018 -- read to validate it
        except ImproperlyConfigured as error:
            problems.append(checks.Error(str(error), id="dataqueue.E002"))
        return problems


def aware(moment: datetime | None) -> datetime | None:
    """``run_after`` as dataqueue takes it; naive means Django's time zone."""
    if moment is None or timezone.is_aware(moment):
        return moment
    return timezone.make_aware(moment, timezone.get_default_timezone())


def task_payload(job: dq.JobRecord) -> dict[str, Any]:
    if not isinstance(job.payload, dict):
        raise TypeError(f"job {job.id} is not a task: its payload is not a dict")
    return job.payload


def is_task_job(job: dq.JobRecord) -> bool:
    return (
        job.job_type.startswith(job_type(""))
        and isinstance(job.payload, dict)
        and "task" in job.payload
    )


def status_of(job: dq.JobRecord) -> TaskResultStatus:
    if job.status is dq.JobStatus.FAILED:
        will_retry = job.next_attempt_at is not None and job.attempts < job.max_attempts
        return TaskResultStatus.READY if will_retry else TaskResultStatus.FAILED
    return STATUSES[job.status]


def finished_at(job: dq.JobRecord) -> datetime | None:
    match status_of(job):
        case TaskResultStatus.SUCCESSFUL:
            return job.completed_at
        case TaskResultStatus.FAILED:
            return job.last_cancelled_at or job.last_failed_at
    return None


def errors_of(job: dq.JobRecord) -> list[TaskError]:
    errors = []
    for entry in job.error_history:
        message = str(entry.get("message", ""))
        match = TaskFailed.PATTERN.match(message)
        path = match["path"] if match else module_path(TaskFailed)
        errors.append(
            TaskError(
                exception_class_path=path,
                traceback=str(entry.get("traceback") or message),
            )
        )
    if job.status is dq.JobStatus.CANCELLED:
        errors.append(
            TaskError(
                exception_class_path=module_path(TaskCancelled),
                traceback=f"job {job.id} was cancelled at {job.last_cancelled_at}",
            )
        )
    return errors


def module_path(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"


async def run_task(payload: dict[str, Any], ctx: dq.JobContext) -> Any:
    """The handler of every task job: call the task function (``async def``
    on the loop, plain ``def`` in a thread with Django's connections kept
    fresh), sending Django's ``task_started`` and ``task_finished``."""
    backend = task_backends[payload["backend"]]
    if not isinstance(backend, DataQueueBackend):
        raise TypeError(f"TASKS[{payload['backend']!r}] is not a DataQueueBackend")
    events = await asyncio.to_thread(backend.queue.get_job_events, ctx.job_id)
    result = backend.result_of(ctx.job, events)
    function = result.task.func
    context: list[Any] = (
        [TaskContext(task_result=result)] if result.task.takes_context else []
    )
    task_started.send(type(backend), task_result=result)
    try:
        if inspect.iscoroutinefunction(function):
            value = await function(*context, *result.args, **result.kwargs)
        else:
            value = await asyncio.to_thread(
                with_fresh_connections(function),
                *context,
                *result.args,
                **result.kwargs,
            )
        value = normalize_json(value)
    except Exception as error:
        again = ctx.job.attempts < ctx.job.max_attempts
        finish(result, TaskResultStatus.READY if again else TaskResultStatus.FAILED)
        result.errors.append(
            TaskError(
                exception_class_path=module_path(type(error)),
                traceback="".join(traceback.format_exception(error)),
            )
        )
        task_finished.send(type(backend), task_result=result)
        raise TaskFailed.of(error) from error
    finish(result, TaskResultStatus.SUCCESSFUL, value)
    task_finished.send(type(backend), task_result=result)
    return value


def with_fresh_connections(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` closing Django's expired connections before and after,
    as Django does around each request."""

    def call(*args: Any, **kwargs: Any) -> Any:
        close_old_connections()
        try:
            return function(*args, **kwargs)
        finally:
            close_old_connections()

    return call


def finish(
    result: TaskResult[Any, Any], status: TaskResultStatus, value: Any = None
) -> None:
    object.__setattr__(result, "status", status)
    object.__setattr__(result, "finished_at", timezone.now())
    object.__setattr__(result, "_return_value", value)
