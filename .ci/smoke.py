"""Smoke-test an installed dataqueue as a user gets it: run by the Python of a
fresh virtualenv holding the built wheel (or sdist) with one extra at most.

    python .ci/smoke.py EXTRA        # "" for no extra

Without an extra it runs the core (the CLI, the docs, a worker on SQLite);
with one, what that extra is for. Only the standard library and what that
extra brings are importable, so a module that imports another extra's
package, or a file missing from the package (an .sql or .lua script, a
template, the docs), fails here.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

BIN = Path(sys.executable).parent
PG_URL = os.environ.get(
    "DATAQUEUE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("DATAQUEUE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
JOBS = """
def double(payload):
    return payload["n"] * 2

handlers = {"double": double}
"""


def run(*command: str, cwd: Path, timeout: float = 120) -> str:
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def until(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            sys.exit(f"gave up waiting for {what}")
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=5)
    except urllib.error.HTTPError:
        return True  # it answered: the dashboard asks for its token
    except OSError:
        return False
    return True


class Server:
    """A command running in ``cwd`` until ``stop()``: SIGTERM, then exit 0."""

    def __init__(self, command: list[str], cwd: Path) -> None:
        self.log = cwd / f"server-{uuid.uuid4().hex[:6]}.log"
        with open(self.log, "wb") as output:
            self.process = subprocess.Popen(
                command, cwd=cwd, stdout=output, stderr=subprocess.STDOUT
            )

    def alive(self) -> bool:
        if self.process.poll() is not None:
            sys.exit(f"exited early ({self.process.returncode}):\n{self.log.read_text()}")
        return True

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        if self.process.wait(60) != 0:
            sys.exit(f"did not stop cleanly:\n{self.log.read_text()}")


def job_runs(url: str, options: dict[str, str], worker: list[str], cwd: Path) -> None:
    """Add a job on ``url``, run ``worker`` until it completed, stop it."""
    import dataqueue as dq

    queue = dq.connect_sync(url, **options)
    try:
        job_id = queue.add_job("double", {"n": 21})
        server = Server(worker, cwd)

        def completed() -> bool:
            job = queue.get_job(job_id)
            return server.alive() and job is not None and job.status == "completed"

        until(completed, f"job {job_id} on {url.split(':')[0]}")
        server.stop()
        job = queue.get_job(job_id)
        assert job is not None and job.output == 42, job
    finally:
        queue.close()


def store_runs_jobs(url: str, options: dict[str, str], cwd: Path) -> None:
    """``dataqueue migrate`` and ``dataqueue worker`` on one store."""
    flags = [f"--{name.replace('_', '-')}={value}" for name, value in options.items()]
    run(str(BIN / "dataqueue"), "migrate", "--url", url, *flags, cwd=cwd)
    worker = [str(BIN / "dataqueue"), "worker", "jobs:handlers", "--url", url, *flags]
    job_runs(url, options, [*worker, "--poll-interval", "0.2"], cwd)


def smoke_core(cwd: Path) -> None:
    run(str(BIN / "dataqueue"), "--help", cwd=cwd)
    run(str(BIN / "dataqueue"), "docs", "search", "retries", cwd=cwd)
    store_runs_jobs(f"sqlite:///{cwd / 'jobs.db'}", {}, cwd)


def smoke_postgres(cwd: Path) -> None:
    import psycopg

    schema = f"smoke_{uuid.uuid4().hex[:8]}"
    try:
        store_runs_jobs(PG_URL, {"schema": schema}, cwd)
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def smoke_redis(cwd: Path) -> None:
    import redis

    prefix = f"smoke_{uuid.uuid4().hex[:8]}:"
    try:
        store_runs_jobs(REDIS_URL, {"key_prefix": prefix}, cwd)
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.unlink(*keys)
        client.close()


def smoke_dashboard(cwd: Path) -> None:
    url = f"sqlite:///{cwd / 'jobs.db'}"
    run(str(BIN / "dataqueue"), "migrate", "--url", url, cwd=cwd)
    port = free_port()
    command = [str(BIN / "dataqueue"), "dashboard", "jobs:handlers", "--url", url]
    server = Server([*command, "--port", str(port)], cwd)
    until(lambda: server.alive() and answers(f"http://127.0.0.1:{port}/"), "dashboard")
    server.stop()


def smoke_demo(cwd: Path) -> None:
    demo = [str(BIN / "dataqueue"), "demo", "--url", f"sqlite:///{cwd / 'demo.db'}"]
    run(*demo, "--jobs", "20", cwd=cwd)


def smoke_prometheus(cwd: Path) -> None:
    url = f"sqlite:///{cwd / 'jobs.db'}"
    run(str(BIN / "dataqueue"), "migrate", "--url", url, cwd=cwd)
    port = free_port()
    command = [str(BIN / "dataqueue"), "worker", "jobs:handlers", "--url", url]
    server = Server([*command, "--metrics-port", str(port)], cwd)
    metrics = f"http://127.0.0.1:{port}/metrics"
    until(lambda: server.alive() and answers(metrics), "metrics")
    server.stop()


def smoke_mcp(cwd: Path) -> None:
    run(str(BIN / "dataqueue"), "mcp", "--help", cwd=cwd)
    run(sys.executable, "-c", "import dataqueue.mcp", cwd=cwd)


def smoke_otel(cwd: Path) -> None:
    url = f"sqlite:///{cwd / 'jobs.db'}"
    run(str(BIN / "dataqueue"), "migrate", "--url", url, cwd=cwd)
    worker = [str(BIN / "dataqueue"), "worker", "jobs:handlers", "--url", url]
    job_runs(url, {}, [*worker, "--poll-interval", "0.2", "--otel"], cwd)


def smoke_django(cwd: Path) -> None:
    run(sys.executable, "-m", "django", "startproject", "site_", ".", cwd=cwd)
    settings = cwd / "site_" / "settings.py"
    import django

    apps = ["dataqueue.contrib.django"]
    if django.VERSION < (6, 0):
        apps.append("django_tasks")
    settings.write_text(
        settings.read_text()
        + f"\nINSTALLED_APPS += {apps!r}\n"
        + 'DATAQUEUE = {"HANDLERS": "jobs:handlers"}\n'
    )
    manage = [sys.executable, "manage.py"]
    run(*manage, "dataqueue_migrate", cwd=cwd)
    run(*manage, "check", cwd=cwd)
    worker = [*manage, "dataqueue_worker", "--poll-interval", "0.2"]
    job_runs(f"sqlite:///{cwd / 'db.sqlite3'}", {}, worker, cwd)


def smoke_fastapi(cwd: Path) -> None:
    script = """
        import asyncio, sys
        from fastapi import FastAPI
        from dataqueue.contrib.fastapi import DataQueue
        from jobs import handlers

        jobs = DataQueue(sys.argv[1], handlers=handlers, run_worker=True)
        app = FastAPI(lifespan=jobs.lifespan)

        async def main():
            async with jobs.lifespan(app):
                queue = jobs.queue()
                job = await queue.wait_for_job(await queue.add_job("double", {"n": 2}), 30)
                assert job.output == 4, job

        asyncio.run(main())
    """
    (cwd / "app.py").write_text(textwrap.dedent(script))
    run(sys.executable, "app.py", f"sqlite:///{cwd / 'jobs.db'}", cwd=cwd)


def smoke_flask(cwd: Path) -> None:
    app = """
        from flask import Flask
        from dataqueue.contrib.flask import DataQueue

        app = Flask(__name__)
        app.config["DATAQUEUE_HANDLERS"] = "jobs:handlers"
        DataQueue(app)
    """
    (cwd / "app.py").write_text(textwrap.dedent(app))
    url = f"sqlite:///{cwd / 'jobs.db'}"
    os.environ["DATAQUEUE_URL"] = url
    flask = [sys.executable, "-m", "flask", "--app", "app", "dataqueue"]
    run(*flask, "migrate", cwd=cwd)
    job_runs(url, {}, [*flask, "worker", "--poll-interval", "0.2"], cwd)


SMOKES: dict[str, Callable[[Path], None]] = {
    "postgres": smoke_postgres,
    "redis": smoke_redis,
    "dashboard": smoke_dashboard,
    "demo": smoke_demo,
    "cli": smoke_demo,
    "prometheus": smoke_prometheus,
    "mcp": smoke_mcp,
    "otel": smoke_otel,
    "django": smoke_django,
    "fastapi": smoke_fastapi,
    "flask": smoke_flask,
}


def main() -> None:
    extra = sys.argv[1] if len(sys.argv) > 1 else ""
    with tempfile.TemporaryDirectory(prefix="dq-smoke-") as folder:
        cwd = Path(folder)
        (cwd / "jobs.py").write_text(JOBS)
        os.environ.pop("DATAQUEUE_URL", None)
        # Run from the temp folder so the checkout's src/ is never importable.
        os.chdir(cwd)
        sys.path[:] = [str(cwd), *(p for p in sys.path if p not in ("", os.getcwd()))]
        SMOKES[extra](cwd) if extra else smoke_core(cwd)
    print(json.dumps({"python": sys.version.split()[0], "extra": extra or "(none)"}))


if __name__ == "__main__":
    main()
