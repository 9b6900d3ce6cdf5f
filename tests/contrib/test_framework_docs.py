"""docs/django.md, docs/fastapi.md and docs/flask.md, done as written: the
pages' files in a new project in a temp folder (a real ``startproject``, a
real uvicorn, a real ``flask``), and a job run on a real SQLite store."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import django
import httpx
import pytest

from tests.conftest import eventually
from tests.contrib.django_project import make_project
from tests.examples.test_dashboard_examples import free_port

ROOT = Path(__file__).resolve().parents[2]
MARKED = re.compile(
    r"^<!-- compile-only: (?P<what>[^>]*?) -->\n```python\n(?P<code>.*?)^```",
    re.MULTILINE | re.DOTALL,
)

pytestmark = pytest.mark.slow


def marked_blocks(page: str) -> list[tuple[str, str]]:
    """(marker, code) of the page's blocks marked ``file …``, ``append …`` or
    ``run in …``, in page order."""
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    found = [(m["what"], m["code"]) for m in MARKED.finditer(text)]
    return [
        (what, code)
        for what, code in found
        if what.startswith(("file ", "append ", "run in "))
    ]


def write_files(page: str, folder: Path) -> None:
    for what, code in marked_blocks(page):
        if what.startswith("file "):
            path = folder / what.removeprefix("file ")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(code)


@contextmanager
def serving(
    command: list[str], cwd: Path, env: dict[str, str], stopped: int = 0
) -> Iterator[Path]:
    """``command`` running until the block ends, then stopped with SIGTERM:
    it must exit with ``stopped``; yields its log file."""
    log = cwd / f"{command[2]}-{command[3]}.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        yield log
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == stopped, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)


async def signup_runs_a_job(base: str) -> None:
    """POST /signup, then poll /jobs/{id} until the job completed."""
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:

        async def up() -> bool:
            try:
                await client.get("/jobs/999999")
            except httpx.TransportError:
                return False
            return True

        await eventually(up, timeout=60)
        added = await client.post("/signup", params={"email": "ada@example.com"})
        assert added.status_code == 200, added.text
        job_id = added.json()["job_id"]
        seen: dict[str, object] = {}

        async def completed() -> bool:
            seen.update((await client.get(f"/jobs/{job_id}")).json())
            return seen.get("status") == "completed"

        await eventually(completed, timeout=60)
    return_value = seen["output"]
    assert isinstance(return_value, dict)
    assert return_value["sent_to"] == "ada@example.com"


def project_env(folder: Path) -> dict[str, str]:
    env = {**os.environ, "DATAQUEUE_URL": f"sqlite:///{folder / 'jobs.db'}"}
    env["PYTHONPATH"] = str(folder)
    return env


async def test_the_fastapi_page_runs_a_job_in_uvicorn(tmp_path: Path) -> None:
    write_files("fastapi.md", tmp_path)
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "main:app", "--port", str(port)]
    # uvicorn ends a graceful shutdown by re-raising the signal it caught.
    with serving(command, tmp_path, project_env(tmp_path), -signal.SIGTERM) as log:
        await signup_runs_a_job(f"http://127.0.0.1:{port}")
    assert "Application shutdown complete" in log.read_text()


async def test_the_flask_page_runs_a_job_with_its_worker(tmp_path: Path) -> None:
    write_files("flask.md", tmp_path)
    env = {**project_env(tmp_path), "FLASK_APP": "app"}
    flask = [sys.executable, "-m", "flask"]
    migrated = subprocess.run(
        [*flask, "dataqueue", "migrate"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    worker = [*flask, "dataqueue", "worker", "--poll-interval", "0.2"]
    with (
        serving(worker, tmp_path, env),
        # Flask's development server has no graceful stop: SIGTERM ends it.
        serving([*flask, "run", "--port", str(port)], tmp_path, env, -signal.SIGTERM),
    ):
        await signup_runs_a_job(f"http://127.0.0.1:{port}")
    assert (tmp_path / "jobs.db").exists()


def as_installed(code: str) -> str:
    """The page's code for the installed Django: before 6, the API comes
    from django_tasks (which make_project installs)."""
    if django.VERSION >= (6, 0):
        return code
    return code.replace("from django.tasks import", "from django_tasks import")


async def test_the_django_page_runs_a_task_with_its_worker(tmp_path: Path) -> None:
    blocks = [(what, as_installed(code)) for what, code in marked_blocks("django.md")]
    settings = "".join(code for what, code in blocks if what == "append settings.py")
    files = {
        what.removeprefix("file "): code
        for what, code in blocks
        if what.startswith("file ")
    }
    shell = [code for what, code in blocks if what == "run in manage.py shell"]
    assert settings and files and len(shell) == 2
    project = make_project(tmp_path / "site", settings, files, apps=("shop",))
    for command in ("migrate", "dataqueue_migrate"):
        done = project.manage(command)
        assert done.returncode == 0, done.stderr
    enqueued = project.manage("shell", "-v", "0", "-c", shell[0])
    assert enqueued.returncode == 0, enqueued.stderr
    assert enqueued.stdout.strip() == "1"
    with project.running("dataqueue_worker", "--poll-interval", "0.2") as worker:

        async def successful() -> bool:
            if worker.poll() is not None:
                raise AssertionError(worker.communicate()[0])
            read = project.manage("shell", "-v", "0", "-c", shell[1])
            return read.stdout.startswith("SUCCESSFUL")

        await eventually(successful, timeout=60)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
    read = project.manage("shell", "-v", "0", "-c", shell[1])
    assert read.stdout.strip() == "SUCCESSFUL {'sent_to': 'ada@example.com'}"
