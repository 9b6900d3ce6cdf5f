"""The Lua files, their shared library and the key names they build."""

from __future__ import annotations

import hashlib
import inspect
import re

import redis.asyncio as aioredis
from redis_helpers import NOW, claimed_ids, new_job
from tests.conftest import REDIS_URL

from dataqueue.backends._files import load_dir
from dataqueue.backends.protocol import (
    CronStore,
    FlowStore,
    JobStore,
    StatsStore,
    WaitStore,
    WorkerStore,
    WorkStore,
)
from dataqueue.backends.redis import RedisBackend, keys
from dataqueue.backends.redis.scripts import (
    LIBRARY,
    SCRIPT_NAMES,
    library_part,
    script_sources,
)

LUA = load_dir("dataqueue.backends.redis", "lua", ".lua")


def test_every_lua_file_is_a_registered_script() -> None:
    assert set(LUA) - {LIBRARY} == set(SCRIPT_NAMES)


def test_every_changing_protocol_method_has_its_script() -> None:
    methods = {
        name
        for protocol in (
            JobStore,
            WorkStore,
            WaitStore,
            CronStore,
            FlowStore,
            WorkerStore,
            StatsStore,
        )
        for name, _ in inspect.getmembers(protocol, inspect.isfunction)
        if not name.startswith("_")
    }
    # get_job, get_token and get_cron_job are one HGETALL, get_job_events one
    # LRANGE, get_ready_flows one ZRANGE; the subscriptions are pub/sub;
    # find_in_payloads has no index of the payloads to read (None).
    direct = {
        "find_in_payloads",
        "get_job",
        "get_job_events",
        "get_token",
        "get_cron_job",
        "get_ready_flows",
        "subscribe",
        "subscribe_finished",
    }
    assert methods - set(SCRIPT_NAMES) == direct


def test_every_script_has_a_header_and_never_uses_keys_command() -> None:
    for name, text in LUA.items():
        assert text.startswith(f"--[[ {name}:"), name
        assert not re.search(r"redis\.call\(\s*'KEYS'", text, re.IGNORECASE), name


async def test_lua_key_names_match_keys_module() -> None:
    prefix = "p:"
    expected = [
        keys.job_id_counter(prefix),
        keys.instance(prefix),
        keys.all_jobs(prefix),
        keys.idempotency(prefix),
        keys.scheduled(prefix),
        keys.retry(prefix),
        keys.legacy_ready(prefix),
        keys.processing(prefix),
        keys.finished(prefix),
        keys.event_id_counter(prefix),
        keys.event_times(prefix),
        keys.token_timeouts(prefix),
        keys.wakeup(prefix),
        keys.job(prefix, 7),
        keys.events(prefix, 7),
        keys.status(prefix, "pending"),
        keys.job_type(prefix, "email"),
        keys.type_status(prefix, "pending", "email"),
        keys.tag(prefix, "vip"),
        keys.token(prefix, "tok"),
        keys.waits(prefix),
        keys.job_tokens(prefix, 7),
        keys.cron_id_counter(prefix),
        keys.cron_names(prefix),
        keys.cron_all(prefix),
        keys.cron_due(prefix),
        keys.cron(prefix, 7),
        keys.cron_jobs(prefix, 7),
        keys.job_finished(prefix),
        keys.flow_seq(prefix),
        keys.flows(prefix),
        keys.flow_timeouts(prefix),
        keys.flow(prefix, "f"),
        keys.flow_steps(prefix, "f"),
        keys.flow_outcomes(prefix, "f"),
        keys.flow_status(prefix, "ready"),
        keys.workers(prefix),
        keys.worker(prefix, "w"),
        keys.types(prefix),
        keys.type_pending(prefix, "email"),
        keys.ended(prefix, 7),
        keys.minute_stats(prefix, 7),
        keys.dedupe(prefix),
        keys.ready(prefix, "email"),
    ]
    probe = (
        "return {K_ID, K_INSTANCE, K_ALL, K_IDEMPOTENCY, K_SCHEDULED, K_RETRY, "
        "K_LEGACY_READY, K_PROCESSING, K_FINISHED, K_EVENT_ID, K_EVENT_TIMES, "
        "K_TOKEN_TIMEOUTS, K_WAKEUP, k_job(7), k_events(7), "
        "k_status('pending'), k_type('email'), k_type_status('email', 'pending'), "
        "k_tag('vip'), k_token('tok'), "
        "K_WAITS, k_job_tokens(7), K_CRON_ID, K_CRON_NAMES, K_CRON_ALL, "
        "K_CRON_DUE, k_cron(7), k_cron_jobs(7), K_JOB_FINISHED, K_FLOW_SEQ, "
        "K_FLOWS, K_FLOW_TIMEOUTS, k_flow('f'), k_flow_steps('f'), "
        "k_flow_outcomes('f'), k_flow_status('ready'), K_WORKERS, k_worker('w'), "
        "K_TYPES, k_type_pending('email'), k_ended(7), k_minute_stats(7), "
        "K_DEDUPE, k_ready('email')}"
    )
    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        names = await client.eval(f"{LUA[LIBRARY]}\n{probe}", 0, keys.base(prefix))
    finally:
        await client.aclose()
    assert names == expected


