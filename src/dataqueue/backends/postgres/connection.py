"""The PostgreSQL connection pool: created from a URL (with TLS files for
libpq) or given, and its settings read as psycopg_pool takes them."""

from __future__ import annotations

import functools
import inspect
import re
import select
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, LiteralString

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from dataqueue.backends._files import load_dir
from dataqueue.backends.postgres.faults import statement_error
from dataqueue.errors import BackendError, NotMigratedError, StoreUnavailableError

SSL_FILES = {"ca": "sslrootcert", "cert": "sslcert", "key": "sslkey"}
SSL_KEYS = frozenset({*SSL_FILES, "reject_unauthorized"})
FILE_PREFIX = "file://"


def ssl_params(ssl: Mapping[str, Any] | None, workdir: Path) -> dict[str, str]:
    """Map ``ssl=`` (``ca``, ``cert``, ``key``, ``reject_unauthorized``) to libpq
    parameters. PEM text is written to files in ``workdir``, since libpq only
    reads files; ``file://`` values are used as paths.

    ``reject_unauthorized=False`` encrypts without checking the server
    (``sslmode=require``, and no CA: libpq would verify against one). Otherwise
    the server is verified (``verify-full``) against ``ca``, or against the
    system's trust store when no ``ca`` is given (libpq 16 and later).
    """
    if ssl is None:
        return {}
    unknown = set(ssl) - SSL_KEYS
    if unknown:
        raise ValueError(
            f"connect: unknown ssl option(s) {sorted(unknown)}; "
            f"use {', '.join(sorted(SSL_KEYS))}"
        )
    verify = ssl.get("reject_unauthorized", True)
    if not isinstance(verify, bool):
        raise TypeError(
            f"connect: ssl reject_unauthorized must be True or False, got {verify!r}"
        )
    params = {"sslmode": "verify-full" if verify else "require"}
    for option, param in SSL_FILES.items():
        value = ssl.get(option)
        if value is None or (option == "ca" and not verify):
            continue
        if not isinstance(value, str) or not value:
            raise TypeError(
                f"connect: ssl {option} must be PEM text or a file:// path, "
                f"got {value!r}"
            )
        if value.startswith(FILE_PREFIX):
            params[param] = value.removeprefix(FILE_PREFIX)
        else:
            path = workdir / f"{option}.pem"
            path.write_text(value, encoding="utf-8")
            # libpq refuses a private key that others can read.
            path.chmod(0o600)
            params[param] = str(path)
    if verify and "sslrootcert" not in params and psycopg.pq.version() >= 160000:
        params["sslrootcert"] = "system"
    return params


# Connecting: a refused or unreachable server answers well within this.
CONNECT_TIMEOUT = 5
# How long a call waits for a pooled connection before the store counts as
# unavailable (the pool keeps reconnecting meanwhile).
POOL_TIMEOUT = 10.0


async def pool_setting(value: Any) -> Any:
    """A pool's conninfo or kwargs, which may be given as (async) callables."""
    if callable(value):
        value = value()
    if inspect.isawaitable(value):
        value = await value
    return value


# The claim's job-type tests, rendered into settle_and_claim.sql (and the
# limited claim's settle_and_claim.candidates.sql) once: a typed and an
# untyped statement, each with a plan of its own. The typed
# claim walks pending and retried jobs one type at a time (claim_types is the
# list of types, each row one ordered index walk that stops at the limit);
# untyped, claim_types is one row and the walk has no type test. The typed
# list is unnested through a subquery so that the planner does not count it
# (see ClaimStatements).
CLAIM_FILTERS = {
    "settle_and_claim_typed": {
        "job_type_filter": sql.SQL("AND job_type = ANY (%(job_types)s::text[])"),
        "claim_types": sql.SQL("unnest((SELECT %(job_types)s::text[]))"),
        "type_walk_filter": sql.SQL("AND job_type = t.job_type"),
    },
    "settle_and_claim": {
        "job_type_filter": sql.SQL(""),
        "claim_types": sql.SQL("(VALUES (NULL::text))"),
        "type_walk_filter": sql.SQL(""),
    },
}


