"""The handlers ``manage.py dataqueue_worker`` runs when given none."""

from __future__ import annotations

from typing import Any

import click

from dataqueue.cli._options import import_handlers
from dataqueue.contrib.django.conf import queue_settings

HANDLERS_TARGET = "dataqueue.contrib.django.worker:handlers"


def handlers() -> dict[str, Any]:
    """The plain dataqueue handlers of ``DATAQUEUE["HANDLERS"]``."""
    target = queue_settings().handlers
    if not target:
        raise click.UsageError(
            'no handlers: set DATAQUEUE = {"HANDLERS": "myapp.jobs:handlers", ...} '
            "in settings, or pass MODULE:HANDLERS"
        )
    return dict(import_handlers(target))
