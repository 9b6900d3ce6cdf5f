"""force_kill_on_timeout: run the handler in a child process killed at the deadline."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import multiprocessing
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from dataqueue.errors import HandlerImportError, JobTimeoutError, UnsupportedInForceKill
from dataqueue.models import JobRecord
from dataqueue.processor.attempt import (
    ChildError,
    HandlerSpec,
    error_message,
    error_traceback,
)
from dataqueue.processor.context import AbortSignal, output_value, progress_value

if TYPE_CHECKING:
    from dataqueue.processor.attempt import Attempt
    from dataqueue.types import Handler

POLL_SECONDS = 0.02


def handler_path(handler: Handler) -> str:
    """``module:qualname`` of a handler that a fresh process can import."""
    module = getattr(handler, "__module__", None)
    qualname = getattr(handler, "__qualname__", None)
    if not module or not qualname or module == "__main__" or "<" in qualname:
        raise HandlerImportError(
            f"force_kill_on_timeout needs a handler importable by module path "
            f"(a top-level function in an importable module); {handler!r} is not"
        )
    return f"{module}:{qualname}"


def load_handler(path: str) -> Any:
    module_name, _, qualname = path.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


class ChildContext:
    """The context of a force-killed handler: ``job``, ``signal`` (never
    aborted in the child: the child is killed at the deadline instead) and
    ``set_progress`` (awaitable for an ``async def`` handler, blocking for a
    plain one). Prolonging, timeout callbacks and the durable calls raise
    ``UnsupportedInForceKill``."""

    def __init__(self, job: JobRecord, conn: Connection, awaitable: bool) -> None:
        self.job = job
        self.signal = AbortSignal()
        self._conn = conn
        self._awaitable = awaitable

    @property
    def job_id(self) -> int:
        return self.job.id

    def set_progress(self, percent: float) -> Any:
        self._conn.send(("progress", progress_value(percent)))
        return _done() if self._awaitable else None

    def set_output(self, value: Any) -> Any:
        self._conn.send(("output", output_value(self.job.job_type, value)))
        return _done() if self._awaitable else None

    def _unsupported(self, *_: Any, **__: Any) -> Any:
        raise UnsupportedInForceKill()

    prolong = on_timeout = run = wait_for = wait_until = _unsupported
    create_token = wait_for_token = start_flow = _unsupported


async def _done() -> None:
    return None


def child_main(path: str, job: JobRecord, conn: Connection) -> None:
    try:
        handler = HandlerSpec.of(load_handler(path))
        args: tuple[Any, ...] = (job.payload,)
        if handler.takes_context:
            args += (ChildContext(job, conn, handler.is_async),)
        result = handler.function(*args)
        if inspect.isawaitable(result):
            result = asyncio.run(_await(result))
        conn.send(("result", result))
    except BaseException as error:
        conn.send(("error", (error_message(error), error_traceback(error))))
    finally:
        conn.close()


async def _await(awaitable: Any) -> Any:
    return await awaitable


async def run_in_child(attempt: Attempt, handler: Handler) -> Any:
    path = handler_path(handler)
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(
        target=child_main,
        args=(path, attempt.job, child),
        daemon=True,
    )
    process.start()
    child.close()
    loop = asyncio.get_running_loop()
    timeout = attempt.deadline.timeout
    deadline = None if timeout is None else loop.time() + timeout
    try:
        while True:
            if parent.poll():
                kind, value = parent.recv()
                if kind == "progress":
                    await attempt.context.set_progress(value)
                    continue
                if kind == "output":
                    await attempt.context.set_output(value)
                    continue
                if kind == "error":
                    raise ChildError(*value)
                return value
            if attempt.signal.reason in ("lease_lost", "shutdown"):
                raise asyncio.CancelledError
            if not process.is_alive() and not parent.poll():
                raise ChildError(f"handler process exited with code {process.exitcode}")
            if deadline is not None and loop.time() >= deadline:
                attempt.signal.abort("timeout")
                process.kill()
                raise JobTimeoutError(
                    f"job timed out after {timeout:g}s; handler process killed"
                )
            await asyncio.sleep(POLL_SECONDS)
    finally:
        if process.is_alive():
            process.kill()
        await asyncio.to_thread(process.join)
        parent.close()
