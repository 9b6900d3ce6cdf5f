"""The Lua scripts in ``lua/``, registered once per client.

Each script is ``lua/_lib.lua`` followed by the script's own file. redis-py's
``Script`` objects call EVALSHA and load the script again on NOSCRIPT, so a
``SCRIPT FLUSH`` or a server restart costs one extra round trip.
"""

from __future__ import annotations

import logging
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


def script_sources() -> dict[str, str]:
    """Each script's full text (library first), by name."""
    texts = load_dir("dataqueue.backends.redis", "lua", ".lua")
    library = texts[LIBRARY]
    return {
        name: f"{library}\n{text}" for name, text in texts.items() if name != LIBRARY
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
