"""``manage.py dataqueue_migrate`` and ``dataqueue_worker`` in a real Django
project, on every store, configured from the project's settings."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

import dataqueue as dq
from tests.conftest import PROCESS_STORES, drop_namespace, eventually, namespace
from tests.contrib.django_project import (
    SHOP_JOBS,
    make_project,
    project_queue,
    store_settings,
)

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("store", PROCESS_STORES)
async def test_the_worker_command_runs_jobs_with_django_set_up_and_drains(
    store: str, tmp_path: Path
) -> None:
    ns = namespace()
    options = {**store_settings(store, ns), "HANDLERS": "shop.jobs:handlers"}
    project = make_project(
        tmp_path / "site",
        f"DATAQUEUE = {options!r}\n",
        {"shop/jobs.py": SHOP_JOBS},
    )
    migrated = project.manage("dataqueue_migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.startswith(("applied ", "dataqueue schema is up to date"))
    queue = project_queue(project, options)
    try:
        job_id = await queue.add_job("where", {"n": 7})
        with project.running("dataqueue_worker", "--poll-interval", "0.2") as worker:

            async def completed() -> bool:
                if worker.poll() is not None:
                    raise AssertionError(worker.communicate()[0])
                job = await queue.get_job(job_id)
                return job is not None and job.status is dq.JobStatus.COMPLETED

            await eventually(completed, timeout=60)
            worker.send_signal(signal.SIGTERM)
            output = worker.communicate(timeout=30)[0]
            assert worker.returncode == 0, output
        job = await queue.get_job(job_id)
        assert job is not None and job.output == {"urlconf": "site_.urls", "n": 7}
        assert f"({store}), concurrency 3, for where" in output
        assert f"job {job_id} (where) completed" in output
        assert "stopping: draining running jobs" in output
    finally:
        await queue.close()
        await drop_namespace(store, ns)


def test_the_worker_command_takes_the_options_of_dataqueue_worker(
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path / "site", "", {})
    shown = project.manage("help", "dataqueue_worker")
    assert shown.returncode == 0, shown.stderr
    for option in ("--concurrency", "--batch-size", "--job-type", "--drain-timeout"):
        assert option in shown.stdout
    refused = project.manage("dataqueue_worker", "--concurrency", "0")
    assert refused.returncode == 2
    assert "--concurrency" in refused.stderr


def test_a_worker_without_handlers_says_where_to_put_them(tmp_path: Path) -> None:
    project = make_project(tmp_path / "site", "", {})
    result = project.manage("dataqueue_worker")
    assert result.returncode != 0
    assert 'DATAQUEUE = {"HANDLERS": "myapp.jobs:handlers"' in result.stderr


def test_bad_settings_are_named_before_anything_runs(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "site", 'DATAQUEUE = {"URL": "redis://x", "DATABSE": "x"}\n', {}
    )
    result = project.manage("dataqueue_migrate")
    assert result.returncode == 1
    assert "unknown key(s) DATABSE" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_uses_the_django_database_when_no_url_is_set(tmp_path: Path) -> None:
    project = make_project(tmp_path / "site", "", {})
    result = project.manage("dataqueue_migrate")
    assert result.returncode == 0, result.stderr
    database = (project.root / "db.sqlite3").resolve()
    assert f" at sqlite:///{database}: 0001_initial, " in result.stdout


SHOP_TASKS = """
from django.conf import settings

try:
    from django.tasks import task
except ImportError:  # Django before 6
    from django_tasks import task


@task(priority=5)
def where(n):
    return {"urlconf": settings.ROOT_URLCONF, "n": n}
"""


async def test_the_worker_command_runs_django_tasks(store: str, tmp_path: Path) -> None:
    ns = namespace()
    options = store_settings(store, ns)
    project = make_project(
        tmp_path / "site",
        f"""
        TASKS = {{
            "default": {{
                "BACKEND": "dataqueue.contrib.django.DataQueueBackend",
                "OPTIONS": {options!r},
            }}
        }}
        """,
        {"shop/tasks.py": SHOP_TASKS},
    )
    try:
        assert project.manage("dataqueue_migrate").returncode == 0
        enqueued = project.manage(
            "shell",
            "-v",
            "0",
            "-c",
            "from shop.tasks import where; print(where.enqueue(7).id)",
        )
        assert enqueued.returncode == 0, enqueued.stderr
        result_id = enqueued.stdout.strip()
        read = (
            "from shop.tasks import where; "
            f"r = where.get_result({result_id!r}); print(r.status, r.return_value)"
        )
        with project.running("dataqueue_worker", "--poll-interval", "0.2") as worker:

            async def successful() -> bool:
                if worker.poll() is not None:
                    raise AssertionError(worker.communicate()[0])
                return project.manage("shell", "-v", "0", "-c", read).stdout.startswith(
                    "SUCCESSFUL"
                )

            await eventually(successful, timeout=60)
            worker.send_signal(signal.SIGTERM)
            output = worker.communicate(timeout=30)[0]
            assert worker.returncode == 0, output
        shown = project.manage("shell", "-v", "0", "-c", read).stdout
        assert shown.strip() == "SUCCESSFUL {'urlconf': 'site_.urls', 'n': 7}"
        assert f"({store}), concurrency 3, for django:default" in output
        assert f"Task id={result_id} path=shop.tasks.where state=SUCCESSFUL" in output
    finally:
        await drop_namespace(store, ns)


ADMIN_SCRIPT = """
import re
from django.contrib.auth.models import User
from django.test import Client
from dataqueue.contrib.django.queues import shared_queue

queue = shared_queue()
pending = queue.add_job("where", {"n": 1})
client = Client(SERVER_NAME="localhost")  # a host DEBUG allows
client.force_login(User.objects.create_superuser("admin", "a@example.com", "pw"))
index = client.get("/admin/")
listed = client.get("/admin/dataqueue/job/?status=pending")
page = client.get(f"/admin/dataqueue/job/{pending}/")
cancel = client.post(f"/admin/dataqueue/job/{pending}/cancel/")
retry = client.post(f"/admin/dataqueue/job/{pending}/retry/")
after = queue.get_job(pending).status.value
client.logout()
anonymous = client.get("/admin/dataqueue/job/")
print(index.status_code, b"/admin/dataqueue/job/" in index.content)
link = f'/admin/dataqueue/job/{pending}/"'
print(listed.status_code, link in listed.content.decode())
print(page.status_code, b"Retry" in page.content and b"where" in page.content)
print(cancel.status_code, retry.status_code, after)
print(anonymous.status_code)
"""


def test_the_admin_lists_jobs_and_retries_and_cancels_them(
    store: str, tmp_path: Path
) -> None:
    ns = namespace()
    options = store_settings(store, ns)
    project = make_project(tmp_path / "site", f"DATAQUEUE = {options!r}\n", {})
    try:
        for command in ("migrate", "dataqueue_migrate"):
            done = project.manage(command)
            assert done.returncode == 0, done.stderr
        shown = project.manage("shell", "-v", "0", "-c", ADMIN_SCRIPT)
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.split("\n") == [
            "200 True",  # the admin's index links to the jobs
            "200 True",  # the pending job is listed
            "200 True",  # its page shows it, with the actions
            "302 302 pending",  # cancelled, then retried back to pending
            "302",  # no admin user, no jobs
            "",
        ]
    finally:
        asyncio.run(drop_namespace(store, ns))
