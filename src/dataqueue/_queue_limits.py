"""The queue's flow-control methods: stored limits and pauses.

Kept beside ``queue.py`` (``JobQueue`` inherits them) so that each file
holds one concern; see ``dataqueue.limits`` for what the limits mean and
``docs/flow-control.md`` for how to use them.
"""

from __future__ import annotations

from typing import Any

from dataqueue._commands import LimitChanges
from dataqueue._runtime import Runtime
from dataqueue._validate.limits import limit_changes, limited_type, pause_changes
from dataqueue.limits import LIMIT_FIELDS, Limits, Rate

UNCHANGED: Any = object()
"""An argument of ``set_limits`` that was not given: that limit stays."""


class FlowControl:
    """``set_limits``, ``clear_limits``, ``get_limits``, ``pause``, ``resume``."""

    _runtime: Runtime

    async def set_limits(
        self,
        job_type: str,
        *,
        concurrency: int | None = UNCHANGED,
        rate: Rate | None = UNCHANGED,
        group_concurrency: int | None = UNCHANGED,
        group_rate: Rate | None = UNCHANGED,
    ) -> Limits:
        """Limit a job type across every worker, from the next claim on;
        limits not given stay as they are, and ``None`` removes one.

        Args:
            job_type: The type limited.
            concurrency: At most this many of its jobs run at once.
            rate: At most ``rate.count`` of its jobs start per ``rate.per``
                seconds (a token bucket kept in the store; full at first).
            group_concurrency: Per group key (``add_job(..., group=)``): at
                most this many of its jobs of one group run at once.
            group_rate: Per group key: a rate for each group of the type.

        Returns:
            The type's limits now.

        Example:
            ``await queue.set_limits("charge", rate=dq.Rate(100, per=60))``
        """
        given = {
            "concurrency": concurrency,
            "rate": rate,
            "group_concurrency": group_concurrency,
            "group_rate": group_rate,
        }
        values = {name: v for name, v in given.items() if v is not UNCHANGED}
        changes = limit_changes(job_type, values, "set_limits")
        return await self._change_limits(changes)

    async def clear_limits(self, job_type: str) -> None:
        """Remove every limit of a job type (a pause stays: see ``resume``)."""
        job_type = limited_type(job_type, "clear_limits")
        values = dict.fromkeys(LIMIT_FIELDS[:-1])
        await self._change_limits(LimitChanges(job_type, values))

    async def get_limits(self) -> list[Limits]:
        """Every job type with a limit or a pause, by type; a ``"*"`` entry
        with ``paused=True`` means every type is paused."""
        return await (await self._runtime.store()).get_limits()

    async def pause(self, job_type: str | None = None) -> None:
        """Stop claiming jobs of ``job_type`` (None: of every type); running
        jobs finish, new ones wait as ``pending`` with ``pending_reason``
        ``"paused"``."""
        await self._change_limits(pause_changes(job_type, True, "pause"))

    async def resume(self, job_type: str | None = None) -> None:
        """Claim ``job_type`` again (None: every type, ending every pause);
        idle workers are woken."""
        await self._change_limits(pause_changes(job_type, False, "resume"))

    async def _change_limits(self, changes: LimitChanges) -> Limits:
        store = await self._runtime.store()
        await store.change_limits(changes, now=self._runtime.now())
        stored = {limit.job_type: limit for limit in await store.get_limits()}
        job_type = changes.job_type or ""
        return stored.get(job_type, Limits(job_type))
