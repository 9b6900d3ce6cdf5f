"""Where a store command acts: ``--url``, ``--schema``, ``--key-prefix``,
``--env-file``, and the blocking queue opened from them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

import dataqueue as dq
from dataqueue.cli._options import (
    env_file_option,
    load_env_file,
    resolve_url,
    url_option,
)

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def store_options(func: F) -> F:
    """--url, --schema, --key-prefix and --env-file: where the jobs are."""
    func = url_option(func)
    func = click.option("--schema", help="PostgreSQL schema (default: public).")(func)
    func = click.option("--key-prefix", help='Redis key prefix (default: "dq:").')(func)
    return env_file_option(func)


def store_url(store: dict[str, Any]) -> str:
    """The URL the options of ``store_options`` name (after the .env file)."""
    load_env_file(store["env_file"])
    resolved = resolve_url(store["url"], required=True)
    assert resolved is not None
    return resolved


def with_queue(store: dict[str, Any], use: Callable[[dq.SyncJobQueue], T]) -> T:
    """Call ``use`` with the queue at the store given by ``store_options``."""
    resolved = store_url(store)
    try:
        queue = dq.connect_sync(
            resolved, schema=store["schema"], key_prefix=store["key_prefix"]
        )
    except (ValueError, TypeError, ImportError) as error:
        raise click.ClickException(dq.redact(str(error))) from error
    try:
        return use(queue)
    except dq.BackendError as error:
        raise click.ClickException(dq.redact(f"{resolved}: {error}")) from error
    finally:
        queue.close()
