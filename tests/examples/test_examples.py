"""The runnable examples in examples/ run and tell their story."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_example(name: str, tmp_path: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), f"sqlite:///{tmp_path}/x.db"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_onboarding_sequence_sends_each_email_once_across_its_waits(
    tmp_path: Path,
) -> None:
    lines = run_example("onboarding.py", tmp_path).splitlines()
    assert lines[0].startswith("2030-01-01: waiting")
    assert lines[2].startswith("2030-01-09: completed")
    assert lines[2].count("->") == 3
    assert lines[3] == (
        "events: added processing waiting resumed processing waiting resumed "
        "processing completed"
    )


def test_the_approval_flow_is_completed_from_the_web_endpoint(tmp_path: Path) -> None:
    out = run_example("approval.py", tmp_path)
    assert "(job waiting)" in out
    assert "approver got (200, {'ok': True})" in out
    assert "job output: invoice 42 approved" in out
    assert "a second answer gets (409" in out and "already completed" in out


def test_the_media_pipeline_joins_once_with_every_step(tmp_path: Path) -> None:
    lines = run_example("media_pipeline.py", tmp_path).splitlines()
    assert lines[0].startswith("flow ") and "started by job 1" in lines[0]
    assert lines[1:5] == [
        "step 0 resize: success",
        "step 1 resize: success",
        "step 2 transcode: success",
        "step 3 validate: fail",
    ]
    assert lines[5] == (
        "published: {'item': 'clip-7', 'parts': [{'thumbnail': 'clip-7-320w.jpg'}, "
        "{'thumbnail': 'clip-7-1280w.jpg'}, {'video': 'clip-7.av1.mp4'}], "
        "'problems': ['ValueError: clip-7: subtitles are missing']}"
    )
