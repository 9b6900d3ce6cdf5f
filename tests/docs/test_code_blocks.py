"""Every code block taught to users and assistants runs, or at least compiles
against names dataqueue really has."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.blocks import (
    ROOT,
    blocks,
    compile_block,
    taught_files,
    unknown_cli,
    unknown_names,
)

FILES = taught_files()


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_taught_files_are_found() -> None:
    names = {_id(path) for path in FILES}
    assert "docs/getting-started.md" in names
    assert "src/dataqueue/assistants/skills/dataqueue-core/SKILL.md" in names
    assert "src/dataqueue/assistants/rules/basic.md" in names


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_blocks_use_only_names_dataqueue_has(path: Path) -> None:
    problems = []
    for block in blocks(path):
        if block.language == "python":
            compile_block(block)
            problems += [f"{block.where}: {name}" for name in unknown_names(block.code)]
        elif block.language == "bash":
            problems += [f"{block.where}: {cmd}" for cmd in unknown_cli(block.code)]
    assert not problems, "unknown to dataqueue:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_python_blocks_run_against_sqlite(path: Path, tmp_path: Path) -> None:
    runnable = [
        {"where": block.where, "code": block.code}
        for block in blocks(path)
        if block.language == "python" and block.run
    ]
    if not runnable:
        return
    env = {**os.environ, "DATAQUEUE_URL": "sqlite:///jobs.db"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "docs" / "_runner.py")],
        input=json.dumps(runnable),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-4000:]
