"""What DataQueueBackend adds to the django.tasks contract: transactions,
priority order, deferral, queue names, dataqueue's own task options,
retries and cancellation, on every store."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import checks
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

import dataqueue as dq
from dataqueue.contrib.django._tasks import (
    TaskResultDoesNotExist,
    TaskResultStatus,
    task,
    task_backends,
)
from dataqueue.contrib.django.backend import DataQueueBackend, TaskCancelled
from dataqueue.contrib.django.testing import add, fail
from dataqueue.testing import FakeClock
from tests.contrib.conftest import DATAQUEUE_BACKEND, run_tasks

pytestmark = pytest.mark.usefixtures("tasks_on")


def backend() -> DataQueueBackend:
    found = task_backends["dataqueue"]
    assert isinstance(found, DataQueueBackend)
    return found


def job_of(result_id: str) -> dq.JobRecord:
    job = backend().queue.get_job(int(result_id))
    assert job is not None
    return job


def test_the_capability_flags_say_what_it_does() -> None:
    flags = backend()
    assert flags.supports_defer
    assert flags.supports_async_task
    assert flags.supports_get_result
    assert flags.supports_priority


def test_a_task_is_a_job_of_its_queue_carrying_its_function_and_arguments() -> None:
    result = add.__module__  # the function's module, for the payload below
    queued = task(backend="dataqueue", queue_name="emails", priority=7)(add)
    enqueued = queued.enqueue(1, b=2)
    job = job_of(enqueued.id)
    assert job.job_type == "django:emails"
    assert job.priority == 7
    assert job.payload == {
        "task": f"{result}.add",
        "takes_context": False,
        "backend": "dataqueue",
        "args": [1],
        "kwargs": {"b": 2},
    }


def test_dataqueue_options_ride_on_the_task_and_on_using() -> None:
    queued = task(backend="dataqueue", tags=["billing"], max_attempts=4, timeout=30)(
        add
    )
    job = job_of(queued.enqueue(1, 2).id)
    assert (job.tags, job.max_attempts, job.timeout) == (["billing"], 4, 30)
    once = queued.using(idempotency_key="invoice-9", tags=["again"])
    first, second = once.enqueue(1, 2), once.enqueue(3, 4)
    assert first.id == second.id
    assert job_of(first.id).tags == ["again"]


@pytest.mark.parametrize(
    "store", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_enqueue_inside_atomic_commits_and_rolls_back_with_it(store: str) -> None:
    database = backend().queue_settings.database
    assert database is not None
    queued = task(backend="dataqueue")(add)

    class Rollback(Exception):
        pass

    def enqueue_then_roll_back() -> str:
        with transaction.atomic(using=database):
            result_id = queued.enqueue(1, 1).id
            raise Rollback(result_id)

    with pytest.raises(Rollback) as rolled_back:
        enqueue_then_roll_back()
    with pytest.raises(TaskResultDoesNotExist):
        backend().get_result(str(rolled_back.value))

    with transaction.atomic(using=database):
        kept = queued.enqueue(2, 2)
        with pytest.raises(TaskResultDoesNotExist):  # others see it at the commit
            backend().get_result(kept.id)
    assert run_tasks() == 1
    kept.refresh()
    assert kept.return_value == 4


def test_higher_priority_runs_first() -> None:
    queued = task(backend="dataqueue")(add)
    low = queued.using(priority=-5).enqueue(0, 1)
    high = queued.using(priority=50).enqueue(0, 2)
    assert run_tasks(batch_size=1) == 2
    low.refresh()
    high.refresh()
    assert high.started_at is not None and low.started_at is not None
    assert high.started_at <= low.started_at
    assert job_of(high.id).completed_at <= job_of(low.id).started_at


def test_run_after_holds_the_task_until_then() -> None:
    later = timezone.now() + timedelta(hours=1)
    result = task(backend="dataqueue")(add).using(run_after=later).enqueue(5, 5)
    assert run_tasks() == 0
    result.refresh()
    assert result.status == TaskResultStatus.READY
    assert result.task.run_after == later
    assert run_tasks(clock=FakeClock(start=later + timedelta(seconds=1))) == 1
    result.refresh()
    assert result.return_value == 10


def test_a_worker_for_one_queue_leaves_the_others() -> None:
    queued = task(backend="dataqueue")(add)
    default = queued.enqueue(1, 0)
    email = queued.using(queue_name="emails").enqueue(2, 0)
    assert run_tasks(job_type="django:emails") == 1
    default.refresh()
    email.refresh()
    assert (default.status, email.status) == (
        TaskResultStatus.READY,
        TaskResultStatus.SUCCESSFUL,
    )


def test_a_retried_task_is_ready_again_then_failed_with_every_error() -> None:
    queued = task(backend="dataqueue", max_attempts=2)(fail)
    result = queued.enqueue("flaky")
    assert run_tasks() == 1
    result.refresh()
    assert result.status == TaskResultStatus.READY
    assert result.attempts == 1 and len(result.errors) == 1
    assert run_tasks(clock=FakeClock(start=timezone.now() + timedelta(days=1))) == 1
    result.refresh()
    assert result.status == TaskResultStatus.FAILED
    assert result.attempts == 2
    assert [e.exception_class.__name__ for e in result.errors] == ["ContractError"] * 2
    assert "flaky" in job_of(result.id).error_history[0]["message"]


def test_a_cancelled_task_is_failed_and_says_so() -> None:
    result = task(backend="dataqueue")(add).enqueue(1, 2)
    backend().queue.cancel_job(int(result.id))
    result.refresh()
    assert result.status == TaskResultStatus.FAILED
    assert result.errors[-1].exception_class is TaskCancelled
    assert run_tasks() == 0


def test_a_job_that_is_not_a_task_is_no_task_result() -> None:
    job_id = backend().queue.add_job("send_email", {"to": "a@example.com"})
    with pytest.raises(TaskResultDoesNotExist):
        backend().get_result(str(job_id))


def test_checks_name_a_backend_without_queues(tasks_on: dict[str, Any]) -> None:
    broken = {**tasks_on, "dataqueue": {**tasks_on["dataqueue"], "QUEUES": []}}
    with override_settings(TASKS=broken):
        found = task_backends["dataqueue"].check()
    assert [message.id for message in found] == ["dataqueue.E001"]
    assert all(isinstance(m, checks.Error) for m in found)


def test_checks_name_bad_options(tasks_on: dict[str, Any]) -> None:
    broken = {
        **tasks_on,
        "dataqueue": {"BACKEND": DATAQUEUE_BACKEND, "OPTIONS": {"URL": 5}},
    }
    with override_settings(TASKS=broken):
        found = task_backends["dataqueue"].check()
    assert [message.id for message in found] == ["dataqueue.E002"]
    assert "URL must be a string" in found[0].msg
