"""A conformance suite for backends of Django's task framework.

Any backend can run it: subclass ``TaskBackendContract`` in a pytest module,
name the ``TASKS`` alias to test, and say how queued tasks get run::

    from dataqueue.contrib.django.testing import TaskBackendContract

    class TestMyBackend(TaskBackendContract):
        alias = "default"

        def run_tasks(self) -> None:
            ...  # run what is queued (nothing to do for an immediate backend)

Every test checks behaviour Django documents for ``Task``, ``TaskResult``
and the backend API; what a backend does not claim to support (its
``supports_*`` flags) is checked to be refused instead. Needs pytest and a
configured Django (``USE_TZ = True``).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from dataqueue.contrib.django._tasks import (
    BaseTaskBackend,
    InvalidTask,
    Task,
    TaskContext,
    TaskResult,
    TaskResultDoesNotExist,
    TaskResultStatus,
    task_backends,
    task_enqueued,
    task_finished,
    task_started,
)


class ContractError(Exception):
    """Raised by ``fail``: the class the suite expects to find in errors."""


def add(a: int, b: int) -> int:
    return a + b


async def add_async(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return a + b


def echo(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return {"args": list(args), "kwargs": kwargs}


def fail(message: str) -> None:
    raise ContractError(message)


def attempt_of(context: TaskContext[Any, Any], tag: str) -> dict[str, Any]:
    return {
        "attempt": context.attempt,
        "id": context.task_result.id,
        "tag": tag,
    }


class TaskBackendContract:
    """The tests; subclasses set ``alias`` and may override ``run_tasks``."""

    alias = "default"

    def run_tasks(self) -> None:
        """Run every task that is due (a no-op for an immediate backend)."""

    @property
    def backend(self) -> BaseTaskBackend:
        return task_backends[self.alias]

    def task(self, function: Any, **options: Any) -> Task[Any, Any]:
        return self.backend.task_class(func=function, backend=self.alias, **options)

    def finished(self, result: TaskResult[Any, Any]) -> TaskResult[Any, Any]:
        """``result`` once the backend ran it, as far as the backend can say."""
        self.run_tasks()
        if self.backend.supports_get_result:
            result.refresh()
        return result

    # -- enqueueing --------------------------------------------------------

    def test_enqueue_returns_a_result_for_the_task_and_its_arguments(self) -> None:
        task = self.task(echo)
        result = task.enqueue(1, (2, 3), key="value")
        assert result.id
        assert isinstance(result.id, str)
        assert result.task.func is echo
        assert result.backend == self.alias
        assert result.args == [1, [2, 3]]
        assert result.kwargs == {"key": "value"}
        assert result.enqueued_at is not None

    def test_arguments_that_are_not_json_are_refused_at_enqueue(self) -> None:
        with pytest.raises(TypeError):
            self.task(echo).enqueue(object())

    def test_a_priority_outside_minus_100_to_100_is_refused(self) -> None:
        with pytest.raises(InvalidTask):
            self.task(add, priority=101)

    def test_a_queue_the_backend_does_not_have_is_refused(self) -> None:
        with pytest.raises(InvalidTask):
            self.task(add, queue_name="no-such-queue-anywhere")

    def test_a_function_that_is_not_module_level_is_refused(self) -> None:
        def local() -> None:
            return None

        with pytest.raises(InvalidTask):
            self.task(local)

    def test_run_after_is_refused_unless_the_backend_defers(self) -> None:
        later = timezone.now() + timedelta(hours=1)
        if self.backend.supports_defer:
            result = self.task(add).using(run_after=later).enqueue(1, 2)
            self.run_tasks()
            if self.backend.supports_get_result:
                result.refresh()
                assert result.status == TaskResultStatus.READY
        else:
            with pytest.raises(InvalidTask):
                self.task(add).using(run_after=later)

    def test_a_priority_is_refused_unless_the_backend_orders_by_it(self) -> None:
        if self.backend.supports_priority:
            assert self.task(add, priority=10).priority == 10
        else:
            with pytest.raises(InvalidTask):
                self.task(add, priority=10)

    def test_async_functions_are_refused_unless_the_backend_runs_them(self) -> None:
        if self.backend.supports_async_task:
            result = self.finished(self.task(add_async).enqueue(2, 3))
            assert result.status == TaskResultStatus.SUCCESSFUL
            assert result.return_value == 5
        else:
            with pytest.raises(InvalidTask):
                self.task(add_async)

    # -- running and results -------------------------------------------------

    def test_a_task_that_returns_is_successful_with_its_value(self) -> None:
        result = self.finished(self.task(add).enqueue(2, 3))
        assert result.status == TaskResultStatus.SUCCESSFUL
        assert result.is_finished
        assert result.return_value == 5
        assert result.errors == []
        assert result.attempts == 1
        assert len(result.worker_ids) == 1
        assert result.started_at is not None
        assert result.finished_at is not None
        assert result.last_attempted_at is not None

    def test_a_task_that_raises_is_failed_with_the_error(self) -> None:
        result = self.finished(self.task(fail).enqueue("no luck"))
        assert result.status == TaskResultStatus.FAILED
        assert result.is_finished
        assert result.attempts == 1
        assert len(result.errors) == 1
        assert result.errors[0].exception_class is ContractError
        assert "no luck" in result.errors[0].traceback
        with pytest.raises(ValueError, match="failed"):
            _ = result.return_value

    def test_an_unfinished_result_has_no_return_value(self) -> None:
        result = self.task(add).enqueue(1, 1)
        if result.is_finished:
            assert result.status == TaskResultStatus.SUCCESSFUL  # ran at enqueue
            return
        assert result.status == TaskResultStatus.READY
        with pytest.raises(ValueError, match="not finished"):
            _ = result.return_value

    def test_a_task_that_takes_context_gets_its_result_and_attempt(self) -> None:
        result = self.finished(
            self.task(attempt_of, takes_context=True).enqueue(tag="ctx")
        )
        assert result.status == TaskResultStatus.SUCCESSFUL
        assert result.return_value == {"attempt": 1, "id": result.id, "tag": "ctx"}

    def test_aenqueue_queues_like_enqueue(self) -> None:
        async def enqueue() -> TaskResult[Any, Any]:
            return await self.task(add).aenqueue(4, 5)

        result = self.finished(asyncio.run(enqueue()))
        assert result.status == TaskResultStatus.SUCCESSFUL
        assert result.return_value == 9

    def test_signals_follow_the_task(self) -> None:
        seen: list[tuple[str, str]] = []

        def listener(name: str) -> Any:
            def receive(
                sender: Any, task_result: TaskResult[Any, Any], **_: Any
            ) -> None:
                seen.append((name, task_result.status))

            return receive

        receivers = [
            (signal, listener(name))
            for signal, name in [
                (task_enqueued, "enqueued"),
                (task_started, "started"),
                (task_finished, "finished"),
            ]
        ]
        for signal, receiver in receivers:
            signal.connect(receiver, weak=False)
        try:
            self.finished(self.task(add).enqueue(1, 2))
        finally:
            for signal, receiver in receivers:
                signal.disconnect(receiver)
        assert [name for name, _ in seen] == ["enqueued", "started", "finished"]
        assert seen[-1][1] == TaskResultStatus.SUCCESSFUL

    # -- reading results -------------------------------------------------------

    def test_get_result_reads_the_task_back_by_id(self) -> None:
        task = self.task(add)
        result = task.enqueue(6, 7)
        if not self.backend.supports_get_result:
            with pytest.raises(NotImplementedError):
                self.backend.get_result(result.id)
            return
        self.run_tasks()
        read = task.get_result(result.id)
        assert read.id == result.id
        assert read.task.func is add
        assert read.args == [6, 7]
        assert read.status == TaskResultStatus.SUCCESSFUL
        assert read.return_value == 13

    def test_get_result_of_an_unknown_id_raises(self) -> None:
        if not self.backend.supports_get_result:
            with pytest.raises(NotImplementedError):
                self.backend.get_result("999999999")
            return
        with pytest.raises(TaskResultDoesNotExist):
            self.backend.get_result("999999999")
        with pytest.raises(TaskResultDoesNotExist):
            self.backend.get_result("not an id")
        with pytest.raises(TaskResultDoesNotExist):
            self.backend.get_result("9" * 30)

    def test_refresh_follows_the_task_to_its_end(self) -> None:
        result = self.task(add).enqueue(20, 22)
        if not self.backend.supports_get_result:
            with pytest.raises(NotImplementedError):
                result.refresh()
            return
        self.run_tasks()
        result.refresh()
        assert result.status == TaskResultStatus.SUCCESSFUL
        assert result.return_value == 42

    def test_arefresh_and_aget_result_read_the_same(self) -> None:
        task = self.task(add)
        result = task.enqueue(1, 2)
        if not self.backend.supports_get_result:
            with pytest.raises(NotImplementedError):
                asyncio.run(task.aget_result(result.id))
            return
        self.run_tasks()

        async def read() -> TaskResult[Any, Any]:
            await result.arefresh()
            return await task.aget_result(result.id)

        read_back = asyncio.run(read())
        assert result.status == read_back.status == TaskResultStatus.SUCCESSFUL
        assert read_back.return_value == 3
