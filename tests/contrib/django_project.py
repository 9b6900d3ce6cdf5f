"""Real Django projects made with ``django-admin startproject`` in a temp folder."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from textwrap import dedent

import django

import dataqueue as dq
from tests.conftest import store_options

SHOP_JOBS = '''
from django.conf import settings


def where(payload):
    """Proves Django is set up in the worker."""
    return {"urlconf": settings.ROOT_URLCONF, "n": payload["n"]}


handlers = {"where": where}
'''


def store_settings(store: str, ns: str) -> dict[str, str]:
    """DATAQUEUE settings for ``store``; SQLite uses the project's own database."""
    if store == "sqlite":
        return {}
    return {k.upper(): v for k, v in store_options(store, Path(), ns).items()}


def project_queue(project: DjangoProject, options: dict[str, str]) -> dq.JobQueue:
    """The queue the project's settings ``options`` describe."""
    return dq.connect(
        options.get("URL", f"sqlite:///{project.root / 'db.sqlite3'}"),
        schema=options.get("SCHEMA"),
        key_prefix=options.get("KEY_PREFIX"),
    )


@dataclass
class DjangoProject:
    root: Path

    def manage(
        self, *args: str, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    @contextmanager
    def running(self, *args: str) -> Iterator[subprocess.Popen[str]]:
        """``manage.py *args`` in the background, killed if still running."""
        process = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=self.root,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(30)
            assert process.stdout is not None
            process.stdout.close()

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        env["PYTHONUNBUFFERED"] = "1"
        return env


def make_project(
    root: Path,
    settings: str,
    files: dict[str, str],
    apps: tuple[str, ...] = ("dataqueue.contrib.django", "shop"),
) -> DjangoProject:
    """``startproject site_`` in ``root``, with ``apps`` installed (and
    django_tasks before Django 6), ``settings`` appended to settings.py and
    ``files`` written."""
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "site_", str(root)],
        check=True,
        capture_output=True,
    )
    settings_py = root / "site_" / "settings.py"
    text = settings_py.read_text()
    start = text.index("INSTALLED_APPS = [") + len("INSTALLED_APPS = [")
    if django.VERSION < (6, 0):
        apps = (*apps, "django_tasks")  # django.tasks before Django 6
    text = text[:start] + "".join(f"\n    {app!r}," for app in apps) + text[start:]
    settings_py.write_text(text + "\n" + dedent(settings))
    for name, content in {"shop/__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(content))
    return DjangoProject(root)
