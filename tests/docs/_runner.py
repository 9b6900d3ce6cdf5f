"""Run one Markdown file's Python blocks in order, in one namespace.

Like a notebook: later blocks see what earlier ones defined, and top-level
``await`` works. Every block runs inside the one event loop (so
``start_in_background()`` finds it), except blocks that call ``asyncio.run``
themselves, which run outside it. The namespace starts with ``dq`` and a ``queue`` on
``sqlite:///jobs.db`` in the working directory. Reads ``[{"where", "code"}]``
as JSON on stdin; exits 1 naming the first block that raised.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import sys
import traceback

import dataqueue as dq


async def _inside(code: object, namespace: dict[str, object]) -> None:
    result = eval(code, namespace)
    if inspect.iscoroutine(result):
        await result


def _calls_asyncio_run(code: str) -> bool:
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "run"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "asyncio"
        for node in ast.walk(ast.parse(code))
    )


def main() -> int:
    loop = asyncio.new_event_loop()
    namespace: dict[str, object] = {
        "__name__": "__docs__",
        "dq": dq,
        "queue": dq.connect("sqlite:///jobs.db"),
    }
    for block in json.load(sys.stdin):
        code = compile(
            block["code"], block["where"], "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        )
        try:
            if _calls_asyncio_run(block["code"]):
                eval(code, namespace)
            else:
                loop.run_until_complete(asyncio.wait_for(_inside(code, namespace), 60))
        except BaseException:
            print(f"block at {block['where']} failed:", file=sys.stderr)
            traceback.print_exc()
            return 1
    queue = namespace.get("queue")
    if isinstance(queue, dq.JobQueue):
        loop.run_until_complete(queue.close())
    for task in asyncio.all_tasks(loop):
        task.cancel()
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
