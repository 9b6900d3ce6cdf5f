"""The OpenAPI 3.1 document, built from the endpoint declarations.

Parameters, answers and bodies come from each ``Endpoint``; record schemas
from the records' dataclass fields (``_schema``). Nothing here lists a route
by hand, except the static files, which are a mount rather than an endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

import dataqueue
from dataqueue.cron import CronJob
from dataqueue.dashboard._http import (
    EVENT_STREAM,
    Answer,
    Endpoint,
    Param,
    json_response,
)
from dataqueue.dashboard._schema import Components, Schema
from dataqueue.dashboard.api import CronSchedule, Dashboard
from dataqueue.dashboard.pages import base_path_of
from dataqueue.dashboard.security import CSRF_HEADER
from dataqueue.models import FlowRecord, JobRecord, WorkerInfo

RECORD_NAMES: dict[type, str] = {
    JobRecord: "Job",
    CronJob: "CronJob",
    CronSchedule: "CronSchedule",
    FlowRecord: "Flow",
    WorkerInfo: "Worker",
}
ERROR: Schema = {
    "type": "object",
    "properties": {"error": {"type": "string"}},
    "required": ["error"],
    "additionalProperties": False,
}
EVERY_OPERATION = (
    Answer(
        403,
        "Refused: a dashboard without auth= seen from off this machine, auth= "
        "said no, or (for POST) another origin or no CSRF token.",
    ),
    Answer(503, "The store is unreachable."),
)
BASIC_REFUSAL = Answer(401, "HTTP Basic credentials missing or wrong.")
STATIC_FILES: dict[str, Any] = {
    "get": {
        "operationId": "static_file",
        "summary": "A file of the front-end (HTML, CSS, JavaScript, SVG).",
        "tags": ["pages"],
        "parameters": [
            {
                "name": "path",
                "in": "path",
                "required": True,
                "schema": {"type": "string"},
            }
        ],
        "responses": {
            "200": {"description": "The file.", "content": {"*/*": {"schema": {}}}},
            "404": {
                "description": "No such file.",
                "content": {"application/json": {"schema": ERROR}},
            },
        },
    }
}


def openapi_document(
    endpoints: Sequence[Endpoint], *, basic_auth: bool
) -> dict[str, Any]:
    """The document for ``endpoints``; ``basic_auth`` adds the 401 answer."""
    components = Components(RECORD_NAMES)
    common = (*EVERY_OPERATION, BASIC_REFUSAL) if basic_auth else EVERY_OPERATION
    paths: dict[str, dict[str, Any]] = {"/static/{path}": STATIC_FILES}
    for endpoint in endpoints:
        operation: dict[str, Any] = {
            "operationId": endpoint.operation_id,
            "summary": endpoint.summary,
            "tags": [endpoint.tag],
            "parameters": [_parameter(param) for param in endpoint.params],
            "responses": {
                str(answer.status): _response(answer, components)
                for answer in (*endpoint.answers, *common)
            },
        }
        if endpoint.method == "POST":
            operation["security"] = [{"csrf": []}]
        if endpoint.body is not None:
            operation["requestBody"] = {
                "required": False,
                "content": {"application/json": {"schema": endpoint.body}},
            }
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation
    schemes: dict[str, Any] = {
        "csrf": {
            "type": "apiKey",
            "in": "header",
            "name": CSRF_HEADER,
            "description": "The token of the page's "
            '<meta name="dataqueue-csrf">; POSTs also need a same-origin '
            "Origin or Referer.",
        }
    }
    if basic_auth:
        schemes["basic"] = {"type": "http", "scheme": "basic"}
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "dataqueue dashboard",
            "version": dataqueue.__version__,
            "description": "The JSON API and event streams of the dataqueue "
            "dashboard. Paths are relative to where the dashboard is mounted.",
        },
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR, **components.schemas},
            "securitySchemes": schemes,
        },
    }
    if basic_auth:
        document["security"] = [{"basic": []}]
    return document


def _parameter(param: Param) -> dict[str, Any]:
    described: dict[str, Any] = {
        "name": param.name,
        "in": param.where,
        "required": param.where == "path" or param.required,
        "description": param.description,
        "schema": param.schema,
    }
    if param.schema["type"] == "array":
        described.update(style="form", explode=True)
    return described


def _response(answer: Answer, components: Components) -> dict[str, Any]:
    described: dict[str, Any] = {"description": answer.description}
    if answer.status == 204:
        return described
    if answer.media_type == EVENT_STREAM:
        schema: Schema = {
            "oneOf": [
                _event(name, data, components) for name, data in answer.shape.items()
            ]
        }
    elif answer.media_type != "application/json":
        schema = {"type": "string"}
    elif answer.shape is None:
        schema = {"$ref": "#/components/schemas/Error"}
    else:
        schema = _body(answer.shape, components)
    described["content"] = {answer.media_type: {"schema": schema}}
    return described


def _body(shape: Any, components: Components) -> Schema:
    if not isinstance(shape, Mapping):
        return components.of(shape)
    properties = {name: components.of(hint) for name, hint in shape.items()}
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _event(name: str, data: Any, components: Components) -> Schema:
    """One kind of server-sent event: its name, and JSON in its data."""
    return {
        "type": "object",
        "properties": {
            "event": {"const": name},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": _body(data, components),
            },
            "id": {"type": "string"},
        },
        "required": ["event", "data"],
    }


async def openapi_json(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    return json_response(
        {**dashboard.openapi, "servers": [{"url": base_path_of(request) or "/"}]}
    )


OPENAPI_ENDPOINT = Endpoint(
    "GET",
    "/api/openapi.json",
    openapi_json,
    "This document.",
    answers=(Answer(200, "The OpenAPI 3.1 document.", dict[str, Any]),),
)
