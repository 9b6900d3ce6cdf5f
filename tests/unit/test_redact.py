"""``dq.redact``: what of a URL or an error may be shown, and the errors
that go through it (every DataQueueError, connect's URL checks)."""

from __future__ import annotations

import traceback

import pytest

import dataqueue as dq


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("redis://:s3cret@h:6379/0", "redis://:***@h:6379/0"),
        ("postgresql://app:p@ss@db/app", "postgresql://app:***@db/app"),
        ("redis://h/0?password=s3cret&db=1", "redis://h/0?password=***&db=1"),
        ("rediss://u:pw@h?ssl_cert_reqs=none", "rediss://u:***@h?ssl_cert_reqs=none"),
        ("host=db password=s3cret user=app", "host=db password=*** user=app"),
        (
            'in URI: "postgresql://u:s3cret@[bad/db"',
            'in URI: "postgresql://u:***@[bad/db"',
        ),
        ("postgresql://app@db/app", "postgresql://app@db/app"),
        ("sqlite:///jobs.db", "sqlite:///jobs.db"),
        ("at 12:30 user:x@y", "at 12:30 user:x@y"),
    ],
)
def test_passwords_and_secret_parameters_are_hidden(text: str, shown: str) -> None:
    assert dq.redact(text) == shown


def test_every_dataqueue_error_message_is_redacted() -> None:
    error = dq.StoreUnavailableError(
        "Redis at redis://:hunter2@h/0?password=hunter3 is unavailable"
    )
    assert "hunter" not in str(error)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app:hunter2@[db/app",
        "postgresql://app:hunter2@db:5432/app?sslmode",
        "mysql://app:hunter2@db/app",
        "hunter2",
    ],
)
def test_a_bad_url_is_reported_without_its_password(url: str) -> None:
    with pytest.raises(ValueError, match="connect: ") as raised:
        dq.connect(url)
    # Nor in the traceback: no chained error carries the URL.
    assert "hunter2" not in "".join(traceback.format_exception(raised.value))
