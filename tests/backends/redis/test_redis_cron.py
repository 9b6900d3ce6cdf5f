"""The cron scripts and key names of the Redis store."""

from __future__ import annotations

import inspect

import redis.asyncio as aioredis
from tests.conftest import REDIS_URL

from dataqueue.backends._files import load_dir
from dataqueue.backends.protocol import CronStore
from dataqueue.backends.redis import keys
from dataqueue.backends.redis.scripts import LIBRARY, SCRIPT_NAMES

LUA = load_dir("dataqueue.backends.redis", "lua", ".lua")


def test_every_cron_method_has_its_script() -> None:
    methods = {
        name
        for name, _ in inspect.getmembers(CronStore, inspect.isfunction)
        if not name.startswith("_")
    }
    # get_cron_job is a single HGETALL.
    assert methods - set(SCRIPT_NAMES) == {"get_cron_job"}


async def test_lua_cron_key_names_match_keys_module() -> None:
    prefix = "p:"
    expected = [
        keys.cron_id_counter(prefix),
        keys.cron_names(prefix),
        keys.cron_all(prefix),
        keys.cron_due(prefix),
        keys.cron(prefix, 7),
        keys.cron_jobs(prefix, 7),
    ]
    probe = (
        "return {K_CRON_ID, K_CRON_NAMES, K_CRON_ALL, K_CRON_DUE, "
        "k_cron(7), k_cron_jobs(7)}"
    )
    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        names = await client.eval(f"{LUA[LIBRARY]}\n{probe}", 0, keys.base(prefix))
    finally:
        await client.aclose()
    assert names == expected
