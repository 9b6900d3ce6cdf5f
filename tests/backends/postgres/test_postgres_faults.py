"""Store faults: refusals fail at once in one line, outages are transient,
dead pooled connections are replaced, and the listener reconnects."""

from __future__ import annotations

import logging
import time
import uuid

import pytest
from pg_helpers import NOW, drop_schema, job, scalar
from tests.conftest import PG_URL, eventually

from dataqueue.backends.postgres import PostgresBackend
from dataqueue.errors import StoreRefusedError, StoreUnavailableError

HOST = "127.0.0.1:5432"


def url(
    user: str = "postgres", password: str = "", port: int = 5432, **query: str
) -> str:
    secret = f":{password}" if password else ""
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return f"postgresql://{user}{secret}@127.0.0.1:{port}/test" + (
        f"?{params}" if params else ""
    )


async def refusal(target: str, **options: object) -> tuple[Exception, float]:
    backend = PostgresBackend(target, **options)  # type: ignore[arg-type]
    started = time.monotonic()
    try:
        with pytest.raises((StoreRefusedError, StoreUnavailableError)) as caught:
            await backend.migrate()
    finally:
        await backend.close()
    return caught.value, time.monotonic() - started


async def test_an_unknown_role_is_refused_at_once_in_one_line() -> None:
    error, took = await refusal(url(user="nobody_here", password="s3cret-pw"))
    assert isinstance(error, StoreRefusedError)
    assert took < 2
    message = str(error)
    assert message == (
        f"PostgreSQL at nobody_here@{HOST}/test refused the connection: "
        'role "nobody_here" does not exist'
    )
    assert "s3cret-pw" not in message


async def test_an_unknown_database_is_refused_at_once() -> None:
    target = "postgresql://postgres@127.0.0.1:5432/no_such_db"
    error, took = await refusal(target)
    assert isinstance(error, StoreRefusedError)
    assert took < 2
    assert str(error) == (
        f"PostgreSQL at postgres@{HOST}/no_such_db refused the connection: "
        'database "no_such_db" does not exist'
    )


async def test_nothing_listening_is_unavailable_not_refused() -> None:
    error, took = await refusal(url(password="s3cret-pw", port=1))
    assert isinstance(error, StoreUnavailableError)
    assert took < 2
    assert str(error).startswith(
        "PostgreSQL at postgres@127.0.0.1:1/test is unavailable: "
    )
    assert "Connection refused" in str(error)
    assert "\n" not in str(error) and "s3cret-pw" not in str(error)


async def terminate(application: str, query_like: str = "%") -> int:
    """Ends the matching backends and waits (up to 5 s) until they are gone."""
    return int(
        await scalar(
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
            f"WHERE application_name = '{application}' AND query LIKE '{query_like}'"
        )
    )


async def test_pooled_connections_killed_while_idle_are_replaced(
    schema: str,
) -> None:
    application = f"dq_{uuid.uuid4().hex[:8]}"
    backend = PostgresBackend(url(application_name=application), schema=schema)
    try:
        await backend.migrate()
        (job_id,) = await backend.add_jobs([job()], now=NOW)
        assert await terminate(application) >= 1
        # The check before use finds the dead connection; the call works.
        assert await backend.get_job(job_id) is not None
    finally:
        await backend.close()
        await drop_schema(schema)


async def test_the_listener_reconnects_logs_once_and_wakes_on_recovery(
    schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    application = f"dq_{uuid.uuid4().hex[:8]}"
    backend = PostgresBackend(url(application_name=application), schema=schema)
    adder = PostgresBackend(PG_URL, schema=schema)
    wakeup = None
    try:
        await backend.migrate()
        wakeup = await backend.subscribe()
        assert await wakeup.wait(5)
        caplog.set_level(logging.INFO, logger="dataqueue")

        async def listening() -> bool:
            return bool(
                await scalar(
                    "SELECT count(*) FROM pg_stat_activity WHERE "
                    f"application_name = '{application}' AND query LIKE 'LISTEN%'"
                )
            )

        await eventually(listening)
        assert await terminate(application, "LISTEN%") == 1
        # Jobs may have been added while nobody listened: recovery wakes.
        assert await wakeup.wait(5)
        await eventually(listening)
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        infos = [r for r in caplog.records if r.levelno == logging.INFO]
        assert len(errors) == 1 and errors[0].exc_info is None
        assert "lost the connection listening for new jobs" in errors[0].getMessage()
        assert (
            len(infos) == 1 and "listening for new jobs again" in infos[0].getMessage()
        )

        await adder.add_jobs([job()], now=NOW)
        assert await wakeup.wait(5)
    finally:
        if wakeup is not None:
            await wakeup.close()
        await adder.close()
        await backend.close()
        await drop_schema(schema)
