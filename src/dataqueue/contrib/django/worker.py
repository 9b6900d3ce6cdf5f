"""The handlers ``manage.py dataqueue_worker`` runs when given none: the
tasks of every queue of the settings' ``DataQueueBackend`` and the plain
handlers of ``DATAQUEUE["HANDLERS"]``."""

from __future__ import annotations

from typing import Any

import click

from dataqueue.cli._options import import_handlers
from dataqueue.contrib.django.conf import queue_settings, task_job_types

HANDLERS_TARGET = "dataqueue.contrib.django.worker:handlers"


def handlers() -> dict[str, Any]:
    """Job type -> handler for this project's worker."""
    found: dict[str, Any] = {}
    job_types = task_job_types()
    if job_types:
        from dataqueue.contrib.django.backend import run_task

        found.update(dict.fromkeys(job_types, run_task))
    target = queue_settings().handlers
    if target:
        found.update(import_handlers(target))
    if not found:
        raise click.UsageError(
            'no handlers: set DATAQUEUE = {"HANDLERS": "myapp.jobs:handlers"} or '
            'a TASKS backend "dataqueue.contrib.django.DataQueueBackend" in the '
            "settings, or pass MODULE:HANDLERS"
        )
    return found
