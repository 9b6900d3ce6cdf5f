"""dataqueue in Flask: the ``DataQueue`` extension.

    from dataqueue.contrib.flask import DataQueue

    jobs = DataQueue()                      # or DataQueue(app)

    def create_app():
        app = Flask(__name__)
        app.config["DATAQUEUE_URL"] = "postgresql://localhost/app"
        app.config["DATAQUEUE_HANDLERS"] = "shop.jobs:handlers"
        jobs.init_app(app)
        return app

    @app.post("/signup")
    def signup():
        jobs.queue.add_job("send_welcome", {"to": request.form["email"]})

``flask dataqueue worker`` and ``flask dataqueue migrate`` are ``dataqueue
worker`` and ``dataqueue migrate`` with the store and handlers taken from
the app's config, and every job runs inside the app's context. See
docs/flask.md.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Mapping
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from dataqueue.cli._options import import_handlers
from dataqueue.cli.migrate import migrate
from dataqueue.cli.worker import worker
from dataqueue.connect import connect_sync
from dataqueue.contrib._cli import with_optional_handlers
from dataqueue.sync import SyncJobQueue

EXTENSION = "dataqueue"
HANDLERS_TARGET = "dataqueue.contrib.flask:app_handlers"
CONFIG_KEYS = {
    "url": "DATAQUEUE_URL",
    "schema": "DATAQUEUE_SCHEMA",
    "key_prefix": "DATAQUEUE_KEY_PREFIX",
}


class DataQueue:
    """The extension: ``DataQueue(app)``, or ``DataQueue()`` then ``init_app``.

    Config: ``DATAQUEUE_URL`` (default ``$DATAQUEUE_URL``, then a local SQLite
    file), ``DATAQUEUE_SCHEMA``, ``DATAQUEUE_KEY_PREFIX`` and
    ``DATAQUEUE_HANDLERS`` (``MODULE:HANDLERS``; or pass ``handlers=``).
    """

    def __init__(
        self, app: Flask | None = None, *, handlers: Mapping[str, Any] | None = None
    ) -> None:
        self._handlers = handlers
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Register the extension and the ``flask dataqueue`` commands on ``app``."""
        app.extensions[EXTENSION] = _AppQueue(app, self._handlers)
        app.cli.add_command(_commands())

    @property
    def queue(self) -> SyncJobQueue:
        """The current app's queue (opened on first use, one per process)."""
        return _app_queue(current_app).queue


class _AppQueue:
    def __init__(self, app: Flask, handlers: Mapping[str, Any] | None) -> None:
        self.app = app
        self._handlers = handlers
        self._queue: SyncJobQueue | None = None
        self._lock = threading.Lock()

    def options(self) -> dict[str, Any]:
        return {name: self.app.config.get(key) for name, key in CONFIG_KEYS.items()}

    @property
    def queue(self) -> SyncJobQueue:
        with self._lock:
            if self._queue is None:
                options = self.options()
                self._queue = connect_sync(options.pop("url"), **options)
            return self._queue

    def handlers(self) -> dict[str, Any]:
        target = self.app.config.get("DATAQUEUE_HANDLERS")
        found = self._handlers or (import_handlers(target) if target else None)
        if not found:
            raise click.UsageError(
                'no handlers: set app.config["DATAQUEUE_HANDLERS"] = '
                '"myapp.jobs:handlers", pass DataQueue(handlers=...), or pass '
                "MODULE:HANDLERS"
            )
        return {name: in_app_context(self.app, fn) for name, fn in found.items()}


def _app_queue(app: Flask) -> _AppQueue:
    state = app.extensions.get(EXTENSION)
    if not isinstance(state, _AppQueue):
        raise RuntimeError("DataQueue is not set up on this app: call init_app(app)")
    return state


def app_handlers() -> dict[str, Any]:
    """The current app's handlers, each run inside the app's context."""
    return _app_queue(current_app).handlers()


def in_app_context(app: Flask, handler: Callable[..., Any]) -> Callable[..., Any]:
    """``handler`` run inside ``app.app_context()``, with the same signature
    (so the processor passes ``ctx`` exactly when the handler takes it)."""
    if inspect.iscoroutinefunction(handler):

        @functools.wraps(handler)
        async def run_async(*args: Any) -> Any:
            with app.app_context():
                return await handler(*args)

        return run_async

    @functools.wraps(handler)
    def run(*args: Any) -> Any:
        with app.app_context():
            return handler(*args)

    return run


def _commands() -> click.Group:
    @click.group(EXTENSION, cls=AppGroup)
    @with_appcontext
    def group() -> None:
        """dataqueue's worker and migrations for this app."""
        options = _app_queue(current_app).options()
        click.get_current_context().default_map = {
            "worker": {**options, "handlers": HANDLERS_TARGET},
            "migrate": options,
        }

    group.add_command(
        with_optional_handlers(worker, 'app.config["DATAQUEUE_HANDLERS"]'), "worker"
    )
    group.add_command(migrate, "migrate")
    return group
