"""The dashboard beside a Django project, served over ASGI.

Django has no way to mount another ASGI app, so the ASGI entry point
(``application``) sends every path under ``/admin/dataqueue`` to the
dashboard and the rest to Django. The dashboard knows its ``base_path`` and
serves under it. The project is one file here; in a real one ``application``
lives in ``asgi.py`` and the queue in a module of its own.

Run it: ``python examples/dashboard_django.py [sqlite:///dashboard.db] [8000]``
with ``DATAQUEUE_DASHBOARD_TOKEN`` set to a long random string, and open
http://127.0.0.1:8000/admin/dataqueue/?token=<that string>. Without
``auth=`` the dashboard answers loopback clients that show this token only;
see docs/dashboard.md for auth.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import django
import uvicorn
from django.conf import settings
from django.core.asgi import get_asgi_application
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

import dataqueue as dq
from dataqueue.dashboard import create_app

URL = sys.argv[1] if len(sys.argv) > 1 else "sqlite:///dashboard.db"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
DASHBOARD_PATH = "/admin/dataqueue"

queue = dq.connect_sync(URL)  # Django's views are blocking: the blocking queue
queue.migrate()  # needed once on PostgreSQL; harmless elsewhere


def send_welcome(payload: dict[str, Any]) -> dict[str, Any]:
    return {"sent_to": payload["to"]}


handlers = {"send_welcome": send_welcome}


@csrf_exempt  # a demo endpoint; a real signup form carries Django's token
@require_POST
def signup(request: HttpRequest) -> JsonResponse:
    job_id = queue.add_job("send_welcome", {"to": request.GET["email"]})
    return JsonResponse({"job_id": job_id})


urlpatterns = [path("signup", signup)]

settings.configure(
    DEBUG=False,
    SECRET_KEY="example-only-not-secret",  # noqa: S106
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
)
django.setup()

django_app = get_asgi_application()
dashboard = create_app(
    queue,
    handlers,
    base_path=DASHBOARD_PATH,
    access_token=os.environ.get("DATAQUEUE_DASHBOARD_TOKEN"),
)


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The ASGI entry point: the dashboard's paths to it, the rest to Django."""
    requested = scope.get("path", "")
    if requested == DASHBOARD_PATH or requested.startswith(DASHBOARD_PATH + "/"):
        await dashboard(scope, receive, send)
    else:
        await django_app(scope, receive, send)


if __name__ == "__main__":
    # Django's ASGI handler speaks no lifespan protocol.
    uvicorn.run(application, host="127.0.0.1", port=PORT, lifespan="off")
