"""Job status for a site's own users, over HTTP and server-sent events.

``job_status_app(queue, secret=...)`` is a small ASGI app (Starlette, from
the ``dashboard`` extra) to mount in FastAPI, Starlette, Django or, through
a2wsgi, Flask; it answers for jobs named by handles that ``job_handle``
signs, and the ``dataqueue-react`` package's ``useJob`` reads it. The watch
loop and the event-stream response are public so that other apps (the
dashboard) stream jobs the same way.
"""

from dataqueue.web._handles import HandleError, job_handle
from dataqueue.web._status import Auth, job_status_app, job_status_json
from dataqueue.web._stream import (
    ServerSentEvent,
    StreamLimits,
    event_stream,
    job_updates,
)

__all__ = [
    "Auth",
    "HandleError",
    "ServerSentEvent",
    "StreamLimits",
    "event_stream",
    "job_handle",
    "job_status_app",
    "job_status_json",
    "job_updates",
]
