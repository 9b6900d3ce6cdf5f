"""`dataqueue migrate` as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest
import redis

from dataqueue.backends.redis import keys
from dataqueue.backends.redis.backend import SCHEMA_VERSION
from tests.conftest import PG_URL, REDIS_URL, namespace


def run(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.endswith("DATAQUEUE_URL")}
    base.pop("PG_DATAQUEUE_DATABASE", None)
    return subprocess.run(
        [sys.executable, "-m", "dataqueue", "migrate", *args],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def tables(schema: str) -> set[str]:
    with psycopg.connect(PG_URL) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,),
        ).fetchall()
    return {row[0] for row in rows}


@pytest.mark.postgres
def test_migrate_creates_the_schema_and_is_idempotent() -> None:
    schema = namespace()
    try:
        first = run("--url", PG_URL, "--schema", schema)
        assert first.returncode == 0, first.stderr
        assert {"job_queue", "job_events"} <= tables(schema)
        assert first.stdout.startswith("applied ")
        assert f"(schema {schema}): 0001_initial, " in first.stdout
        second = run("--schema", schema, env={"DATAQUEUE_URL": PG_URL})
        assert second.returncode == 0, second.stderr
        assert second.stdout.strip().endswith(
            f"is up to date at {PG_URL} (schema {schema}): nothing to apply"
        )
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.postgres
def test_migrate_reads_the_url_from_an_env_file(tmp_path: object) -> None:
    from pathlib import Path

    schema = namespace()
    env_file = Path(str(tmp_path)) / ".env"
    env_file.write_text(f"PG_DATAQUEUE_DATABASE={PG_URL}\n")
    try:
        result = run("--env-file", str(env_file), "--schema", schema)
        assert result.returncode == 0, result.stderr
        assert "job_queue" in tables(schema)
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.redis
def test_migrate_upgrades_a_redis_key_prefix() -> None:
    prefix = f"{namespace()}:"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        result = run("--url", REDIS_URL, "--key-prefix", prefix)
        assert result.returncode == 0, result.stderr
        stored = client.get(keys.schema_version(prefix))
        assert stored == str(SCHEMA_VERSION).encode()
    finally:
        client.delete(keys.schema_version(prefix))
        client.close()


def test_migrate_without_url_explains_what_to_do() -> None:
    result = run()
    assert result.returncode != 0
    assert "DATAQUEUE_URL" in result.stderr


def test_migrate_with_unreachable_database_fails_clearly() -> None:
    result = run("--url", "postgresql://nobody@127.0.0.1:1/none")
    assert result.returncode != 0
    assert "could not migrate" in result.stderr


def test_migrate_rejects_a_bad_schema_name() -> None:
    result = run("--url", PG_URL, "--schema", "bad; drop table x")
    assert result.returncode != 0
    assert "schema" in result.stderr


@pytest.mark.redis
def test_migrate_renames_the_redis_keys_of_the_given_prefix() -> None:
    prefix = f"{namespace()}:"
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        client.set(prefix + "instance", "marker")
        client.hset(prefix + "job:7", "id", "7")
        done = run("--url", REDIS_URL, "--key-prefix", prefix)
        assert done.returncode == 0, done.stderr
        assert client.get(keys.instance(prefix)) == "marker"
        assert client.hget(keys.job(prefix, 7), "id") == "7"
        assert not client.exists(prefix + "instance", prefix + "job:7")
    finally:
        found = list(client.scan_iter(match=keys.pattern(prefix)))
        client.delete(*found, prefix + "instance", prefix + "job:7")
        client.close()


@pytest.mark.postgres
def test_migrate_into_a_schema_with_a_table_of_the_same_name_suggests_a_schema() -> (
    None
):
    schema = namespace()
    try:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
            conn.execute(f'CREATE TABLE "{schema}".workers (name text)')
        result = run("--url", PG_URL, "--schema", schema)
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert 'relation "workers" already exists' in result.stderr
        assert "`dataqueue migrate --schema dataqueue`" in result.stderr
        assert tables(schema) == {"workers"}
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_migrate_on_sqlite_says_what_it_applied(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/jobs.db"
    first = run("--url", url)
    second = run("--url", url)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("applied ") and "0001_initial" in first.stdout
    assert "nothing to apply" in second.stdout
