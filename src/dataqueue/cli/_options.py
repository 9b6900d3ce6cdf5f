"""Options and helpers shared by subcommands."""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

from dataqueue.connect import URL_ENV_VARS

F = TypeVar("F", bound=Callable[..., Any])


def url_option(func: F) -> F:
    return click.option(
        "--url",
        help="Store URL. Default: $DATAQUEUE_URL, then $PG_DATAQUEUE_DATABASE.",
    )(func)


def env_file_option(func: F) -> F:
    return click.option(
        "--env-file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Read environment variables from this .env file first.",
    )(func)


def load_env_file(path: Path | None) -> None:
    """Set ``KEY=VALUE`` lines of a .env file that are not already set."""
    if path is None:
        return
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        os.environ.setdefault(key.strip(), value.strip().strip("'\""))


def resolve_url(url: str | None, *, required: bool) -> str | None:
    if url:
        return url
    for name in URL_ENV_VARS:
        if os.environ.get(name):
            return os.environ[name]
    if required:
        raise click.UsageError(
            "no database URL: pass --url postgresql://user@host/db or set "
            "$DATAQUEUE_URL (or $PG_DATAQUEUE_DATABASE)"
        )
    return None


def app_dir_option(func: F) -> F:
    return click.option(
        "--app-dir",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help="Import MODULE from this directory first. Default: the current "
        "directory, searched after the installed packages so that a file "
        "there cannot stand in for one of them.",
    )(func)


def import_handlers(target: str, app_dir: Path | None = None) -> Mapping[str, Any]:
    """Import ``module:attribute``; the attribute is a dict of handlers or a
    function returning one.

    ``app_dir`` is searched first; without it the current directory is
    searched last (``python -m`` puts it first on its own)."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise click.BadParameter(
            f"expected MODULE:HANDLERS, e.g. myapp.jobs:handlers, got {target!r}"
        )
    if app_dir is not None:
        sys.path.insert(0, str(app_dir.resolve()))
    elif "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise click.BadParameter(f"cannot import {module_name!r}: {error}") from error
    value = getattr(module, attribute, None)
    if value is None:
        raise click.BadParameter(f"{module_name!r} has no attribute {attribute!r}")
    if callable(value) and not isinstance(value, Mapping):
        if _takes_arguments(value):
            raise click.BadParameter(
                f"{target} is a function that takes arguments (a handler?), not "
                "a dict of handlers: point at a dict of job type -> handler, e.g. "
                f'{module_name}:handlers with handlers = {{"{attribute}": {attribute}}}'
            )
        value = value()
    if not isinstance(value, Mapping):
        raise click.BadParameter(
            f"{target} must be a dict of job type -> handler, "
            f"got {type(value).__name__}"
        )
    return value


def _takes_arguments(function: Callable[..., Any]) -> bool:
    """True when ``function`` cannot be called without arguments."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        for p in parameters
    )
