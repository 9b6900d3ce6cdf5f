"""JSON values read back exactly: json columns keep the text they were given."""

from __future__ import annotations

import math
import secrets

from pg_helpers import NOW, execute, job

from dataqueue._commands import ClaimRequest, Completion, JobChanges, Lease
from dataqueue._validate import new_job
from dataqueue.backends.postgres import PostgresBackend
from dataqueue.models import JobSpec

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