async def test_scripts_reload_after_script_flush(backend: RedisBackend) -> None:
    [first] = await backend.add_jobs([new_job()], now=NOW)
    shas = [
        hashlib.sha1(text.encode()).hexdigest() for text in script_sources().values()
    ]
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        # FLUSH is server-wide; other clients reload their scripts on NOSCRIPT too.
        await client.script_flush()
        sha_known = await client.script_exists(*shas)
    finally:
        await client.aclose()
    assert not any(sha_known)
    [second] = await backend.add_jobs([new_job()], now=NOW)
    assert second == first + 1
    assert len(await claimed_ids(backend, 5)) == 2


def test_each_source_is_its_script_after_library_lines_in_order() -> None:
    library = LUA[LIBRARY].splitlines()
    for name, text in script_sources().items():
        assert text.endswith(f"\n{LUA[name]}"), name
        lines = iter(library)
        part = text[: -len(LUA[name]) - 1].splitlines()
        assert all(line in lines for line in part), name


def _code(text: str) -> str:
    """Lua text without its comments and short strings."""
    return re.sub(
        r"--\[(=*)\[.*?\]\1\]|--[^\n]*|'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\"",
        lambda found: "" if found[0].startswith("--") else "''",
        text,
        flags=re.DOTALL,
    )


def test_each_source_defines_every_library_name_it_uses() -> None:
    # Checked apart from the selection's own parsing: a name of the
    # library's top level used anywhere in the source must be defined in it.
    library = _code(LUA[LIBRARY])
    names = set(re.findall(r"^local function (\w+)", library, re.MULTILINE))
    for found in re.findall(r"^local ([\w, ]+?)\s*(?:=|$)", library, re.MULTILINE):
        names.update(found.replace(" ", "").split(","))
    assert {"P", "K_ID", "k_job", "ZREMS", "ended_key", "HELD_FIELDS"} <= names
    for name, text in script_sources().items():
        code = _code(text)
        used = {n for n in names if re.search(rf"(?<![\w.:]){n}\b", code)}
        defined = {
            n
            for n in used
            if re.search(rf"^local (function )?([\w, ]*\b)?{n}\b", code, re.MULTILINE)
        }
        assert used == defined, name


def test_scripts_carry_only_the_library_they_use() -> None:
    sources = script_sources()
    library = LUA[LIBRARY]
    add_jobs = sources["add_jobs"]
    assert len(add_jobs) - len(LUA["add_jobs"]) < len(library) * 2 / 3
    assert "local function create_job(" in add_jobs
    assert "local function matches(" not in add_jobs
    assert "local function record_step(" not in add_jobs
    assert "local function" not in sources["get_limits"]


def test_library_part_keeps_what_it_cannot_leave_out() -> None:
    statements = [
        "local A = P .. 'a'\n",  # used by g, which is always kept
        "local B = redis.call('GET', 'b')\n",  # a call may have effects
        "local C = f{1}\n",
        "local function g() return A end x = 1\n",  # a statement follows
        "local function h(n)\n  local D = n  -- `local` in a block\n  return A\nend\n",
        "local E = {'end'}\n",
    ]
    library = "".join(statements)
    assert library_part(library, "return 1") == "".join(statements[:4])
    assert library_part(library, "return h(1)") == "".join(statements[:5])
    # A field or a string of the same name is no use of it.
    assert library_part(library, "return E, job.h, 'h'") == "".join(
        statements[:4] + statements[5:]
    )


async def test_every_source_loads(backend: RedisBackend) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        for text in script_sources().values():
            await client.script_load(text)
    finally:
        await client.aclose()
