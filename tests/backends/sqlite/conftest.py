"""The fixtures every SQLite store test starts from: a file in the test's
folder, and a store opened on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dataqueue.backends.sqlite import SqliteBackend


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "jobs.db")


@pytest.fixture
async def backend(path: str) -> AsyncIterator[SqliteBackend]:
    store = SqliteBackend(path)
    await store.open()
    try:
        yield store
    finally:
        await store.close()
