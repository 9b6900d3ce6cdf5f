"""Code blocks of the taught Markdown (docs pages, skills, rules) and checks on them.

A ```python block runs unless the line before it is an HTML comment starting
``<!-- compile-only``: those (framework wiring, servers the test does not
start) are compiled and their dataqueue names checked instead.
"""

from __future__ import annotations

import ast
import inspect
import re
import shlex
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

import click

import dataqueue as dq
from dataqueue import _docs
from dataqueue.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[2]
ASSISTANTS = ROOT / "src" / "dataqueue" / "assistants"

_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    source: Path
    line: int
    language: str
    code: str
    run: bool

    @property
    def where(self) -> str:
        return f"{self.source.relative_to(ROOT)}:{self.line}"


def taught_files() -> list[Path]:
    """Every Markdown file a user or an assistant is taught from."""
    pages = [ROOT / page.path for page in _docs.load_pages(ROOT / "docs")]
    return [*pages, *sorted(ASSISTANTS.rglob("*.md"))]


def blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        found.append(
            Block(
                source=path,
                line=text.count("\n", 0, match.start()) + 2,
                language=match.group(1),
                code=match.group(2),
                run=not before.startswith("<!-- compile-only"),
            )
        )
    return found


# Names the examples use for dataqueue objects, and the classes they stand for.
RECEIVERS: dict[str, tuple[type, ...]] = {
    "queue": (dq.JobQueue, dq.SyncJobQueue),
    "sync_queue": (dq.SyncJobQueue,),
    "get_queue()": (dq.JobQueue, dq.SyncJobQueue),
    "processor": (dq.Processor, dq.SyncProcessor),
    "sync_processor": (dq.SyncProcessor,),
    "supervisor": (dq.Supervisor, dq.SyncSupervisor),
    "ctx": (dq.JobContext,),
    "ctx.signal": (dq.AbortSignal,),
    "job": (dq.JobRecord,),
    "event": (dq.JobEvent,),
    "dq": (),
}


def _has(cls: type, name: str) -> bool:
    if hasattr(cls, name):
        return True
    if is_dataclass(cls) and name in {f.name for f in fields(cls)}:
        return True
    for klass in cls.__mro__:
        if name in getattr(klass, "__annotations__", {}):
            return True
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        if re.search(rf"self\.{re.escape(name)}\s*[:=]", source):
            return True
    return False


def _receiver(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return f"{node.func.id}()"
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return f"{node.value.id}.{node.attr}"
    return None


def unknown_names(code: str) -> list[str]:
    """``receiver.attribute`` uses in ``code`` that dataqueue does not have."""
    tree = ast.parse(code)
    missing = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "dataqueue":
            missing += [
                f"from dataqueue import {alias.name}"
                for alias in node.names
                if alias.name not in dq.__all__
            ]
        if not isinstance(node, ast.Attribute):
            continue
        receiver = _receiver(node.value)
        if receiver not in RECEIVERS:
            continue
        if receiver == "dq":
            if node.attr not in dq.__all__:
                missing.append(f"dq.{node.attr}")
        elif not any(_has(cls, node.attr) for cls in RECEIVERS[receiver]):
            missing.append(f"{receiver}.{node.attr}")
    return missing


def compile_block(block: Block) -> Any:
    return compile(
        block.code, block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    )


def unknown_cli(code: str) -> list[str]:
    """``dataqueue`` commands and options in a shell block that the CLI lacks."""
    missing = []
    joined = code.replace("\\\n", " ")
    for raw in joined.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line.startswith("dataqueue "):
            continue
        words = shlex.split(line)[1:]
        command: click.Command = cli_main
        path = ["dataqueue"]
        while (
            isinstance(command, click.Group) and words and not words[0].startswith("-")
        ):
            sub = command.get_command(click.Context(command), words[0])
            if sub is None:
                missing.append(" ".join([*path, words[0]]))
                break
            path.append(words.pop(0))
            command = sub
        else:
            options = {opt for param in command.params for opt in param.opts}
            missing += [
                f"{' '.join(path)} {word.split('=')[0]}"
                for word in words
                if word.startswith("--") and word.split("=")[0] not in options
            ]
    return missing
