"""The PostgreSQL store's schedule rows (``CronStore``), each one statement;
enqueueing due schedules, a transaction with ``add_jobs``, stays in the
backend."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from dataqueue._commands import CronChanges, NewCronJob
from dataqueue.backends._records import cron_from_row
from dataqueue.backends.postgres.codec import Row, cron_edit_params, cron_params
from dataqueue.cron import CronJob, CronStatus


class CronRows:
    """Adding, reading, changing and removing schedules."""

    _fetch: Callable[[str, Mapping[str, Any]], Awaitable[list[Row]]]

    async def add_cron_job(self, schedule: NewCronJob, *, now: datetime) -> int | None:
        rows = await self._fetch("add_cron_job", {**cron_params(schedule), "now": now})
        return int(rows[0]["id"]) if rows else None

    async def get_cron_job(self, cron_job_id: int) -> CronJob | None:
        rows = await self._fetch("get_cron_job", {"id": cron_job_id})
        return cron_from_row(rows[0]) if rows else None

    async def get_cron_job_by_name(self, schedule_name: str) -> CronJob | None:
        params = {"schedule_name": schedule_name}
        rows = await self._fetch("get_cron_job_by_name", params)
        return cron_from_row(rows[0]) if rows else None

    async def list_cron_jobs(self, status: CronStatus | None) -> list[CronJob]:
        params = {"status": None if status is None else status.value}
        return [
            cron_from_row(row) for row in await self._fetch("list_cron_jobs", params)
        ]

    async def edit_cron_job(
        self, cron_job_id: int, changes: CronChanges, *, now: datetime
    ) -> bool:
        params = {**cron_edit_params(changes), "id": cron_job_id, "now": now}
        return bool(await self._fetch("edit_cron_job", params))

    async def pause_cron_job(self, cron_job_id: int, *, now: datetime) -> bool:
        return bool(
            await self._fetch("pause_cron_job", {"id": cron_job_id, "now": now})
        )

    async def resume_cron_job(
        self,
        cron_job_id: int,
        next_run_at: datetime,
        expected: tuple[str, str],
        *,
        now: datetime,
    ) -> bool:
        params = {
            "id": cron_job_id,
            "next_run_at": next_run_at,
            "expected_expression": expected[0],
            "expected_timezone": expected[1],
            "now": now,
        }
        return bool(await self._fetch("resume_cron_job", params))

    async def remove_cron_job(self, cron_job_id: int) -> bool:
        return bool(await self._fetch("remove_cron_job", {"id": cron_job_id}))

    async def get_due_cron_jobs(self, *, now: datetime) -> list[CronJob]:
        rows = await self._fetch("get_due_cron_jobs", {"now": now})
        return [cron_from_row(row) for row in rows]
