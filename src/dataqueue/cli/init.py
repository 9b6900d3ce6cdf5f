"""``dataqueue init``: set a project up for background jobs.

Detects FastAPI, Django, Flask or a plain script from the project's files,
asks for (or takes flags for) the store, writes a handlers module, a queue
module, a ``DATAQUEUE_URL`` line in ``.env`` and the framework's wiring, then
prints what to run next. It never overwrites a file without asking.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import click

FRAMEWORKS = ("fastapi", "django", "flask", "script")
STORES = {
    "sqlite": "sqlite:///dataqueue.db",
    "postgres": "postgresql://localhost/app",
    "redis": "redis://localhost:6379/0",
}
EXTRAS = {
    "sqlite": "dataqueue",
    "postgres": "'dataqueue[postgres]'",
    "redis": "'dataqueue[redis]'",
}
DEPENDENCY_FILES = (
    "pyproject.toml",
    "requirements.txt",
    "requirements.in",
    "requirements-dev.txt",
    "setup.py",
    "setup.cfg",
    "Pipfile",
)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Planned:
    """One file ``init`` wants to write (relative to the project)."""

    path: str
    content: str


def detect_framework(root: Path) -> str:
    """``django`` when there is a manage.py, else the first web framework the
    dependency files or top-level modules mention, else ``script``."""
    if (root / "manage.py").exists():
        return "django"
    texts = [
        (root / name).read_text(encoding="utf-8", errors="replace").lower()
        for name in DEPENDENCY_FILES
        if (root / name).is_file()
    ]
    for path in [*root.glob("*.py"), *root.glob("*/*.py")]:
        if ".venv" not in path.parts:
            texts.append(path.read_text(encoding="utf-8", errors="replace").lower())
    for framework in ("django", "fastapi", "flask"):
        pattern = re.compile(rf"(^|[^a-z0-9_-]){framework}([^a-z0-9_-]|$)", re.M)
        if any(pattern.search(text) for text in texts):
            return framework
    return "script"


def _template(name: str, package: str) -> str:
    node = resources.files("dataqueue").joinpath(
        "assistants", "init", f"{name}.py.tmpl"
    )
    return node.read_text(encoding="utf-8").format(package=package)


def plan(framework: str, package: str) -> list[Planned]:
    """The modules to write for ``framework``, in package ``package``."""
    if framework == "django":
        # The worker is dataqueue.contrib.django's `manage.py dataqueue_worker`.
        return [
            Planned(f"{package}/__init__.py", '"""Background jobs (dataqueue)."""\n'),
            Planned(f"{package}/handlers.py", _template("handlers_django", package)),
            Planned(f"{package}/queue.py", _template("queue_django", package)),
        ]
    sync = framework == "flask"
    files = [
        Planned(f"{package}/__init__.py", _template("package_init", package)),
        Planned(
            f"{package}/handlers.py",
            _template("handlers_sync" if sync else "handlers_async", package),
        ),
        Planned(
            f"{package}/queue.py",
            _template("queue_sync" if sync else "queue_async", package),
        ),
    ]
    if framework == "fastapi":
        files.append(
            Planned(f"{package}/lifespan.py", _template("fastapi_lifespan", package))
        )
    if sync:
        files += [
            Planned(f"{package}/worker.py", _template("worker", package)),
            Planned(f"{package}/flask_cli.py", _template("flask_cli", package)),
        ]
    return files


def django_settings(url: str | None, package: str) -> str:
    """The lines ``init`` appends to a Django project's settings."""
    where = "" if url is None else f'"URL": {url!r}, '
    home = (
        "jobs live in the default database"
        if url is None
        else "jobs live in the store at URL"
    )
    return (
        f"\n# dataqueue (added by `dataqueue init`): {home}; run\n"
        "# `python manage.py dataqueue_migrate` once, then "
        "`python manage.py dataqueue_worker`.\n"
        'INSTALLED_APPS += ["dataqueue.contrib.django"]\n'
        f'DATAQUEUE = {{{where}"HANDLERS": "{package}.handlers:handlers"}}\n'
    )


_SETTINGS_MODULE = re.compile(
    r"""DJANGO_SETTINGS_MODULE["']\s*,\s*["']([A-Za-z_][A-Za-z0-9_.]*)["']"""
)


def django_settings_file(root: Path) -> Path | None:
    """The settings module manage.py names, when it is a file here."""
    manage = root / "manage.py"
    if not manage.is_file():
        return None
    found = _SETTINGS_MODULE.search(manage.read_text(encoding="utf-8"))
    if found is None:
        return None
    path = root.joinpath(*found.group(1).split(".")).with_suffix(".py")
    return path if path.is_file() else None


def env_with_url(existing: str, url: str) -> str | None:
    """``existing`` .env text with a DATAQUEUE_URL line; None if one is there."""
    for line in existing.splitlines():
        key = line.strip().removeprefix("export ").partition("=")[0].strip()
        if key == "DATAQUEUE_URL":
            return None
    prefix = existing if not existing or existing.endswith("\n") else existing + "\n"
    return f"{prefix}DATAQUEUE_URL={url}\n"


