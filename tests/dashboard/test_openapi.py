"""The OpenAPI document describes every route, and the API keeps to it
under a fuzz (schemathesis, in-process, SQLite)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.routing import Mount, Route

import dataqueue as dq
from dataqueue.dashboard import create_app
from dataqueue.dashboard.app import ENDPOINTS
from dataqueue.dashboard.openapi import openapi_document
from tests.dashboard.conftest import BASE, bearing
from tests.dashboard.jobs import HANDLERS

ORIGIN = "http://testserver"  # the host schemathesis's in-process client uses


def described(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }


def test_every_route_of_the_app_is_described(tmp_path: Path) -> None:
    with dq.connect_sync(f"sqlite:///{tmp_path / 'q.db'}") as queue:
        app = create_app(queue, HANDLERS)
    served: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, Mount):
            served.add(("GET", route.path + "/{path}"))
        else:
            assert isinstance(route, Route)
            served |= {(m, route.path) for m in route.methods or () if m != "HEAD"}

    document = openapi_document(ENDPOINTS, basic_auth=False)

    assert served == described(document)
    assert {  # the routes API.md names
        ("GET", "/"),
        ("GET", "/api/jobs"),
        ("GET", "/api/jobs/{job_id}"),
        ("GET", "/api/jobs/{job_id}/events"),
        ("POST", "/api/jobs/{job_id}/cancel"),
        ("POST", "/api/jobs/{job_id}/retry"),
        ("POST", "/api/process"),
    } <= served


def test_every_operation_documents_its_answers_and_parameters() -> None:
    document = openapi_document(ENDPOINTS, basic_auth=True)

    for path, operations in document["paths"].items():
        in_path = set(re.findall(r"\{([a-z_]+)\}", path))
        for method, operation in operations.items():
            declared = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            assert declared == in_path, (method, path)
            assert "200" in operation["responses"], (method, path)
            assert {"403", "503", "401"} <= set(
                operation["responses"]
            ) or path.startswith("/static/")
            if method == "post":
                assert operation["security"] == [{"csrf": []}]
    operation_ids = [
        op["operationId"] for ops in document["paths"].values() for op in ops.values()
    ]
    assert len(operation_ids) == len(set(operation_ids))


def test_record_schemas_are_the_records_fields() -> None:
    schemas = openapi_document(ENDPOINTS, basic_auth=False)["components"]["schemas"]

    for name, record in [
        ("Job", dq.JobRecord),
        ("JobEvent", dq.JobEvent),
        ("Token", dq.Token),
        ("Flow", dq.FlowRecord),
        ("FlowStep", dq.FlowStep),
        ("Worker", dq.WorkerInfo),
        ("Activity", dq.RecordedAction),
    ]:
        fields = [field.name for field in dataclasses.fields(record)]
        assert list(schemas[name]["properties"]) == fields, name
        assert schemas[name]["required"] == fields
    assert list(schemas["CronSchedule"]["properties"])[-1] == "next_runs"
    assert schemas["Job"]["properties"]["status"]["enum"] == [
        s.value for s in dq.JobStatus
    ]
    assert schemas["Job"]["properties"]["run_at"] == {
        "type": "string",
        "format": "date-time",
    }
    assert schemas["Job"]["properties"]["completed_at"]["type"] == ["string", "null"]


async def test_the_served_document_names_the_mount_point(tmp_path: Path) -> None:
    import httpx

    with dq.connect_sync(f"sqlite:///{tmp_path / 'q.db'}") as queue:
        app = create_app(queue, HANDLERS)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1", headers=bearing(app)[1]
        ) as client:
            served = (await client.get(f"{BASE}/api/openapi.json")).json()

    assert served["openapi"] == "3.1.0"
    assert served["servers"] == [{"url": BASE}]
    assert served["paths"] == openapi_document(ENDPOINTS, basic_auth=False)["paths"]


# -- the fuzz -----------------------------------------------------------------


@pytest.fixture
def dashboard_schema(tmp_path: Path) -> Iterator[Any]:
    """The document of a dashboard over a SQLite queue holding a job in
    every state, a waiting token, a schedule and a flow."""
    with dq.connect_sync(f"sqlite:///{tmp_path / 'q.db'}") as queue:
        for payload in ({"a": "<script>"}, [1, 2.5, None], "text"):
            queue.add_job("echo", payload, tags=["t"])
        queue.add_job("boom", {}, max_attempts=1)
        queue.add_job("approval", {})
        queue.create_processor(HANDLERS, job_type=["boom", "approval"]).start()
        queue.cancel_job(queue.add_job("echo", {}))
        queue.add_cron_job("nightly", "@daily", "echo", {})
        queue.start_flow([dq.JobSpec("echo", {})], join=dq.JobSpec("echo", {}))
        # Allowed by auth: the fuzzing client is neither on loopback by
        # name ("testserver") nor sends the page's origin by itself.
        app = create_app(queue, HANDLERS, auth=lambda request: True)
        schema = schemathesis.openapi.from_asgi(f"{BASE}/api/openapi.json", app)
        # An endless stream is read for one event, then cut.
        schema.config.max_stream_events = 1
        yield schema


DOCUMENT = openapi_document(ENDPOINTS, basic_auth=False)


def breakable(method: str, path: str) -> bool:
    """Whether a negative case exists: a body, or a constrained parameter."""
    operation = DOCUMENT["paths"][path][method.lower()]
    return "requestBody" in operation or any(
        set(param["schema"]) - {"type"} for param in operation["parameters"]
    )


CASES = [
    (method, path, mode)
    for method, path in sorted(described(DOCUMENT))
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or breakable(method, path)
]


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_the_api_keeps_to_its_schema(
    dashboard_schema: Any, method: str, path: str, mode: GenerationMode
) -> None:
    operation = dashboard_schema[path][method]
    token = csrf_token(operation.app)

    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def keeps_to_the_schema(case: Any) -> None:
        case.call_and_validate(
            headers={"Origin": ORIGIN, "X-DataQueue-CSRF": token},
            checks=[
                not_a_server_error,
                status_code_conformance,
                content_type_conformance,
                response_schema_conformance,
            ],
        )

    keeps_to_the_schema()


def csrf_token(app: Any) -> str:
    with asgi.get_client(app) as client:
        page = client.get(f"http://{asgi.HOST}{BASE}/").text
    match = re.search(r'name="dataqueue-csrf" content="([^"]+)"', page)
    assert match
    return match.group(1)
