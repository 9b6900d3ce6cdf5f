"""`dataqueue limits` and `dataqueue pause|resume` as subprocesses, on a
SQLite file; what they set is read back through the API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dataqueue as dq


def run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if "DATAQUEUE" not in k}
    return subprocess.run(
        [sys.executable, "-m", "dataqueue", *args, "--url", url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_set_show_clear_pause_resume(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    done = run(url, "limits", "set", "charge", "--concurrency", "5", "--rate", "100/m")
    assert done.returncode == 0, done.stderr
    assert "concurrency 5, rate 100/60s" in done.stdout
    assert run(url, "limits", "set", "sync", "--group-rate", "10/s").returncode == 0
    assert run(url, "pause", "sync").returncode == 0
    shown = run(url, "limits", "show", "--json")
    rows = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [(r["job_type"], r["concurrency"], r["paused"]) for r in rows] == [
        ("charge", 5, False),
        ("sync", None, True),
    ]
    assert rows[0]["rate"] == [100, 60.0] and rows[1]["group_rate"] == [10, 1.0]

    assert run(url, "limits", "set", "charge", "--rate", "none").returncode == 0
    assert run(url, "limits", "clear", "sync").returncode == 0
    assert run(url, "pause").returncode == 0
    with dq.connect_sync(url) as queue:
        assert queue.get_limits() == [
            dq.Limits("*", paused=True),
            dq.Limits("charge", concurrency=5),
            dq.Limits("sync", paused=True),
        ]
    assert run(url, "resume").returncode == 0
    with dq.connect_sync(url) as queue:
        assert queue.get_limits() == [dq.Limits("charge", concurrency=5)]


def test_bad_values_are_refused_naming_the_option(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    bad_rate = run(url, "limits", "set", "charge", "--rate", "fast")
    assert bad_rate.returncode == 2 and "--rate" in bad_rate.stderr
    zero = run(url, "limits", "set", "charge", "--concurrency", "0")
    assert zero.returncode == 1 and "concurrency must be" in zero.stderr
    nothing = run(url, "limits", "set", "charge")
    assert nothing.returncode == 2 and "at least one limit" in nothing.stderr
