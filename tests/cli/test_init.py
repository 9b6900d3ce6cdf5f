"""`dataqueue init` in temporary projects: detection, the files per framework,
never overwriting, and a scaffolded worker that runs a job on SQLite."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import dataqueue as dq
from dataqueue.cli import main
from tests.docs.blocks import unknown_names

FILES = {
    "fastapi": {
        "jobs/__init__.py",
        "jobs/handlers.py",
        "jobs/queue.py",
        "jobs/lifespan.py",
    },
    "django": {"jobs/__init__.py", "jobs/handlers.py", "jobs/queue.py"},
    "flask": {
        "jobs/__init__.py",
        "jobs/handlers.py",
        "jobs/queue.py",
        "jobs/worker.py",
        "jobs/flask_cli.py",
    },
    "script": {"jobs/__init__.py", "jobs/handlers.py", "jobs/queue.py"},
}


def init(root: Path, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(
        main, ["init", "--dir", str(root), *args], input=input, catch_exceptions=False
    )


def written(root: Path) -> set[str]:
    return {
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if "__pycache__" not in path.parts
    }


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"manage.py": ""}, "django"),
        ({"requirements.txt": "fastapi==0.115\nuvicorn\n"}, "fastapi"),
        ({"pyproject.toml": '[project]\ndependencies = ["Flask>=3"]\n'}, "flask"),
        ({"app.py": "from fastapi import FastAPI\napp = FastAPI()\n"}, "fastapi"),
        ({"src/app.py": "import flask\n"}, "flask"),
        ({"requirements.txt": "flask-cors-not\nrequests\n"}, "script"),
        ({}, "script"),
    ],
)
def test_the_framework_is_detected(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)
    result = init(tmp_path, "--store", "sqlite", "--dry-run", "--yes")
    assert f"Setting up dataqueue for {expected} on sqlite" in result.output


@pytest.mark.parametrize("framework", sorted(FILES))
def test_each_framework_gets_its_files(tmp_path: Path, framework: str) -> None:
    before = written(tmp_path)
    result = init(tmp_path, "--framework", framework, "--store", "sqlite", "--yes")
    assert result.exit_code == 0, result.output
    assert written(tmp_path) - before == FILES[framework]
    if framework == "django":  # Django reads its settings, not .env
        assert not (tmp_path / ".env").exists()
        assert 'INSTALLED_APPS += ["dataqueue.contrib.django"]' in result.output
    else:
        env = (tmp_path / ".env").read_text()
        assert env == "DATAQUEUE_URL=sqlite:///dataqueue.db\n"
    for name in FILES[framework]:
        code = (tmp_path / name).read_text()
        compile(code, name, "exec")
        assert unknown_names(code) == [], name
        assert "{" not in code or "{package}" not in code
    assert "Next:" in result.output
    assert "dataqueue migrate" not in result.output  # SQLite needs none

    again = init(tmp_path, "--framework", framework, "--store", "sqlite", "--yes")
    assert all(
        line.startswith(("unchanged", "kept", "Setting", "Next", "  ", ""))
        for line in again.output.splitlines()
    ), again.output
    assert "created" not in again.output


def test_framework_hints_name_the_wiring(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    fastapi = init(
        tmp_path / "a", "--framework", "fastapi", "--store", "postgres", "--yes"
    )
    assert "app = FastAPI(lifespan=lifespan)" in fastapi.output
    assert "dataqueue migrate" in fastapi.output
    assert "pip install 'dataqueue[postgres]'" in fastapi.output
    (tmp_path / "b").mkdir()
    django = init(tmp_path / "b", "--framework", "django", "--store", "redis", "--yes")
    assert 'INSTALLED_APPS += ["dataqueue.contrib.django"]' in django.output
    assert (
        "DATAQUEUE = {\"URL\": 'redis://localhost:6379/0', "
        '"HANDLERS": "jobs.handlers:handlers"}'
    ) in django.output
    assert "python manage.py dataqueue_worker" in django.output
    assert "pip install 'dataqueue[django,redis]'" in django.output
    (tmp_path / "c").mkdir()
    flask = init(tmp_path / "c", "--framework", "flask", "--store", "sqlite", "--yes")
    assert "flask dataqueue-worker" in flask.output


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    result = init(
        tmp_path, "--framework", "flask", "--store", "redis", "--dry-run", "--yes"
    )
    assert "would create jobs/flask_cli.py:" in result.output
    assert "would create .env: DATAQUEUE_URL=redis://localhost:6379/0" in result.output
    assert list(tmp_path.iterdir()) == []


def test_questions_are_asked_without_flags(tmp_path: Path) -> None:
    (tmp_path / "manage.py").write_text("")
    result = init(tmp_path, input="\npostgres\n")  # accept detected django
    assert "Framework" in result.output
    assert "Store" in result.output
    assert "Setting up dataqueue for django on postgres" in result.output
    assert (tmp_path / "jobs/handlers.py").exists()


def test_without_a_terminal_init_takes_the_defaults_it_cannot_ask_for(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if "DATAQUEUE" not in k}
    done = subprocess.run(
        [sys.executable, "-m", "dataqueue", "init", "--store", "sqlite"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Framework: script (no terminal to ask; pass --framework)" in done.stdout
    assert (tmp_path / "jobs" / "handlers.py").exists()


def test_existing_files_are_never_overwritten_without_asking(tmp_path: Path) -> None:
    handlers = tmp_path / "jobs" / "handlers.py"
    handlers.parent.mkdir()
    handlers.write_text("handlers = {'mine': print}\n")
    (tmp_path / ".env").write_text("SECRET=1\nexport DATAQUEUE_URL=redis://prod/0\n")

    kept = init(tmp_path, "--framework", "script", "--store", "sqlite", "--yes")
    assert "kept jobs/handlers.py (exists; not overwritten)" in kept.output
    assert handlers.read_text() == "handlers = {'mine': print}\n"
    assert "kept .env" in kept.output
    assert (
        tmp_path / ".env"
    ).read_text() == "SECRET=1\nexport DATAQUEUE_URL=redis://prod/0\n"

    declined = init(tmp_path, "--framework", "script", "--store", "sqlite", input="n\n")
    assert "jobs/handlers.py exists. Overwrite it?" in declined.output
    assert handlers.read_text() == "handlers = {'mine': print}\n"

    accepted = init(tmp_path, "--framework", "script", "--store", "sqlite", input="y\n")
    assert "overwrote jobs/handlers.py" in accepted.output
    assert "send_welcome_email" in handlers.read_text()


def test_env_is_appended_to(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SECRET=1")
    init(
        tmp_path,
        "--framework",
        "script",
        "--store",
        "sqlite",
        "--url",
        "sqlite:///x.db",
        "--yes",
    )
    assert (tmp_path / ".env").read_text() == "SECRET=1\nDATAQUEUE_URL=sqlite:///x.db\n"


def test_a_bad_package_name_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["init", "--dir", str(tmp_path), "--package", "my-jobs", "--yes"]
    )
    assert result.exit_code == 2
    assert list(tmp_path.iterdir()) == []


def _wait_for(
    queue: dq.SyncJobQueue, job_id: int, process: subprocess.Popen[bytes], log: Path
) -> dq.JobRecord:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = queue.get_job(job_id)
        assert job is not None
        if job.status == dq.JobStatus.COMPLETED:
            return job
        assert process.poll() is None, log.read_text()
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not complete:\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes], log: Path) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0, log.read_text()
    assert "Traceback" not in log.read_text()


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["script", "fastapi", "flask"])
def test_the_scaffolded_worker_runs_a_job(tmp_path: Path, framework: str) -> None:
    init(tmp_path, "--framework", framework, "--store", "sqlite", "--yes")
    # The store URL comes from the .env that init wrote, and nowhere else.
    env = {k: v for k, v in os.environ.items() if "DATAQUEUE" not in k}
    if framework == "flask":
        # What `flask dataqueue-worker` calls.
        command = [
            sys.executable,
            "-c",
            "import asyncio, jobs.worker; asyncio.run(jobs.worker.run_worker())",
        ]
    else:
        command = [
            sys.executable,
            "-m",
            "dataqueue",
            "worker",
            "jobs.handlers:handlers",
            "--poll-interval",
            "0.2",
        ]
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        with dq.connect_sync(f"sqlite:///{tmp_path / 'dataqueue.db'}") as queue:
            job_id = queue.add_job("send_welcome_email", {"to": "a@example.com"})
            job = _wait_for(queue, job_id, process, log)
            assert job.output == {"sent_to": "a@example.com"}
        _stop(process, log)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)


ORM_HANDLERS = """
from django.contrib.auth.models import User


