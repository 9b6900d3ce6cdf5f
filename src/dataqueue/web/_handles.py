"""Job handles: what a site gives its users instead of job ids.

A handle names one job until a moment, signed with the site's secret
(HMAC-SHA256), so a user can read the jobs they were handed and no other:
ids are sequential on PostgreSQL and SQLite, and guessing one must not be
enough. The job id and expiry inside are readable (base64), not forgeable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeAlias

Secret: TypeAlias = str | bytes
"""A signing secret: 16 bytes or more (``secrets.token_urlsafe(32)``)."""

MIN_SECRET_BYTES = 16
MAX_ID = 2**63 - 1
# A year: a link mailed to a user may be opened late, but not forever.
MAX_EXPIRES_IN = timedelta(days=366)
MAX_HANDLE_LENGTH = 128
_DOMAIN = b"dataqueue job handle\x00"
_HANDLE = re.compile(r"([A-Za-z0-9_-]{1,40})\.([A-Za-z0-9_-]{43})")
_BODY = re.compile(r"([1-9][0-9]{0,18}):([0-9]{1,12})")


class HandleError(ValueError):
    """A handle that names no job: malformed, forged, or expired."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def check_secrets(secret: object, where: str) -> tuple[bytes, ...]:
    """``secret`` (one, or several where the first signs and all verify,
    for rotation) as bytes; ``ValueError``/``TypeError`` name a bad one."""
    given = (
        list(secret)
        if isinstance(secret, Sequence) and not isinstance(secret, str | bytes)
        else [secret]
    )
    if not given:
        raise ValueError(f"{where}: secret must not be an empty list")
    keys = []
    for one in given:
        if not isinstance(one, str | bytes):
            raise TypeError(
                f"{where}: secret must be a str or bytes (or a list of them), "
                f"got {type(one).__name__}"
            )
        key = one.encode() if isinstance(one, str) else one
        if len(key) < MIN_SECRET_BYTES:
            raise ValueError(
                f"{where}: secret must be at least {MIN_SECRET_BYTES} bytes; "
                "make one with secrets.token_urlsafe(32) and keep it out of the code"
            )
        keys.append(key)
    return tuple(keys)


def job_handle(
    job_id: int,
    *,
    secret: Secret,
    expires_in: float | timedelta,
    now: datetime | None = None,
) -> str:
    """An opaque, signed reference to one job that ``job_status_app``
    (given the same ``secret``) accepts until it expires.

    Make it where you know the user may see the job (typically right after
    ``add_job`` in their own request) and hand it to their browser.

    Args:
        job_id: The job.
        secret: The status app's secret (16 bytes or more).
        expires_in: Seconds (or a timedelta) the handle stays valid; at most
            366 days.
        now: The moment it is made (default: the system clock); pass
            ``queue.clock.now()`` to follow a test clock.

    Raises:
        ValueError: A bad id, secret or duration.

    Example:
        ``handle = job_handle(job_id, secret=SECRET, expires_in=3600)``
    """
    if isinstance(job_id, bool) or not isinstance(job_id, int):
        raise TypeError(f"job_handle: job_id must be an int, got {job_id!r}")
    if not 0 < job_id <= MAX_ID:
        raise ValueError(f"job_handle: job_id must be 1..2**63-1, got {job_id}")
    seconds = (
        expires_in.total_seconds() if isinstance(expires_in, timedelta) else expires_in
    )
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise TypeError(
            f"job_handle: expires_in must be seconds or a timedelta, got {expires_in!r}"
        )
    if not 0 < seconds <= MAX_EXPIRES_IN.total_seconds():
        raise ValueError(
            "job_handle: expires_in must be above 0 and at most 366 days, "
            f"got {expires_in!r}"
        )
    (key, *_) = check_secrets(secret, "job_handle")
    moment = now or datetime.now(UTC)
    expires = int(moment.timestamp() + seconds)
    body = f"{job_id}:{expires}".encode()
    return f"{_b64(body)}.{_b64(_mac(key, body))}"


def read_handle(handle: str, keys: tuple[bytes, ...], now: datetime) -> int:
    """The job id of a valid handle.

    Raises:
        HandleError: malformed, signed with another secret, or expired.
    """
    match = _HANDLE.fullmatch(handle) if len(handle) <= MAX_HANDLE_LENGTH else None
    if match is None:
        raise HandleError("not a job handle")
    try:
        body = _unb64(match.group(1))
        mac = _unb64(match.group(2))
    except (binascii.Error, ValueError):
        raise HandleError("not a job handle") from None
    # Every key is tried whatever the first gives: no timing tells which.
    signed = [hmac.compare_digest(_mac(key, body), mac) for key in keys]
    fields = _BODY.fullmatch(body.decode("ascii", "replace"))
    if not any(signed) or fields is None:
        raise HandleError("not a job handle")
    job_id, expires = int(fields.group(1)), int(fields.group(2))
    if job_id > MAX_ID:
        raise HandleError("not a job handle")
    if now.timestamp() >= expires:
        raise HandleError("this job handle has expired", expired=True)
    return job_id


def _mac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, _DOMAIN + body, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
