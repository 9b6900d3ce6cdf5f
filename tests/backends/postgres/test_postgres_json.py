"""JSON values read back exactly: json columns keep the text they were given."""

from __future__ import annotations

import math
import secrets

import psycopg
from pg_helpers import NOW, execute, job
from tests.conftest import PG_URL

from dataqueue._commands import ClaimRequest, Completion, Failure, JobChanges, Lease
from dataqueue._validate import new_job
from dataqueue.backends.postgres import PostgresBackend
from dataqueue.backends.postgres.codec import array_text
from dataqueue.models import FailureReason, JobSpec

AWKWARD = {
    "big": 1e16,
    "max": 1e308,
    "negative_zero": -0.0,
    "tiny": 5e-324,
    "int": 10**18,
    "text": "é ✓ \\u0000 as text",
    "nested": [1, 1.0, {"k": None, "b": True}],
}


def same(a: object, b: object) -> bool:
    """Equal, and of the same types all the way down (1.0 is not 1, -0.0 is
    not 0.0)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return type(a) is type(b) and a == b


async def test_payload_output_and_edits_round_trip_exactly(
    backend: PostgresBackend, schema: str
) -> None:
    (job_id,) = await backend.add_jobs([new_job(JobSpec("email", AWKWARD))], now=NOW)
    stored = await backend.get_job(job_id)
    assert stored is not None and same(stored.payload, AWKWARD)

    token = secrets.token_hex(8)
    exchange = await backend.settle_and_claim([], ClaimRequest("w", token, 1), now=NOW)
    (claimed,) = exchange.claimed
    assert same(getattr(claimed, "payload", None), AWKWARD)
    await backend.settle_and_claim(
        [Completion(Lease(job_id, token), AWKWARD, {})], None, now=NOW
    )
    stored = await backend.get_job(job_id)
    assert stored is not None and same(stored.output, AWKWARD)

    (other,) = await backend.add_jobs([job()], now=NOW)
    changes = JobChanges({"payload": [-0.0, 1e16]}, {"payload": [-0.0, 1e16]})
    assert await backend.edit_jobs(other, changes, now=NOW) == 1
    edited = await backend.get_job(other)
    assert edited is not None and same(edited.payload, [-0.0, 1e16])

    await execute(
        f'UPDATE "{schema}".job_queue SET step_data = '
        f'\'{{"s": 1e16, "z": -0.0}}\' WHERE id = {other}'
    )
    edited = await backend.get_job(other)
    assert edited is not None and same(edited.step_data, {"s": 1e16, "z": -0.0})


TRICKY_TEXTS = [
    'a"b',
    "back\\slash",
    "{braces}",
    "a,b",
    "line\nbreak",
    "NULL",
    "",
    "é ✓",
]


async def test_array_parameters_keep_every_character(backend: PostgresBackend) -> None:
    """The exchange's list parameters go as array text (codec.array_text):
    quotes, backslashes, braces, commas, line breaks, the word NULL and the
    empty string come back as they went, and None as NULL."""
    async with await psycopg.AsyncConnection.connect(PG_URL) as conn:
        cur = await conn.execute(
            "SELECT %s::text[], %s::bigint[], %s::timestamptz[], %s::integer[]",
            (
                array_text([*TRICKY_TEXTS, None]),
                array_text([2**62, -1, 0]),
                array_text([NOW, None]),
                array_text([]),
            ),
        )
        row = await cur.fetchone()
    assert row is not None
    texts, ids, times, empty = row
    assert texts == [*TRICKY_TEXTS, None]
    assert ids == [2**62, -1, 0]
    assert times == [NOW, None] and empty == []

    # Through a whole exchange: a failure's message, in its error history
    # and its event.
    (job_id,) = await backend.add_jobs([job()], now=NOW)
    token = secrets.token_hex(8)
    await backend.settle_and_claim([], ClaimRequest("w", token, 1), now=NOW)
    message = "|".join(TRICKY_TEXTS)
    failure = Failure(
        Lease(job_id, token), message, FailureReason.HANDLER_ERROR, None, 'tb\\"{}'
    )
    await backend.settle_and_claim([failure], None, now=NOW)
    stored = await backend.get_job(job_id)
    assert stored is not None
    assert stored.error_history[-1]["message"] == message
    assert stored.error_history[-1]["traceback"] == 'tb\\"{}'
    events = await backend.get_job_events(job_id)
    assert events[-1].metadata["message"] == message
