"""The Lua scripts in ``lua/``, registered once per client.

Each script is the part of ``lua/_lib.lua`` it needs followed by the script's
own file. Lua 5.1 builds every ``local function`` closure of a script on each
call, so a script carries only the library definitions it names, directly or
through other definitions (see ``library_part``). redis-py's
``Script`` objects call EVALSHA and load the script again on NOSCRIPT, so a
``SCRIPT FLUSH`` or a server restart costs one extra round trip.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from typing import Any, Literal, get_args

from dataqueue.backends._files import load_dir
from dataqueue.backends.redis import keys
from dataqueue.backends.redis.faults import store_faults

logger = logging.getLogger("dataqueue")

LIBRARY = "_lib"

ScriptName = Literal[
    "add_cron_job",
    "add_jobs",
    "cancel_job",
    "cancel_jobs",
    "change_limits",
    "cleanup_old_flows",
    "cleanup_old_job_events",
    "cleanup_old_jobs",
    "complete_token",
    "count_jobs",
    "create_token",
    "delete_jobs",
    "edit_cron_job",
    "edit_jobs",
    "enqueue_cron_jobs",
    "enqueue_flow_join",
    "expire_timed_out_tokens",
    "get_actions",
    "get_cron_job_by_name",
    "get_due_cron_jobs",
    "get_flow",
    "get_jobs",
    "get_limits",
    "get_minute_stats",
    "heartbeat",
    "heartbeat_worker",
    "held_counts",
    "job_type_stats",
    "list_cron_jobs",
    "list_flows",
    "list_workers",
    "migrate",
    "pause_cron_job",
    "prolong_job",
    "quiet_worker",
    "reclaim_stuck_jobs",
    "record_action",
    "record_minute_stats",
    "register_worker",
    "release_jobs",
    "remove_cron_job",
    "remove_dead_workers",
    "resume_cron_job",
    "retry_job",
    "save_step",
    "set_output",
    "set_progress",
    "settle_and_claim",
    "start_flow",
    "time_out_flows",
    "unregister_worker",
]
SCRIPT_NAMES: tuple[ScriptName, ...] = get_args(ScriptName)


# Lua's comments and strings, names (`field` set after a lone `.` or a `:`),
# numbers and any other character.
_TOKEN = re.compile(
    r"""(?P<comment>--\[(?P<c>=*)\[.*?\](?P=c)\]|--[^\n]*)
    | (?P<string>\[(?P<s>=*)\[.*?\](?P=s)\]|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*")
    | (?P<field>(?:(?<!\.)\.|:)\s*)?(?P<name>[A-Za-z_]\w*)
    | (?P<number>\d[\w.]*)
    | (?P<op>\S)""",
    re.VERBOSE | re.DOTALL,
)
_OPENS = {"function", "do", "if", "repeat", "(", "{", "["}
_CLOSES = {"end", "until", ")", "}", "]"}


@dataclass(frozen=True)
class _Definition:
    text: str
    defines: frozenset[str]  # empty: kept in every script
    names: frozenset[str]  # the names its code uses


@cache
def _definitions(library: str) -> tuple[_Definition, ...]:
    """The library's top-level statements, each with the comments above it.

    A statement starts at a `local` outside any block or bracket. Only
    `local function f(...) ... end` and `local a, b [= value]` whose value
    calls nothing (so has no effect) can be left out; anything else is kept.
    """
    statements: list[tuple[int, list[tuple[str, str]]]] = []
    depth, code_end = 0, 0
    for token in _TOKEN.finditer(library):
        kind = token.lastgroup
        if kind == "comment":
            continue
        value = token.group("name") or token.group()
        if kind == "name" and token.group("field"):
            kind = "field"
        if not statements:
            statements.append((0, []))
        elif value == "local" and kind == "name" and depth == 0:
            # The cut is past the previous statement's line (and its comment).
            newline = library.find("\n", code_end, token.start())
            statements.append((token.start() if newline < 0 else newline + 1, []))
        if kind in ("name", "op"):
            depth += (value in _OPENS) - (value in _CLOSES)
        statements[-1][1].append((kind or "", value))
        code_end = token.end()
    starts = [start for start, _ in statements] + [len(library)]
    return tuple(
        _Definition(
            library[starts[i] : starts[i + 1]],
            _defined(tokens),
            frozenset(value for kind, value in tokens if kind == "name"),
        )
        for i, (_, tokens) in enumerate(statements)
    )


def _defined(tokens: list[tuple[str, str]]) -> frozenset[str]:
    """The names a statement defines if it may be left out, else none."""
    values = [value for _, value in tokens]
    if values[:2] == ["local", "function"] and len(values) > 3 and values[3] == "(":
        depth = 0
        for index, value in enumerate(values[1:], 1):
            depth += (value in _OPENS) - (value in _CLOSES)
            if depth == 0:  # its `end` must close the statement
                return (
                    frozenset([values[2]]) if index == len(values) - 1 else frozenset()
                )
        return frozenset()
    if values[:1] != ["local"]:
        return frozenset()
    names = values[1::2]
    count = 1
    while count < len(names) and values[2 * count] == ",":
        count += 1
    rest = tokens[2 * count :]
    if any(kind != "name" for kind, _ in tokens[1 : 2 * count : 2]):
        return frozenset()
    if rest and rest[0][1] != "=":
        return frozenset()
    # A call: `f(...)`, or `f'text'` / `f{...}` after a name or a bracket.
    for (kind, value), (next_kind, next_value) in pairwise(rest):
        if next_value == "(" or (
            (kind in ("name", "field") or value in (")", "]"))
            and (next_kind == "string" or next_value == "{")
        ):
            return frozenset()
    return frozenset(names[:count])


def library_part(library: str, script: str) -> str:
    """The definitions of `library` that `script` uses, transitively, in
    the library's order, with every statement that cannot be left out."""
    definitions = _definitions(library)
    used = {
        token.group("name")
        for token in _TOKEN.finditer(script)
        if token.lastgroup == "name" and not token.group("field")
    }
    for definition in definitions:
        if not definition.defines:
            used |= definition.names
    pending = list(used)
    by_name = {name: d for d in definitions for name in d.defines}
    while pending:
        found = by_name.get(pending.pop())
        if found:
            for name in found.names - used:
                used.add(name)
                pending.append(name)
    return "".join(d.text for d in definitions if not d.defines or d.defines & used)


@cache
def script_sources() -> Mapping[str, str]:
    """Each script's full text (its part of the library first), by name."""
    texts = load_dir("dataqueue.backends.redis", "lua", ".lua")
    library = texts[LIBRARY]
    return {
        name: f"{library_part(library, text)}\n{text}"
        for name, text in texts.items()
        if name != LIBRARY
    }


class Scripts:
    """Runs the scripts for one key prefix; ARGV[1] is always the queue's
    ``keys.base`` (its prefix as a hash tag), and so is KEYS[1]: the scripts
    build every key name from ARGV[1], and KEYS[1] tells a Redis Cluster
    client which node holds the queue's slot.

    Store faults come out as ``StoreUnavailableError`` / ``StoreRefusedError``
    (see ``faults.py``).
    """

    def __init__(
        self, client: Any, prefix: str, where: str, *, verbose: bool = False
    ) -> None:
        sources = script_sources()
        self._scripts = {
            name: client.register_script(sources[name]) for name in SCRIPT_NAMES
        }
        self._base = keys.base(prefix)
        self._where = where
        self._verbose = verbose

    async def run(self, name: ScriptName, *args: str | int) -> Any:
        if self._verbose:
            logger.debug("redis script %s %r", name, args)
        with store_faults(self._where):
            return await self._scripts[name](
                keys=[self._base], args=[self._base, *args]
            )
