"""Who may use the dashboard, what a write needs, and what every answer carries."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import httpx
import pytest
from starlette.requests import Request

import dataqueue as dq
from dataqueue.dashboard import create_app, require_auth_off_loopback
from dataqueue.dashboard.api import MAX_STREAMS_PER_CLIENT
from dataqueue.dashboard.app import ENDPOINTS
from dataqueue.dashboard.security import SECURITY_HEADERS
from tests.dashboard.conftest import (
    BASE,
    CSP,
    DashboardClient,
    MakeDashboard,
    bearing,
    dashboard_client,
)
from tests.dashboard.jobs import HANDLERS
from tests.web.conftest import served


@pytest.fixture
def store() -> str:
    """What is checked here does not depend on the store: SQLite only."""
    return "sqlite"


OUTSIDER = ("203.0.113.7", 50000)


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def assert_secured(answer: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers.get(name) == value, (name, answer.request.url)


# -- access without auth ------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/api/jobs", "/static/favicon.svg"])
async def test_without_auth_a_client_off_this_machine_is_refused(
    queue: dq.JobQueue, path: str
) -> None:
    async with dashboard_client(
        create_app(queue, HANDLERS), client_address=OUTSIDER
    ) as dash:
        answer = await dash.get(path)

    assert answer.status_code == 403
    assert "loopback" in answer.json()["error"]
    assert_secured(answer)


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"]
)
async def test_without_auth_loopback_clients_are_served(
    queue: dq.JobQueue, address: str
) -> None:
    async with dashboard_client(
        create_app(queue, HANDLERS), client_address=(address, 50000)
    ) as dash:
        assert (await dash.get("/api/jobs")).status_code == 200


async def test_without_auth_a_foreign_host_name_is_refused(queue: dq.JobQueue) -> None:
    # A DNS-rebinding page reaches 127.0.0.1 under its own host name.
    async with dashboard_client(
        create_app(queue, HANDLERS), host="rebind.example"
    ) as dash:
        refused = await dash.get("/api/jobs")
    async with dashboard_client(create_app(queue, HANDLERS), host="localhost") as dash:
        served = await dash.get("/api/jobs")

    assert refused.status_code == 403
    assert "rebind.example" in refused.json()["error"]
    assert served.status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        "X-Forwarded-For",
        "Forwarded",
        "X-Real-IP",
        "X-Forwarded-Host",
        "X-Forwarded-Proto",
        "X-Forwarded-Port",
        "Via",
        "True-Client-IP",
        "CF-Connecting-IP",
        "Fastly-Client-IP",
        "X-Client-IP",
        "X-Cluster-Client-IP",
    ],
)
async def test_without_auth_a_request_through_a_proxy_is_refused(
    dash: DashboardClient, header: str
) -> None:
    answer = await dash.get("/api/jobs", headers={header: "198.51.100.1"})

    assert answer.status_code == 403
    assert "proxy" in answer.json()["error"]


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_serving_on_loopback_needs_no_auth(host: str) -> None:
    require_auth_off_loopback(host, None)


@pytest.mark.parametrize(
    "host",
    ["0.0.0.0", "::", "192.168.1.10", "example.com", "dataqueue-nowhere.localhost"],
)
def test_serving_off_loopback_without_auth_is_refused(host: str) -> None:
    with pytest.raises(ValueError, match="refusing to serve the dashboard on"):
        require_auth_off_loopback(host, None)
    require_auth_off_loopback(host, ("admin", "secret"))


async def test_without_auth_the_access_token_is_asked_for(queue: dq.JobQueue) -> None:
    app = create_app(queue, HANDLERS, access_token="the-access-token-of-a-test")
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://127.0.0.1"
    ) as client:
        bare = await client.get(f"{BASE}/api/jobs")
        wrong = await client.get(f"{BASE}/jobs/1?token=not-the-token")
        entry = await client.get(f"{BASE}/jobs/1?token=the-access-token-of-a-test&x=1")
        with_cookie = await client.get(f"{BASE}/api/jobs")
    async with httpx.AsyncClient(
        transport=transport, base_url="http://127.0.0.1"
    ) as other:
        bearer = await other.get(
            f"{BASE}/api/jobs",
            headers={"Authorization": "Bearer the-access-token-of-a-test"},
        )
        websocket_shaped = await other.get(
            f"{BASE}/api/jobs", headers={"Authorization": "Bearer wrong"}
        )

    assert bare.status_code == 403
    assert "access token" in bare.json()["error"]
    assert_secured(bare)
    assert wrong.status_code == 403
    # The token is traded for a cookie and dropped from the URL.
    assert entry.status_code == 303
    assert entry.headers["location"] == f"{BASE}/jobs/1?x=1"
    cookie = next(
        value
        for name, value in entry.headers.multi_items()
        if name == "set-cookie" and value.startswith("dataqueue_access_")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert f"Path={BASE}" in cookie
    assert with_cookie.status_code == 200
    assert bearer.status_code == 200
    assert websocket_shaped.status_code == 403


async def test_without_auth_each_app_has_its_own_random_token(
    queue: dq.JobQueue, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="dataqueue.dashboard"):
        first = create_app(queue, HANDLERS)
        second = create_app(queue, HANDLERS)
        given = create_app(queue, HANDLERS, access_token="chosen-by-the-operator")
        with_auth = create_app(queue, HANDLERS, auth=("admin", "pw"))
    assert first.state.access_token != second.state.access_token
    assert len(first.state.access_token) >= 32
    assert given.state.access_token == "chosen-by-the-operator"
    assert with_auth.state.access_token is None
    # Said once per app made without auth= and without a chosen token.
    warnings = [r for r in caplog.records if "without auth=" in r.getMessage()]
    assert len(warnings) == 2
    with pytest.raises(ValueError, match="access_token must be a str of 16"):
        create_app(queue, HANDLERS, access_token="short")
    with pytest.raises(ValueError, match="access_token is for auth=None only"):
        create_app(queue, HANDLERS, auth=("a", "b"), access_token="x" * 20)


async def test_a_websocket_is_refused_before_any_check_is_skipped(
    queue: dq.JobQueue,
) -> None:
    app = create_app(queue, HANDLERS)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    scope = {
        "type": "websocket",
        "path": f"{BASE}/api/jobs",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": OUTSIDER,
        "query_string": b"",
        "scheme": "ws",
        "subprotocols": [],
    }
    await app(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008}]


# -- auth= --------------------------------------------------------------------


async def test_an_auth_callable_decides_for_every_client(queue: dq.JobQueue) -> None:
    seen: list[str] = []

    def only_admins(request: Request) -> bool:
        seen.append(request.url.path)
        return request.headers.get("x-user") == "admin"

    async with dashboard_client(
        create_app(queue, HANDLERS, auth=only_admins), client_address=OUTSIDER
    ) as dash:
        admin = await dash.get("/api/jobs", headers={"X-User": "admin"})
        guest = await dash.get("/api/jobs", headers={"X-User": "guest"})

    assert admin.status_code == 200
    assert guest.status_code == 403
    assert_secured(guest)
    assert seen == [f"{BASE}/api/jobs"] * 2


async def test_an_async_auth_callable_is_awaited(queue: dq.JobQueue) -> None:
    async def allow_tokens(request: Request) -> bool:
        return request.headers.get("authorization") == "Bearer good"

    async with dashboard_client(
        create_app(queue, HANDLERS, auth=allow_tokens), client_address=OUTSIDER
    ) as dash:
        good = await dash.get("/", headers={"Authorization": "Bearer good"})
        bad = await dash.get("/", headers={"Authorization": "Bearer bad"})

    assert (good.status_code, bad.status_code) == (200, 403)


async def test_only_true_lets_a_request_in(queue: dq.JobQueue) -> None:
    # A callable that forgets to return (None) or returns a truthy object
    # by mistake keeps the door shut.
    for verdict in (None, "yes", 1):
        app = create_app(queue, HANDLERS, auth=lambda request, v=verdict: v)
        async with dashboard_client(app) as dash:
            assert (await dash.get("/api/jobs")).status_code == 403, verdict


async def test_basic_credentials_are_asked_for_and_checked(queue: dq.JobQueue) -> None:
    app = create_app(queue, HANDLERS, auth=("admin", "s3cret:x"))
    async with dashboard_client(app, client_address=OUTSIDER) as dash:
        missing = await dash.get("/")
        wrong = await dash.get("/", headers=basic("admin", "nope"))
        wrong_user = await dash.get("/", headers=basic("root", "s3cret:x"))
        garbage = await dash.get("/", headers={"Authorization": "Basic !!!"})
        right = await dash.get("/", headers=basic("admin", "s3cret:x"))

    for refused in (missing, wrong, wrong_user, garbage):
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith('Basic realm="dataqueue"')
        assert_secured(refused)
    assert right.status_code == 200


def test_auth_of_another_shape_is_refused(queue: dq.JobQueue) -> None:
    for auth in ("admin:secret", ("admin",), ("admin", ""), ("admin", 1)):
        with pytest.raises(TypeError, match="auth must be"):
            create_app(queue, HANDLERS, auth=auth)  # type: ignore[arg-type]


# -- writes: same origin and the CSRF token ----------------------------------


async def assert_refused_and_unchanged(
    queue: dq.JobQueue, job_id: int, answer: httpx.Response, reason: str
) -> None:
    assert answer.status_code == 403, answer.text
    assert reason in answer.json()["error"]
    assert_secured(answer)
    job = await queue.get_job(job_id)
    assert job is not None and job.status is dq.JobStatus.PENDING


async def test_a_write_without_the_csrf_token_is_refused(
    queue: dq.JobQueue, dash: DashboardClient
) -> None:
    job_id = await queue.add_job("echo", {})

    missing = await dash.post(
        f"/api/jobs/{job_id}/cancel", headers={"X-DataQueue-CSRF": ""}
    )
    wrong = await dash.post(
        f"/api/jobs/{job_id}/cancel", headers={"X-DataQueue-CSRF": "0" * 64}
    )

    await assert_refused_and_unchanged(queue, job_id, missing, "missing CSRF token")
    await assert_refused_and_unchanged(queue, job_id, wrong, "wrong CSRF token")


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Origin": "https://evil.example"}, "Origin: https://evil.example"),
        ({"Origin": "null"}, "Origin: null"),
        ({"Origin": "http://127.0.0.1:8081"}, "cross-origin"),
        ({"Sec-Fetch-Site": "cross-site"}, "Sec-Fetch-Site: cross-site"),
        ({"Sec-Fetch-Site": "same-site"}, "Sec-Fetch-Site: same-site"),
        ({"Origin": "", "Referer": "https://evil.example/x"}, "Referer"),
        ({"Origin": ""}, "neither an Origin nor a Referer"),
    ],
)
async def test_a_cross_origin_write_is_refused_even_with_the_token(
    queue: dq.JobQueue,
    dash: DashboardClient,
    headers: dict[str, str],
    reason: str,
) -> None:
    job_id = await queue.add_job("echo", {})

    answer = await dash.post(f"/api/jobs/{job_id}/cancel", headers=headers)

    await assert_refused_and_unchanged(queue, job_id, answer, reason)


async def test_a_same_origin_referer_stands_in_for_a_missing_origin(
    queue: dq.JobQueue, dash: DashboardClient
) -> None:
    job_id = await queue.add_job("echo", {})

    answer = await dash.post(
        f"/api/jobs/{job_id}/cancel",
        headers={"Origin": "", "Referer": f"http://127.0.0.1{BASE}/jobs/{job_id}"},
    )

    assert answer.status_code == 200
    assert answer.json()["job"]["status"] == "cancelled"


async def test_each_session_has_its_own_csrf_token(
    queue: dq.JobQueue, make_dashboard: MakeDashboard
) -> None:
    first = await make_dashboard()
    second = await make_dashboard()
    token = await first.page_token()
    # Stable within a session, different in another one.
    assert await first.page_token() == token
    assert await second.page_token() != token
    shared = [await make_dashboard(csrf_secret="a secret of 16+ bytes") for _ in "ab"]
    assert await shared[0].page_token() != await shared[1].page_token()
    job_id = await queue.add_job("echo", {})
    borrowed = await second.post(
        f"/api/jobs/{job_id}/cancel",
        headers={"X-DataQueue-CSRF": await first.page_token()},
    )
    await assert_refused_and_unchanged(queue, job_id, borrowed, "wrong CSRF token")
    with pytest.raises(ValueError, match="csrf_secret"):
        create_app(queue, HANDLERS, csrf_secret="short")


# -- data is escaped, never inlined -------------------------------------------


async def test_a_script_payload_is_json_escaped_and_never_in_the_page(
    queue: dq.JobQueue, dash: DashboardClient
) -> None:
    attack = "<script>alert('x')</script>&<img src=x onerror=alert(1)>"
    job_id = await queue.add_job("echo", {"note": attack}, tags=["<b>tag</b>"])

    listed = await dash.get("/api/jobs")
    page = await dash.get(f"/jobs/{job_id}")

    assert listed.headers["content-type"] == "application/json"
    assert "<" not in listed.text and ">" not in listed.text and "&" not in listed.text
    assert "\\u003cscript\\u003e" in listed.text
    assert json.loads(listed.json()["jobs"][0]["payload_preview"]) == {"note": attack}
    assert listed.json()["jobs"][0]["tags"] == ["<b>tag</b>"]
    assert "alert" not in page.text and "<b>tag" not in page.text
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text), "an inline script"


async def test_the_injected_base_path_is_escaped(queue: dq.JobQueue) -> None:
    root = "/a\"b'<c>"
    app, headers = bearing(create_app(queue, HANDLERS))
    transport = httpx.ASGITransport(app=app, root_path=root, client=("127.0.0.1", 1))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://127.0.0.1", headers=headers
    ) as client:
        page = await client.get(root + "/")

    assert page.status_code == 200
    assert 'content="/a%22b%27%3Cc%3E"' in page.text
    assert root not in page.text


def test_a_base_path_that_is_not_a_plain_url_path_is_refused(
    queue: dq.JobQueue,
) -> None:
    for base_path in ('/a"b', "admin", "/a b", "/a/../b/<x>"):
        with pytest.raises(ValueError, match="base_path"):
            create_app(queue, HANDLERS, base_path=base_path)


# -- ids ----------------------------------------------------------------------

# A job type in a path names no stored record: pausing one without jobs is
# allowed (test_operate covers those routes).
ID_ROUTES = [
    e
    for e in ENDPOINTS
    if any(p.where == "path" and p.name != "job_type" for p in e.params)
]


@pytest.mark.parametrize("endpoint", ID_ROUTES, ids=lambda e: f"{e.method} {e.path}")
@pytest.mark.parametrize(
    "bad_id",
    ["abc", "0", "-1", "1.5", "1e3", "007", "99999999999999999999", "%20", "a%3Cb%3E"],
)
async def test_a_malformed_id_is_a_json_404_never_a_500(
    dash: DashboardClient, endpoint: Any, bad_id: str
) -> None:
    path = re.sub(r"\{[a-z_]+\}", bad_id, endpoint.path)

    if endpoint.method == "GET":
        answer = await dash.get(path)
    else:
        answer = await dash.post(path, {})

    assert answer.status_code == 404, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"]
    assert_secured(answer)


# -- headers on every answer --------------------------------------------------


async def test_every_answer_carries_the_security_headers(
    queue: dq.JobQueue, dash: DashboardClient
) -> None:
    done = await queue.add_job("echo", {})
    await queue.create_processor(HANDLERS).start()

    answers = {
        "page": await dash.get("/"),
        "json": await dash.get("/api/jobs"),
        "static": await dash.get("/static/favicon.svg"),
        "openapi": await dash.get("/api/openapi.json"),
        "400": await dash.get("/api/jobs?limit=x"),
        "403": await dash.post("/api/process", headers={"X-DataQueue-CSRF": ""}),
        "404 route": await dash.get("/nothing/here"),
        "404 static": await dash.get("/static/nothing.js"),
        "405": await dash.get("/api/process"),
        "409": await dash.post(f"/api/jobs/{done}/cancel"),
        "204": await dash.get(
            f"/api/jobs/{done}/stream",
            headers={"Last-Event-ID": await final_event_id(dash, done)},
        ),
    }

    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert statuses == {
        "page": 200,
        "json": 200,
        "static": 200,
        "openapi": 200,
        "400": 400,
        "403": 403,
        "404 route": 404,
        "404 static": 404,
        "405": 405,
        "409": 409,
        "204": 204,
    }
    for answer in answers.values():
        assert_secured(answer)
    policy = answers["page"].headers[CSP]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "http" not in policy


async def final_event_id(dash: DashboardClient, job_id: int) -> str:
    async with dash.http.stream("GET", f"{dash.base}/api/jobs/{job_id}/stream") as r:
        ids = [line[4:] async for line in r.aiter_lines() if line.startswith("id: ")]
    return ids[-1]


async def test_an_unexpected_error_is_a_json_500_with_the_headers(
    queue: dq.JobQueue,
) -> None:
    def broken(request: Request) -> bool:
        raise RuntimeError("the session store is down")

    async with dashboard_client(create_app(queue, HANDLERS, auth=broken)) as dash:
        answer = await dash.get("/api/jobs")

    assert answer.status_code == 500
    assert answer.json() == {"error": "internal error (logged by the server)"}
    assert_secured(answer)


# -- arguments ----------------------------------------------------------------


def test_create_app_checks_its_queue_and_processor_options(
    queue: dq.JobQueue,
) -> None:
    with pytest.raises(TypeError, match="JobQueue or SyncJobQueue"):
        create_app("sqlite:///x.db", HANDLERS)  # type: ignore[arg-type]
    with pytest.raises((TypeError, ValueError), match="batch_size"):
        create_app(queue, HANDLERS, processor_options={"batch_size": 0})
    with pytest.raises(TypeError):
        create_app(queue, HANDLERS, processor_options={"colour": "red"})


async def test_a_store_error_answers_503_without_the_password() -> None:
    # Nothing listens on port 1: every read fails, naming the store.
    queue = dq.connect("redis://:hunter2@127.0.0.1:1/0?password=hunter3")
    try:
        async with dashboard_client(create_app(queue, HANDLERS)) as dash:
            answer = await dash.get("/api/jobs")
    finally:
        await queue.close()
    assert answer.status_code == 503
    assert "127.0.0.1:1" in answer.text
    assert "hunter" not in answer.text


async def test_event_streams_over_the_per_client_limit_are_429(
    queue: dq.JobQueue,
) -> None:
    app, headers = bearing(create_app(queue, HANDLERS))
    async with served(app, headers) as client:
        opened = [
            await client.send(
                client.build_request("GET", f"{BASE}/api/stream"), stream=True
            )
            for _ in range(MAX_STREAMS_PER_CLIENT)
        ]
        refused = await client.get(f"{BASE}/api/stream")
        for response in opened:
            await response.aclose()
    assert {response.status_code for response in opened} == {200}
    assert refused.status_code == 429
    assert "too many open event streams" in refused.json()["error"]
