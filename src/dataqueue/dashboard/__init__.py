"""The web dashboard: jobs, cron schedules, flows and workers, live.

``create_app(queue, handlers, base_path=..., auth=None, processor_options=None)``
returns an ASGI (Starlette) app to mount in FastAPI, Starlette or Django;
``create_wsgi_app(...)`` the same for Flask and other WSGI servers. It needs
the ``dashboard`` extra: ``pip install 'dataqueue[dashboard]'``. See
docs/dashboard.md; the routes are listed in ``dataqueue.dashboard.api``.
"""

try:
    from dataqueue.dashboard.app import create_app, create_wsgi_app
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        f"the dashboard needs its extra: pip install 'dataqueue[dashboard]' ({error})"
    ) from error
from dataqueue.dashboard.security import Auth, require_auth_off_loopback

__all__ = ["Auth", "create_app", "create_wsgi_app", "require_auth_off_loopback"]
