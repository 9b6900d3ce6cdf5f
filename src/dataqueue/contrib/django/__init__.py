"""dataqueue in Django: the ``dataqueue.contrib.django`` app (management
commands ``dataqueue_worker`` and ``dataqueue_migrate``, the admin's jobs
page) and ``DataQueueBackend``, a backend for Django's task framework
(``django.tasks``; the ``django-tasks`` package before Django 6).

See docs/django.md.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DataQueueBackend", "DataQueueTask"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the app loads without Django's task framework.
    if name in __all__:
        from dataqueue.contrib.django import backend

        return getattr(backend, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
