"""The django.tasks conformance suite on DataQueueBackend (every store) and
on Django's own ImmediateBackend."""

from __future__ import annotations

from typing import Any

import pytest

from dataqueue.contrib.django.testing import TaskBackendContract
from tests.contrib.conftest import run_tasks


class TestImmediateBackend(TaskBackendContract):
    alias = "default"


class TestDataQueueBackend(TaskBackendContract):
    alias = "dataqueue"

    @pytest.fixture(autouse=True)
    def _tasks(self, tasks_on: dict[str, Any]) -> None:
        return None

    def run_tasks(self) -> None:
        run_tasks(self.alias)
