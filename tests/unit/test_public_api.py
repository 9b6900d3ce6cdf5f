from __future__ import annotations

import inspect
from importlib import resources

import dataqueue as dq


def public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def test_all_is_sorted_and_complete() -> None:
    assert dq.__all__ == sorted(dq.__all__)
    for name in dq.__all__:
        assert hasattr(dq, name), name


def test_sync_queue_mirrors_async_queue() -> None:
    assert public(dq.SyncJobQueue) == public(dq.JobQueue)


def test_sync_methods_keep_the_async_signatures() -> None:
    for name in public(dq.JobQueue):
        method = getattr(dq.JobQueue, name)
        if inspect.iscoroutinefunction(method) and name != "close":
            sync = getattr(dq.SyncJobQueue, name)
            assert sync.__doc__ == method.__doc__, name
            assert inspect.signature(sync) == inspect.signature(method), name


def test_package_ships_py_typed_and_its_sql_and_lua() -> None:
    root = resources.files("dataqueue")
    assert root.joinpath("py.typed").is_file()
    for backend, folder, suffix in [
        ("postgres", "sql", ".sql"),
        ("postgres", "migrations", ".sql"),
        ("sqlite", "sql", ".sql"),
        ("sqlite", "migrations", ".sql"),
        ("redis", "lua", ".lua"),
    ]:
        files = list(root.joinpath("backends", backend, folder).iterdir())
        assert any(f.name.endswith(suffix) for f in files), (backend, folder)
