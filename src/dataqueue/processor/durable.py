"""Durable handlers: step results replayed, waits and tokens that suspend.

A handler re-runs from the top every time its job runs again. ``Durable``
keeps the job's ``step_data`` for one attempt and decides, call by call, what
is replayed and what is new:

* ``run(name, fn)``: a step whose name is in ``step_data`` returns the stored
  result; a new one calls ``fn`` and stores its JSON result under the
  attempt's lease before the handler goes on.
* Waits (``wait_until``, ``wait_for``, ``wait_for_token``) are counted by
  position: the n-th wait of an invocation is ``step_data["__wait_<n>"]``.
  A wait seen before is passed (its time has come, or its token is
  resolved); a new one records itself and suspends the attempt.
* ``create_token`` is counted by position too (``"__token_<n>"``), so a
  re-run gets the token it created before rather than a new one.
* ``start_flow`` likewise (``"__flow_<n>"``): the flow's id is stored under
  the lease first, then the flow is started with that id, then marked
  started (``{"flow_id"}``), so a re-run starts it at most once: after a
  crash in between, and also once the finished flow was cleaned up.

Suspending raises ``WaitSignal`` through the handler; the attempt turns it
into a ``Suspension`` outcome, written with the next ``settle_and_claim``.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from dataqueue import _validate as v
from dataqueue._commands import NewToken
from dataqueue.errors import DataQueueError
from dataqueue.flows import new_flow, store_flow
from dataqueue.models import JobRecord, Token, TokenResult
from dataqueue.types import Duration, JSONValue

if TYPE_CHECKING:
    from dataqueue.processor.context import LeasedWriter

RESERVED_PREFIX = "__"
"""Step names starting with this are dataqueue's own (wait and token marks)."""

MONTH = timedelta(days=30)
YEAR = timedelta(days=365)
_TOKEN_TIMEOUT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*")
_TIMEOUT_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class LeaseLostError(DataQueueError):
    """The job was taken from this attempt (reclaimed or cancelled): its
    writes change nothing any more."""


@dataclass(frozen=True, slots=True)
class WaitRequest:
    """Where a suspended attempt waits, and the step data to keep."""

    step_data: dict[str, JSONValue]
    wait_until: datetime | None = None
    wait_token_id: str | None = None


class WaitSignal(BaseException):
    """Raised through a handler that waits: it stops here and runs again from
    the top when the wait is over. A ``BaseException``, so that a handler's
    ``except Exception`` does not swallow it."""

    def __init__(self, request: WaitRequest) -> None:
        super().__init__("the job is waiting")
        self.request = request


def wait_seconds(
    duration: Duration | None,
    *,
    seconds: float = 0,
    minutes: float = 0,
    hours: float = 0,
    days: float = 0,
    weeks: float = 0,
    months: float = 0,
    years: float = 0,
) -> float:
    """``wait_for``'s arguments, added up, in seconds (months are 30 days,
    years 365)."""
    where = "wait_for"
    total = 0.0
    if duration is not None:
        total += v.to_seconds(duration, where, "duration")
    parts = {
        "seconds": (seconds, 1.0),
        "minutes": (minutes, 60.0),
        "hours": (hours, 3600.0),
        "days": (days, 86400.0),
        "weeks": (weeks, 7 * 86400.0),
        "months": (months, MONTH.total_seconds()),
        "years": (years, YEAR.total_seconds()),
    }
    for name, (amount, factor) in parts.items():
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            raise TypeError(f"{where}: {name} must be a number, got {amount!r}")
        if not math.isfinite(amount) or amount < 0:
            raise ValueError(f"{where}: {name} must be 0 or more, got {amount!r}")
        total += amount * factor
    if total > v.MAX_SPAN_SECONDS:
        raise ValueError(
            f"{where}: a wait of {total:g} seconds is over the limit of "
            f"{v.MAX_SPAN_SECONDS:g}"
        )
    return total


