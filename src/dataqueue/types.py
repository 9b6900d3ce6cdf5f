"""Type aliases for the shapes accepted at the public edge."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from dataqueue.models import TagFilter, TimeRange

JSONValue: TypeAlias = (
    dict[str, "JSONValue"] | list["JSONValue"] | str | int | float | bool | None
)
"""A value that round-trips through JSON unchanged."""

Duration: TypeAlias = int | float | timedelta
"""A span of time: seconds, or a ``timedelta``."""

RunAtFilter: TypeAlias = "datetime | TimeRange | Mapping[str, datetime]"
TagFilterInput: TypeAlias = "TagFilter | Mapping[str, Any]"

Handler: TypeAlias = Callable[..., Any]
"""An async or sync function taking ``(payload)`` or ``(payload, ctx: JobContext)``."""

Handlers: TypeAlias = "Mapping[str, Handler]"
