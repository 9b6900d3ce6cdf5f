"""Reading what ``settle_and_claim.sql`` returns: the outcomes written, the
flows made ready, and the claimed jobs, a row that will not decode becoming
a ``BrokenJob`` instead of failing the claim; and the dead letters of the
failures it wrote, added in the same transaction; and those of the jobs a
reclaim fails for good, in its transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

import psycopg
from psycopg.rows import dict_row

from dataqueue._commands import BrokenJob, Claimed, Failure, NewJob, Outcome
from dataqueue._transitions import dead_lettered_metadata
from dataqueue.backends._records import lost_worker_letter, no_letter
from dataqueue.backends.postgres.codec import (
    HELD_JOB_PARAMS,
    Row,
    job_row,
    json_text,
)
from dataqueue.errors import BackendError

InsertJobs = Callable[
    [psycopg.AsyncCursor[Row], Sequence[NewJob], datetime], Awaitable[list[int]]
]


def raw_id(cur: psycopg.AsyncCursor[Any], pos: int, column: int) -> int:
    """A row's id read from the raw result, for a row that will not decode."""
    result = cur.pgresult
    raw = None if result is None else result.get_value(pos, column)
    if raw is None:
        raise BackendError("PostgreSQL claim: a claimed row has no id")
    return int(raw) if cur.format == psycopg.pq.Format.TEXT else int.from_bytes(raw)


@dataclass
class Settlement:
    """What the outcomes of a settle_and_claim wrote: the positions of the
    outcomes written, the flows made ready, and whether a job became final.
    Every row of the statement repeats it; the first one decoded is read."""

    written: set[int] = field(default_factory=set)
    ready_flows: list[str] = field(default_factory=list)
    finished: bool = False
    gated: bool = False
    """The claim was left to the limited claim (``limits.claim_limited``)."""
    known: bool = False

    def read(self, row: Row) -> None:
        if self.known:
            return
        self.known = True
        self.written = set(row["settled"] or ())
        self.ready_flows = list(row["ready_flows"] or ())
        self.finished = bool(row["finished"])
        self.gated = bool(row["gated"])


async def read_claimed(
    cur: psycopg.AsyncCursor[Row], settlement: Settlement
) -> list[Claimed]:
    """Decode the claim's rows; a row that will not decode (a corrupt
    value, a timestamp Python cannot hold) becomes a BrokenJob instead of
    failing the whole claim."""
    try:
        rows = await cur.fetchall()
    # Any decoding error at all: one bad row must not raise out of a claim
    # that already moved every row to processing. Read them one by one.
    except Exception:
        return await read_claimed_one_by_one(cur, settlement)
    claimed: list[Claimed] = []
    for row in rows:
        settlement.read(row)
        if row["id"] is not None:
            try:
                claimed.append(job_row(row))
            except Exception as e:
                claimed.append(BrokenJob(row["id"], f"{type(e).__name__}: {e}"))
    return claimed


async def read_claimed_one_by_one(
    cur: psycopg.AsyncCursor[Row], settlement: Settlement
) -> list[Claimed]:
    assert cur.description is not None
    id_column = [c.name for c in cur.description].index("id")
    claimed: list[Claimed] = []
    for pos in range(cur.rowcount):
        await cur.scroll(pos, mode="absolute")
        try:
            row = await cur.fetchone()
            assert row is not None
            settlement.read(row)
            if row["id"] is not None:
                claimed.append(job_row(row))
        except Exception as e:
            job_id = raw_id(cur, pos, id_column)
            claimed.append(BrokenJob(job_id, f"{type(e).__name__}: {e}"))
    return claimed


def has_dead_letters(outcomes: Sequence[Outcome]) -> bool:
    """Whether a failure among ``outcomes`` may add a dead letter: then the
    settle runs in a transaction with ``add_dead_letters``."""
    return any(isinstance(o, Failure) and o.dead_letter for o in outcomes)


