"""The dashboard mounted in a Flask app (WSGI).

``create_wsgi_app`` runs the dashboard on an event loop thread of its own;
the blocking queue from ``dq.connect_sync`` serves Flask's views and the
dashboard alike. Werkzeug's ``DispatcherMiddleware`` mounts it at
``/admin/dataqueue``.

Run it: ``python examples/dashboard_flask.py [sqlite:///dashboard.db] [8000]``
with ``DATAQUEUE_DASHBOARD_TOKEN`` set to a long random string, and open
http://127.0.0.1:8000/admin/dataqueue/?token=<that string>. Without
``auth=`` the dashboard answers loopback clients that show this token only;
see docs/dashboard.md for auth.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from flask import Flask, request
from werkzeug.middleware.dispatcher import DispatcherMiddleware

import dataqueue as dq
from dataqueue.dashboard import create_wsgi_app

URL = sys.argv[1] if len(sys.argv) > 1 else "sqlite:///dashboard.db"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000

queue = dq.connect_sync(URL)
queue.migrate()  # needed once on PostgreSQL; harmless elsewhere


def send_welcome(payload: dict[str, Any]) -> dict[str, Any]:
    return {"sent_to": payload["to"]}


handlers = {"send_welcome": send_welcome}

app = Flask(__name__)
app.wsgi_app = DispatcherMiddleware(
    app.wsgi_app,
    {
        "/admin/dataqueue": create_wsgi_app(
            queue, handlers, access_token=os.environ.get("DATAQUEUE_DASHBOARD_TOKEN")
        )
    },
)


@app.post("/signup")
def signup() -> dict[str, int]:
    email = request.args["email"]
    job_id = queue.add_job("send_welcome", {"to": email}, tags=["welcome"])
    return {"job_id": job_id}


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=PORT)
