"""The HTML page and the front-end's files.

Every page route answers the same ``static/index.html``, with two
placeholders filled in, HTML-escaped: ``__DATAQUEUE_BASE_PATH__`` (where the
dashboard is mounted, no trailing slash) and ``__DATAQUEUE_CSRF_TOKEN__``
(the browser session's, which the guard put in the scope).
No data is ever written into the page: the front-end reads the JSON API.
The files ship in the package (no build step), served under ``/static/``.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from dataqueue.dashboard._http import NO_STORE, Answer, Endpoint
from dataqueue.dashboard.api import FLOW_ID, JOB_ID, NOT_FOUND, Dashboard

STATIC_DIR = Path(str(resources.files("dataqueue.dashboard") / "static"))
BASE_PATH_MARK = "__DATAQUEUE_BASE_PATH__"
CSRF_TOKEN_MARK = "__DATAQUEUE_CSRF_TOKEN__"  # noqa: S105 - a placeholder


PROCESS_BUTTON = (
    '<button type="button" class="button primary" id="process-jobs">'
    "Process jobs</button>"
)


READ_ONLY_MARK = "__DATAQUEUE_READ_ONLY__"


def read_index_html(*, can_process: bool, read_only: bool) -> str:
    """The page; without handlers, or read-only, it has no "Process jobs"
    button (a batch could run nothing, or must not). Read-only, its
    ``dataqueue-read-only`` meta tells the scripts to offer no action."""
    text = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    text = text.replace(READ_ONLY_MARK, "1" if read_only else "")
    return text if can_process and not read_only else text.replace(PROCESS_BUTTON, "")


def base_path_of(request: Request) -> str:
    """Where the browser reaches the dashboard: the mount path, as a URL path
    without a trailing slash ("" at the root)."""
    root: str = request.scope.get("root_path", "")
    return quote(root.rstrip("/"))


async def page(
    dashboard: Dashboard, request: Request, args: Mapping[str, Any]
) -> Response:
    text = dashboard.index_html.replace(
        BASE_PATH_MARK, html.escape(base_path_of(request))
    ).replace(CSRF_TOKEN_MARK, html.escape(request.scope["dataqueue.csrf_token"]))
    return Response(text, media_type="text/html", headers=NO_STORE)


def _page(name: str, path: str, summary: str, *params: Any) -> Endpoint:
    return Endpoint(
        "GET",
        path,
        page,
        summary,
        params,
        (Answer(200, "The dashboard's HTML page.", media_type="text/html"), NOT_FOUND),
        tag="pages",
        name=name,
    )


PAGE_ENDPOINTS = (
    _page("overview_page", "/", "The overview: throughput, latency, failures."),
    _page("queues_page", "/queues", "One row per job type."),
    _page("jobs_page", "/jobs", "The jobs list, its search and bulk actions."),
    _page("job_page", "/jobs/{job_id}", "A job's detail.", JOB_ID),
    _page("cron_page", "/cron", "The cron schedules."),
    _page("flows_page", "/flows", "The flows."),
    _page("flow_page", "/flows/{flow_id}", "A flow's detail.", FLOW_ID),
    _page("workers_page", "/workers", "The live workers."),
)