def next_steps(framework: str, store: str, package: str) -> list[str]:
    if framework == "django":
        extras = "django" if store == "sqlite" else f"django,{store}"
        return [
            f"pip install 'dataqueue[{extras}]'",
            "python manage.py dataqueue_migrate   # once per database",
            "python manage.py dataqueue_worker",
            f"# add jobs: from {package}.queue import get_queue",
        ]
    steps = [f"pip install {EXTRAS[store]}"]
    if store == "postgres":
        steps.append("dataqueue migrate --env-file .env   # once per database")
    worker = f"dataqueue worker {package}.handlers:handlers --env-file .env"
    match framework:
        case "fastapi":
            steps += [
                f"# in your app: from {package}.lifespan import lifespan",
                "#              app = FastAPI(lifespan=lifespan)",
                f"# or run workers beside it: {worker}",
            ]
        case "flask":
            steps += [
                f"# in your app factory: from {package}.flask_cli import init_app",
                "#                      init_app(app)",
                "flask dataqueue-worker",
            ]
        case _:
            steps.append(worker)
    return steps


@click.command("init")
@click.option("--framework", type=click.Choice(FRAMEWORKS), help="Default: detected.")
@click.option("--store", type=click.Choice(list(STORES)), help="Asked when not given.")
@click.option("--url", help="Store URL for .env (default: a local one for the store).")
@click.option(
    "--package",
    default="jobs",
    show_default=True,
    help="Python package to create for the jobs code.",
)
@click.option(
    "--dir",
    "directory",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="The project folder.",
)
@click.option("--yes", is_flag=True, help="Take the defaults; never overwrite files.")
@click.option(
    "--dry-run", is_flag=True, help="Show what would be written; write nothing."
)
def init(
    framework: str | None,
    store: str | None,
    url: str | None,
    package: str,
    directory: Path,
    yes: bool,
    dry_run: bool,
) -> None:
    """Set this project up for background jobs with dataqueue."""
    if not _IDENTIFIER.match(package):
        raise click.BadParameter("must be a Python identifier", param_hint="--package")
    root = directory.resolve()
    if framework is None:
        detected = detect_framework(root)
        framework = detected if yes else _choose("Framework", FRAMEWORKS, detected)
    if store is None:
        store = "sqlite" if yes else _choose("Store", tuple(STORES), "sqlite")
    click.echo(f"Setting up dataqueue for {framework} on {store} in {root}")

    for item in plan(framework, package):
        _write(root / item.path, item.path, item.content, yes=yes, dry_run=dry_run)
    if framework == "django":
        # Django reads its settings, not .env; SQLite and PostgreSQL jobs live
        # in its own database unless a URL is given.
        given = url or (STORES[store] if store == "redis" else None)
        _add_django_settings(root, django_settings(given, package), dry_run=dry_run)
    else:
        _add_env(root, url or STORES[store], dry_run=dry_run)

    click.echo("\nNext:")
    for step in next_steps(framework, store, package):
        click.echo(f"  {step}")


def _choose(label: str, choices: tuple[str, ...], default: str) -> str:
    """Ask; without a terminal (CI, a script, a pipe that ran dry) take the
    default and say so, rather than abort."""
    try:
        return str(click.prompt(label, type=click.Choice(choices), default=default))
    except click.Abort:
        if sys.stdin.isatty():
            raise
        click.echo(f"{label}: {default} (no terminal to ask; pass --{label.lower()})")
        return default


def _add_django_settings(root: Path, lines: str, *, dry_run: bool) -> None:
    path = django_settings_file(root)
    if path is None:
        click.echo(f"add to your settings.py:{lines}")
        return
    shown = str(path.relative_to(root))
    text = path.read_text(encoding="utf-8")
    if "dataqueue.contrib.django" in text:
        click.echo(f"kept {shown} (it already names dataqueue.contrib.django)")
    elif dry_run:
        click.echo(f"would append to {shown}:{lines}")
    else:
        path.write_text(text + lines, encoding="utf-8")
        click.echo(f"appended dataqueue's settings to {shown}")


def _add_env(root: Path, url: str, *, dry_run: bool) -> None:
    env_path = root / ".env"
    env_text = env_path.read_text(encoding="utf-8") if env_path.exists() else ""
    new_env = env_with_url(env_text, url)
    if new_env is None:
        click.echo("kept .env (DATAQUEUE_URL is already set there)")
    else:
        verb = "append DATAQUEUE_URL to" if env_text else "create"
        if dry_run:
            click.echo(f"would {verb} .env: DATAQUEUE_URL={url}")
        else:
            env_path.write_text(new_env, encoding="utf-8")
            click.echo(
                f"{'updated' if env_text else 'created'} .env (DATAQUEUE_URL={url})"
            )


def _write(path: Path, shown: str, content: str, *, yes: bool, dry_run: bool) -> None:
    if path.exists():
        if path.read_text(encoding="utf-8") == content:
            click.echo(f"unchanged {shown}")
            return
        if dry_run:
            click.echo(f"would ask before overwriting {shown} (it exists and differs)")
            return
        if yes or not _confirm(f"{shown} exists. Overwrite it?"):
            click.echo(f"kept {shown} (exists; not overwritten)")
            return
        verb = "overwrote"
    else:
        verb = "created"
    if dry_run:
        click.echo(f"would create {shown}:")
        click.echo("".join(f"    {line}\n" for line in content.splitlines()))
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    click.echo(f"{verb} {shown}")


def _confirm(question: str) -> bool:
    """Ask; without a terminal the answer is no."""
    try:
        return click.confirm(question, default=False)
    except click.Abort:
        if sys.stdin.isatty():
            raise
        return False