def token_timeout(value: Any) -> float | None:
    """A token's timeout in seconds: None, a number of seconds, a timedelta,
    or text such as ``"10s"``, ``"5m"``, ``"1h"``, ``"7d"``, ``"2w"``."""
    if value is None:
        return None
    if isinstance(value, str):
        match = _TOKEN_TIMEOUT.fullmatch(value)
        if match is None:
            raise ValueError(
                "create_token: timeout text must be a number and a unit "
                f"(s, m, h, d or w), like '10m' or '48h', got {value!r}"
            )
        value = float(match.group(1)) * _TIMEOUT_UNITS[match.group(2)]
    return v.to_seconds(value, "create_token", "timeout", allow_zero=False)


def check_step_name(name: Any) -> str:
    checked = v.check_name(name, "ctx.run", "step name")
    if checked.startswith(RESERVED_PREFIX):
        raise ValueError(
            f"ctx.run: step names starting with {RESERVED_PREFIX!r} are reserved "
            f"for dataqueue's own records, got {checked!r}"
        )
    return checked


def step_result(name: str, value: Any) -> JSONValue:
    """``value`` if it can be stored as the result of step ``name``."""
    if isinstance(value, Token):
        raise TypeError(
            f"ctx.run: step {name!r} returned a Token, which is not JSON; "
            "ctx.create_token is durable by itself: call it outside ctx.run"
        )
    where = f"ctx.run: step {name!r} returned {v.show(value)}, which cannot be stored"
    return v.check_json(value, where, "the result")


def _iso(when: datetime) -> str:
    return when.isoformat()


