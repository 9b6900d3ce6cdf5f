"""force_kill_on_timeout: run the handler in a child process killed at the deadline."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import multiprocessing
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from dataqueue.errors import HandlerImportError, JobTimeoutError, UnsupportedInForceKill
from dataqueue.processor.execute import (
    ChildError,
    error_message,
    is_async,
    takes_context,
)

if TYPE_CHECKING:
    from dataqueue.processor.execute import JobRun
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
    """The JobContext of a force-killed handler: progress only."""

    def __init__(self, job_id: int, conn: Connection) -> None:
        self.job_id = job_id
        self._conn = conn

    async def set_progress(self, percent: float) -> None:
        if not 0 <= percent <= 100:
            raise ValueError(f"set_progress: percent must be 0-100, got {percent!r}")
        self._conn.send(("progress", round(percent)))

    def _unsupported(self, *_: Any, **__: Any) -> Any:
        raise UnsupportedInForceKill()

    prolong = on_timeout = run = wait_for = wait_until = _unsupported
    create_token = wait_for_token = _unsupported


def child_main(path: str, payload: Any, job_id: int, conn: Connection) -> None:
    try:
        handler = load_handler(path)
        args: tuple[Any, ...] = (payload,)
        if takes_context(handler):
            args += (ChildContext(job_id, conn),)
        result = handler(*args)
        if inspect.isawaitable(result):
            result = asyncio.run(_await(result))
        conn.send(("result", result))
    except BaseException as error:
        conn.send(("error", error_message(error)))
    finally:
        conn.close()


async def _await(awaitable: Any) -> Any:
    return await awaitable


async def run_in_child(run: JobRun, handler: Handler) -> Any:
    path = handler_path(handler)
    if not is_async(handler) and not callable(handler):
        raise HandlerImportError(f"{path} is not callable")
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(
        target=child_main,
        args=(path, run.job.payload, run.job.id, child),
        daemon=True,
    )
    process.start()
    child.close()
    loop = asyncio.get_running_loop()
    deadline = None if run.job.timeout is None else loop.time() + run.job.timeout
    try:
        while True:
            if parent.poll():
                kind, value = parent.recv()
                if kind == "progress":
                    await run.context.set_progress(value)
                    continue
                if kind == "error":
                    raise ChildError(value)
                return value
            if not process.is_alive() and not parent.poll():
                raise ChildError(f"handler process exited with code {process.exitcode}")
            if deadline is not None and loop.time() >= deadline:
                run.context.signal.abort("timeout")
                process.kill()
                raise JobTimeoutError(
                    f"job timed out after {run.job.timeout:g}s; handler process killed"
                )
            await asyncio.sleep(POLL_SECONDS)
    finally:
        if process.is_alive():
            process.kill()
        await asyncio.to_thread(process.join)
        parent.close()