WALKS_BY_TYPE = ("settle_and_claim", "settle_and_claim.candidates")
"""The statements rendered once per CLAIM_FILTERS variant, the typed one
named with ``_typed`` after the file's name."""


def statements(schema: str) -> dict[str, bytes]:
    """The store's statements (``sql/``) in ``schema``, each ``{job_filter}``
    the one filter they share (``get_jobs.filter.sql``), rendered to bytes
    once: executing a Composed would render it again on every call. Their
    comment lines are left out: psycopg keeps its parse of a statement only
    up to 4 KB and parses a longer one on every call."""
    identifier = sql.Identifier(schema)
    texts = load_dir(__package__, "sql", ".sql")
    job_filter = sql.SQL(uncommented(texts["get_jobs.filter"]))
    rendered: dict[str, bytes] = {}
    for name, text in texts.items():
        template = sql.SQL(uncommented(text))
        if name in WALKS_BY_TYPE:
            for variant, filters in CLAIM_FILTERS.items():
                composed = template.format(schema=identifier, **filters)
                suffix = variant.removeprefix("settle_and_claim")
                rendered[name + suffix] = composed.as_bytes(None)
        else:
            composed = template.format(schema=identifier, job_filter=job_filter)
            rendered[name] = composed.as_bytes(None)
    return rendered


PLACEHOLDER = re.compile(rb"%\((\w+)\)s|%%")


@dataclass(frozen=True)
class NativeStatement:
    """A statement in PostgreSQL's own ``$n`` placeholders, for a raw
    cursor: a statement still over psycopg's 4 KB parse cache (the claim) is
    then not parsed again on every call."""

    text: bytes
    names: tuple[str, ...]

    def bind(self, params: Mapping[str, Any]) -> list[Any]:
        """The values of ``params`` in placeholder order."""
        return [params[name] for name in self.names]


def native(query: bytes) -> NativeStatement:
    """``query``'s ``%(name)s`` placeholders numbered in order of first use
    (a name used twice is one parameter), ``%%`` made ``%``."""
    names: list[str] = []

    def number(match: re.Match[bytes]) -> bytes:
        if match[1] is None:
            return b"%"
        name = match[1].decode()
        if name not in names:
            names.append(name)
        return b"$%d" % (names.index(name) + 1)

    return NativeStatement(PLACEHOLDER.sub(number, query), tuple(names))


CLAIM_LIMIT = b"%(claim_limit)s::integer"


class ClaimStatements:
    """settle_and_claim in PostgreSQL's own placeholders, one statement per
    variant (CLAIM_FILTERS) and claim size, made on first use.

    The size is written in, not bound: planning for a LIMIT parameter,
    PostgreSQL assumes a tenth of the due jobs come back, so on any real
    table the generic plan looked dearer than the custom ones and the
    prepared claim was planned again on every call (about 2 ms of server
    time a turn, more than running it). The typed claim's list of types is
    hidden from the planner for the same reason (a custom plan counts its
    elements, the generic one assumes ten). With both, the plans agree and
    the generic one is kept. A processor asks for at most its batch size, so
    there are few sizes, each prepared once per connection; the last used
    SIZES_KEPT are kept here (psycopg keeps its own 100 prepared).
    """

    SIZES_KEPT = 64

    def __init__(self, queries: Mapping[str, bytes]) -> None:
        self._queries = queries
        self._sized = functools.lru_cache(maxsize=self.SIZES_KEPT)(self._make)

    def __getitem__(self, key: tuple[str, int]) -> NativeStatement:
        return self._sized(*key)

    def _make(self, name: str, limit: int) -> NativeStatement:
        return native(self._queries[name].replace(CLAIM_LIMIT, b"%d" % int(limit)))


