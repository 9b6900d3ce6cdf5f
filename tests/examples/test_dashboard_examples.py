"""The dashboard examples run, and their mounted dashboard answers: the
page, the JSON API, and a POST carrying the page's CSRF token."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import dataqueue as dq
from tests.conftest import eventually

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = "/admin/dataqueue"

TOKEN = "the-access-token-of-the-examples"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    "example", ["dashboard_fastapi.py", "dashboard_django.py", "dashboard_flask.py"]
)
async def test_the_mounted_dashboard_shows_and_runs_the_apps_jobs(
    example: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / example), url, str(port)],
        cwd=tmp_path,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DATAQUEUE_DASHBOARD_TOKEN": TOKEN,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        async with httpx.AsyncClient(
            base_url=base, timeout=10, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as client:

            async def serving() -> bool:
                if process.poll() is not None:
                    raise AssertionError(process.communicate()[1])
                try:
                    await client.get(f"{DASHBOARD}/")
                except httpx.TransportError:
                    return False
                return True

            await eventually(serving, timeout=60)
            signed_up = await client.post("/signup", params={"email": "a@x.com"})
            page = await client.get(f"{DASHBOARD}/")
            listed = await client.get(f"{DASHBOARD}/api/jobs")
            token = re.search(r'name="dataqueue-csrf" content="([^"]+)"', page.text)
            assert token, page.text
            ran = await client.post(
                f"{DASHBOARD}/api/process",
                headers={"Origin": base, "X-DataQueue-CSRF": token.group(1)},
            )
            refused = await client.post(f"{DASHBOARD}/api/process")
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)

    job_id = signed_up.json()["job_id"]
    assert page.headers["content-type"].startswith("text/html")
    assert f'<meta name="dataqueue-base" content="{DASHBOARD}">' in page.text
    assert [job["id"] for job in listed.json()["jobs"]] == [job_id]
    assert ran.json() == {"processed": 1}
    assert refused.status_code == 403
    with dq.connect_sync(url) as queue:
        job = queue.get_job(job_id)
    assert job is not None
    assert (job.status, job.output) == (dq.JobStatus.COMPLETED, {"sent_to": "a@x.com"})
