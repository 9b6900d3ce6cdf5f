"""Shared helpers for the benchmark harness (importable from every peer venv).

Needs the standard library plus psycopg (PostgreSQL peers) or redis-py (Redis
peers), which those peers' venvs have.
"""

from __future__ import annotations

import json
import os
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# A database and a Redis db number of the benchmark's own: every measurement wipes them.
PG_DSN = os.environ.get(
    "BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/dataqueue_bench"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
# SQLite files, worker logs and results live here (git-ignored), not in a fixed system
# path.
SCRATCH = os.environ.get("BENCH_SCRATCH", os.path.join(HERE, ".scratch"))
os.makedirs(SCRATCH, exist_ok=True)


def make_payload(i: int) -> dict:
    """The small JSON payload every peer enqueues (~90 bytes serialized)."""
    return {
        "i": i,
        "user_id": 1000 + i % 97,
        "email": f"user{i % 97}@example.com",
        "tags": ["bench", "noop"],
    }


# --------------------------------------------------------------------------------------
# Handler hook: every adapter's job handler must call job_started(payload) FIRST.
# --------------------------------------------------------------------------------------
_FIRST_FILE = os.environ.get("BENCH_FIRST_FILE")
_LAT_FILE = os.environ.get("BENCH_LAT_FILE")
_first_seen = False


def job_started(payload) -> None:
    """Record the handler start time.

    * the very first job in this worker process writes its start time to
    $BENCH_FIRST_FILE
    * latency jobs (payload has "t" = client time.time() just before the enqueue call)
      append "i t_enqueue t_start" to $BENCH_LAT_FILE
    """
    t = time.time()
    global _first_seen
    if not _first_seen:
        _first_seen = True
        if _FIRST_FILE:
            try:  # "x": the first writer wins (forking workers run each job in a child)
                with open(_FIRST_FILE, "x") as f:
                    f.write(repr(t))
            except FileExistsError:
                pass
    if _LAT_FILE and isinstance(payload, dict) and "t" in payload:
        with open(_LAT_FILE, "a") as f:
            f.write(f"{payload['i']} {payload['t']!r} {t!r}\n")


# --------------------------------------------------------------------------------------
# Backend reset helpers
# --------------------------------------------------------------------------------------
def pg_reset_schema() -> None:
    """Drop everything in the bench database (public schema) and recreate it empty."""
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        # terminate leftover sessions (e.g. a killed worker) so DROP does not block
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")
        conn.execute("GRANT ALL ON SCHEMA public TO public")


def pg_create_database() -> None:
    """Create the database PG_DSN names, if missing (connecting to the `postgres`
    database)."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    name = conninfo_to_dict(PG_DSN)["dbname"]
    with psycopg.connect(
        make_conninfo(PG_DSN, dbname="postgres"), autocommit=True
    ) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def pg_server_version() -> str:
    import psycopg

    with psycopg.connect(PG_DSN) as conn:
        return conn.execute("SHOW server_version").fetchone()[0].split()[0]


def redis_ping() -> None:
    import redis

    r = redis.Redis.from_url(REDIS_URL)
    r.ping()
    r.close()


def redis_server_version() -> str:
    import redis

    r = redis.Redis.from_url(REDIS_URL)
    try:
        return r.info("server")["redis_version"]
    finally:
        r.close()


def pg_exec(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(sql)


def pg_checkpoint() -> None:
    """Flush dirty buffers so a checkpoint is unlikely to land inside a timed
    section."""
    pg_exec("CHECKPOINT")


class PgCounter:
    """Tiny async psycopg connection used by adapters for remaining()/count_done()."""

    def __init__(self) -> None:
        self.conn = None

    async def open(self):
        import psycopg

        self.conn = await psycopg.AsyncConnection.connect(PG_DSN, autocommit=True)
        return self

    async def scalar(self, sql: str, *args) -> int:
        cur = await self.conn.execute(sql, args or None)
        row = await cur.fetchone()
        return int(row[0])

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()


def redis_flush() -> None:
    """Empty the bench's Redis database (REDIS_URL's db, where every Redis peer keeps
    its keys).

    FLUSHDB, not FLUSHALL: other users of the same Redis server (e.g. test suites on
    other db numbers) must keep their keys.
    """
    import redis

    r = redis.Redis.from_url(REDIS_URL)
    r.flushdb()
    r.close()


def dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))
