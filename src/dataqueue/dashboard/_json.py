"""The one JSON encoding of the dashboard: records as objects of their
dataclass fields, datetimes as ISO 8601 in UTC, enums as their values.

The text is safe to embed anywhere: ``<``, ``>`` and ``&`` are written as
``\\u003c``-style escapes, so a payload holding ``<script>`` can never be
read as markup even by a client that sniffs or inlines it.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from enum import Enum
from typing import Any

_HTML_SAFE = str.maketrans(
    {
        "<": "\\u003c",
        ">": "\\u003e",
        "&": "\\u0026",
        "\u2028": "\\u2028",
        "\u2029": "\\u2029",
    }
)


def plain(value: Any) -> Any:
    """``value`` as JSON-ready dicts, lists and scalars."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: plain(getattr(value, field.name))
            for field in dataclasses.fields(value)
        }
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def compact(value: Any) -> str:
    """Compact JSON text of ``plain(value)`` (not yet HTML-safe)."""
    return json.dumps(
        plain(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )


def dumps(value: Any) -> str:
    """Compact, HTML-safe JSON text of ``plain(value)``."""
    # These characters only ever occur inside JSON strings, where the
    # escapes mean the same character.
    return compact(value).translate(_HTML_SAFE)
