"""The dashboard without ``auth=`` behind a real nginx on loopback.

nginx's default ``proxy_pass`` connects from 127.0.0.1, sends
``Host: 127.0.0.1:<port>`` and no forwarding header: every loopback check
passes, so only the access token keeps the world out. With the usual
``X-Forwarded-For`` line the request is refused even with the token.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

import dataqueue as dq
from dataqueue.dashboard import create_app
from tests.conftest import eventually
from tests.dashboard.jobs import HANDLERS
from tests.web.conftest import served

NGINX = "/usr/sbin/nginx"
TOKEN = "the-access-token-behind-nginx"


@pytest.fixture
def store() -> str:
    """What is checked here does not depend on the store: SQLite only."""
    return "sqlite"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def nginx(tmp_path: Path, upstream: int, extra: str = "") -> Iterator[str]:
    """nginx in the foreground, one process, proxying a loopback port to
    ``upstream``; stopped by its PID. Yields its base URL."""
    if shutil.which(NGINX) is None:
        raise RuntimeError(f"{NGINX} is missing: apt-get install -y nginx-light")
    port = free_port()
    prefix = tmp_path / f"nginx-{port}"
    prefix.mkdir()
    temp = "".join(
        f"{kind}_temp_path {prefix}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (prefix / "nginx.conf").write_text(
        f"""
daemon off;
master_process off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    {temp}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            {extra}
        }}
    }}
}}
"""
    )
    process = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def reachable(base: str) -> None:
    async with httpx.AsyncClient(base_url=base) as client:

        async def up() -> bool:
            try:
                await client.get("/")
            except httpx.TransportError:
                return False
            return True

        await eventually(up, timeout=10)


async def test_a_default_nginx_proxy_opens_nothing_without_the_token(
    queue: dq.JobQueue, tmp_path: Path
) -> None:
    await queue.add_job("echo", {"card": "4242 4242 4242 4242"})
    schedule = await queue.add_cron_job("nightly", "0 3 * * *", "echo", {})
    app = create_app(queue, HANDLERS, base_path="/", access_token=TOKEN)
    async with served(app) as direct:
        assert direct.base_url.port is not None
        with nginx(tmp_path, direct.base_url.port) as base:
            await reachable(base)
            async with httpx.AsyncClient(base_url=base, timeout=10) as outsider:
                page = await outsider.get("/")
                listed = await outsider.get("/api/jobs")
                token = re.search(r'name="dataqueue-csrf" content="([^"]+)"', page.text)
                paused = await outsider.post(
                    f"/api/cron/{schedule}/pause",
                    headers={
                        "Origin": base,
                        "X-DataQueue-CSRF": token.group(1) if token else "",
                    },
                )
    assert (page.status_code, listed.status_code, paused.status_code) == (
        403,
        403,
        403,
    )
    assert "access token" in listed.json()["error"]
    assert "4242" not in listed.text + page.text
    cron = await queue.get_cron_job(schedule)
    assert cron is not None and cron.status is dq.CronStatus.ACTIVE


async def test_behind_a_forwarding_proxy_even_the_token_is_refused(
    queue: dq.JobQueue, tmp_path: Path
) -> None:
    app = create_app(queue, HANDLERS, base_path="/", access_token=TOKEN)
    forwarding = "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"
    async with served(app) as direct:
        assert direct.base_url.port is not None
        with nginx(tmp_path, direct.base_url.port, forwarding) as base:
            await reachable(base)
            async with httpx.AsyncClient(
                base_url=base,
                timeout=10,
                headers={"Authorization": f"Bearer {TOKEN}"},
            ) as client:
                through_proxy = await client.get("/api/jobs")
        with_token_direct = await direct.get(
            "/api/jobs", headers={"Authorization": f"Bearer {TOKEN}"}
        )
    assert through_proxy.status_code == 403
    assert "x-forwarded-for" in through_proxy.json()["error"]
    assert with_token_direct.status_code == 200
