"""Django configured in this process for the task backend's tests: a SQLite
``default`` database in a temp folder and the test PostgreSQL as ``pg``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import django
import pytest
from django.conf import settings
from django.db import connections
from django.test import override_settings

import dataqueue as dq
from tests.conftest import (
    PG_URL,
    PROCESS_STORES,
    REDIS_URL,
    drop_namespace,
    namespace,
)

IMMEDIATE = (
    "django.tasks.backends.immediate.ImmediateBackend"
    if django.VERSION >= (6, 0)
    else "django_tasks.backends.immediate.ImmediateBackend"
)
DATAQUEUE_BACKEND = "dataqueue.contrib.django.DataQueueBackend"


def postgres_database() -> dict[str, Any]:
    url = urlsplit(PG_URL)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": url.path.lstrip("/"),
        "USER": url.username or "",
        "PASSWORD": url.password or "",
        "HOST": url.hostname or "",
        "PORT": str(url.port or ""),
    }


@pytest.fixture(scope="session", autouse=True)
def django_settings(tmp_path_factory: pytest.TempPathFactory) -> None:
    if settings.configured:
        return
    folder = tmp_path_factory.mktemp("django")
    settings.configure(
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(folder / "django.sqlite3"),
            },
            "pg": postgres_database(),
            # Jobs on SQLite: a file of each test's own (see tasks_on).
            "jobs": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(folder / "jobs.sqlite3"),
            },
        },
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "dataqueue.contrib.django",
            *([] if django.VERSION >= (6, 0) else ["django_tasks"]),
        ],
        TASKS={"default": {"BACKEND": IMMEDIATE}},
        USE_TZ=True,
    )
    django.setup()


@pytest.fixture(params=PROCESS_STORES)
def store(request: pytest.FixtureRequest) -> str:
    """A Django site's web processes and its workers share the store."""
    return str(request.param)


def store_options(store: str, ns: str) -> dict[str, str]:
    """DataQueueBackend OPTIONS for ``store``: SQL stores share a Django database."""
    match store:
        case "postgres":
            return {"DATABASE": "pg", "SCHEMA": ns}
        case "redis":
            return {"URL": REDIS_URL, "KEY_PREFIX": f"{ns}:"}
        case _:
            return {"DATABASE": "jobs"}


@pytest.fixture
def tasks_on(store: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """TASKS with a migrated DataQueueBackend on ``store`` (alias "dataqueue",
    queues "default" and "emails") and Django's ImmediateBackend ("immediate")."""
    ns = namespace()
    jobs = connections["jobs"]
    jobs.close()
    jobs.settings_dict["NAME"] = str(tmp_path / "jobs.sqlite3")
    tasks = {
        "default": {"BACKEND": IMMEDIATE},
        "immediate": {"BACKEND": IMMEDIATE},
        "dataqueue": {
            "BACKEND": DATAQUEUE_BACKEND,
            "QUEUES": ["default", "emails"],
            "OPTIONS": store_options(store, ns),
        },
    }
    with override_settings(TASKS=tasks):
        from dataqueue.contrib.django.conf import queue_settings
        from dataqueue.contrib.django.queues import close_queues, shared_queue

        shared_queue(queue_settings(tasks["dataqueue"]["OPTIONS"])).migrate()
        try:
            yield tasks
        finally:
            close_queues()
            asyncio.run(drop_namespace(store, ns))


def run_tasks(
    alias: str = "dataqueue",
    *,
    clock: dq.Clock | None = None,
    job_type: str | None = None,
    batch_size: int = 50,
) -> int:
    """Run every due task job of ``alias``'s store with the worker's handlers,
    as ``manage.py dataqueue_worker`` would; how many ran."""
    from dataqueue.contrib.django._tasks import task_backends
    from dataqueue.contrib.django.worker import handlers

    where = task_backends[alias].queue_settings

    async def run() -> int:
        ran = 0
        async with dq.connect(
            where.url, schema=where.schema, key_prefix=where.key_prefix, clock=clock
        ) as queue:
            processor = queue.create_processor(
                handlers(), batch_size=batch_size, concurrency=1, job_type=job_type
            )
            while count := await processor.start():
                ran += count
        return ran

    return asyncio.run(run())
