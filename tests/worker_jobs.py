"""Handlers run by `dataqueue worker` subprocesses in the CLI tests.

Each run appends the job's number to a file named for the worker process, so
a test can count how often every job ran, whatever the store.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import time
from pathlib import Path
from typing import Any


def _record(kind: str, n: int) -> None:
    folder = Path(os.environ["DQ_TEST_RUNS_DIR"])
    with open(folder / f"{kind}-{os.getpid()}.txt", "a", encoding="utf-8") as f:
        f.write(f"{n}\n")


async def count(payload: dict[str, Any]) -> None:
    _record("run", payload["n"])


async def hold(payload: dict[str, Any]) -> str:
    """Signals that it started, then works for ``seconds``."""
    _record("start", payload["n"])
    await asyncio.sleep(payload["seconds"])
    _record("run", payload["n"])
    return "held"


def hold_in_thread(payload: dict[str, Any]) -> str:
    """``hold`` as a plain def, run in a thread."""
    _record("start", payload["n"])
    time.sleep(payload["seconds"])
    _record("run", payload["n"])
    return "held"


def _running(delta: int) -> None:
    """Count the jobs running now in this worker process, outside the store:
    each change appends the new count to ``running-<pid>.txt`` (a worker
    killed mid-job leaves its count up, and its file says so)."""
    folder = Path(os.environ["DQ_TEST_RUNS_DIR"])
    path = folder / f"running-{os.getpid()}.txt"
    with open(folder / "running.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lines = path.read_text().split() if path.exists() else []
        now = (int(lines[-1]) if lines else 0) + delta
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{now}\n")
        with open(folder / "all.txt", "a", encoding="utf-8") as f:
            f.write(f"{delta}\n")


def _started_before(n: int) -> bool:
    folder = Path(os.environ["DQ_TEST_RUNS_DIR"])
    return any(
        str(n) in path.read_text().split() for path in folder.glob("start-*.txt")
    )


def limited(payload: dict[str, Any]) -> None:
    """Counts itself running (in this process and over all) for ``seconds``
    (``again_seconds`` when it started before: its worker died)."""
    again = _started_before(payload["n"])
    _running(+1)
    _record("start", payload["n"])
    try:
        time.sleep(payload["again_seconds" if again else "seconds"])
    finally:
        _running(-1)
    _record("run", payload["n"])


async def die(payload: dict[str, Any]) -> None:
    """Kills its own worker process, as a crashing native library would."""
    _record("start", payload["n"])
    os._exit(1)


async def flow_join(payload: dict[str, Any]) -> int:
    """A flow's join: records how many of its steps succeeded."""
    succeeded = sum(
        step["status"] == "success" for step in payload["flow_results"]["steps"]
    )
    _record("join", succeeded)
    return succeeded


handlers = {
    "count": count,
    "hold": hold,
    "hold_in_thread": hold_in_thread,
    "die": die,
    "limited": limited,
    "flow_join": flow_join,
}
