"""Endpoints described once: the route, its parameters, its answers.

Each ``Endpoint`` is both the Starlette route (its parameters parsed and
checked from the declarations before the handler runs) and the OpenAPI
operation (built from the same declarations), so the document cannot drift
from what the server does. A handler reads only declared parameters.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from dataqueue.dashboard._json import dumps
from dataqueue.dashboard._queue import ApiError
from dataqueue.dashboard._schema import Schema

if TYPE_CHECKING:
    from dataqueue.dashboard.api import Dashboard

Handler = Callable[["Dashboard", Request, Mapping[str, Any]], Awaitable[Response]]

# Ids every store keeps: positive 64-bit integers.
MAX_ID = 2**63 - 1
_INTEGER = re.compile(r"-?(0|[1-9][0-9]{0,18})")
NO_STORE = {"Cache-Control": "no-store"}
EVENT_STREAM = "text/event-stream"


class JSONAnswer(Response):
    """JSON encoded when it is sent, in a worker thread: a page of large
    records takes long to encode, and the event loop serves every other
    client meanwhile."""

    media_type = "application/json"

    def __init__(
        self, data: Any, status: int, prepare: Callable[[Any], Any] | None
    ) -> None:
        super().__init__(b"", status_code=status, headers=NO_STORE)
        self.data = data
        self.prepare = prepare

    def _encode(self) -> str:
        return dumps(self.data if self.prepare is None else self.prepare(self.data))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        text = await asyncio.to_thread(self._encode)
        self.body = text.encode()
        self.raw_headers = [
            *(pair for pair in self.raw_headers if pair[0] != b"content-length"),
            (b"content-length", str(len(self.body)).encode()),
        ]
        await super().__call__(scope, receive, send)


def json_response(
    data: Any, status: int = 200, *, prepare: Callable[[Any], Any] | None = None
) -> Response:
    """``data`` (after ``prepare``, run in the encoding thread) as JSON."""
    return JSONAnswer(data, status, prepare)


def error_response(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


@dataclass(frozen=True)
class Param:
    """A path or query parameter: its schema drives both parsing and docs.

    Supported shapes: integers (``minimum``/``maximum``), strings
    (``enum``, ``minLength``/``maxLength``, ``pattern``, ``format: uuid``)
    and arrays of strings (a repeated query key, ``maxItems``).
    """

    name: str
    where: Literal["path", "query"]
    schema: Schema
    description: str
    required: bool = False

    def parse(self, values: list[str]) -> Any:
        if not values:
            if self.required:
                raise ValueError(f"{self.name}: this parameter is required")
            return self.schema.get("default")
        kind = self.schema["type"]
        if kind == "array":
            limit = self.schema.get("maxItems")
            if limit is not None and len(values) > limit:
                raise ValueError(f"{self.name}: at most {limit} values")
            return [self._string(value, self.schema["items"]) for value in values]
        if len(values) > 1:
            raise ValueError(f"{self.name}: give it once")
        if kind == "integer":
            return self._integer(values[0])
        return self._string(values[0], self.schema)

    def _integer(self, text: str) -> int:
        if not _INTEGER.fullmatch(text):
            raise ValueError(f"{self.name}: expected an integer, got {text!r}")
        value = int(text)
        low, high = self.schema.get("minimum"), self.schema.get("maximum")
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValueError(f"{self.name}: {value} is out of range {low}..{high}")
        return value

    def _string(self, text: str, schema: Schema) -> str:
        choices = schema.get("enum")
        if choices is not None and text not in choices:
            raise ValueError(f"{self.name}: expected one of {choices}, got {text!r}")
        length = len(text)
        if not schema.get("minLength", 0) <= length <= schema.get("maxLength", length):
            raise ValueError(f"{self.name}: {length} characters is out of range")
        pattern = schema.get("pattern")
        if pattern is not None and not re.search(pattern, text):
            raise ValueError(f"{self.name}: malformed: {text!r}")
        if schema.get("format") == "uuid":
            try:
                return str(uuid.UUID(text))
            except ValueError:
                raise ValueError(f"{self.name}: not a UUID: {text!r}") from None
        return text


def id_param(name: str, what: str) -> Param:
    return Param(
        name,
        "path",
        {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        f"The {what}'s id.",
    )


@dataclass(frozen=True)
class Answer:
    """One documented response. ``shape`` is a type hint of the JSON body,
    or ``{property: hint}`` for an object; None is the error object. For an
    event stream it is ``{event name: shape of its JSON data}``."""

    status: int
    description: str
    shape: Any = None
    media_type: str = "application/json"


@dataclass(frozen=True)
class Endpoint:
    method: Literal["GET", "POST"]
    path: str
    handler: Handler
    summary: str
    params: tuple[Param, ...] = ()
    answers: tuple[Answer, ...] = ()
    body: Schema | None = None
    tag: str = "api"
    name: str = ""

    @property
    def operation_id(self) -> str:
        return self.name or self.handler.__name__

    def route(self, dashboard: Dashboard) -> Route:
        async def endpoint(request: Request) -> Response:
            try:
                args = self._arguments(request)
                return await self.handler(dashboard, request, args)
            except ApiError as error:
                return error_response(error.status, error.message)

        return Route(self.path, endpoint, methods=[self.method], name=self.operation_id)

    def _arguments(self, request: Request) -> dict[str, Any]:
        args: dict[str, Any] = {}
        for param in self.params:
            if param.where == "path":
                raw = [request.path_params[param.name]]
            else:
                raw = request.query_params.getlist(param.name)
            try:
                args[param.name] = param.parse(raw)
            except ValueError as error:
                # An id that cannot exist names no resource: 404, like an
                # unknown one. A bad query is the caller's mistake: 400.
                if param.where == "path":
                    raise ApiError(404, f"not found: {error}") from None
                raise ApiError(400, str(error)) from None
        return args
