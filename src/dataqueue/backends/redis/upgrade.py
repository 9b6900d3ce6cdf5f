"""Upgrading a queue from the key layout without a hash tag.

Until keys carried the hash tag, a queue with prefix ``dq:`` kept its keys
as ``dq:job:7``; today the same key is ``{dq:}job:7`` (``keys.base``).
``migrate()`` renames the old keys, once, on a server that is not a cluster
(the old layout never ran on one). The names below are that old layout, as
it was: they never grow, whatever keys are added later.
"""

from __future__ import annotations

from typing import Any

from dataqueue.backends.redis import keys

# Keys named by the prefix and a fixed name.
_NAMES = frozenset(
    {
        "id",
        "instance",
        "all",
        "idempotency",
        "ready",
        "scheduled",
        "retry",
        "processing",
        "finished",
        "event_id",
        "event_times",
        "token_timeouts",
        "waits",
        "cron_id",
        "cron_names",
        "cron_all",
        "cron_due",
        "flow_seq",
        "flows",
        "flow_timeouts",
        "workers",
        "types",
        "schema_version",
    }
)
# Keys named by the prefix, a family and one value (``job:7``).
_FAMILIES = frozenset(
    {
        "job",
        "events",
        "status",
        "type",
        "tag",
        "token",
        "job_tokens",
        "cron",
        "cron_jobs",
        "flow",
        "flow_steps",
        "flow_outcomes",
        "flow_status",
        "worker",
        "type_status",
        "type_pending",
        "ended",
    }
)
# Families whose value is a number: ``dq:job:x`` is no key of queue ``dq:``.
_NUMBERED = frozenset({"job", "events", "job_tokens", "cron", "cron_jobs", "ended"})
RENAME_BATCH = 500


def old_instance(prefix: str) -> str:
    """The instance marker of the old layout: every queue that was ever used
    has one."""
    return prefix + "instance"


def new_name(prefix: str, key: str) -> str | None:
    """``key``'s name today when it is one of the queue's keys in the old
    layout, else None (a key of another prefix that starts with this one)."""
    if not key.startswith(prefix):
        return None
    name = key[len(prefix) :]
    family, _, value = name.partition(":")
    known = (
        name in _NAMES
        if not value
        else family in _FAMILIES and (family not in _NUMBERED or value.isdigit())
    )
    return keys.base(prefix) + name if known else None


async def rename_old_keys(client: Any, prefix: str) -> tuple[int, list[str]]:
    """Rename the queue's keys of the old layout; returns how many were
    renamed and the keys left because their new name already exists."""
    renamed = 0
    clashes: list[str] = []
    batch: list[tuple[str, str]] = []

    async def flush() -> None:
        nonlocal renamed
        pipe = client.pipeline(transaction=False)
        for old, new in batch:
            pipe.renamenx(old, new)
        for (old, _), done in zip(batch, await pipe.execute(), strict=True):
            if done:
                renamed += 1
            else:
                clashes.append(old)
        batch.clear()

    # The new names start with "{", so the scan never meets a renamed key.
    async for key in client.scan_iter(match=prefix + "*", count=RENAME_BATCH):
        target = new_name(prefix, key)
        if target is not None:
            batch.append((key, target))
        if len(batch) >= RENAME_BATCH:
            await flush()
    if batch:
        await flush()
    return renamed, clashes
