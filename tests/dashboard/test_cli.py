"""``dataqueue dashboard`` as a real process on a free port."""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

import dataqueue as dq
from tests.conftest import eventually

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = "tests.dashboard.jobs:HANDLERS"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "dataqueue", "dashboard", HANDLERS, *args]


def environment(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **extra}
    env.pop("DATAQUEUE_DASHBOARD_AUTH", None)
    env.update(extra)
    return env


@contextmanager
def running(args: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        command(*args),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=20)


async def wait_until_serving(client: httpx.AsyncClient, url: str) -> None:
    async def serving() -> bool:
        try:
            await client.get(url)
        except httpx.TransportError:
            return False
        return True

    await eventually(serving, timeout=30)


def printed_url(process: subprocess.Popen[str]) -> str:
    """The ``open <url>`` line the command prints on stderr when it serves."""
    assert process.stderr is not None
    for line in process.stderr:
        found = re.search(r"open (http://\S+)", line)
        if found:
            return found.group(1)
    raise AssertionError(f"no URL printed; exit status {process.wait(20)}")


async def test_it_serves_loopback_with_the_token_it_prints(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    with dq.connect_sync(url) as queue:
        job_id = queue.add_job("echo", {"via": "cli"})
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    with running(["--url", url, "--port", str(port)], environment()) as process:
        opened = printed_url(process)
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            await wait_until_serving(client, "/")
            without_token = await client.get("/api/jobs")
            # The browser opens the printed URL: a cookie, and the URL
            # without its token.
            entry = await client.get(opened)
            page = await client.get(entry.headers["location"])
            token = re.search(r'name="dataqueue-csrf" content="([^"]+)"', page.text)
            assert token
            listed = await client.get("/api/jobs")
            ran = await client.post(
                "/api/process",
                headers={"Origin": base, "X-DataQueue-CSRF": token.group(1)},
            )
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)

    assert opened.startswith(f"{base}/?token=")
    assert without_token.status_code == 403
    assert "access token" in without_token.json()["error"]
    assert entry.status_code == 303
    assert entry.headers["location"] == "/"
    assert '<meta name="dataqueue-base" content="">' in page.text
    assert [job["id"] for job in listed.json()["jobs"]] == [job_id]
    assert ran.json() == {"processed": 1}
    assert process.returncode == 0, err
    with dq.connect_sync(url) as queue:
        job = queue.get_job(job_id)
    assert job is not None and job.output == {"echo": {"via": "cli"}}


async def test_read_only_it_shows_jobs_and_refuses_every_action(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    with dq.connect_sync(url) as queue:
        job_id = queue.add_job("echo", {})
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = ["--url", url, "--port", str(port), "--read-only"]
    with running(command, environment()) as process:
        opened = printed_url(process)
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            await wait_until_serving(client, "/")
            entry = await client.get(opened)
            page = await client.get(entry.headers["location"])
            listed = await client.get("/api/jobs")
            token = re.search(r'name="dataqueue-csrf" content="([^"]+)"', page.text)
            assert token
            refused = await client.post(
                f"/api/jobs/{job_id}/cancel",
                headers={"Origin": base, "X-DataQueue-CSRF": token.group(1)},
            )
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=20)

    assert [job["id"] for job in listed.json()["jobs"]] == [job_id]
    assert 'id="process-jobs"' not in page.text
    assert refused.status_code == 403
    assert refused.json() == {"error": "this dashboard is read-only"}


async def test_each_start_has_a_new_token(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    printed = []
    for _ in range(2):
        port = free_port()
        with running(["--url", url, "--port", str(port)], environment()) as process:
            printed.append(printed_url(process).partition("?token=")[2])
    assert printed[0] != printed[1]
    assert all(len(token) >= 32 for token in printed)


@pytest.mark.parametrize("host", ["0.0.0.0", "dataqueue-nowhere.localhost"])
def test_it_refuses_a_host_that_may_bind_off_loopback(
    tmp_path: Path, host: str
) -> None:
    # A .localhost name is resolved, not trusted by its spelling: this one
    # resolves to nothing here, so nothing says it binds loopback.
    done = subprocess.run(
        command("--url", f"sqlite:///{tmp_path / 'x.db'}", "--host", host),
        cwd=ROOT,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 2
    assert f"refusing to serve the dashboard on {host!r} without authentication" in (
        done.stderr
    )
    assert "--auth USER:PASSWORD" in done.stderr


async def test_with_basic_auth_it_serves_a_public_host_until_sigterm(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = environment(DATAQUEUE_DASHBOARD_AUTH="admin:pa55word")
    args = ["--url", f"sqlite:///{tmp_path / 'x.db'}", "--host", "0.0.0.0"]
    credentials = base64.b64encode(b"admin:pa55word").decode()

    with running([*args, "--port", str(port), "--base-path", "/ops"], env) as process:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=10
        ) as client:
            await wait_until_serving(client, "/ops/")
            anonymous = await client.get("/ops/api/jobs")
            admitted = await client.get(
                "/ops/api/jobs", headers={"Authorization": f"Basic {credentials}"}
            )
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)

    assert process.returncode == 0, err
    assert anonymous.status_code == 401
    assert admitted.status_code == 200
    assert f"on http://0.0.0.0:{port}/ops/ (HTTP Basic authentication)" in err


def test_malformed_credentials_are_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run(
        command("--url", f"sqlite:///{tmp_path / 'x.db'}", "--auth", "admin"),
        cwd=ROOT,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 2
    assert "USER:PASSWORD" in done.stderr


async def test_metrics_port_serves_the_whole_queue(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    with dq.connect_sync(url) as queue:
        queue.add_jobs([dq.JobSpec("echo", {}), dq.JobSpec("echo", {})])
    port, metrics_port = free_port(), free_port()
    args = ["--url", url, "--port", str(port), "--metrics-port", str(metrics_port)]
    with running(args, environment()) as process:
        async with httpx.AsyncClient(timeout=10) as client:
            metrics = f"http://127.0.0.1:{metrics_port}/metrics"
            await wait_until_serving(client, metrics)
            text = (await client.get(metrics)).text
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=20)
    assert 'dataqueue_queue_jobs{job_type="echo",status="pending"} 2.0' in text
    assert "dataqueue_queue_up 1.0" in text
    assert process.returncode == 0


async def test_it_reads_the_store_and_credentials_from_an_env_file(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    with dq.connect_sync(url) as queue:
        job_id = queue.add_job("echo", {})
    env_file = tmp_path / ".env"
    env_file.write_text(f"DATAQUEUE_URL={url}\nDATAQUEUE_DASHBOARD_AUTH=admin:pa55\n")
    port = free_port()
    credentials = base64.b64encode(b"admin:pa55").decode()
    args = ["--env-file", str(env_file), "--port", str(port)]
    env = {k: v for k, v in environment().items() if "DATAQUEUE" not in k}

    with running(args, env) as process:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=10
        ) as client:
            await wait_until_serving(client, "/")
            listed = await client.get(
                "/api/jobs", headers={"Authorization": f"Basic {credentials}"}
            )
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)

    assert process.returncode == 0, err
    assert "(HTTP Basic authentication)" in err
    assert [job["id"] for job in listed.json()["jobs"]] == [job_id]