def create_user(payload):
    user = User.objects.create(username=payload["name"])
    return {"user_id": user.pk}


handlers = {"create_user": create_user}
"""


@pytest.mark.slow
def test_a_django_project_set_up_by_init_runs_an_orm_job(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if "DATAQUEUE" not in k}
    env.pop("DJANGO_SETTINGS_MODULE", None)

    def manage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "site_", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    result = init(tmp_path, "--framework", "django", "--store", "sqlite", "--yes")
    assert "appended dataqueue's settings to site_/settings.py" in result.output
    (tmp_path / "jobs" / "handlers.py").write_text(ORM_HANDLERS)
    for command in (["migrate"], ["dataqueue_migrate"]):
        done = manage(*command)
        assert done.returncode == 0, done.stdout + done.stderr
    added = manage(
        "shell",
        "-c",
        "from jobs.queue import get_queue; "
        "print(get_queue().add_job('create_user', {'name': 'ada'}))",
    )
    assert added.returncode == 0, added.stderr
    job_id = int(added.stdout.split()[-1])

    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "dataqueue_worker", "--poll-interval", "0.2"],
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        with dq.connect_sync(f"sqlite:///{tmp_path / 'db.sqlite3'}") as queue:
            job = _wait_for(queue, job_id, worker, log)
        _stop(worker, log)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(30)
    assert job.output == {"user_id": 1}
    assert "started on sqlite:///" in log.read_text()
    users = manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        "print(list(User.objects.values_list('username', flat=True)))",
    )
    assert users.stdout.strip().splitlines()[-1] == "['ada']"
