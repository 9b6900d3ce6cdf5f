"""The FastAPI/Starlette lifespan and the Flask extension on every store
(the pages' end-to-end runs are in test_framework_docs.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, current_app

import dataqueue as dq
from dataqueue.contrib.fastapi import DataQueue as AppQueue
from dataqueue.contrib.flask import DataQueue, app_handlers
from tests.conftest import drop_namespace, namespace, open_store, store_options


@pytest.fixture
async def options(store: str, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """``connect()`` options of a migrated, empty namespace on ``store``."""
    ns = namespace()
    await (await open_store(store, tmp_path, None, ns)).close()
    try:
        yield store_options(store, tmp_path, ns)
    finally:
        await drop_namespace(store, ns)


async def double(payload: dict[str, int]) -> int:
    return payload["n"] * 2


async def test_the_lifespan_opens_the_queue_runs_jobs_and_closes_it(
    options: dict[str, Any],
) -> None:
    jobs = AppQueue(
        options.pop("url"),
        handlers={"double": double},
        run_worker=True,
        processor_options={"poll_interval": 0.1},
        **options,
    )
    with pytest.raises(RuntimeError, match=r"lifespan=jobs\.lifespan"):
        jobs.queue()
    async with jobs.lifespan(object()) as state:
        queue = jobs.queue()
        assert state == {"dataqueue": queue}
        job_id = await queue.add_job("double", {"n": 21})
        done = await queue.wait_for_job(job_id, timeout=30)
        assert (done.status, done.output) == (dq.JobStatus.COMPLETED, 42)
    with pytest.raises(RuntimeError):
        jobs.queue()


def test_a_lifespan_worker_needs_handlers() -> None:
    with pytest.raises(ValueError, match="needs handlers"):
        AppQueue("sqlite:///x.db", run_worker=True)


def app_name(payload: None) -> str:
    return str(current_app.name)


def flask_app(options: dict[str, Any], **extension: Any) -> tuple[Flask, DataQueue]:
    app = Flask("shop")
    app.config["DATAQUEUE_URL"] = options["url"]
    app.config["DATAQUEUE_SCHEMA"] = options.get("schema")
    app.config["DATAQUEUE_KEY_PREFIX"] = options.get("key_prefix")
    jobs = DataQueue(app, **extension)

    @app.post("/add")
    def add() -> dict[str, int]:
        return {"id": jobs.queue.add_job("app_name")}

    return app, jobs


def test_flask_views_get_the_queue_and_jobs_run_in_the_app(
    options: dict[str, Any],
) -> None:
    app, jobs = flask_app(options, handlers={"app_name": app_name})
    migrated = app.test_cli_runner().invoke(args=["dataqueue", "migrate"])
    assert migrated.exit_code == 0, migrated.output
    assert migrated.output.startswith(("applied ", "dataqueue schema is up to date"))
    response = app.test_client().post("/add")
    assert response.status_code == 200
    job_id = response.get_json()["id"]
    with app.app_context():
        handlers = app_handlers()
        assert jobs.queue.create_processor(handlers).start() == 1
        done = jobs.queue.get_job(job_id)
        jobs.queue.close()
    assert done is not None and done.output == "shop"


def test_the_flask_worker_without_handlers_says_where_to_put_them(
    options: dict[str, Any],
) -> None:
    app, _ = flask_app(options)
    result = app.test_cli_runner().invoke(args=["dataqueue", "worker"])
    assert result.exit_code == 2
    assert 'app.config["DATAQUEUE_HANDLERS"]' in result.output


def test_the_flask_worker_takes_the_options_of_dataqueue_worker(
    options: dict[str, Any],
) -> None:
    app, _ = flask_app(options)
    shown = app.test_cli_runner().invoke(args=["dataqueue", "worker", "--help"])
    assert shown.exit_code == 0
    for option in ("--concurrency", "--batch-size", "--job-type", "--drain-timeout"):
        assert option in shown.output