def uncommented(text: LiteralString) -> LiteralString:
    """A statement fragment without its comment lines."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("--"))


def migrations(schema: str) -> dict[int, tuple[str, sql.Composed]]:
    """The migrations (``migrations/``) in ``schema``, by number."""
    identifier = sql.Identifier(schema)
    return {
        int(name.split("_", 1)[0]): (name, sql.SQL(text).format(schema=identifier))
        for name, text in load_dir(__package__, "migrations", ".sql").items()
    }


async def check_if_disturbed(conn: psycopg.AsyncConnection[Any]) -> None:
    """The pool's check of a connection it lends: a round trip only when the
    server sent something while the connection sat idle. A server dropping
    a connection says why and hangs up, so a dropped one is found out here,
    not by the statement that borrows it, and a healthy one costs nothing (a
    round trip on every loan was a second round trip per statement). A
    connection dropped while it is being lent fails its statement, as any
    statement in flight at a drop does."""
    fd = conn.fileno()
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        disturbed = bool(poller.poll(0))
    else:  # Windows
        disturbed = bool(select.select([fd], [], [], 0)[0])
    if disturbed:
        await AsyncConnectionPool.check_connection(conn)


def new_pool(
    conninfo: str, max_connections: int, schema: str
) -> AsyncConnectionPool[Any]:
    """A pool of autocommit connections, opened by the first call."""
    return AsyncConnectionPool(
        conninfo,
        min_size=1,
        max_size=max(1, max_connections),
        kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT},
        check=check_if_disturbed,
        timeout=POOL_TIMEOUT,
        open=False,
        name=f"dataqueue-{schema}",
    )


def conninfo(
    url: str | None, ssl: Mapping[str, Any] | None, ssl_dir: Path | None
) -> tuple[str, Path | None]:
    """The URL with the ``ssl=`` options as libpq parameters, and the
    directory their PEM files were written to (made on first use)."""
    params: dict[str, str] = {}
    if ssl is not None:
        if ssl_dir is None:
            ssl_dir = Path(tempfile.mkdtemp(prefix="dataqueue-ssl-"))
        params = ssl_params(ssl, ssl_dir)
    return make_conninfo(url or "", **params), ssl_dir


def not_migrated(schema: str, detail: str) -> NotMigratedError:
    option = "" if schema == "public" else f" --schema {schema}"
    detail = detail.splitlines()[0]  # not the statement psycopg quotes
    return NotMigratedError(
        f"PostgreSQL schema {schema!r} is not migrated ({detail}): "
        f"run `dataqueue migrate{option}` (or `await queue.migrate()`) first"
    )


def store_error(error: Exception, what: str, where: str, schema: str) -> BackendError:
    """A psycopg or pool error as the store error it means."""
    if isinstance(
        error, psycopg.errors.UndefinedTable | psycopg.errors.InvalidSchemaName
    ):
        return not_migrated(schema, str(error).strip())
    if isinstance(error, PoolTimeout):
        return StoreUnavailableError(
            f"{where} is unavailable ({what}): no connection within {POOL_TIMEOUT:g}s"
        )
    assert isinstance(error, psycopg.Error)
    return statement_error(error, where, what)


async def apply_migrations(
    cur: psycopg.AsyncCursor[Any],
    queries: Mapping[str, Any],
    migrations: Mapping[int, tuple[str, Any]],
    schema: str,
) -> list[str]:
    """Apply, under the migration lock, every migration the schema lacks;
    their names. One added later with a lower number (from a parallel
    branch) still runs."""
    await cur.execute(queries["migrate_lock"], {"schema": schema})
    await cur.execute(queries["migrate_schema"])
    await cur.execute(queries["migrate_table"])
    await cur.execute(queries["open"])
    row = await cur.fetchone()
    done = set(row["versions"]) if row else set()
    applied = []
    for version, (name, statements) in sorted(migrations.items()):
        if version in done:
            continue
        try:
            await cur.execute(statements)
        except psycopg.errors.DuplicateTable as error:
            raise taken_schema(schema, error) from None
        await cur.execute(queries["migrate_record"], {"version": version, "name": name})
        applied.append(name)
    return applied


def taken_schema(schema: str, error: psycopg.errors.DuplicateTable) -> BackendError:
    """Another application's table has a name dataqueue needs."""
    detail = str(error).splitlines()[0]
    return BackendError(
        f"PostgreSQL schema {schema!r} already has a table dataqueue needs "
        f"({detail}): give dataqueue a schema of its own, e.g. "
        '`dataqueue migrate --schema dataqueue` and dq.connect(url, schema="dataqueue")'
    )
