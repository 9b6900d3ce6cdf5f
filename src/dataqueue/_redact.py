"""The one place that decides what of a URL or an error may be shown.

Every surface that can show a store URL or an error message (logs, the
command line, HTTP answers, the MCP server) shows it through ``redact``:
passwords in URLs (``scheme://user:***@host``), secret-looking query
parameters (``?password=***``) and libpq ``password=***`` keywords are
hidden, whatever library wrote the text.
"""

from __future__ import annotations

import re

_URL_PASSWORD = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@'\"]*):(?P<password>[^\s'\"]*?)@"
    r"(?=[^\s@'\"]*(?:[\s'\"]|$))"
)
_SECRET_PARAMETER = re.compile(
    r"(?P<key>\b(?:password|passwd|pwd|pass|sslpassword|token|access_token|"
    r"secret|client_secret|api_key|apikey|auth)=)(?P<value>'[^']*'|[^&\s'\",;]*)",
    re.IGNORECASE,
)
MASK = "***"


def redact(text: str) -> str:
    """``text`` with every password and secret-looking parameter replaced
    by ``***``.

    Example:
        ``redact("redis://:s3cret@host/0?password=x")`` is
        ``"redis://:***@host/0?password=***"``.
    """
    text = _URL_PASSWORD.sub(lambda match: f"{match['head']}:{MASK}@", text)
    return _SECRET_PARAMETER.sub(lambda match: f"{match['key']}{MASK}", text)