class Durable:
    """The durable state of one attempt (see the module docstring).

    Used from one handler at a time: the event loop for an ``async def``
    handler, its worker thread for a plain one (which sends each store call
    to the loop and waits).
    """

    def __init__(self, job: JobRecord, writer: LeasedWriter) -> None:
        self._job = job
        self._writer = writer
        self.steps: dict[str, JSONValue] = dict(job.step_data or {})
        self._names: set[str] = set()
        self._waits = 0
        self._tokens = 0
        self._flows = 0
        self.request: WaitRequest | None = None

    # -- steps ----------------------------------------------------------

    def begin_step(self, name: Any) -> tuple[bool, JSONValue]:
        """``(True, result)`` for a step done before (replay); ``(False,
        None)`` for a new one, which the caller runs and then ``save_step``s."""
        name = check_step_name(name)
        if name in self._names:
            raise ValueError(
                f"ctx.run: step {name!r} was already run in this invocation; "
                "step names must be unique within a handler"
            )
        self._names.add(name)
        if name in self.steps:
            return True, self.steps[name]
        return False, None

    async def save_step(self, name: str, value: Any) -> JSONValue:
        result = step_result(name, value)
        steps = {**self.steps, name: result}
        if not await self._writer.store.save_step(
            self._writer.lease, steps, now=self._writer.now()
        ):
            self._lost()
        self.steps = steps
        return result

    async def run(self, name: Any, fn: Callable[[], Any]) -> JSONValue:
        done, result = self.begin_step(name)
        if done:
            return result
        value = fn()
        if isinstance(value, Awaitable):
            value = await value
        return await self.save_step(str(name), value)

    # -- waits ------------------------------------------------------------

    def _wait_key(self) -> str:
        return f"{RESERVED_PREFIX}wait_{self._waits}"

    def _next_wait(self) -> str:
        key = self._wait_key()
        self._waits += 1
        return key

    def wait_until(self, when: datetime) -> WaitRequest | None:
        """None when the wait is over (or never began); else the request to
        suspend with."""
        until = v.aware_utc(when, "wait_until", "when")
        key = self._next_wait()
        mark = self.steps.get(key)
        if isinstance(mark, dict) and isinstance(mark.get("until"), str):
            until = datetime.fromisoformat(str(mark["until"]))
        if until <= self._writer.now():
            return None
        return self._suspend(key, {"until": _iso(until)}, wait_until=until)

    def wait_for(self, seconds: float) -> WaitRequest | None:
        if seconds <= 0 and self._wait_key() not in self.steps:
            self._next_wait()
            return None
        return self.wait_until(self._writer.now() + timedelta(seconds=seconds))

    async def wait_for_token(self, token_id: Any) -> TokenResult | WaitRequest:
        key = self._next_wait()
        token = await self._token(token_id, "wait_for_token")
        if token.status == "completed":
            return TokenResult(ok=True, output=token.output)
        if token.status == "timed_out":
            return TokenResult(ok=False, error="timeout")
        return self._suspend(key, {"token": token.id}, wait_token_id=token.id)

    def _suspend(
        self,
        key: str,
        mark: dict[str, JSONValue],
        *,
        wait_until: datetime | None = None,
        wait_token_id: str | None = None,
    ) -> WaitRequest:
        self.request = WaitRequest({**self.steps, key: mark}, wait_until, wait_token_id)
        return self.request

    # -- tokens -------------------------------------------------------------

    async def create_token(self, timeout: Any, tags: Any) -> Token:
        key = f"{RESERVED_PREFIX}token_{self._tokens}"
        self._tokens += 1
        seconds = token_timeout(timeout)
        tag_list = [] if tags is None else v.check_tags(tags, "create_token")
        known = self.steps.get(key)
        if isinstance(known, str):
            return await self._token(known, "create_token")
        now = self._writer.now()
        token = NewToken(
            id=f"tok_{secrets.token_hex(12)}",
            timeout_at=None if seconds is None else now + timedelta(seconds=seconds),
            tags=tag_list,
        )
        steps = {**self.steps, key: token.id}
        if not await self._writer.store.create_token(
            self._writer.lease, token, steps, now=now
        ):
            self._lost()
        self.steps = steps
        return Token(
            id=token.id,
            job_id=self._job.id,
            status="waiting",
            output=None,
            timeout_at=token.timeout_at,
            created_at=now,
            completed_at=None,
            tags=token.tags,
        )

    async def start_flow(
        self,
        steps: Any,
        join: Any,
        failure_policy: Any,
        timeout: Any,
        entity: Any,
    ) -> str:
        key = f"{RESERVED_PREFIX}flow_{self._flows}"
        self._flows += 1
        known = self.steps.get(key)
        if isinstance(known, dict):  # started: the flow may be cleaned up since
            return str(known["flow_id"])
        store = self._writer.store
        if isinstance(known, str) and await store.get_flow(known) is not None:
            return known  # written, then the attempt ended before marking it
        flow = new_flow(
            steps,
            join,
            failure_policy,
            timeout,
            entity,
            now=self._writer.now(),
            where="ctx.start_flow",
            flow_id=known if isinstance(known, str) else None,
        )
        if not isinstance(known, str):
            await self.save_step(key, flow.id)
        flow, step_ids = await store_flow(store, flow, self._writer.now())
        await self.save_step(key, {"flow_id": flow.id})
        self._writer.flow_started(flow, step_ids)
        return flow.id

    async def _token(self, token_id: Any, where: str) -> Token:
        token_id = v.check_name(token_id, where, "token_id")
        token = await self._writer.store.get_token(token_id)
        if token is None:
            raise ValueError(f"{where}: there is no token {token_id!r}")
        if token.job_id != self._job.id:
            raise ValueError(
                f"{where}: token {token_id!r} belongs to job {token.job_id}, not "
                f"to this job ({self._job.id}); a job waits on its own tokens"
            )
        return token

    def _lost(self) -> None:
        self._writer.lease_lost()
        raise LeaseLostError(
            f"job {self._job.id} was taken from this attempt (reclaimed or "
            "cancelled); nothing was written"
        )
