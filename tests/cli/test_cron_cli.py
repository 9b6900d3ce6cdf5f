"""`dataqueue cron` as a subprocess, on a SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dataqueue as dq


def run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if "DATAQUEUE" not in k}
    return subprocess.run(
        [sys.executable, "-m", "dataqueue", "cron", *args, "--url", url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_list_pause_resume_remove(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    with dq.connect_sync(url) as queue:
        nightly = queue.add_cron_job(
            "nightly", "30 2 * * *", "report", {}, timezone="Europe/Berlin"
        )
        queue.add_cron_job("hourly", "@hourly", "ping", {})

    listed = run(url, "list")
    assert listed.returncode == 0, listed.stderr
    line = next(s for s in listed.stdout.splitlines() if "nightly" in s)
    assert "02:30 CE" in line and "UTC)" in line  # its own zone, then UTC

    assert run(url, "pause", "nightly").returncode == 0
    paused = run(url, "list", "--status", "paused").stdout
    assert "nightly" in paused and "hourly" not in paused
    assert run(url, "resume", str(nightly)).returncode == 0
    assert run(url, "remove", "hourly").returncode == 0

    missing = run(url, "pause", "nope")
    assert missing.returncode == 1
    assert "no cron schedule 'nope'" in missing.stderr
    with dq.connect_sync(url) as queue:
        (schedule,) = queue.list_cron_jobs()
        assert (schedule.id, schedule.status) == (nightly, dq.CronStatus.ACTIVE)


def test_schema_and_key_prefix_reach_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    bad_schema = run(url, "list", "--schema", "pg_catalog")
    assert bad_schema.returncode == 1
    assert "schema must be a plain identifier" in bad_schema.stderr
    bad_prefix = run(url, "pause", "nightly", "--key-prefix", "dq:*")
    assert bad_prefix.returncode == 1
    assert "key_prefix must not contain the glob characters" in bad_prefix.stderr


def test_list_has_a_header_and_help_speaks_in_the_imperative(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    with dq.connect_sync(url) as queue:
        queue.add_cron_job("nightly", "30 2 * * *", "report", {})
    header, row = run(url, "list").stdout.splitlines()
    assert header.split("\t") == [
        "id",
        "name",
        "expression",
        "timezone",
        "job type",
        "next run",
        "last job",
    ]
    assert len(row.split("\t")) == len(header.split("\t"))
    for command in ("pause", "resume", "remove"):
        shown = run(url, command, "--help").stdout
        assert f"{command.capitalize()} a schedule, given its id or name." in shown


def test_cron_reads_the_store_url_from_an_env_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    with dq.connect_sync(url) as queue:
        queue.add_cron_job("nightly", "30 2 * * *", "report", {})
    env_file = tmp_path / ".env"
    env_file.write_text(f"DATAQUEUE_URL={url}\n")
    env = {k: v for k, v in os.environ.items() if "DATAQUEUE" not in k}
    listed = subprocess.run(
        [sys.executable, "-m", "dataqueue", "cron", "list", "--env-file", env_file],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    assert "nightly" in listed.stdout