async def add_dead_letters(
    cur: psycopg.AsyncCursor[Row],
    statement: bytes,
    insert_jobs: InsertJobs,
    outcomes: Sequence[Outcome],
    settlement: Settlement,
    now: datetime,
) -> None:
    """The failures this settle wrote add their dead letters (as add_jobs
    does), and their jobs keep the letters' ids
    (``settle_and_claim.dead_letter.sql``)."""
    letters = [
        (o.lease.job_id, o.dead_letter)
        for n, o in enumerate(outcomes)
        if n in settlement.written and isinstance(o, Failure) and o.dead_letter
    ]
    if not letters:
        return
    # The claim's cursor is raw ($n placeholders); these statements name
    # theirs, on a cursor of their own in the same transaction.
    async with cur.connection.cursor(row_factory=dict_row) as named:
        await link_dead_letters(named, statement, insert_jobs, letters, now)


async def link_dead_letters(
    cur: psycopg.AsyncCursor[Row],
    statement: bytes,
    insert_jobs: InsertJobs,
    letters: Sequence[tuple[int, NewJob]],
    now: datetime,
) -> None:
    """Add each ``(failed job id, letter)``'s letter, and link the failed
    job to it (``settle_and_claim.dead_letter.sql``), on ``cur``."""
    letter_ids = await insert_jobs(cur, [letter for _, letter in letters], now)
    params = {
        "now": now,
        "ids": [job_id for job_id, _ in letters],
        "letter_ids": letter_ids,
        "metadata": [
            json_text(dead_lettered_metadata(letter, letter_id))
            for (_, letter), letter_id in zip(letters, letter_ids, strict=True)
        ],
    }
    await cur.execute(statement, params)


async def add_lost_worker_letters(
    queries: Mapping[str, bytes],
    insert_jobs: InsertJobs,
    message: str,
    now: datetime,
    cur: psycopg.AsyncCursor[Row],
    reclaimed: Row,
) -> None:
    """The jobs ``reclaim_stuck_jobs.sql`` just failed for good that name a
    dead-letter type (its ``lettered``) get their letters
    (``_transitions.lost_worker_letter``), in its transaction; a row that
    will not decode gets none."""
    if not reclaimed["lettered"]:
        return
    await cur.execute(
        queries["reclaim_stuck_jobs.letters"], {"ids": reclaimed["lettered"]}
    )
    assert cur.description is not None
    id_column = [c.name for c in cur.description].index("id")
    letters: list[tuple[int, NewJob]] = []
    # Row by row (the result is already here): one value Python cannot
    # decode costs that job its letter, not the reclaim.
    for pos in range(cur.rowcount):
        await cur.scroll(pos, mode="absolute")
        try:
            row = await cur.fetchone()
        except Exception as error:
            no_letter(raw_id(cur, pos, id_column), error)
            continue
        assert row is not None
        decode = partial(job_row, row)
        if letter := lost_worker_letter(row["id"], decode, message, now):
            letters.append((row["id"], letter))
    if letters:
        statement = queries["settle_and_claim.dead_letter"]
        await link_dead_letters(cur, statement, insert_jobs, letters, now)


Then = Callable[[psycopg.AsyncCursor[Row], Row], Awaitable[None]]
"""What a statement that makes jobs final runs next, in its transaction,
given the statement's row (``finish_jobs``)."""


async def finish_jobs(
    cur: psycopg.AsyncCursor[Row],
    queries: Mapping[str, bytes],
    name: str,
    params: Mapping[str, Any],
    then: Then | None = None,
) -> Row:
    """Run statement ``name`` that may make jobs final (cancel_job,
    cancel_jobs, reclaim_stuck_jobs: one row with the ids it changed), then
    ``then`` (a reclaim's dead letters) and, in the caller's transaction,
    release or cancel the jobs held on them
    (``settle_and_claim.dependents.sql``); its row."""
    await cur.execute(queries[name], params)
    [row] = await cur.fetchall()
    if then is not None:
        await then(cur, row)
    dependents = {**HELD_JOB_PARAMS, "ids": row["ids"]}
    await cur.execute(
        queries["settle_and_claim.dependents"],
        {**dependents, "now": params["now"], "channel": params["channel"]},
    )
    return row
