"""The shape of the source: no module grows past what one reader holds,
and every store folder has the same files, named after the protocol's
roles (docs/architecture.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

SRC = Path(__file__).parents[2] / "src" / "dataqueue"
MAX_LINES = 800
ROLE_FILES = {"backend.py", "codec.py", "connection.py", "exchange.py", "listener.py"}


def test_no_module_is_over_800_lines() -> None:
    long = {
        str(path.relative_to(SRC)): lines
        for path in SRC.rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


@pytest.mark.parametrize(
    ("store", "statements"),
    [("postgres", "sql"), ("sqlite", "sql"), ("redis", "lua")],
)
def test_every_store_folder_has_the_role_files(store: str, statements: str) -> None:
    folder = SRC / "backends" / store
    assert {path.name for path in folder.glob("*.py")} >= ROLE_FILES
    assert any((folder / statements).iterdir())
    if statements == "sql":
        assert any((folder / "migrations").iterdir())
