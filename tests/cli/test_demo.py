"""`dataqueue demo` runs on the embedded SQLite default with no server."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path


def test_demo_runs_every_job_to_the_end_on_sqlite(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if "DATAQUEUE" not in k}
    result = subprocess.run(
        [sys.executable, "-m", "dataqueue", "demo", "--jobs", "80"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Summary by job type" in result.stdout
    assert "80 jobs in" in result.stdout
    assert "planned" not in result.stdout
    assert "dataqueue dashboard dataqueue.cli.demo:HANDLERS" in " ".join(
        result.stdout.split()
    )
    with closing(sqlite3.connect(tmp_path / "dataqueue.db")) as conn:
        statuses = dict(
            conn.execute("SELECT status, count(*) FROM job_queue GROUP BY status")
        )
    assert sum(statuses.values()) == 80
    assert set(statuses) <= {"completed", "failed"}
    assert statuses["failed"] == 2  # cards 3 and 43 are marked stolen
