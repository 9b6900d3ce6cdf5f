"""Where ``MODULE:HANDLERS`` is imported from: the current directory is
searched after the installed packages, ``--app-dir`` first."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from dataqueue.cli._options import import_handlers

HANDLERS_MODULE = """
import colorsys

HANDLERS = {"colorsys_from": colorsys.__file__}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory holding a handlers module and a file named like a
    standard module, entered as the console script would run in it (the
    current directory not on ``sys.path``)."""
    (tmp_path / "dq_probe_handlers.py").write_text(HANDLERS_MODULE)
    (tmp_path / "colorsys.py").write_text("raise RuntimeError('shadowed')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        sys, "path", [entry for entry in sys.path if entry not in ("", os.getcwd())]
    )
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    monkeypatch.delitem(sys.modules, "dq_probe_handlers", raising=False)
    return tmp_path


def test_a_file_in_the_current_directory_cannot_shadow_a_module(project: Path) -> None:
    handlers = import_handlers("dq_probe_handlers:HANDLERS")
    assert not handlers["colorsys_from"].startswith(str(project))
    assert sys.path[-1] == str(project)


def test_app_dir_is_searched_first(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("app")
    (elsewhere / "dq_probe_handlers.py").write_text('HANDLERS = {"from": "app-dir"}\n')
    handlers = import_handlers("dq_probe_handlers:HANDLERS", app_dir=elsewhere)
    assert handlers == {"from": "app-dir"}
    assert sys.path[0] == str(elsewhere.resolve())
