"""The commands against a store that is down or refuses them: one line
each, never a traceback; a store that may still be starting is waited for."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from tests.conftest import PG_URL, REDIS_URL, namespace

ROOT = Path(__file__).resolve().parents[2]


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "DATAQUEUE" not in k}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dataqueue(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dataqueue", *args],
        cwd=ROOT,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.postgres
def test_migrate_with_a_role_that_does_not_exist_fails_at_once() -> None:
    url = PG_URL.replace("postgres@", "no_such_role@", 1)
    started = time.monotonic()
    result = dataqueue("migrate", "--url", url)
    assert result.returncode != 0
    assert time.monotonic() - started < 15
    assert "no_such_role" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.postgres
def test_a_password_is_never_printed() -> None:
    url = f"postgresql://someone:s3cret-pw@127.0.0.1:{closed_port()}/test"
    result = dataqueue("migrate", "--url", url)
    assert result.returncode != 0
    assert "s3cret-pw" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.redis
def test_a_worker_waits_for_a_redis_that_is_down_then_stops_cleanly() -> None:
    url = f"redis://127.0.0.1:{closed_port()}/15"
    command = ["worker", "tests.worker_jobs:handlers", "--url", url]
    worker = subprocess.Popen(
        [sys.executable, "-m", "dataqueue", *command],
        cwd=ROOT,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert worker.stdout is not None
        tries = 0
        lines: list[str] = []
        while tries < 2:
            line = worker.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
            tries += "not reachable yet" in line
        worker.send_signal(signal.SIGTERM)
        rest, _ = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    output = "".join(lines) + rest
    assert worker.returncode == 0, output
    assert "Traceback" not in output


@pytest.mark.postgres
def test_the_demo_runs_on_postgres_in_its_own_schema() -> None:
    schema = namespace()
    try:
        result = dataqueue("demo", "--url", PG_URL, "--schema", schema, "--jobs", "30")
        assert result.returncode == 0, result.stderr
        with psycopg.connect(PG_URL) as conn:
            (count,) = conn.execute(
                f'SELECT count(*) FROM "{schema}".job_queue'
            ).fetchone() or (0,)
        assert count == 30
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.redis
def test_the_demo_runs_on_redis_under_its_own_prefix() -> None:
    prefix = f"{namespace()}:"
    result = dataqueue(
        "demo", "--url", REDIS_URL, "--key-prefix", prefix, "--jobs", "30"
    )
    assert result.returncode == 0, result.stderr
    assert "Summary by job type" in result.stdout


@pytest.mark.postgres
def test_a_worker_on_an_unmigrated_schema_says_so_in_one_line() -> None:
    schema = namespace()
    result = dataqueue(
        "worker", "tests.worker_jobs:handlers", "--url", PG_URL, "--schema", schema
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f"run `dataqueue migrate --schema {schema}`" in result.stderr


def test_a_worker_pointed_at_a_handler_function_says_what_to_point_at() -> None:
    result = dataqueue("worker", "tests.worker_jobs:count")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert "tests.worker_jobs:count is a function that takes arguments" in error
    assert 'tests.worker_jobs:handlers with handlers = {"count": count}' in error


def test_a_worker_given_a_handler_that_is_not_callable_says_so() -> None:
    result = dataqueue("worker", "tests.handlers:NOT_A_HANDLER_MAP")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "Error: create_processor: handler for 'a' is not callable: int: 5"
    )


@pytest.mark.postgres
def test_the_worker_start_line_names_the_store_and_concurrency_not_secrets() -> None:
    # Local connections are trusted: the password is accepted and ignored.
    url = PG_URL.replace("postgres@", "postgres:s3cret-pw@", 1)
    schema = namespace()
    assert dataqueue("migrate", "--url", url, "--schema", schema).returncode == 0
    command = ["worker", "tests.worker_jobs:handlers", "--url", url]
    worker = subprocess.Popen(
        [sys.executable, "-m", "dataqueue", *command, "--schema", schema],
        cwd=ROOT,
        env={**environment(), "DQ_TEST_RUNS_DIR": "/nonexistent"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert worker.stdout is not None
        started = worker.stdout.readline()
        worker.send_signal(signal.SIGTERM)
        rest, _ = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    shown = url.replace("s3cret-pw", "***")
    assert f"started on {shown} (postgres), concurrency 3, for" in started
    assert "s3cret-pw" not in started + rest
